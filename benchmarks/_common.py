"""What every benchmark section shares: timing, tables, the machine, the data.

The sections (``transform.py``, ``fit.py``, ``memory.py``, ``frontier.py``) import it from
their own folder; ``run.py`` runs them.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

M = 32
NET = "(net only)"  # an encoder's network alone: the paper's encoder
# the parameters that make an encoder run its network alone
NETWORK_ALONE = {"route": "network"}
ALPHA = 0.25  # L0Encoder's default (the paper's "lambda = 0.5")
SIZES = (128, 256, 512)


def network_flops(m, p, n_stages):
    """Flops of one sample through a K-stage network's dense products: 2mp + 2(K − 1)p²."""
    return 2 * m * p + 2 * (n_stages - 1) * p * p


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


def integer(minimum, name):
    """An argparse type: an integer of at least ``minimum`` (``name`` says which kind)."""
    def parse(text):
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be a {name} integer, got {text}")
        return value
    return parse


positive, non_negative = integer(1, "positive"), integer(0, "non-negative")
