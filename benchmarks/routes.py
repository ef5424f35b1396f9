"""The routes of ``transform`` and the cost of ``fit``, measured through the public API.

Two tables, printed as markdown:

* **routes**: every route of :class:`~skl0.MSparseEncoder` (``"ols"``, ``"pursuit"``,
  ``"network"``) and the one ``route="auto"`` chose, on natural-image patches (12×12, fit
  on one of scikit-learn's sample photographs, encode the other), at 500- and 20,000-row
  calls: samples/s, the achieved GFLOP/s against each route's count of operations (OLS over
  every atom ``2mp + pM² + 8pM``; the network ``2mp + 2(K − 1)p²``; the network's candidates
  ``network + (r + 1)(cM² + 8cM) + 2rpM``, r rounds run on every row at most), the residual
  over SPAMS' ``omp`` (same threads, same dictionary) where SPAMS is installed, and the
  throughput over SPAMS';
* **fit**: :class:`~skl0.MSparseEncoder` with its defaults against scikit-learn's
  :class:`~sklearn.decomposition.MiniBatchDictionaryLearning` in scikit-learn's "image
  denoising using dictionary learning" workflow (7×7 patches of the left half of a
  downscaled photograph, standardised; p = 100, M = 1, 2, 4), each phase of ``fit``.

Run ``python benchmarks/routes.py`` (``--quick`` for a smoke run). Timings are medians on
this machine under its load; read ratios, not absolute rates.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.datasets import load_sample_image
from sklearn.decomposition import MiniBatchDictionaryLearning
from sklearn.feature_extraction.image import extract_patches_2d

from skl0 import MSparseEncoder


def _gray(name, downscale=1):
    image = load_sample_image(name).mean(axis=2) / 255.0
    return image[::downscale, ::downscale]


def natural_patches(name, n, size=12, seed=0):
    """``n`` patches of a sample photograph, each centred and scaled to unit variance."""
    P = extract_patches_2d(_gray(name), (size, size), max_patches=n, random_state=seed)
    P = P.reshape(n, -1)
    P = P - P.mean(axis=1, keepdims=True)
    return P / (P.std(axis=1, keepdims=True) + 1e-2)


def denoising_patches():
    """scikit-learn's denoising example's training data: every 7×7 patch of the left half
    of a downscaled photograph, standardised per feature (about 30,000 rows)."""
    image = _gray("china.jpg", downscale=2)
    left = image[:, : image.shape[1] // 2]
    P = extract_patches_2d(left, (7, 7)).reshape(-1, 49)
    P = P - P.mean(axis=0)
    return P / P.std(axis=0)


def _median(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        clock = time.perf_counter()
        fn()
        times.append(time.perf_counter() - clock)
    return float(np.median(times))


def route_flops(enc, route, m, rounds_run=None):
    """The count of operations per sample of ``route`` on a fitted encoder."""
    p, M, K = enc.components_.shape[0], enc.n_nonzero_coefs_, enc.n_stages
    network = 2 * m * p + 2 * (K - 1) * p * p
    if route == "ols":
        return 2 * m * p + p * M * M + 8 * p * M
    if route == "network":
        return network
    c = enc.n_candidates_
    r = enc.pursuit_rounds if rounds_run is None else rounds_run
    return network + (r + 1) * (c * M * M + 8 * c * M) + 2 * r * p * M


def routes_table(sizes, n_train, repeats, threads):
    try:
        import spams
    except ImportError:
        spams = None
    Xtr = natural_patches("china.jpg", n_train)
    Xte_all = natural_patches("flower.jpg", 20000, seed=1)
    rows = []
    for p, M in sizes:
        auto = MSparseEncoder(p, n_nonzero_coefs=M, device="cpu", random_state=0).fit(Xtr)
        D = auto.components_
        trained = MSparseEncoder(dictionary=D, n_nonzero_coefs=M, route="pursuit",
                                 device="cpu", random_state=0).fit(Xtr)
        for n in (500, 20000):
            X = Xte_all[:n]
            ref = None
            spams_time = None
            if spams is not None:
                Xf = np.asfortranarray(X.T)
                Df = np.asfortranarray(D.T)
                spams_time = _median(lambda Xf=Xf, Df=Df: spams.omp(
                    Xf, Df, L=M, numThreads=threads), repeats)
                A = spams.omp(Xf, Df, L=M, numThreads=threads).toarray().T
                ref = np.sum((X - A @ D) ** 2)
                rows.append((p, M, n, "SPAMS omp", f"{n / spams_time:,.0f}", "–", "1.000",
                             "1.00"))
            for label, enc, route in [(f"auto → {auto.route_}", auto, auto.route_),
                                      ("ols", trained, "ols"), ("pursuit", trained, "pursuit"),
                                      ("network", trained, "network")]:
                enc.set_params(route=route)
                seconds = _median(lambda enc=enc, X=X: enc.transform(X), repeats)
                codes = enc.transform(X)
                resid = np.sum((X - codes @ D) ** 2)
                gflops = route_flops(enc, route, X.shape[1]) * n / seconds / 1e9
                rows.append((p, M, n, label, f"{n / seconds:,.0f}", f"{gflops:.1f}",
                             "–" if ref is None else f"{resid / ref:.3f}",
                             "–" if spams_time is None else f"{spams_time / seconds:.2f}"))
            auto.set_params(route="auto")
    print("\n### Routes of MSparseEncoder.transform, natural-image patches (china → flower)\n")
    print("| p | M | rows a call | route | samples/s | GFLOP/s (count) | residual / SPAMS "
          "| speed / SPAMS |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


def fit_table(Ms, repeats):
    X = denoising_patches()
    print(f"\n### fit in scikit-learn's denoising workflow ({X.shape[0]:,} patches of 7×7, "
          "p = 100)\n")
    print("| M | MiniBatchDictionaryLearning s | MSparseEncoder s | ratio | route_ "
          "| dictionary s | routes s | targets s | training s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for M in Ms:
        mbdl = _median(lambda: MiniBatchDictionaryLearning(
            n_components=100, batch_size=200, alpha=1.0, max_iter=1,
            transform_algorithm="omp", transform_n_nonzero_coefs=M,
            random_state=0).fit(X), repeats)
        encoders = []

        def fit(M=M, encoders=encoders):
            encoders.append(MSparseEncoder(100, n_nonzero_coefs=M, device="cpu",
                                           random_state=0).fit(X))

        skl0_time = _median(fit, repeats)
        enc = encoders[-1]
        phases = enc.fit_times_
        print(f"| {M} | {mbdl:.1f} | {skl0_time:.1f} | {skl0_time / mbdl:.2f} | "
              f"{enc.route_} | {phases['dictionary']:.1f} | {phases['routes']:.2f} | "
              f"{phases['targets']:.1f} | {phases['training']:.1f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sizes")
    parser.add_argument("--section", choices=("routes", "fit", "all"), default="all")
    args = parser.parse_args(argv)
    threads = torch.get_num_threads()
    print(f"torch threads: {threads}; numpy {np.__version__}; torch {torch.__version__}")
    if args.section in ("routes", "all"):
        sizes = [(64, 4)] if args.quick else [(256, 16), (512, 16), (1024, 16), (512, 32),
                                              (1024, 32)]
        routes_table(sizes, 1000 if args.quick else 8000, 1 if args.quick else 5, threads)
    if args.section in ("fit", "all"):
        fit_table((2,) if args.quick else (1, 2, 4), 1 if args.quick else 3)


if __name__ == "__main__":
    main()
