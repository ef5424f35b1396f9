"""``python -m skl0 demo``: both deep encoders on scikit-learn's digits.

Fits :class:`~skl0.L0Encoder` and :class:`~skl0.MSparseEncoder` on 80 % of the 1,797
digits (standardised), then prints, on the held-out 20 % only, the paper's measures for
the deep encoders beside IHT with 2, 5 and 10 iterations and OMP on the same dictionary
(columns defined in :data:`COLUMNS`), the transform speed of each against
:func:`sklearn.decomposition.sparse_encode` with ``algorithm="omp"``, and its own
running time.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import sparse_encode as sk_sparse_encode
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from .. import L0Encoder, MSparseEncoder, iht, sparse_encode
from .._progress import progress_bar
from ..metrics import code_prediction_error, support_error
from . import mean_objective

N_COMPONENTS = 128
ALPHA = 0.25  # the paper's λ = 0.5 (threshold λ^0.5 at unit step) in skl0's ½-objective
N_NONZERO = 10
MAX_EPOCHS = 150

#: What the columns of the two code tables mean (printed under them).
COLUMNS = (
    "All figures are on the held-out test digits, against their optimal codes a* (the "
    "targets the paper's networks were trained on, computed on the same dictionary). "
    "An encoder's default row runs the route its fit chose (route_); 'the network alone' "
    "is the paper's encoder (route='network').\n"
    "pred. error % = 100 ||A - A*||_F^2 / ||A*||_F^2 over the test set (0: the optimal "
    "codes; 100: all-zero codes).\n"
    "support error = mean over test digits of the number of atoms that are nonzero in one "
    "of a, a* but not in both.\n"
    "l0 objective = mean of 0.5 ||x - Da||^2 + alpha ||a||_0; ||x - Da||^2 = mean squared "
    "residual (lower is better; the optimal codes are a local minimum, not always the "
    "lowest).")


def _median_time(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _table(title, header, rows):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = [title, line, "  ".join(str(h).rjust(w) for h, w in zip(header, widths, strict=True)),
           line]
    out += ["  ".join(str(c).rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    out.append(line)
    return "\n".join(out)


def run(seed=0, device="auto", max_epochs=None, verbose=True):
    """Run the demo and return its two tables as lists of rows (also printed).

    Parameters
    ----------
    seed : int, default=0
    device : str, default="auto"
    max_epochs : int or None
        Training epochs of each encoder (``None``: 150).
    verbose : bool, default=True
        Print the tables and show progress.

    Returns
    -------
    results : dict
        ``{"l0": rows, "msparse": rows, "speed": rows, "seconds": float}``: the rows of the
        tables (held-out digits) and the demo's wall-clock time.
    """
    clock = time.perf_counter()
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    epochs = MAX_EPOCHS if max_epochs is None else max_epochs
    X, y = load_digits(return_X_y=True)
    Xtr, Xte = train_test_split(X, test_size=0.2, random_state=seed, stratify=y)
    scaler = StandardScaler().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
    steps = progress_bar(total=7, desc="skl0 demo", disable=not verbose)

    steps.set_postfix_str("L0Encoder.fit")
    l0 = L0Encoder(N_COMPONENTS, alpha=ALPHA, max_epochs=epochs, random_state=seed,
                   device=device).fit(Xtr)
    steps.update()
    D = l0.components_
    steps.set_postfix_str("MSparseEncoder.fit")
    ms = MSparseEncoder(dictionary=D, n_nonzero_coefs=N_NONZERO, max_epochs=epochs,
                        random_state=seed, device=device).fit(Xtr)
    steps.update()
    steps.set_postfix_str("the paper's networks")
    l0_net = L0Encoder(dictionary=D, alpha=ALPHA, max_epochs=epochs, route="network",
                       random_state=seed, device=device).fit(Xtr)
    ms_net = MSparseEncoder(dictionary=D, n_nonzero_coefs=N_NONZERO, max_epochs=epochs,
                            route="network", random_state=seed, device=device).fit(Xtr)
    steps.update()

    steps.set_postfix_str("optimal codes (test)")
    target_l0 = sparse_encode(Xte, D, alpha=ALPHA, device=device)
    target_ms = sparse_encode(Xte, D, n_nonzero_coefs=N_NONZERO, device=device)
    steps.update()

    def obj_l0(A):
        return mean_objective(Xte, A, D, alpha=ALPHA)

    def obj_ms(A):
        return mean_objective(Xte, A, D)

    steps.set_postfix_str("IHT baselines")
    rows_l0, rows_ms = [], []
    for k in (2, 5, 10):
        a = iht(Xte, D, alpha=ALPHA, n_iter=k, device=device)
        rows_l0.append([f"IHT ({k} iterations)",
                        f"{100 * code_prediction_error(target_l0, a):.2f}",
                        f"{support_error(target_l0, a):.2f}", f"{obj_l0(a):.3f}"])
        b = iht(Xte, D, n_nonzero_coefs=N_NONZERO, n_iter=k, device=device)
        rows_ms.append([f"IHT ({k} iterations)",
                        f"{100 * code_prediction_error(target_ms, b):.2f}",
                        f"{support_error(target_ms, b):.2f}", f"{obj_ms(b):.3f}"])
    steps.update()
    for name, enc in ((f"L0Encoder (route_={l0.route_!r})", l0),
                      ("Deep l0 encoder alone (K=2)", l0_net)):
        a = enc.transform(Xte)
        rows_l0.append([name, f"{100 * code_prediction_error(target_l0, a):.2f}",
                        f"{support_error(target_l0, a):.2f}", f"{obj_l0(a):.3f}"])
    rows_l0.append(["optimal codes (target)", "0.00", "0.00", f"{obj_l0(target_l0):.3f}"])
    omp = sk_sparse_encode(Xte, D, algorithm="omp", n_nonzero_coefs=N_NONZERO)
    rows_ms.append(["OMP (sklearn)", f"{100 * code_prediction_error(target_ms, omp):.2f}",
                    f"{support_error(target_ms, omp):.2f}", f"{obj_ms(omp):.3f}"])
    for name, enc in ((f"MSparseEncoder (route_={ms.route_!r})", ms),
                      ("Deep M-sparse encoder alone (K=2)", ms_net)):
        b = enc.transform(Xte)
        rows_ms.append([name, f"{100 * code_prediction_error(target_ms, b):.2f}",
                        f"{support_error(target_ms, b):.2f}", f"{obj_ms(b):.3f}"])
    rows_ms.append(["optimal codes (target)", "0.00", "0.00", f"{obj_ms(target_ms):.3f}"])
    steps.update()

    steps.set_postfix_str("speed")
    Xbig = np.tile(Xte, (max(1, 10_000 // len(Xte)), 1))
    t_omp = _median_time(lambda: sk_sparse_encode(Xbig, D, algorithm="omp",
                                                  n_nonzero_coefs=N_NONZERO), repeat=3)
    t_l0 = _median_time(lambda: l0.transform(Xbig))
    t_ms = _median_time(lambda: ms.transform(Xbig))
    t_l0_net = _median_time(lambda: l0_net.transform(Xbig))
    t_ms_net = _median_time(lambda: ms_net.transform(Xbig))
    t_iht = _median_time(lambda: iht(Xbig, D, alpha=ALPHA, n_iter=10, device=device), repeat=3)
    n = len(Xbig)
    speed = [
        ["sklearn sparse_encode (omp)", f"{n / t_omp:,.0f}", "1.0"],
        ["skl0.iht (10 iterations)", f"{n / t_iht:,.0f}", f"{t_omp / t_iht:.1f}"],
        [f"L0Encoder.transform ({l0.route_})", f"{n / t_l0:,.0f}", f"{t_omp / t_l0:.1f}"],
        [f"MSparseEncoder.transform ({ms.route_})", f"{n / t_ms:,.0f}",
         f"{t_omp / t_ms:.1f}"],
        ["the l0 network alone", f"{n / t_l0_net:,.0f}", f"{t_omp / t_l0_net:.1f}"],
        ["the M-sparse network alone", f"{n / t_ms_net:,.0f}", f"{t_omp / t_ms_net:.1f}"],
    ]
    steps.update()
    steps.close()

    seconds = time.perf_counter() - clock
    if verbose:
        head = ["method", "pred. error %", "support error", "l0 objective"]
        print()
        print(f"skl0 demo — sklearn digits (8x8, standardised), {len(Xtr)} train / {len(Xte)} "
              f"held-out test digits, p = {N_COMPONENTS}, K = 2, {epochs} epochs, "
              f"device {device}")
        print(_table(f"\nl0-regularised problem, alpha = {ALPHA} (paper's lambda = 0.5), "
                     "held-out digits", head, rows_l0))
        head[-1] = "||x - Da||^2"
        print(_table(f"\nM-sparse problem, M = {N_NONZERO}, held-out digits", head, rows_ms))
        print()
        print(COLUMNS)
        print(_table(f"\ntransform speed on {n:,} samples (the test digits repeated; median "
                     f"of runs; M = {N_NONZERO})",
                     ["method", "samples/s", "x OMP"], speed))
        print(f"\ndemo time: {seconds:.0f} s")
    return {"l0": rows_l0, "msparse": rows_ms, "speed": speed, "seconds": seconds}
