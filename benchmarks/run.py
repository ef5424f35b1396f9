"""Speed, memory and accuracy-speed benchmarks of skl0.

Usage::

    python benchmarks/run.py [--quick] [--device cpu|cuda] [--section NAME ...]

Prints, from one run, medians over repeats and ratios:

1. ``transform`` throughput (samples/s) of :class:`~skl0.L0Encoder` and
   :class:`~skl0.MSparseEncoder` against ``sklearn.decomposition.sparse_encode`` (``omp``,
   ``lasso_cd``, ``lasso_lars``, ``threshold``), SPAMS OMP (when ``spams`` imports) and
   ``skl0.iht`` with 10 iterations, on the same dictionary, at m = 256, p in {128, 256, 512},
   M = 32;
2. the floor: FLOPs of the K-stage forward over the measured float32 matmul rate, and our
   time over that floor; beside it the time of the forward's own matrix products alone
   (no thresholds), which is what those shapes allow on this device; on a GPU also the
   time of copying X to the device and the codes back (``transform`` takes and returns
   host arrays) and our time over the floor plus those copies;
3. ``fit`` of both encoders end to end on Fashion-MNIST (60,000 16x16 patches; 5,000 with
   ``--quick``), split into dictionary learning, optimal codes and training, with the mean
   objective that the optimal codes, the trained encoder and 10 IHT iterations reach on
   held-out rows;
4. the peak memory (RSS high-water mark, ``VmHWM``) added by ``transform`` of 200,000
   samples, against the size of its output, each in a fresh subprocess;
5. ``--section frontier`` (not in the default run): on held-out real data (digits, MNIST-5k,
   Fashion-MNIST patches), every method's throughput against its objective over the
   reference's on the encoder's own learned dictionary — the M-sparse residual over
   scikit-learn's OMP, the ℓ0 objective over the converged solver's — for SPAMS' OMP
   (``pip install spams-bin``), the batched OMP of ``orthogonal-matching-pursuit-gpu`` (its
   CPU path), IHT with 2/5/10/100 iterations, ``LISTAEncoder`` and skl0's encoders (the
   network alone and with 0 to 3 pursuit rounds); a table per problem with the methods that
   are both faster and better than each of skl0's, and a figure ``frontier_<data>.png``.

The encoders of section 1, 2 and 4 are untrained (``max_epochs=0`` with a given dictionary):
the speed of ``transform`` does not depend on the weights. The dictionary there is made of
unit-norm Fashion-MNIST patches (random unit-norm vectors when the data set is missing).
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
from sklearn.base import clone

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from skl0 import L0Encoder, MSparseEncoder  # noqa: E402
from skl0._solvers import (  # noqa: E402
    iht,
    l0_objective,
    msparse_objective,
    optimal_codes,
    spectral_norm_sq,
)

M = 32
NET = "(net only)"  # an encoder with pursuit=False: the paper's network
ALPHA = 0.25  # L0Encoder's default (the paper's "lambda = 0.5")
SIZES = (128, 256, 512)


# ------------------------------------------------------------------------------ helpers


def median_time(fn, repeats, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def is_cuda(device):
    return str(device).startswith("cuda")


def sync(device):
    if is_cuda(device):
        torch.cuda.synchronize()


def table(title, header, rows):
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    sys.stdout.flush()


def fmt_rate(x):
    return f"{x:,.0f}"


def fmt_s(x):
    """Seconds: whole ones from 10 s up, tenths below."""
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def machine():
    model = platform.processor() or "?"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    load = os.getloadavg()
    return (f"{model}, {os.cpu_count()} CPUs, torch {torch.__version__} with "
            f"{torch.get_num_threads()} threads, load average {load[0]:.1f} / {load[1]:.1f} / "
            f"{load[2]:.1f} (1/5/15 min)")


def load_data(path=None):
    """Fashion-MNIST train (16x16, mean 0, variance 1 per sample) or random data.

    ``path``: the folder of its idx files (default: the Debian package's).
    """
    try:
        from skl0.datasets import load_fashion_mnist, preprocess_patches

        X = preprocess_patches(load_fashion_mnist(**_path_kw(path), subset="train").data)
        return np.ascontiguousarray(X, dtype=np.float32), "Fashion-MNIST train, 16x16 patches"
    except (OSError, ImportError, ValueError) as exc:
        if path is not None:  # asked for by name: no silent stand-in
            raise
        print(f"Fashion-MNIST not available ({exc}); using random data.")
        rng = np.random.default_rng(0)
        X = rng.standard_normal((60000, 256)).astype(np.float32)
        return X, "random Gaussian data (Fashion-MNIST missing)"


def _path_kw(path):
    return {} if path is None else {"path": path}


def load_test_data(X, n=2000, path=None):
    """``n`` Fashion-MNIST test patches (or ``n`` random rows like ``X`` when it is missing)."""
    try:
        from skl0.datasets import load_fashion_mnist, preprocess_patches

        Xte = preprocess_patches(load_fashion_mnist(**_path_kw(path), subset="test").data)
        return np.ascontiguousarray(Xte[:n], dtype=np.float32)
    except (OSError, ImportError, ValueError):
        rng = np.random.default_rng(1)
        return rng.standard_normal((n, X.shape[1])).astype(np.float32)


def data_dictionary(X, p, seed=0):
    """``p`` unit-norm atoms: distinct data samples (cheap and data-like)."""
    rng = np.random.default_rng(seed)
    D = X[rng.choice(X.shape[0], p, replace=False)].astype(np.float64)
    return D / np.linalg.norm(D, axis=1, keepdims=True)


# ----------------------------------------------------------------------- 1. throughput


def bench_transform(X, device, quick, sizes=SIZES, n_fast=20000):
    from sklearn.decomposition import sparse_encode

    try:
        import spams
    except ImportError:
        spams = None
        print("\nSPAMS is not installed (pip install spams-bin): its OMP is skipped.")
    n_fast = min(n_fast, X.shape[0])
    n_slow = min(300 if quick else 1000, n_fast)
    gpu = is_cuda(device)
    repeats = 3 if quick else 5
    Xf = X[:n_fast]
    Xs = X[:n_slow].astype(np.float64)
    rows, floor_rows = [], []
    # the matmul rate of the device: one (n x m) @ (m x p) float32 product
    for p in sizes:
        D = data_dictionary(X, p)
        res = {}
        nnz = {}
        l0 = L0Encoder(dictionary=D, alpha=ALPHA, max_epochs=0, device=device).fit(X[:100])
        ms = MSparseEncoder(dictionary=D, n_nonzero_coefs=M, max_epochs=0,
                            device=device).fit(X[:100])
        l0_net = clone(l0).set_params(pursuit=False).fit(X[:100])
        ms_net = clone(ms).set_params(pursuit=False).fit(X[:100])
        for name, enc in (("L0Encoder", l0), ("MSparseEncoder", ms),
                          (f"L0Encoder {NET}", l0_net), (f"MSparseEncoder {NET}", ms_net)):
            t = median_time(lambda enc=enc: enc.transform(Xf), repeats)
            res[name] = n_fast / t
            nnz[name] = np.count_nonzero(enc.transform(Xf[:2000]), axis=1).mean()
        # skl0.iht, 10 iterations of the M-sparse problem, on the device
        Xt = torch.as_tensor(Xf, device=device)
        Ct = torch.as_tensor(D, dtype=torch.float32, device=device)
        step = 1.0 / spectral_norm_sq(Ct)
        G = Ct @ Ct.T

        def run_iht(Xt=Xt, Ct=Ct, step=step, G=G):
            with torch.inference_mode():
                A, _ = iht(Xt, Ct, n_nonzero_coefs=M, n_iter=10, step=step, gram=G)
            sync(device)
            return A

        res["skl0.iht (10 it)"] = n_fast / median_time(run_iht, repeats)
        nnz["skl0.iht (10 it)"] = float((run_iht() != 0).sum(dim=1).float().mean())
        for algo, kw in (("omp", {"n_nonzero_coefs": M}),
                         ("lasso_cd", {"alpha": 0.1}),
                         ("lasso_lars", {"alpha": 0.1}),
                         ("threshold", {"alpha": 0.1})):
            def run_sk(algo=algo, kw=kw, D=D):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return sparse_encode(Xs, D, algorithm=algo, n_jobs=1, **kw)

            n_use = n_slow if algo != "threshold" else n_fast
            if algo == "threshold":
                Xuse = X[:n_fast].astype(np.float64)

                def run_sk(kw=kw, Xuse=Xuse, D=D):  # noqa: F811 - fast: more samples
                    return sparse_encode(Xuse, D, algorithm="threshold", **kw)
            t = median_time(run_sk, 1 if algo != "threshold" else repeats, warmup=0)
            res[f"sklearn {algo}"] = n_use / t
            nnz[f"sklearn {algo}"] = np.count_nonzero(run_sk()[:1000], axis=1).mean()
        if spams is not None:
            Xsp = np.asfortranarray(X[:n_fast // 2].T, dtype=np.float64)
            Dsp = np.asfortranarray(D.T)

            def run_spams(Xsp=Xsp, Dsp=Dsp):
                return spams.omp(Xsp, Dsp, L=M, numThreads=torch.get_num_threads())

            res["SPAMS omp"] = Xsp.shape[1] / median_time(run_spams, repeats)
            nnz["SPAMS omp"] = M
        for name in res:
            rows.append((p, name, fmt_rate(res[name]), f"{nnz[name]:.1f}",
                         f"{res['MSparseEncoder'] / res[name]:.1f}",
                         f"{res['L0Encoder'] / res[name]:.1f}"))
        # floor: FLOPs of the forward / measured matmul rate
        module = l0.net_.module_
        flops = module.flops_per_sample() * n_fast
        Wt = torch.randn(X.shape[1], p, device=device)

        def matmul(Xt=Xt, Wt=Wt):
            torch.mm(Xt, Wt)
            sync(device)

        # the product is short and its rate the noisiest number here: more repeats
        rate = 2.0 * n_fast * X.shape[1] * p / median_time(matmul, max(15, repeats))
        floor = flops / rate
        # the forward's own products alone (x W, then K - 1 times B + z S), without thresholds:
        # the p x p product runs below the rate of the first, so this is what the shapes allow
        St = torch.randn(p, p, device=device)

        def gemms(Xt=Xt, Wt=Wt, St=St, k=module.n_stages):
            B = torch.mm(Xt, Wt)
            z = B
            for _ in range(k - 1):
                z = torch.addmm(B, z, St)
            sync(device)

        t_gemms = median_time(gemms, max(15, repeats))
        t_copies = copy_time(Xf, p, device) if gpu else 0.0
        for name in (f"L0Encoder {NET}", f"MSparseEncoder {NET}"):
            ours = n_fast / res[name]
            row = [p, name, n_fast, f"{rate / 1e9:.1f}", f"{floor * 1e3:.1f}",
                   f"{t_gemms * 1e3:.1f}", f"{ours * 1e3:.1f}", f"{ours / floor:.2f}",
                   f"{ours / t_gemms:.2f}"]
            if gpu:  # transform takes X from the host and returns the codes there
                row += [f"{t_copies * 1e3:.1f}", f"{ours / (floor + t_copies):.2f}"]
            floor_rows.append(row)
    table(f"transform throughput, m = 256, M = {M} (samples/s, median; ours on {n_fast:,} "
          f"samples, sklearn OMP/lasso on {n_slow:,})",
          ["p", "method", "samples/s", "mean nnz", "MSparse speed-up", "L0 speed-up"], rows)
    header = ["p", "encoder", "n", "matmul GFLOP/s", "floor ms", "its GEMMs alone ms",
              "transform ms", "ours / floor", "ours / GEMMs"]
    if gpu:
        header += ["copies ms", "ours / (floor + copies)"]
    table("floor: forward FLOPs / measured float32 matmul rate (the networks alone)", header,
          floor_rows)


def copy_time(X, p, device, repeats=15):
    """On a GPU: the median time of copying ``X`` (float32) to ``device`` and an ``(n, p)``
    float32 result back into host memory, the part of ``transform`` that no kernel removes."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    out = np.empty((X.shape[0], p), dtype=np.float32)
    Z = torch.zeros(X.shape[0], p, device=device)

    def copies():
        torch.from_numpy(X).to(device)
        torch.from_numpy(out).copy_(Z)
        sync(device)

    return median_time(copies, repeats)


# ------------------------------------------------------------------------------ 3. fit


def bench_fit(X, device, quick, sizes, epochs, kinds, n_fit=None, data_path=None):
    """End-to-end ``fit`` of the real estimators, split by phase (``fit_times_``)."""
    n_fit = min(n_fit or (5000 if quick else X.shape[0]), X.shape[0])
    Xf, Xval = X[:n_fit], load_test_data(X, path=data_path)
    rows = []
    for kind in kinds:
        for p in sizes:
            if kind == "l0":
                est = L0Encoder(p, alpha=ALPHA, max_epochs=epochs, device=device, random_state=0)
                kw = {"alpha": ALPHA}
            else:
                est = MSparseEncoder(p, n_nonzero_coefs=M, max_epochs=epochs, device=device,
                                     random_state=0)
                kw = {"n_nonzero_coefs": M}
            t0 = time.perf_counter()
            est.fit(Xf)
            sync(device)
            total = time.perf_counter() - t0
            ph = est.fit_times_
            Xt = torch.as_tensor(Xval, device=device)
            Ct = torch.as_tensor(est.components_, dtype=torch.float32, device=device)
            with torch.inference_mode():
                A = optimal_codes(Xt, Ct, max_iter=1000, **kw)
                A10, _ = iht(Xt, Ct, n_iter=10, **kw)
            Ad = torch.as_tensor(est.transform(Xval), device=device)
            def obj(B, Xt=Xt, Ct=Ct, kind=kind):
                if kind == "l0":
                    return float(l0_objective(Xt, B, Ct, ALPHA).mean())
                return float(msparse_objective(Xt, B, Ct).mean())
            rows.append((type(est).__name__, p, f"{n_fit:,}", epochs, fmt_s(ph["dictionary"]),
                         fmt_s(ph["targets"]), fmt_s(ph["training"]),
                         f"{ph['training'] / max(epochs, 1):.2f}", fmt_s(total),
                         f"{total / 60:.1f}", f"{obj(A):.3f}", f"{obj(Ad):.3f}",
                         f"{obj(A10):.3f}"))
            print(f"  fitted {type(est).__name__}(p={p}): {total:.0f} s", flush=True)
    table(f"fit end to end on {n_fit:,} samples, split by phase (`fit_times_`), "
          f"max_epochs={epochs}; objectives are means over 2,000 test patches",
          ["encoder", "p", "n", "epochs", "dictionary s", "optimal codes s", "training s",
           "s / epoch", "total s", "total min", "obj: optimal codes", "obj: encoder",
           "obj: IHT 10 it"], rows)


# --------------------------------------------------------------------------- 4. memory

_MEMORY_CHILD = r"""
import pickle, sys, numpy as np, torch
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
def reset():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False
enc = pickle.load(open(sys.argv[1], "rb"))
n = int(sys.argv[2])
X = np.random.default_rng(0).standard_normal((n, enc.n_features_in_)).astype(np.float32)
enc.transform(X[:1000])  # torch's lazy initialisation is not the transform's cost
import gc; gc.collect()
gpu = torch.cuda.is_available() and str(enc.device).startswith("cuda")
if gpu:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    gpu_before = torch.cuda.memory_allocated()
ok = reset()
import resource
before = hwm()
rss_before = int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()
Z = enc.transform(X)
after = hwm()
gpu_extra = torch.cuda.max_memory_allocated() - gpu_before if gpu else -1
print(ok, before, after, rss_before, Z.nbytes, gpu_extra)
"""


def bench_memory(X, device, quick, sizes=None, n=200000):
    rows, reset = [], True
    sizes = sizes or ((256,) if quick else SIZES)
    gpu = is_cuda(device)
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "child.py")
        with open(script, "w") as f:
            f.write(_MEMORY_CHILD)
        for p in sizes:
            D = data_dictionary(X, p)
            for cls, kw in ((L0Encoder, {"alpha": ALPHA}), (MSparseEncoder,
                                                            {"n_nonzero_coefs": M})):
                enc = cls(dictionary=D, max_epochs=0, device=device, **kw).fit(X[:100])
                path = os.path.join(tmp, "enc.pkl")
                with open(path, "wb") as f:
                    pickle.dump(enc, f)
                env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
                out = subprocess.run([sys.executable, script, path, str(n)], env=env,
                                     capture_output=True, text=True, check=True).stdout
                ok, *numbers = out.split()
                before, after, rss_before, nbytes, gpu_extra = map(int, numbers)
                # with the high-water mark reset, the peak counts from the current RSS
                reset &= ok == "True"
                base = rss_before if ok == "True" else before
                extra = after - base
                row = [p, cls.__name__, f"{nbytes / 2**20:.0f}", f"{extra / 2**20:.0f}",
                       f"{(extra - nbytes) / 2**20:+.0f}"]
                if gpu:  # device memory: the peak that torch's allocator held above its start
                    row.append(f"{gpu_extra / 2**20:.0f}")
                rows.append(row)
    header = ["p", "encoder", "output MiB", "extra peak MiB", "extra - output MiB"]
    if gpu:
        header.append("extra GPU peak MiB")
    table(f"peak memory of transform on {n:,} float32 samples (VmHWM delta, subprocess)",
          header, rows)
    if not reset:
        print("\nThe high-water mark could not be reset here (/proc/self/clear_refs): the "
              "extra peak counts from the child's own start-up peak and may read low.")


# ----------------------------------------------------------------------------- main


# ------------------------------------------------------------------------ 5. frontier

# (p, M) per data set: digits at the sizes of the table, the patches at M = 32
FRONTIER = {"digits": ((128, 10), (256, 16)),
            "mnist5k": ((128, 32), (256, 32), (512, 32)),
            "fashion": ((128, 32), (256, 32), (512, 32))}


def _omp_gpu():
    """The batched OMP of the PyPI package ``orthogonal-matching-pursuit-gpu`` or None."""
    try:
        from orthogonal_matching_pursuit_gpu import run_omp
    except ImportError:
        return None
    return run_omp


def _frontier_problem(problem, Xq, Xs, Xf, D, ref_codes, ref_rate, methods, repeats):
    """Rows ``(method, samples/s, objective ratio, mean nnz, x reference)`` of one problem.

    ``methods`` maps a name to ``encode(X) -> codes``; quality on ``Xq``, speed on ``Xf``
    (fast methods) or ``Xs`` (those marked slow by a name ending in ``*``).
    """
    def objective(A):
        r = np.sum((Xq - A @ D) ** 2, axis=1)
        if problem == "l0":
            return float(np.mean(0.5 * r + ALPHA * np.count_nonzero(A, axis=1)))
        return float(np.mean(r))

    ref = objective(ref_codes)
    rows = []
    for name, encode in methods.items():
        slow = name.endswith("*")
        X = Xs if slow else Xf
        rate = X.shape[0] / median_time(lambda encode=encode, X=X: encode(X),
                                        1 if slow else repeats, warmup=0 if slow else 1)
        A = np.asarray(encode(Xq), dtype=np.float64)
        rows.append((name.rstrip("*"), rate, objective(A) / ref,
                     float(np.count_nonzero(A, axis=1).mean())))
    rows.insert(0, (None, ref_rate, 1.0, float(np.count_nonzero(ref_codes, axis=1).mean())))
    return rows


def _dominated(rows, mine):
    """For each of ``mine``: the methods both faster and better than it (objective ratio
    lower by more than 0.5 %, throughput higher by more than 10 %: the noise)."""
    out = {}
    for name, rate, ratio, _ in rows:
        if name in mine:
            out[name] = [o for o, r, q, _ in rows
                         if o != name and r > 1.1 * rate and q < ratio - 0.005]
    return out


def bench_frontier(device, quick, datasets, sizes=None, n_train=None, n_test=2000,
                   out_dir="."):
    """Throughput against objective ratio, for every method, on real data (section 5)."""
    from sklearn.decomposition import sparse_encode as sk_encode

    from skl0 import LISTAEncoder, sparse_encode
    from skl0 import iht as iht_np
    from skl0.experiments.codes import load_dataset

    try:
        import spams
    except ImportError:
        spams = None
        print("\nSPAMS is not installed (pip install spams-bin): its OMP is skipped.")
    run_omp = _omp_gpu()
    if run_omp is None:
        print("\northogonal-matching-pursuit-gpu is not installed: its OMP is skipped.")
    repeats = 3 if quick else 5
    n_fast, n_slow = (4000, 200) if quick else (20000, 1000)
    figures = []
    for data in datasets:
        Xtr, Xte, desc = load_dataset(data, seed=0, n_train=n_train, n_test=n_test)
        Xq = np.ascontiguousarray(Xte, dtype=np.float64)
        Xf = np.ascontiguousarray(np.tile(Xte, (-(-n_fast // len(Xte)), 1))[:n_fast])
        Xs = Xq[:n_slow]
        panels = []
        for p, m in FRONTIER[data]:
            if sizes and p not in sizes:
                continue
            common = {"n_components": p, "random_state": 0, "device": device}
            if quick:
                common.update(max_epochs=20, dict_max_iter=3)
            print(f"  {data} p={p}: fitting the encoders ...", flush=True)
            for problem in ("msparse", "l0"):
                kw = {"n_nonzero_coefs": m} if problem == "msparse" else {"alpha": ALPHA}
                Est = MSparseEncoder if problem == "msparse" else L0Encoder
                enc = Est(**common, **kw).fit(Xtr)
                D = enc.components_.astype(np.float64)
                methods = {}
                if problem == "msparse":
                    ref_name = "sklearn OMP"
                    t = median_time(lambda D=D, Xs=Xs, m=m: sk_encode(
                        Xs, D, algorithm="omp", n_nonzero_coefs=m), 1, warmup=0)
                    ref_codes = sk_encode(Xq, D, algorithm="omp", n_nonzero_coefs=m)
                    if spams is not None:
                        Dsp = np.asfortranarray(D.T, dtype=np.float64)
                        methods["SPAMS OMP"] = lambda X, Dsp=Dsp, m=m: spams.omp(
                            np.asfortranarray(X.T, dtype=np.float64), Dsp, L=m,
                            numThreads=torch.get_num_threads()).T.toarray()
                    if run_omp is not None:
                        Dg = torch.as_tensor(D.T, dtype=torch.float32)

                        def gpu_omp(X, Dg=Dg, m=m):
                            out = []
                            for s in range(0, len(X), 4096):
                                y = torch.as_tensor(X[s:s + 4096], dtype=torch.float32)
                                out.append(run_omp(Dg, y, m, normalize=False,
                                                   fit_intercept=False).numpy())
                            return np.vstack(out)

                        methods["omp-gpu package, CPU"] = gpu_omp
                else:
                    ref_name = "converged solver (sparse_encode)"
                    t = median_time(lambda D=D, Xs=Xs: sparse_encode(
                        Xs, D, alpha=ALPHA, device=device), 1, warmup=0)
                    ref_codes = sparse_encode(Xq, D, alpha=ALPHA, device=device)
                    lista = LISTAEncoder(dictionary=D, **{k: v for k, v in common.items()
                                                          if k != "n_components"}).fit(Xtr)
                    methods["LISTAEncoder"] = lista.transform
                for k in (2, 5, 10, 100):
                    name = f"IHT ({k} it)" + ("*" if k == 100 else "")
                    methods[name] = lambda X, D=D, k=k, kw=kw: iht_np(
                        X, D, n_iter=k, device=device, **kw)
                methods[f"{Est.__name__} {NET}"] = _net_only(enc)
                for rounds in (0, 1, 2):
                    methods[f"{Est.__name__}, pursuit_rounds={rounds}"] = _with(
                        enc, pursuit_rounds=rounds)
                methods[f"{Est.__name__} (default)"] = enc.transform
                rows = _frontier_problem(problem, Xq, Xs, Xf, D, ref_codes, len(Xs) / t, methods,
                                         repeats)
                rows[0] = (ref_name,) + rows[0][1:]
                mine = [r[0] for r in rows if r[0].startswith(Est.__name__)]
                beaten = _dominated(rows, mine)
                ref_rate = rows[0][1]
                table(f"frontier: {data} p={p} "
                      + (f"M-sparse M={m}, ‖x − Da‖² over sklearn OMP's" if problem == "msparse"
                         else f"ℓ0 α={ALPHA}, objective over the converged solver's")
                      + f" on {len(Xq):,} held-out samples; the encoder's own dictionary",
                      ["method", "samples/s", "objective ratio", "mean nnz", "x reference",
                       "faster and better"],
                      [(name, fmt_rate(rate), f"{ratio:.3f}", f"{nnz:.1f}",
                        f"{rate / ref_rate:.1f}", ", ".join(beaten.get(name, [])) or
                        ("none" if name in beaten else ""))
                       for name, rate, ratio, nnz in rows])
                panels.append((f"{data} p={p} " + (f"M={m}" if problem == "msparse"
                                                    else f"ℓ0 α={ALPHA}"), rows))
        figures.append(_frontier_figure(data, desc, panels, out_dir))
    for path in figures:
        if path is not None:
            print(f"\nfigure: {path}")


def _net_only(enc):
    """``transform`` of ``enc``'s network alone (pursuit off), ``enc`` left as it is."""
    def encode(X, enc=enc):
        enc.set_params(pursuit=False)
        try:
            return enc.transform(X)
        finally:
            enc.set_params(pursuit=True)
    return encode


def _with(enc, **params):
    """``transform`` of ``enc`` with other pursuit parameters, ``enc`` left as it is."""
    def encode(X, enc=enc):
        before = {k: getattr(enc, k) for k in params}
        enc.set_params(**params)
        try:
            return enc.transform(X)
        finally:
            enc.set_params(**before)
    return encode


def _frontier_figure(data, desc, panels, out_dir):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("matplotlib is not installed: no figure")
        return None
    if not panels:
        return None
    fig = Figure(figsize=(5.5 * len(panels), 4.8), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, rows) in zip(axes, panels, strict=True):
        for i, (name, rate, ratio, _) in enumerate(rows):
            ours = name.startswith(("L0Encoder", "MSparseEncoder"))
            ax.scatter([rate], [ratio], marker="*" if ours else "o", s=90 if ours else 40,
                       color=f"C{i % 10}", label=name, zorder=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("samples / s (log scale)")
        ax.set_ylabel("objective / reference's (log scale; lower is better)")
        ax.set_title(title, fontsize="medium")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="x-small")
    fig.suptitle(f"accuracy–speed frontier: {desc.split(',')[0]}", fontsize="medium")
    path = os.path.join(out_dir, f"frontier_{data}.png")
    fig.savefig(path, dpi=110)
    return path


def _integer(minimum, name):
    """An argparse type: an integer of at least ``minimum`` (``name`` says which kind)."""
    def parse(text):
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be a {name} integer, got {text}")
        return value
    return parse


_positive, _non_negative = _integer(1, "positive"), _integer(0, "non-negative")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (~2-3 min)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=_positive, default=None,
                        help="torch.set_num_threads (default: torch's own choice)")
    parser.add_argument("--section", nargs="*", default=["transform", "fit", "memory"],
                        choices=["transform", "fit", "memory", "frontier"],
                        help="sections to run (default: transform fit memory; frontier: "
                        "throughput against objective ratio of every method on real data)")
    parser.add_argument("--sizes", nargs="+", type=_positive, default=None,
                        help="code sizes p of every section (default: 128 256 512; with "
                        "--quick the fit section takes 128 and the memory section 256)")
    parser.add_argument("--transform-samples", type=_positive, default=20000,
                        help="samples that our encoders and sklearn's threshold encode in the "
                        "transform section (default: 20000)")
    parser.add_argument("--memory-samples", type=_positive, default=200000,
                        help="samples of the memory section (default: 200000)")
    parser.add_argument("--fit-samples", type=_positive, default=None,
                        help="training samples of the fit section (default: all 60000; "
                        "--quick: 5000)")
    parser.add_argument("--fit-epochs", type=_non_negative, default=None,
                        help="max_epochs of the fit section (default: 100, the estimators' "
                        "default; --quick: 5)")
    parser.add_argument("--fit-encoders", nargs="*", default=["l0", "msparse"],
                        choices=["l0", "msparse"])
    parser.add_argument("--data", default=None,
                        help="folder of the Fashion-MNIST idx files (default: the Debian "
                        "package's, /usr/share/datasets/fashion-mnist)")
    parser.add_argument("--frontier-data", nargs="+", default=["digits", "fashion"],
                        choices=sorted(FRONTIER),
                        help="data sets of the frontier section (default: digits fashion)")
    parser.add_argument("--frontier-train", type=_positive, default=None,
                        help="training samples of the frontier section (default: all)")
    parser.add_argument("--out", default=".",
                        help="folder of the frontier section's figures (default: .)")
    args = parser.parse_args(argv)
    if is_cuda(args.device) and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: torch sees no CUDA device here")
    if args.device != "cpu" and not is_cuda(args.device):
        parser.error(f"--device must be cpu, cuda or cuda:N, got {args.device!r}")
    t_start = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {machine()}")
    X, source = load_data(args.data)
    print(f"data: {source}, {X.shape[0]:,} x {X.shape[1]}; device: {args.device}; "
          f"{'--quick' if args.quick else 'full'} run")
    if "transform" in args.section:
        bench_transform(X, args.device, args.quick, sizes=args.sizes or SIZES,
                        n_fast=args.transform_samples)
    if "fit" in args.section:
        sizes = args.sizes or ((128,) if args.quick else SIZES)
        epochs = args.fit_epochs if args.fit_epochs is not None else (5 if args.quick else 100)
        bench_fit(X, args.device, args.quick, sizes, epochs, args.fit_encoders,
                  n_fit=args.fit_samples, data_path=args.data)
    if "memory" in args.section:
        bench_memory(X, args.device, args.quick, sizes=args.sizes, n=args.memory_samples)
    if "frontier" in args.section:
        bench_frontier(args.device, args.quick, args.frontier_data, sizes=args.sizes,
                       n_train=args.frontier_train, out_dir=args.out)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}; total "
          f"{time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
