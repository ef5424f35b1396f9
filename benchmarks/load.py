"""fit, transform and a grid search, idle and beside a busy process pinned to one core.

    python benchmarks/load.py                    # the default L0Encoder on digits, 3 repeats
    python benchmarks/load.py --repeat 5 --grid-epochs 20
    python benchmarks/load.py --all-threads      # every operation on all of torch's threads

The busy process (a Python loop, pinned to the first core the benchmark may use) is started
before the loaded measurements and stopped after them. Each figure is the median of
``--repeat`` runs; the ratio column is loaded / idle. ``--all-threads`` gives every
operation all of torch's threads, whatever its size (skl0's behaviour before the work was
sized), for comparison. The grid search is ``GridSearchCV`` over a ``StandardScaler`` +
``L0Encoder`` + ``LogisticRegression`` pipeline with ``n_jobs=1`` and ``n_jobs=2``, idle;
the first ``n_jobs=2`` search, which starts joblib's worker processes, is reported apart.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skl0._threads as training
from skl0 import L0Encoder

BUSY = "while True: pass"


def _cores():
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]


def start_busy():
    """A Python loop pinned to the first core this process may use; returns the process."""
    core = _cores()[0]
    proc = subprocess.Popen([sys.executable, "-c", BUSY])
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(proc.pid, {core})
    time.sleep(0.5)  # let it take its core
    return proc


def stop_busy(proc):
    proc.terminate()
    proc.wait(timeout=10)


def median_seconds(func, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), times


def measure(X, X_big, repeat, epochs):
    """Median seconds of the default fit and of a transform of ``X_big``."""
    enc = L0Encoder(max_epochs=epochs, random_state=0, device="cpu")
    fit, fit_all = median_seconds(lambda: enc.fit(X), repeat)
    transform, transform_all = median_seconds(lambda: enc.transform(X_big), 3 * repeat)
    return {"fit": (fit, fit_all), "transform": (transform, transform_all)}


def grid_search(X, y, n_jobs, epochs):
    pipe = make_pipeline(StandardScaler(),
                         L0Encoder(max_epochs=epochs, random_state=0, device="cpu"),
                         LogisticRegression(max_iter=1000))
    grid = {"l0encoder__alpha": [0.1, 0.25], "l0encoder__n_components": [64, 128]}
    start = time.perf_counter()
    GridSearchCV(pipe, grid, cv=2, n_jobs=n_jobs).fit(X, y)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="max_epochs of the fit (default: L0Encoder's default)")
    parser.add_argument("--grid-epochs", type=int, default=20,
                        help="max_epochs of each encoder of the grid search (default 20)")
    parser.add_argument("--transform-rows", type=int, default=20_000,
                        help="rows of the transform (digits repeated; default 20,000)")
    parser.add_argument("--no-grid", action="store_true", help="skip the grid search")
    parser.add_argument("--all-threads", action="store_true",
                        help="every operation on all of torch's threads (for comparison)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.all_threads:
        training._FLOPS_PER_THREAD = 1
    epochs = L0Encoder().max_epochs if args.epochs is None else args.epochs

    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X_big = np.tile(X, (-(-args.transform_rows // len(X)), 1))[: args.transform_rows]
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"# {len(_cores())} cores, torch {torch.__version__}, {torch.get_num_threads()} "
          f"threads, load average before {load[0]:.2f}; "
          f"{'all threads' if args.all_threads else 'threads sized by the work'}")
    print(f"# L0Encoder(max_epochs={epochs}) on digits ({X.shape[0]} x {X.shape[1]}), "
          f"transform of {len(X_big):,} rows; median of {args.repeat} fits, "
          f"{3 * args.repeat} transforms")

    idle = measure(X, X_big, args.repeat, epochs)
    busy = start_busy()
    try:
        loaded = measure(X, X_big, args.repeat, epochs)
    finally:
        stop_busy(busy)

    print()
    print("| call | idle (s) | beside a busy core (s) | loaded / idle | loaded runs (s) |")
    print("|---|---:|---:|---:|---|")
    for name in ("fit", "transform"):
        a, b = idle[name][0], loaded[name][0]
        runs = ", ".join(f"{t:.3g}" for t in loaded[name][1])
        print(f"| {name} | {a:.3g} | {b:.3g} | {b / a:.2f}x | {runs} |")

    if not args.no_grid:
        # the first n_jobs=2 search starts joblib's worker processes (each imports torch and
        # skl0); the later ones reuse them, as a session of searches does
        cold = grid_search(X, y, 2, args.grid_epochs)
        one, _ = median_seconds(lambda: grid_search(X, y, 1, args.grid_epochs), args.repeat)
        two, _ = median_seconds(lambda: grid_search(X, y, 2, args.grid_epochs), args.repeat)
        print()
        print(f"GridSearchCV, 4 candidates x 2 folds, max_epochs={args.grid_epochs}, idle, "
              f"median of {args.repeat}: n_jobs=1 {one:.1f} s, n_jobs=2 {two:.1f} s "
              f"(n_jobs=2 / n_jobs=1: {two / one:.2f}x); the first n_jobs=2 search, which "
              f"starts the workers: {cold:.1f} s ({cold / one:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
