"""Reference sparse-coding solvers, functional API: numpy in, numpy out.

The dictionary is in scikit-learn's layout, ``(n_components, n_features)`` with one atom per
row, and the codes are ``(n_samples, n_components)``, so ``X ~ codes @ dictionary``. The
computation runs in float32 on ``device`` through :mod:`skl0._solvers` and
:mod:`skl0._targets`; the result has X's
floating dtype (float32 stays float32, anything else becomes float64). X or a dictionary on a
scale float32 cannot carry (squares that underflow, a row's squared norm that overflows) is a
``ValueError`` that says to rescale it.

Objectives (the problems of :mod:`skl0._problems`):

* l0-regularised (``alpha``): ``0.5 ||x - a D||^2 + alpha ||a||_0``. The hard threshold of an
  IHT step ``mu`` is ``sqrt(2 alpha mu)``; the paper's ``lambda`` (objective without the 1/2,
  threshold ``lambda ** 0.5`` at ``mu = 1``) is ``2 * alpha``, so its "lambda = 0.5" is
  ``alpha=0.25``.
* M-sparse (``n_nonzero_coefs``): ``||x - a D||^2`` subject to ``||a||_0 <= M``.
* l1 (``algorithm="fista"``): ``0.5 ||x - a D||^2 + alpha ||a||_1``.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._problems import L1Problem, sparse_coding_problem
from ._solvers import _safe_norm
from ._solvers import fista as _fista
from ._solvers import iht as _iht
from ._targets import optimal_codes
from ._utils import check_float32_scale, resolve_device

__all__ = ["iht", "sparse_encode"]

_ALGORITHMS = ("optimal", "l1_iht", "iht", "fista")
_DEFAULT_MAX_ITER = {"optimal": 2000, "l1_iht": 2000, "iht": 100, "fista": 500}
_DEFAULT_TOL = {"optimal": 1e-5, "l1_iht": 1e-5, "iht": None, "fista": 1e-6}
# Samples per chunk: bounds the memory of the (n_samples, n_components) intermediates.
_BATCH_SIZE = 4096


def _check_X(X):
    """Validate X (dense or sparse), densify it, keep float32 / promote others to float64.

    Its scale must suit float32 (:func:`~skl0._utils.check_float32_scale`).
    """
    X = check_array(
        X,
        accept_sparse=["csr", "csc", "coo"],
        dtype=[np.float64, np.float32],
        ensure_2d=True,
        ensure_min_samples=1,
        input_name="X",
    )
    if sp.issparse(X):
        X = X.toarray()
    check_float32_scale(X)
    return X


def _check_dictionary(dictionary, n_features):
    D = check_array(
        dictionary,
        dtype=[np.float64, np.float32],
        ensure_2d=True,
        ensure_min_samples=1,
        input_name="dictionary",
    )
    if D.shape[1] != n_features:
        raise ValueError(
            f"dictionary has {D.shape[1]} features (columns) but X has {n_features}; the "
            "dictionary must have shape (n_components, n_features)."
        )
    check_float32_scale(D, "dictionary", "to unit-norm atoms")
    return D


def _check_problem(alpha, n_nonzero_coefs, n_components):
    """The problem of ``(alpha, n_nonzero_coefs)``, checked against the dictionary."""
    problem = sparse_coding_problem(alpha, n_nonzero_coefs)
    if n_nonzero_coefs is not None and n_nonzero_coefs > n_components:
        raise ValueError(
            f"n_nonzero_coefs must be <= n_components={n_components} (the dictionary's rows), "
            f"got {n_nonzero_coefs!r}."
        )
    return problem


def _to_tensor(array, device):
    # A fresh float32 tensor: the caller's array is never written to.
    return torch.tensor(np.asarray(array), dtype=torch.float32, device=device)


def _to_numpy(tensor, dtype):
    return tensor.detach().cpu().numpy().astype(dtype, copy=False)


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "dictionary": ["array-like"],
        "alpha": [Interval(Real, 0, None, closed="left"), None],
        "n_nonzero_coefs": [Interval(Integral, 1, None, closed="left"), None],
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "init": ["array-like", None],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "device": [str, torch.device],
        "return_n_iter": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def iht(X, dictionary, *, alpha=None, n_nonzero_coefs=None, n_iter=100, init=None, tol=None,
        device="auto", return_n_iter=False):
    """Sparse codes by iterative hard thresholding (Blumensath & Davies 2008).

    Runs ``a <- H(a + mu (x - a D) D^T)`` from zeros (or ``init``) with the fixed step
    ``mu = 1 / ||D||_2^2``. ``H`` keeps ``|u| >= sqrt(2 alpha mu)`` for the l0-regularised
    problem ``0.5 ||x - a D||^2 + alpha ||a||_0`` (the paper's ``lambda ** 0.5`` threshold at
    ``mu = 1`` for its objective without the 1/2: its "lambda = 0.5" is ``alpha=0.25``), or the
    ``n_nonzero_coefs`` largest ``|u|`` for the M-sparse problem. No iteration increases the
    objective. ``n_iter`` iterations from zeros are what the untrained unfolded encoder computes.

    Parameters
    ----------
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Signals. Sparse input is densified.
    dictionary : array-like of shape (n_components, n_features)
        Atoms as rows (scikit-learn's layout).
    alpha : float, default=None
        Weight of the l0 penalty (>= 0). Exactly one of ``alpha`` and ``n_nonzero_coefs``.
    n_nonzero_coefs : int, default=None
        Number of nonzeros ``M`` of the M-sparse problem, ``1 <= M <= n_components``.
    n_iter : int, default=100
        Number of iterations; ``0`` returns the start (zeros or ``init``).
    init : array-like of shape (n_samples, n_components), default=None
        Starting codes; zeros when None. Not modified.
    tol : float, default=None
        If given, stop early (per chunk of 4096 samples) once the support no longer changes and
        the largest relative change of a sample's code is below ``tol``.
    device : str or torch.device, default="auto"
        Torch device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ...

    return_n_iter : bool, default=False
        Also return the number of iterations run (with ``tol``, those of the slowest
        chunk of 4096 samples).

    Returns
    -------
    codes : ndarray of shape (n_samples, n_components)
        Of X's floating dtype (float32 stays float32, others become float64).
    n_iter : int
        The iterations run; only when ``return_n_iter`` is True.

    Raises
    ------
    ValueError
        If not exactly one of ``alpha`` and ``n_nonzero_coefs`` is given, ``n_nonzero_coefs``
        exceeds ``n_components``, or the dictionary's or ``init``'s shape does not fit X. A
        parameter of the wrong type or range raises scikit-learn's ``InvalidParameterError``
        (a ``ValueError`` and a ``TypeError``) naming it.

    See Also
    --------
    sparse_encode : Optimal codes (FISTA then IHT to convergence), IHT or FISTA.
    sklearn.decomposition.sparse_encode : scikit-learn's sparse coding (OMP, LARS, lasso).
    skl0.L0Encoder : A trained unfolded IHT that predicts the optimal codes.

    Examples
    --------
    >>> import numpy as np
    >>> from skl0 import iht
    >>> rng = np.random.RandomState(0)
    >>> dictionary = rng.randn(20, 10)
    >>> X = rng.randn(5, 10)
    >>> codes = iht(X, dictionary, n_nonzero_coefs=3, n_iter=50, device="cpu")
    >>> codes.shape
    (5, 20)
    >>> print((codes != 0).sum(axis=1))
    [3 3 3 3 3]
    """
    X = _check_X(X)
    D = _check_dictionary(dictionary, X.shape[1])
    problem = _check_problem(alpha, n_nonzero_coefs, D.shape[0])
    if init is not None:
        init = check_array(init, dtype=[np.float64, np.float32], input_name="init")
        if init.shape != (X.shape[0], D.shape[0]):
            raise ValueError(
                f"init must have shape (n_samples, n_components) = {(X.shape[0], D.shape[0])}, "
                f"got {init.shape}."
            )
        check_float32_scale(init, "init", "codes on the scale of X")
    dev = resolve_device(device)
    Xt, Ct = _to_tensor(X, dev), _to_tensor(D, dev)
    It = None if init is None else _to_tensor(init, dev)
    out = torch.empty(X.shape[0], D.shape[0], dtype=torch.float32, device=dev)
    done = 0
    if n_iter == 0:
        out = It if It is not None else out.zero_()
        return (_to_numpy(out, X.dtype), done) if return_n_iter else _to_numpy(out, X.dtype)
    with torch.no_grad():
        step = 1.0 / _safe_norm(Ct)
        gram = Ct @ Ct.T
        for s in range(0, X.shape[0], _BATCH_SIZE):
            sl = slice(s, s + _BATCH_SIZE)
            out[sl], chunk_done = _iht(
                Xt[sl],
                Ct,
                problem,
                n_iter=n_iter,
                init=None if It is None else It[sl],
                step=step,
                tol=tol,
                gram=gram,
            )
            done = max(done, int(chunk_done))
    return (_to_numpy(out, X.dtype), done) if return_n_iter else _to_numpy(out, X.dtype)


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "dictionary": ["array-like"],
        "algorithm": [StrOptions(set(_ALGORITHMS))],
        "alpha": [Interval(Real, 0, None, closed="left"), None],
        "n_nonzero_coefs": [Interval(Integral, 1, None, closed="left"), None],
        "l1_alpha": [Interval(Real, 0, None, closed="left"), None],
        "max_iter": [Interval(Integral, 0, None, closed="left"), None],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "device": [str, torch.device],
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=True,
)
def sparse_encode(X, dictionary, *, algorithm="optimal", alpha=None, n_nonzero_coefs=None,
                  l1_alpha=None, max_iter=None, tol=None, device="auto", verbose=0):
    """Sparse codes of X over a fixed dictionary.

    Parameters
    ----------
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Signals. Sparse input is densified.
    dictionary : array-like of shape (n_components, n_features)
        Atoms as rows (scikit-learn's layout).
    algorithm : {"optimal", "l1_iht", "iht", "fista"}, default="optimal"
        * ``"optimal"``: the paper's optimal codes, the regression targets of the encoders.
          FISTA on the l1 problem gives the start, then IHT on the l0 (``alpha``) or M-sparse
          (``n_nonzero_coefs``) problem runs per sample until the support no longer changes and
          the relative change is below ``tol``. The IHT phase takes normalised steps
          (Blumensath & Davies 2010) accepted only when the objective does not increase, each
          followed by a least-squares fit on its support, and also runs from a second start
          (10 IHT iterations from zeros); each sample keeps the better of the two.
        * ``"l1_iht"``: the paper's definition word for word: the l1 solution, then plain IHT
          (fixed step ``1 / ||D||_2^2``) from it alone until convergence. Its codes move
          continuously with ``x`` but reach a higher objective than ``"optimal"``'s, after
          thousands of iterations on a coherent dictionary.
        * ``"iht"``: plain IHT from zeros with step ``1 / ||D||_2^2``, ``max_iter`` iterations
          (see :func:`iht`).
        * ``"fista"``: the l1 problem ``0.5 ||x - a D||^2 + alpha ||a||_1`` by FISTA with adaptive
          restart; needs ``alpha`` (the l1 weight) and no ``n_nonzero_coefs``.
    alpha : float, default=None
        Weight of the l0 penalty in ``0.5 ||x - a D||^2 + alpha ||a||_0`` (the paper's
        "lambda = 0.5" is ``alpha=0.25``), or of the l1 penalty for ``"fista"``.
    n_nonzero_coefs : int, default=None
        ``M`` of the M-sparse problem ``min ||x - a D||^2`` s.t. ``||a||_0 <= M``. Exactly one of
        ``alpha`` and ``n_nonzero_coefs`` for every algorithm but ``"fista"``.
    l1_alpha : float, default=None
        ``"optimal"`` and ``"l1_iht"``: weight of the l1 initialisation. By default
        ``sqrt(2 alpha) / 2`` (half the unit-step hard threshold) for the l0 problem and, per
        sample, half the
        ``(M+1)``-th largest ``|x D^T|`` for the M-sparse problem, so that roughly ``M`` atoms
        survive.
    max_iter : int, default=None
        Iterations: at most 2000 per phase for ``"optimal"`` and ``"l1_iht"``, exactly 100 for
        ``"iht"`` (fewer with ``tol``), at most 500 for ``"fista"``.
    tol : float, default=None
        Relative-change tolerance: 1e-5 for ``"optimal"`` and ``"l1_iht"``, none for
        ``"iht"`` (run all iterations), 1e-6 for ``"fista"``.
    device : str or torch.device, default="auto"
        Torch device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ...
    verbose : int, default=0
        ``> 0`` shows a progress bar over chunks of 4096 samples (``"optimal"``).

    Returns
    -------
    codes : ndarray of shape (n_samples, n_components)
        Of X's floating dtype (float32 stays float32, others become float64).

    Raises
    ------
    ValueError
        If not exactly one of ``alpha`` and ``n_nonzero_coefs`` is given (``"optimal"``,
        ``"iht"``), ``"fista"`` lacks ``alpha`` or gets ``n_nonzero_coefs``,
        ``n_nonzero_coefs`` exceeds ``n_components``, or the dictionary's width differs from
        X's. A parameter of the wrong type or range raises scikit-learn's
        ``InvalidParameterError`` (a ``ValueError`` and a ``TypeError``) naming it.

    See Also
    --------
    iht : Plain iterative hard thresholding, a fixed number of iterations.
    sklearn.decomposition.sparse_encode : scikit-learn's sparse coding (OMP, LARS, lasso).
    skl0.MSparseEncoder : A trained network that predicts the M-sparse optimal codes.

    Examples
    --------
    >>> import numpy as np
    >>> from skl0 import sparse_encode
    >>> rng = np.random.RandomState(0)
    >>> dictionary = rng.randn(30, 12)
    >>> dictionary /= np.linalg.norm(dictionary, axis=1, keepdims=True)
    >>> X = rng.randn(4, 12)
    >>> codes = sparse_encode(X, dictionary, n_nonzero_coefs=4, device="cpu")
    >>> codes.shape, codes.dtype
    ((4, 30), dtype('float64'))
    >>> print((codes != 0).sum(axis=1) <= 4)
    [ True  True  True  True]
    >>> l1_codes = sparse_encode(X, dictionary, algorithm="fista", alpha=0.1, device="cpu")
    >>> l1_codes.shape
    (4, 30)
    """
    X = _check_X(X)
    D = _check_dictionary(dictionary, X.shape[1])
    if algorithm == "fista":
        if alpha is None:
            raise ValueError("algorithm='fista' solves the l1 problem and needs alpha.")
        if n_nonzero_coefs is not None:
            raise ValueError(
                "algorithm='fista' solves the l1 problem with weight alpha; n_nonzero_coefs "
                "must be None."
            )
        problem = L1Problem(alpha)
    else:
        problem = _check_problem(alpha, n_nonzero_coefs, D.shape[0])
    if l1_alpha is not None:
        if algorithm not in ("optimal", "l1_iht"):
            raise ValueError("l1_alpha is only used by algorithm='optimal' and 'l1_iht'.")
    if max_iter is None:
        max_iter = _DEFAULT_MAX_ITER[algorithm]
    if tol is None:
        tol = _DEFAULT_TOL[algorithm]

    if algorithm == "iht":
        return iht(
            X,
            D,
            alpha=alpha,
            n_nonzero_coefs=n_nonzero_coefs,
            n_iter=max_iter,
            tol=tol,
            device=device,
        )

    dev = resolve_device(device)
    Xt, Ct = _to_tensor(X, dev), _to_tensor(D, dev)
    with torch.no_grad():
        if algorithm in ("optimal", "l1_iht"):
            paper = algorithm == "l1_iht"
            codes = optimal_codes(
                Xt,
                Ct,
                problem,
                l1_alpha=l1_alpha,
                max_iter=max_iter,
                tol=tol,
                batch_size=_BATCH_SIZE,
                progress=verbose > 0,
                accelerated=not paper,
                zero_start=not paper,
            )
        else:
            step = 1.0 / _safe_norm(Ct)
            gram = Ct @ Ct.T
            codes = torch.empty(X.shape[0], D.shape[0], dtype=torch.float32, device=dev)
            for s in range(0, X.shape[0], _BATCH_SIZE):
                sl = slice(s, s + _BATCH_SIZE)
                codes[sl], _ = _fista(
                    Xt[sl], Ct, problem, n_iter=max_iter, tol=tol, step=step, gram=gram
                )
    return _to_numpy(codes, X.dtype)
