"""The cost of ``fit`` in a user's workflow, with its defaults, through the public API.

Two tables, printed as markdown (the routes of ``transform`` themselves are timed by the
frontier section of ``benchmarks/run.py``):

* **denoising**: :class:`~skl0.MSparseEncoder` against scikit-learn's
  :class:`~sklearn.decomposition.MiniBatchDictionaryLearning` in scikit-learn's "image
  denoising using dictionary learning" workflow (every 7×7 patch of the left half of a
  downscaled photograph, standardised per feature; p = 100, M = 1, 2, 4), with each phase
  of ``fit`` and the route it chose;
* **large p**: both encoders at p = 1,024 on 8,000 natural-image patches of 12×12.

Run ``python benchmarks/workflow_fit.py`` (``--quick`` for a smoke run). Timings are
medians on this machine under its load; read ratios, not absolute rates.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from _common import median_time
from sklearn.datasets import load_sample_image
from sklearn.decomposition import MiniBatchDictionaryLearning
from sklearn.feature_extraction.image import extract_patches_2d

from skl0 import L0Encoder, MSparseEncoder


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


def fit_table(Ms, repeats):
    X = denoising_patches()
    print(f"\n### fit in scikit-learn's denoising workflow ({X.shape[0]:,} patches of 7×7, "
          "p = 100)\n")
    print("| M | MiniBatchDictionaryLearning s | MSparseEncoder s | ratio | route_ "
          "| dictionary s | routes s | targets s | training s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for M in Ms:
        mbdl = median_time(lambda M=M: MiniBatchDictionaryLearning(
            n_components=100, batch_size=200, alpha=1.0, max_iter=1,
            transform_algorithm="omp", transform_n_nonzero_coefs=M,
            random_state=0).fit(X), repeats, warmup=0)
        encoders = []

        def fit(M=M, encoders=encoders):
            encoders.append(MSparseEncoder(100, n_nonzero_coefs=M, device="cpu",
                                           random_state=0).fit(X))

        skl0_time = median_time(fit, repeats, warmup=0)
        enc = encoders[-1]
        phases = enc.fit_times_
        print(f"| {M} | {mbdl:.1f} | {skl0_time:.1f} | {skl0_time / mbdl:.2f} | "
              f"{enc.route_} | {phases['dictionary']:.1f} | {phases['routes']:.2f} | "
              f"{phases['targets']:.1f} | {phases['training']:.1f} |")


def large_p_table(p, n, repeats):
    X = natural_patches("china.jpg", n)
    print(f"\n### fit at p = {p} on {n:,} natural-image patches of 12×12\n")
    print("| encoder | fit s | route_ | dictionary s | routes s | targets s | training s |")
    print("|---|---|---|---|---|---|---|")
    for make in (lambda: MSparseEncoder(p, n_nonzero_coefs=16, device="cpu", random_state=0),
                 lambda: L0Encoder(p, alpha=0.25, device="cpu", random_state=0)):
        encoders = []
        seconds = median_time(lambda make=make, encoders=encoders: encoders.append(
            make().fit(X)), repeats, warmup=0)
        enc = encoders[-1]
        phases = enc.fit_times_
        print(f"| {type(enc).__name__} | {seconds:.1f} | {enc.route_} | "
              f"{phases['dictionary']:.1f} | {phases['routes']:.2f} | {phases['targets']:.1f} "
              f"| {phases['training']:.1f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sizes")
    parser.add_argument("--section", choices=("denoising", "large-p", "all"), default="all")
    args = parser.parse_args(argv)
    print(f"torch threads: {torch.get_num_threads()}; numpy {np.__version__}; "
          f"torch {torch.__version__}")
    if args.section in ("denoising", "all"):
        fit_table((2,) if args.quick else (1, 2, 4), 1 if args.quick else 3)
    if args.section in ("large-p", "all"):
        large_p_table(64 if args.quick else 1024, 500 if args.quick else 8000,
                      1 if args.quick else 1)


if __name__ == "__main__":
    main()
