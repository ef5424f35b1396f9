"""Section ``fit``: ``fit`` of both encoders end to end, split by phase.

``python benchmarks/run.py --section fit``. On Fashion-MNIST (60,000 16×16 patches; 5,000
with ``--quick``): dictionary learning, timing the routes, optimal codes and training
(``fit_times_``; a phase the chosen route does not need reads 0), with
the mean objective that the optimal codes (:func:`skl0.sparse_encode`), the fitted
encoder and 10 IHT iterations (:func:`skl0.iht`) reach on 2,000 held-out patches.
"""

from __future__ import annotations

import time

from _common import ALPHA, M, fmt_s, load_test_data, sync, table

from skl0 import L0Encoder, MSparseEncoder, iht, sparse_encode
from skl0.metrics import sparse_coding_objective


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
            ph = dict(est.fit_times_)
            D = est.components_
            A = sparse_encode(Xval, D, max_iter=1000, device=device, **kw)
            A10 = iht(Xval, D, n_iter=10, device=device, **kw)
            Ad = est.transform(Xval)

            def obj(B, D=D, kw=kw):
                return sparse_coding_objective(Xval, B, D, alpha=kw.get("alpha"))

            ph = {k: ph.get(k, 0.0) for k in ("dictionary", "routes", "targets", "training")}
            rows.append((type(est).__name__, p, f"{n_fit:,}", epochs, fmt_s(ph["dictionary"]),
                         fmt_s(ph["routes"]), fmt_s(ph["targets"]), fmt_s(ph["training"]),
                         f"{ph['training'] / max(epochs, 1):.2f}", fmt_s(total),
                         f"{total / 60:.1f}", f"{obj(A):.3f}", f"{obj(Ad):.3f}",
                         f"{obj(A10):.3f}"))
            print(f"  fitted {type(est).__name__}(p={p}): {total:.0f} s", flush=True)
    table(f"fit end to end on {n_fit:,} samples, split by phase (`fit_times_`), "
          f"max_epochs={epochs}; objectives are means over 2,000 test patches",
          ["encoder", "p", "n", "epochs", "dictionary s", "routes s", "optimal codes s",
           "training s", "s / epoch", "total s", "total min", "obj: optimal codes", "obj: encoder",
           "obj: IHT 10 it"], rows)
