"""Clustering (the paper's Tables 6 and 7, here on digits, the 5k MNIST subset or
Fashion-MNIST).

Clustering error (%, after the best matching of clusters to classes,
:func:`skl0.metrics.clustering_error`) of :class:`~skl0.L0Clusterer` with the Deep
ℓ0-Regularized and Deep M-Sparse (M = 10, 20, 30) encoders, beside k-means on the raw
data and on the frozen codes of each encoder (its net's output, before fine-tuning). All
samples are clustered and scored; the CSV has NMI and ARI beside the error
(:func:`skl0.metrics.clustering_scores`).
``python -m skl0 reproduce clustering --dataset digits --p 64 128 --quick``.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.frozen import FrozenEstimator

from .. import L0Clusterer, L0Encoder, MSparseEncoder
from .._progress import progress_bar
from ..metrics import clustering_scores
from . import result_stem
from .classification import (
    M_VALUES,
    settings,
    sort_rows,
    write_table,
)
from .data import load


def encoders(p, enc_kwargs):
    """``[(row name, unfitted encoder)]`` for one dictionary size ``p``."""
    # the clusterer fine-tunes the encoder's network: a route that trains it
    kwargs = {"route": "network", **enc_kwargs}
    out = [("Deep l0-Regularized", L0Encoder(p, **kwargs))]
    out += [(f"Deep M-Sparse (M = {m})", MSparseEncoder(p, n_nonzero_coefs=m, **kwargs))
            for m in M_VALUES if m <= p]
    return out


def _scores(y, labels):
    scores = clustering_scores(y, labels)
    return {"error": 1.0 - scores["accuracy"], "nmi": scores["nmi"], "ari": scores["ari"]}


def run(experiment="clustering", *, dataset=None, n_components=(128, 256, 512), seed=0,
        quick=False, output_dir="results", device="auto"):
    """Run the clustering comparison; returns the list of result rows.

    Each row: ``method``, ``p``, ``error`` (clustering error, a fraction), ``nmi``, ``ari``,
    ``seconds``.
    """
    dataset = dataset or "digits"
    X, y, descr = load(dataset)
    k = len(np.unique(y))
    enc_kwargs, epochs = settings(quick)
    enc_kwargs = {**enc_kwargs, "device": device, "random_state": seed}
    n_components = list(n_components)

    rows = []
    t0 = time.perf_counter()
    raw = KMeans(k, n_init=10, random_state=seed).fit_predict(X)
    raw_row = {**_scores(y, raw), "seconds": time.perf_counter() - t0}
    rows += [{"method": "KMeans (pixels)", "p": p, **raw_row} for p in n_components]
    jobs = [(p, name, enc) for p in n_components for name, enc in encoders(p, enc_kwargs)]
    for p, name, enc in progress_bar(jobs, desc=f"{experiment} on {dataset}"):
        t0 = time.perf_counter()
        frozen = clone(enc).fit(X)
        t_encoder = time.perf_counter() - t0
        codes = frozen.transform(X)  # the net's codes
        labels = KMeans(k, n_init=10, random_state=seed).fit_predict(codes)
        rows.append({"method": f"KMeans ({name} codes, frozen)", "p": p, **_scores(y, labels),
                     "seconds": time.perf_counter() - t0})
        t0 = time.perf_counter()
        clusterer = L0Clusterer(k, FrozenEstimator(frozen), device=device, random_state=seed)
        if epochs is not None:
            clusterer.set_params(max_epochs=epochs)
        labels = clusterer.fit(X).labels_
        rows.append({"method": f"L0Clusterer ({name})", "p": p, **_scores(y, labels),
                     "seconds": t_encoder + time.perf_counter() - t0})
    rows = sort_rows(rows, "KMeans (pixels)")
    title = (f"Clustering error (%) on {dataset} ({descr}; {len(y)} samples, {k} clusters, "
             f"seed {seed}{', quick' if quick else ''})")
    write_table(rows, n_components, output_dir, result_stem(experiment, dataset, seed=seed),
                title, "error")
    return rows
