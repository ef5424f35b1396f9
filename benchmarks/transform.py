"""Section ``transform``: throughput of ``transform`` against the solvers, and its floor.

``python benchmarks/run.py --section transform``. At m = 256, p in {128, 256, 512},
M = 32, on one dictionary of unit-norm data samples per p (the speed of ``transform`` does
not depend on the weights, so the encoders are untrained: ``max_epochs=0``):

1. samples/s of :class:`~skl0.L0Encoder` and :class:`~skl0.MSparseEncoder` (their
   defaults, and their network alone) against ``sklearn.decomposition.sparse_encode``
   (``omp``, ``lasso_cd``, ``lasso_lars``, ``threshold``), SPAMS' ``omp`` (when ``spams``
   imports) and :func:`skl0.iht` with 10 iterations;
2. the floor of the network: its flops (2mp + 2(K − 1)p² a sample) over the measured
   float32 matmul rate, and beside it the time of the forward's own matrix products alone;
   on a GPU also the time of copying X to the device and the codes back.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from _common import (
    ALPHA,
    NET,
    NETWORK_ALONE,
    SIZES,
    M,
    data_dictionary,
    fmt_rate,
    is_cuda,
    median_time,
    network_flops,
    sync,
    table,
)
from sklearn.base import clone

from skl0 import L0Encoder, MSparseEncoder, iht


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
        l0_net = clone(l0).set_params(**NETWORK_ALONE).fit(X[:100])
        ms_net = clone(ms).set_params(**NETWORK_ALONE).fit(X[:100])
        for name, enc in (("L0Encoder", l0), ("MSparseEncoder", ms),
                          (f"L0Encoder {NET}", l0_net), (f"MSparseEncoder {NET}", ms_net)):
            t = median_time(lambda enc=enc: enc.transform(Xf), repeats)
            res[name] = n_fast / t
            nnz[name] = np.count_nonzero(enc.transform(Xf[:2000]), axis=1).mean()
        # skl0.iht, 10 iterations of the M-sparse problem, on the device
        def run_iht(D=D):
            return iht(Xf, D, n_nonzero_coefs=M, n_iter=10, device=device)

        res["skl0.iht (10 it)"] = n_fast / median_time(run_iht, repeats)
        nnz["skl0.iht (10 it)"] = float(np.count_nonzero(run_iht(), axis=1).mean())
        Xt = torch.as_tensor(Xf, device=device)
        # threshold is fast: it encodes as many rows as ours, the others n_slow rows once
        X64 = X[:n_fast].astype(np.float64)
        for algo, kw in (("omp", {"n_nonzero_coefs": M}),
                         ("lasso_cd", {"alpha": 0.1}),
                         ("lasso_lars", {"alpha": 0.1}),
                         ("threshold", {"alpha": 0.1})):
            fast = algo == "threshold"
            Xuse = X64 if fast else Xs

            def run_sk(algo=algo, kw=kw, D=D, Xuse=Xuse):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return sparse_encode(Xuse, D, algorithm=algo, n_jobs=1, **kw)

            t = median_time(run_sk, repeats if fast else 1, warmup=int(fast))
            res[f"sklearn {algo}"] = len(Xuse) / t
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
        flops = network_flops(X.shape[1], p, l0.n_stages) * n_fast
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

        def gemms(Xt=Xt, Wt=Wt, St=St, k=l0.n_stages):
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
