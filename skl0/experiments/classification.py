"""Classification (the paper's Table 4, on digits, the 5k MNIST subset or Fashion-MNIST).

Test error (%) of :class:`~skl0.L0Classifier` — task-driven, end to end — with the Deep
ℓ0-Regularized encoder, the Deep M-Sparse encoder (M = 10, 20, 30) and LISTA ("tuned
LISTA"), beside logistic regression on the raw pixels and on the frozen codes of each
encoder (fitted without labels, no fine-tuning). ``python -m skl0 reproduce
classification --dataset digits --p 64 128 --quick``.
"""

from __future__ import annotations

import csv
import time
import warnings
from pathlib import Path

from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from .. import L0Classifier, L0Encoder, LISTAEncoder, MSparseEncoder
from .._progress import progress_bar
from . import result_stem
from .data import load_split

M_VALUES = (10, 20, 30)
# the task-driven rows fine-tune the encoder's network: a route that trains it
TRAINED = {"route": "pursuit"}


def settings(quick):
    """Training settings of the encoders' own fit and of the end-to-end phase.

    ``quick``: 3 epochs of dictionary learning, 200 solver iterations for the optimal
    codes, 20 epochs of code regression and 20 of end-to-end training; otherwise every
    estimator's defaults.
    """
    if quick:
        return {"max_epochs": 20, "dict_max_iter": 3, "solver_max_iter": 200}, 20
    return {}, None


def encoders(p, enc_kwargs):
    """``[(row name, unfitted encoder)]`` for one dictionary size ``p``."""
    out = [("Deep l0-Regularized", L0Encoder(p, **TRAINED, **enc_kwargs))]
    out += [(f"Deep M-Sparse (M = {m})", MSparseEncoder(p, n_nonzero_coefs=m, **TRAINED,
                                                        **enc_kwargs))
            for m in M_VALUES if m <= p]
    out.append(("Tuned LISTA", LISTAEncoder(p, **enc_kwargs)))
    return out


def sort_rows(rows, baseline):
    """Baseline rows first, then frozen-code rows, then the task-driven rows (stable)."""
    def key(row):
        method = row["method"]
        return 0 if method.startswith(baseline) else 1 if "frozen" in method else 2
    return sorted(rows, key=key)


def _logistic(X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression(max_iter=1000).fit(X, y)


def write_table(rows, n_components, output_dir, stem, title, metric):
    """Print a method × p table of ``metric`` (percent); write ``stem.md`` and ``stem.csv``."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    cell = {(r["method"], r["p"]): r[metric] for r in rows}
    header = "| method | " + " | ".join(f"p = {p}" for p in n_components) + " |"
    lines = [f"## {title}", "", header, "|---" * (len(n_components) + 1) + "|"]
    for m in methods:
        vals = [cell.get((m, p)) for p in n_components]
        lines.append(f"| {m} | " + " | ".join("—" if v is None else f"{100 * v:.2f}"
                                              for v in vals) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.md").write_text(text)
    with open(out / f"{stem}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return text


def run(experiment="classification", *, dataset=None, n_components=(128, 256, 512), seed=0,
        quick=False, output_dir="results", device="auto"):
    """Run the classification comparison; returns the list of result rows.

    Each row: ``method``, ``p``, ``error`` (test error, a fraction), ``seconds``.
    """
    dataset = dataset or "digits"
    part = load_split(dataset, seed)
    X_train, X_test, y_train, y_test = part.X_train, part.X_test, part.y_train, part.y_test
    descr = part.description
    enc_kwargs, epochs = settings(quick)
    enc_kwargs = {**enc_kwargs, "device": device, "random_state": seed}
    n_components = list(n_components)

    rows = []
    t0 = time.perf_counter()
    raw_error = 1 - _logistic(X_train, y_train).score(X_test, y_test)
    raw_time = time.perf_counter() - t0
    rows += [{"method": "LogisticRegression (pixels)", "p": p, "error": raw_error,
              "seconds": raw_time} for p in n_components]
    jobs = [(p, name, enc) for p in n_components for name, enc in encoders(p, enc_kwargs)]
    for p, name, enc in progress_bar(jobs, desc=f"{experiment} on {dataset}"):
        t0 = time.perf_counter()
        frozen = clone(enc).fit(X_train)
        t_encoder = time.perf_counter() - t0
        lr = _logistic(frozen.transform(X_train), y_train)
        rows.append({"method": f"LogisticRegression ({name} codes, frozen)", "p": p,
                     "error": 1 - lr.score(frozen.transform(X_test), y_test),
                     "seconds": time.perf_counter() - t0})
        t0 = time.perf_counter()
        # the frozen-code row's encoder is the start: one unsupervised fit for both rows
        clf = L0Classifier(FrozenEstimator(frozen), device=device, random_state=seed)
        if epochs is not None:
            clf.set_params(max_epochs=epochs)
        clf.fit(X_train, y_train)
        rows.append({"method": f"L0Classifier ({name})", "p": p,
                     "error": 1 - clf.score(X_test, y_test),
                     "seconds": t_encoder + time.perf_counter() - t0})
    rows = sort_rows(rows, "LogisticRegression (pixels)")
    title = (f"Classification test error (%) on {dataset} ({descr}; {len(y_train)} train / "
             f"{len(y_test)} test, seed {seed}{', quick' if quick else ''})")
    write_table(rows, n_components, output_dir, result_stem(experiment, dataset, seed=seed),
                title, "error")
    return rows
