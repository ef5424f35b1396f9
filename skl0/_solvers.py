"""Iterative sparse-coding solvers on torch: IHT (l0 and M-sparse) and FISTA (l1).

Everything here is batched over samples and runs on the device and in the dtype of its inputs;
there is no Python loop over samples. The conventions and the problems are those of
:mod:`skl0._problems`: ``X`` is ``(n_samples, n_features)``, the dictionary ``C`` is
``(n_components, n_features)`` and the codes ``A`` are ``(n_samples, n_components)``;
``B = X @ C.T`` are the correlations and ``G = C @ C.T`` the Gram matrix, and one IHT step is
``A <- H(A + mu * (B - A @ G))`` with step ``mu <= 1 / ||C||_2^2`` and ``H`` the problem's
threshold. The solvers take a problem object, or the ``(alpha, n_nonzero_coefs)`` pair that
:func:`~skl0._problems.sparse_coding_problem` turns into one.

The paper's optimal codes are in :mod:`skl0._targets`, the dictionary learning in
:mod:`skl0._dictionary`.

This module imports torch only: no scikit-learn, no skorch.
"""

from __future__ import annotations

import torch

from ._problems import L1Problem, _as_column, as_problem

__all__ = ["fista", "iht", "spectral_norm_sq"]

# Seed of the (deterministic) start of the power iteration.
_POWER_SEED = 0
# Width of the block power iteration in spectral_norm_sq.
_POWER_BLOCK = 16

# --------------------------------------------------------------------------------------------
# Spectral norm
# --------------------------------------------------------------------------------------------


def spectral_norm_sq(C, n_iter=100, tol=1e-7):
    """Squared spectral norm ``||C||_2^2``, the largest eigenvalue of ``C C^T``.

    A block power iteration (subspace iteration with Rayleigh-Ritz, a block of up to 16 vectors)
    on the smaller of ``C C^T`` and ``C^T C``, in float64, from a fixed-seed random start, so the
    result is deterministic. The block makes it robust to a small gap between the largest
    singular values. When the smaller side has at most 16 dimensions the eigenvalue is computed
    exactly. Like any power iteration the estimate approaches ``||C||_2^2`` from below.

    Parameters
    ----------
    C : torch.Tensor of shape (n_components, n_features)
        The dictionary.
    n_iter : int, default=100
        Maximum number of power iterations.
    tol : float, default=1e-7
        Stop once the residual ``||K q - theta q||`` of the top Ritz pair ``(theta, q)`` is below
        ``tol * theta`` (the eigenvalue is then within about ``tol * theta``).

    Returns
    -------
    float
        ``||C||_2^2`` (``0.0`` for an all-zero or empty ``C``).
    """
    dtype = torch.float64 if C.device.type in ("cpu", "cuda") else torch.float32
    C = C.detach().to(dtype)
    if C.numel() == 0:
        return 0.0
    K = C @ C.T if C.shape[0] <= C.shape[1] else C.T @ C
    m = K.shape[0]
    if m <= _POWER_BLOCK:
        return max(float(torch.linalg.eigvalsh(K)[-1]), 0.0)
    b = min(_POWER_BLOCK, m)
    gen = torch.Generator(device="cpu").manual_seed(_POWER_SEED)
    Q = torch.randn(m, b, generator=gen, dtype=dtype).to(C.device)
    Q = torch.linalg.qr(Q).Q
    estimate = 0.0
    for _ in range(max(int(n_iter), 1)):
        Z = K @ Q
        # Rayleigh-Ritz on the current block; stop on the residual of the top Ritz pair.
        evals, evecs = torch.linalg.eigh(Q.T @ Z)
        estimate = float(evals[-1])
        residual = Z @ evecs[:, -1] - estimate * (Q @ evecs[:, -1])
        if float(torch.linalg.vector_norm(residual)) <= tol * abs(estimate):
            break
        Q = torch.linalg.qr(Z).Q
    return max(estimate, 0.0)


# --------------------------------------------------------------------------------------------
# IHT
# --------------------------------------------------------------------------------------------


def _start(X, C, init):
    if init is None:
        return torch.zeros(X.shape[0], C.shape[0], dtype=X.dtype, device=X.device)
    return init.detach().to(device=X.device, dtype=X.dtype).clone()


def iht(
    X,
    C,
    problem=None,
    *,
    alpha=None,
    n_nonzero_coefs=None,
    n_iter=100,
    init=None,
    step=None,
    tol=None,
    gram=None,
):
    """Iterative hard thresholding (Blumensath & Davies 2008) for the l0 or M-sparse problem.

    Iterates ``A <- H(A + step * (B - A @ G))`` with ``B = X @ C.T`` and ``G = C @ C.T``
    computed once, where ``H`` is the problem's threshold: the hard threshold at
    ``sqrt(2 * alpha * step)`` (l0 problem ``0.5 ||x - a C||^2 + alpha ||a||_0``; the paper's
    ``lambda ** 0.5`` at step 1 for its objective without the 1/2, so the paper's
    ``lambda = 0.5`` is ``alpha = 0.25``) or the ``M`` entries of largest magnitude (M-sparse
    problem). With ``step <= 1 / ||C||_2^2`` no iteration increases the objective. The untrained
    unfolded encoder equals ``iht(X, C, ..., n_iter=K)`` from zeros.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
    C : torch.Tensor of shape (n_components, n_features)
        Dictionary, rows are atoms.
    problem : L0Problem or MSparseProblem, optional
        The problem (:mod:`skl0._problems`); or give ``alpha`` or ``n_nonzero_coefs``.
    alpha : float, optional
        l0 weight. Without ``problem``, exactly one of ``alpha`` and ``n_nonzero_coefs`` must
        be given.
    n_nonzero_coefs : int, optional
        ``M`` of the M-sparse problem.
    n_iter : int, default=100
        Number of iterations (``0`` returns the start).
    init : torch.Tensor of shape (n_samples, n_components), optional
        Start; zeros by default. It is not modified.
    step : float, optional
        Gradient step ``mu``; ``1 / spectral_norm_sq(C)`` by default.
    tol : float, optional
        If given, stop once the support no longer changes and
        ``max_i ||a_i_new - a_i|| / max(||a_i||, tiny) < tol`` (over the whole batch).
    gram : torch.Tensor of shape (n_components, n_components), optional
        Precomputed ``C @ C.T``.

    Returns
    -------
    A : torch.Tensor of shape (n_samples, n_components)
        The codes.
    n_iter_done : int
        Number of iterations run.

    Examples
    --------
    >>> import torch
    >>> from skl0._problems import MSparseProblem
    >>> X, C = torch.tensor([[3.0, 1.0, -2.0]]), torch.eye(3)
    >>> iht(X, C, MSparseProblem(2), n_iter=5)[0].tolist()
    [[3.0, 0.0, -2.0]]
    """
    problem = as_problem(problem, alpha, n_nonzero_coefs)
    if n_iter < 0:
        raise ValueError(f"n_iter must be >= 0, got {n_iter!r}.")
    A = _start(X, C, init)
    if n_iter == 0:
        return A, 0
    if step is None:
        step = 1.0 / _safe_norm(C)
    step = float(step)
    G = C @ C.T if gram is None else gram
    B = X @ C.T
    n_done = 0
    for _ in range(int(n_iter)):
        A_new = problem.threshold(A + step * (B - A @ G), step)
        n_done += 1
        if tol is not None and problem.converged(A_new, A, tol):
            A = A_new
            break
        A = A_new
    return A, n_done


def _safe_norm(C):
    L = spectral_norm_sq(C)
    if L <= 0.0:
        # An all-zero dictionary: any step is safe; the codes stay (at) zero.
        return 1.0
    return L


# --------------------------------------------------------------------------------------------
# FISTA
# --------------------------------------------------------------------------------------------


def fista(X, C, problem=None, *, alpha=None, n_iter=500, tol=1e-6, step=None, init=None,
          gram=None):
    """FISTA with adaptive restart for the l1 problem ``0.5 ||x - a C||^2 + alpha ||a||_1``.

    Beck & Teboulle's accelerated proximal gradient with step ``1 / ||C||_2^2`` and the
    gradient-based adaptive restart of O'Donoghue & Candes (2015): a sample's momentum is reset
    whenever ``<y - a_new, a_new - a> > 0``, i.e. the step went against the momentum. The
    momentum and the restarts are per sample.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
    C : torch.Tensor of shape (n_components, n_features)
    problem : L1Problem, optional
        The problem (:class:`~skl0._problems.L1Problem`); or give ``alpha``.
    alpha : float or torch.Tensor, optional
        l1 weight (>= 0), a scalar or one per sample (shape ``(n,)`` or ``(n, 1)``).
    n_iter : int, default=500
        Maximum number of iterations.
    tol : float, default=1e-6
        Stop when ``max_i ||a_i_new - a_i|| / max(||a_i||, tiny) < tol``. ``None`` runs all
        ``n_iter`` iterations.
    step : float, optional
        Gradient step; ``1 / spectral_norm_sq(C)`` by default.
    init : torch.Tensor of shape (n_samples, n_components), optional
        Start; zeros by default. It is not modified.
    gram : torch.Tensor of shape (n_components, n_components), optional
        Precomputed ``C @ C.T``.

    Returns
    -------
    A : torch.Tensor of shape (n_samples, n_components)
    n_iter_done : int

    Examples
    --------
    >>> import torch
    >>> X, C = torch.tensor([[3.0, 0.5, -2.0]]), torch.eye(3)
    >>> fista(X, C, alpha=1.0)[0].tolist()  # the soft threshold of X at 1
    [[2.0, 0.0, -1.0]]
    """
    if n_iter < 0:
        raise ValueError(f"n_iter must be >= 0, got {n_iter!r}.")
    if problem is None:
        problem = L1Problem(_as_column(alpha, X))
    else:
        problem = problem.on(X)
    A = _start(X, C, init)
    if n_iter == 0:
        return A, 0
    if step is None:
        step = 1.0 / _safe_norm(C)
    step = float(step)
    G = C @ C.T if gram is None else gram
    return _fista_loop(X @ C.T, G, A, problem, step, int(n_iter), tol, per_sample=False)


def _fista_loop(B, G, A, problem, step, n_iter, tol, *, per_sample):
    """The FISTA iterations from ``A`` (not modified) on the l1 ``problem``.

    ``problem`` is an :class:`~skl0._problems.L1Problem` whose ``alpha`` is a float or an
    ``(n, 1)`` column. ``per_sample=False``: the batch stops when the largest relative change is
    below ``tol``. ``per_sample=True``: each sample is frozen (and leaves the working set) as
    soon as its own relative change is below ``tol``; the iteration count returned is the most
    over samples.
    """
    n = B.shape[0]
    out = A.clone() if per_sample else None
    act = torch.arange(n, device=B.device)
    Y = A
    t = torch.ones(n, 1, dtype=B.dtype, device=B.device)
    n_done = 0
    for _ in range(n_iter):
        A_new = problem.threshold(Y + step * (B - Y @ G), step)
        n_done += 1
        diff = A_new - A
        if tol is not None:
            if not per_sample:
                if problem.converged(A_new, A, tol):
                    A = A_new
                    break
            else:
                done = problem.converged_rows(A_new, A, tol)
                if bool(done.any()):
                    out[act[done]] = A_new[done]
                    keep = ~done
                    act = act[keep]
                    if act.numel() == 0:
                        return out, n_done
                    A_new, A, Y, diff, B, t = (
                        A_new[keep], A[keep], Y[keep], diff[keep], B[keep], t[keep]
                    )
                    problem = problem.take(keep)
        restart = ((Y - A_new) * diff).sum(dim=1, keepdim=True) > 0
        t = torch.where(restart, torch.ones_like(t), t)
        t_new = 0.5 * (1.0 + torch.sqrt(1.0 + 4.0 * t * t))
        Y = A_new + ((t - 1.0) / t_new) * diff
        t = t_new
        A = A_new
    if per_sample:
        out[act] = A
        return out, n_done
    return A, n_done
