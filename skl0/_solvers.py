"""Reference sparse-coding solvers on torch: IHT (l0 and M-sparse), FISTA (l1), optimal codes.

Everything here is batched over samples and runs on the device and in the dtype of its inputs;
there is no Python loop over samples. The conventions are fixed once for the whole package:

* ``X`` is ``(n_samples, n_features)``, the dictionary ``C`` is ``(n_components, n_features)``
  (rows are atoms, scikit-learn's layout, so the paper's ``D`` is ``C.T``) and the codes ``A``
  are ``(n_samples, n_components)``. The reconstruction is ``A @ C``.
* ``B = X @ C.T`` are the correlations and ``G = C @ C.T`` the Gram matrix; one IHT step is
  ``A <- H(A + mu * (B - A @ G))`` with step ``mu <= 1 / ||C||_2^2``.
* The l0-regularised problem (the paper's eq. 1) is ``min_a 0.5 ||x - a C||^2 + alpha ||a||_0``,
  the M-sparse problem (eq. 2) is ``min_a ||x - a C||^2 s.t. ||a||_0 <= M`` and the l1 problem
  (eq. 3) is ``min_a 0.5 ||x - a C||^2 + alpha ||a||_1``.

Because of the factor 1/2 in the l0 objective, the hard threshold that goes with a gradient step
``mu`` is ``sqrt(2 * alpha * mu)`` (:func:`l0_threshold`). The paper writes the objective without
the 1/2 and uses ``mu = 1``, so its threshold ``lambda ** 0.5`` is the same rule: the paper's
"lambda = 0.5" is ``alpha = 0.25`` here.

This module imports torch only (and skl0._progress lazily for progress bars): no scikit-learn,
no skorch.
"""

from __future__ import annotations

import math
import warnings

import torch

from ._kernels import keep_largest, keep_largest_mask

__all__ = [
    "fista",
    "hard_threshold",
    "iht",
    "keep_largest",
    "keep_largest_mask",
    "l0_objective",
    "learn_dictionary",
    "l0_threshold",
    "l1_objective",
    "msparse_objective",
    "optimal_codes",
    "soft_threshold",
    "spectral_norm_sq",
]

# Denominator floor for relative changes ``||a_new - a|| / max(||a||, _TINY)``.
_TINY = 1e-30
# Seed of the (deterministic) start of the power iteration.
_POWER_SEED = 0
# Width of the block power iteration in spectral_norm_sq.
_POWER_BLOCK = 16
# Backtracking tries of the adaptive IHT before it falls back to the safe step.
_MAX_BACKTRACK = 8
# Plain IHT steps from zeros that make the second start of optimal_codes.
_ZERO_START_ITERS = 10
# Relative-change tolerance (at least) of the FISTA start of optimal_codes: a start, not an answer.
_L1_START_TOL = 1e-4
# IHT iterations run from both starts before optimal_codes keeps the better one per sample.
_RACE_ITERS = 50


# --------------------------------------------------------------------------------------------
# Thresholding operators
# --------------------------------------------------------------------------------------------


def hard_threshold(U, threshold):
    """Element-wise hard threshold ``h_theta`` (the paper's eq. 7).

    Parameters
    ----------
    U : torch.Tensor
        Input of any shape.
    threshold : float or torch.Tensor
        The threshold ``theta``; a scalar or a tensor broadcastable to ``U`` (e.g. one per
        component, or one per sample as an ``(n, 1)`` column).

    Returns
    -------
    torch.Tensor
        A new tensor: ``u`` where ``|u| >= threshold`` and ``0`` where ``|u| < threshold``.
    """
    return torch.where(U.abs() >= threshold, U, torch.zeros((), dtype=U.dtype, device=U.device))




def soft_threshold(U, threshold):
    """Element-wise soft threshold (shrinkage) ``sign(u) * max(|u| - threshold, 0)`` (eq. 5).

    Parameters
    ----------
    U : torch.Tensor
        Input of any shape.
    threshold : float or torch.Tensor
        Non-negative threshold, a scalar or broadcastable to ``U``.

    Returns
    -------
    torch.Tensor
        A new tensor.
    """
    if isinstance(threshold, torch.Tensor):
        threshold = threshold.to(dtype=U.dtype, device=U.device)
        return U - torch.clamp(U, min=-threshold, max=threshold)
    threshold = float(threshold)
    return U - U.clamp(-threshold, threshold)


def l0_threshold(alpha, step):
    """Hard threshold of one IHT step of size ``step`` for the l0 weight ``alpha``.

    skl0's l0 objective is ``0.5 ||x - a C||^2 + alpha ||a||_0``. The proximal operator of
    ``step * alpha ||.||_0`` keeps ``u_i`` exactly when ``u_i^2 / (2 step) >= alpha``, so the
    threshold is ``sqrt(2 * alpha * step)``. The paper writes the objective without the 1/2 and
    takes ``step = 1``, which gives its threshold ``lambda ** 0.5``: the same rule, so the paper's
    ``lambda`` is ``2 * alpha`` and its "lambda = 0.5" is ``alpha = 0.25`` here.

    Parameters
    ----------
    alpha : float
        The l0 weight (>= 0).
    step : float
        The gradient step ``mu`` (> 0).

    Returns
    -------
    float
        ``sqrt(2 * alpha * step)``.
    """
    return math.sqrt(2.0 * float(alpha) * float(step))


def l1_start_weight(alpha):
    """The l1 weight ``sqrt(2 * alpha) / 2`` that starts the l0 problem's optimal codes.

    Half the hard threshold of a unit step (:func:`l0_threshold` at ``step = 1``): the FISTA
    start of :func:`optimal_codes`, the dictionary learning of ``L0Encoder`` and its ISTA
    stages (``l1_stages``) all use it.
    """
    return l0_threshold(alpha, 1.0) / 2.0


# --------------------------------------------------------------------------------------------
# Objectives
# --------------------------------------------------------------------------------------------


def _as_column(value, ref):
    """A scalar stays a float; a tensor becomes an ``(n, 1)`` column on ``ref``'s device."""
    if isinstance(value, torch.Tensor):
        value = value.to(device=ref.device, dtype=ref.dtype)
        if value.ndim == 0:
            return value
        return value.reshape(-1, 1)
    return float(value)


def _sq_residual(X, A, C):
    R = X - A @ C
    return (R * R).sum(dim=1)


def l0_objective(X, A, C, alpha):
    """Per-sample l0-regularised objective ``0.5 ||x - a C||^2 + alpha ||a||_0`` (eq. 1).

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
    A : torch.Tensor of shape (n_samples, n_components)
    C : torch.Tensor of shape (n_components, n_features)
    alpha : float or torch.Tensor
        Scalar, or one weight per sample (shape ``(n,)`` or ``(n, 1)``).

    Returns
    -------
    torch.Tensor of shape (n_samples,)
    """
    alpha = _as_column(alpha, X)
    nnz = (A != 0).sum(dim=1, keepdim=True).to(X.dtype)
    return 0.5 * _sq_residual(X, A, C) + (alpha * nnz).reshape(-1)


def msparse_objective(X, A, C):
    """Per-sample M-sparse objective ``||x - a C||^2`` (eq. 2; the constraint is not checked).

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
    A : torch.Tensor of shape (n_samples, n_components)
    C : torch.Tensor of shape (n_components, n_features)

    Returns
    -------
    torch.Tensor of shape (n_samples,)
    """
    return _sq_residual(X, A, C)


def l1_objective(X, A, C, alpha):
    """Per-sample l1 objective ``0.5 ||x - a C||^2 + alpha ||a||_1`` (eq. 3).

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
    A : torch.Tensor of shape (n_samples, n_components)
    C : torch.Tensor of shape (n_components, n_features)
    alpha : float or torch.Tensor
        Scalar, or one weight per sample (shape ``(n,)`` or ``(n, 1)``).

    Returns
    -------
    torch.Tensor of shape (n_samples,)
    """
    alpha = _as_column(alpha, X)
    return 0.5 * _sq_residual(X, A, C) + (alpha * A.abs()).sum(dim=1)


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


def _one_problem(alpha, n_nonzero_coefs):
    """Guard of the internal solvers: exactly one problem (the public functions and the
    estimators validate the values themselves)."""
    if (alpha is None) == (n_nonzero_coefs is None):
        raise ValueError(
            "Exactly one of alpha (l0-regularised problem) and n_nonzero_coefs (M-sparse "
            f"problem) must be given; got alpha={alpha!r}, n_nonzero_coefs={n_nonzero_coefs!r}."
        )


def _start(X, C, init):
    if init is None:
        return torch.zeros(X.shape[0], C.shape[0], dtype=X.dtype, device=X.device)
    return init.detach().to(device=X.device, dtype=X.dtype).clone()


def _rel_change(A_new, A):
    """Per-sample ``||A_new - A|| / max(||A||, tiny)``."""
    num = torch.linalg.vector_norm(A_new - A, dim=1)
    den = torch.linalg.vector_norm(A, dim=1).clamp_min(_TINY)
    return num / den


def iht(
    X,
    C,
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
    computed once, where ``H`` is the hard threshold :func:`hard_threshold` at
    ``sqrt(2 * alpha * step)`` (l0 problem ``0.5 ||x - a C||^2 + alpha ||a||_0``; the paper's
    ``lambda ** 0.5`` at step 1 for its objective without the 1/2, so the paper's
    ``lambda = 0.5`` is ``alpha = 0.25``) or :func:`keep_largest` with ``M`` entries (M-sparse
    problem). With ``step <= 1 / ||C||_2^2`` no iteration increases the objective. The untrained
    unfolded encoder equals ``iht(X, C, ..., n_iter=K)`` from zeros.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
    C : torch.Tensor of shape (n_components, n_features)
        Dictionary, rows are atoms.
    alpha : float, optional
        l0 weight. Exactly one of ``alpha`` and ``n_nonzero_coefs`` must be given.
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
    """
    _one_problem(alpha, n_nonzero_coefs)
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
    if alpha is not None:
        thr = l0_threshold(alpha, step)

        def H(U):
            return hard_threshold(U, thr)
    else:

        def H(U):
            return keep_largest(U, n_nonzero_coefs)

    n_done = 0
    for _ in range(int(n_iter)):
        A_new = H(A + step * (B - A @ G))
        n_done += 1
        if tol is not None:
            same_support = torch.equal(A_new != 0, A != 0)
            if same_support and float(_rel_change(A_new, A).max()) < tol:
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


def fista(X, C, *, alpha, n_iter=500, tol=1e-6, step=None, init=None, gram=None):
    """FISTA with adaptive restart for the l1 problem ``0.5 ||x - a C||^2 + alpha ||a||_1``.

    Beck & Teboulle's accelerated proximal gradient with step ``1 / ||C||_2^2`` and the
    gradient-based adaptive restart of O'Donoghue & Candes (2015): a sample's momentum is reset
    whenever ``<y - a_new, a_new - a> > 0``, i.e. the step went against the momentum. The
    momentum and the restarts are per sample.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
    C : torch.Tensor of shape (n_components, n_features)
    alpha : float or torch.Tensor
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
    """
    if n_iter < 0:
        raise ValueError(f"n_iter must be >= 0, got {n_iter!r}.")
    alpha = _as_column(alpha, X)
    if isinstance(alpha, torch.Tensor):
        if bool((alpha < 0).any()):
            raise ValueError("alpha must be non-negative.")
    elif not alpha >= 0:
        raise ValueError(f"alpha must be non-negative, got {alpha!r}.")
    A = _start(X, C, init)
    if n_iter == 0:
        return A, 0
    if step is None:
        step = 1.0 / _safe_norm(C)
    step = float(step)
    G = C @ C.T if gram is None else gram
    return _fista_loop(X @ C.T, G, A, alpha, step, int(n_iter), tol, per_sample=False)


def _fista_loop(B, G, A, alpha, step, n_iter, tol, *, per_sample):
    """The FISTA iterations from ``A`` (not modified).

    ``per_sample=False``: the batch stops when the largest relative change is below ``tol``.
    ``per_sample=True``: each sample is frozen (and leaves the working set) as soon as its own
    relative change is below ``tol``; the iteration count returned is the most over samples.
    """
    n = B.shape[0]
    out = A.clone() if per_sample else None
    act = torch.arange(n, device=B.device)
    thr = step * alpha  # float or (n, 1) column
    Y = A
    t = torch.ones(n, 1, dtype=B.dtype, device=B.device)
    n_done = 0
    for _ in range(n_iter):
        A_new = soft_threshold(Y + step * (B - Y @ G), thr)
        n_done += 1
        diff = A_new - A
        if tol is not None:
            den = torch.linalg.vector_norm(A, dim=1).clamp_min(_TINY)
            rel = torch.linalg.vector_norm(diff, dim=1) / den
            if not per_sample:
                if float(rel.max()) < tol:
                    A = A_new
                    break
            else:
                done = rel < tol
                if bool(done.any()):
                    out[act[done]] = A_new[done]
                    keep = ~done
                    act = act[keep]
                    if act.numel() == 0:
                        return out, n_done
                    A_new, A, Y, diff, B, t = (
                        A_new[keep], A[keep], Y[keep], diff[keep], B[keep], t[keep]
                    )
                    if isinstance(thr, torch.Tensor) and thr.ndim > 0:
                        thr = thr[keep]
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


# --------------------------------------------------------------------------------------------
# Optimal codes
# --------------------------------------------------------------------------------------------


def _default_l1_alpha(B, alpha, n_nonzero_coefs):
    """The l1 weight of the FISTA initialisation of :func:`optimal_codes`."""
    if alpha is not None:
        return l1_start_weight(alpha)
    M = int(n_nonzero_coefs)
    if M >= B.shape[1]:
        return 0.0
    kth = B.abs().topk(M + 1, dim=1).values[:, -1:]
    return 0.5 * kth


def _objective_rows(R, A, alpha):
    """Objective from the residual ``R = X - A @ C``: l0 form if alpha, else M-sparse."""
    sq = (R * R).sum(dim=1)
    if alpha is None:
        return sq
    return 0.5 * sq + float(alpha) * (A != 0).sum(dim=1).to(R.dtype)


def _threshold_rows(U, mu, alpha, n_nonzero_coefs):
    if alpha is None:
        return keep_largest(U, n_nonzero_coefs)
    return hard_threshold(U, torch.sqrt(2.0 * float(alpha) * mu))


def _ls_on_support(B, G, A):
    """Per sample, the least-squares codes on the support of ``A``: ``a_S = G_SS^{-1} b_S``.

    ``B = X @ C.T`` and ``G = C @ C.T``; the small systems are gathered from ``G`` and solved
    in float64 by batched Cholesky factorisations, the samples grouped by support size (powers
    of two) so that little is padded. A sample whose ``G_SS`` is not numerically positive
    definite keeps ``A``.
    """
    out = A.clone()
    counts = (A != 0).sum(dim=1)
    lo = 0
    while lo < A.shape[1]:
        hi = min(max(16, 2 * lo), A.shape[1])
        rows = ((counts > lo) & (counts <= hi)).nonzero().squeeze(1)
        if rows.numel():
            out[rows] = _ls_rows(B[rows], G, A[rows])
        lo = hi
    return out


def _ls_rows(B, G, A):
    supp = A != 0
    k = int(supp.sum(dim=1).max())
    vals, idx = supp.to(A.dtype).topk(k, dim=1)
    valid = vals > 0
    Gs = G[idx.unsqueeze(2), idx.unsqueeze(1)].double()
    vv = valid.unsqueeze(2) & valid.unsqueeze(1)
    eye = torch.eye(k, dtype=torch.float64, device=A.device)
    Gs = torch.where(vv, Gs, eye.expand_as(Gs))
    zero = torch.zeros((), dtype=B.dtype, device=B.device)
    bs = torch.where(valid, B.gather(1, idx), zero).double()
    L, info = torch.linalg.cholesky_ex(Gs)
    sol = torch.cholesky_solve(bs.unsqueeze(2), L).squeeze(2)
    good = (info == 0) & torch.isfinite(sol).all(dim=1)
    sol = torch.where(valid & good.unsqueeze(1), sol, torch.zeros_like(sol)).to(A.dtype)
    out = torch.zeros_like(A).scatter_(1, idx, sol)
    return torch.where(good.unsqueeze(1), out, A)


def _accept(rows, A_try, X, C, alpha, f_ref, state):
    """Candidate codes ``A_try`` for ``rows``: written into ``state = (A, R, f)`` where the
    objective does not exceed ``f_ref[rows]``. Returns the boolean mask of accepted rows."""
    R_try = X[rows] - A_try @ C
    f_try = _objective_rows(R_try, A_try, alpha)
    ok = f_try <= f_ref[rows]
    if bool(ok.any()):
        kept = rows[ok]
        A, R, f = state
        A[kept], R[kept], f[kept] = A_try[ok], R_try[ok], f_try[ok]
    return ok


def _refine_iht(X, C, A, *, alpha, n_nonzero_coefs, step, max_iter, tol, adaptive,
                debias=False, gram=None):
    """IHT with per-sample convergence and a safeguard: no accepted step increases the objective.

    With ``adaptive=False`` it is plain IHT at the fixed safe ``step``. With ``adaptive=True``
    each sample proposes the normalised-IHT step of Blumensath & Davies (2010),
    ``mu = ||g_S||^2 / ||g_S C||^2`` with ``g = (x - a C) C^T`` restricted to the current support
    ``S`` (the whole gradient when the support is empty; never below ``step``), and halves it
    until the objective does not increase, falling back to the safe ``step`` (which is monotone
    in exact arithmetic). With ``debias=True`` an accepted step is followed by the
    least-squares codes on its support (:func:`_ls_on_support`), kept where the objective does
    not increase. A step that increases the computed objective is never accepted: the
    sample stays where it is and counts as converged. Samples whose support no longer changes and
    whose relative change is below ``tol`` are frozen and leave the working set.

    Returns the codes and the number of iterations run (the most over samples).
    """
    n = X.shape[0]
    out = A.clone()
    if n == 0 or max_iter <= 0:
        return out, 0
    act = torch.arange(n, device=X.device)
    Xa, Aa = X, A.clone()
    R = Xa - Aa @ C
    f = _objective_rows(R, Aa, alpha)
    if alpha is None:
        # An infeasible start (more than M nonzeros) has an infinite M-sparse objective.
        over = (Aa != 0).sum(dim=1) > n_nonzero_coefs
        f = torch.where(over, torch.full_like(f, math.inf), f)
    Gn = R @ C.T  # minus the gradient, D^T (x - D a)
    if debias:
        G = C @ C.T if gram is None else gram
        Bx = Xa @ C.T
    step_t = torch.tensor(step, dtype=X.dtype, device=X.device)
    n_done = 0
    for _ in range(int(max_iter)):
        n_done += 1
        m = Aa.shape[0]
        if adaptive:
            supp = Aa != 0
            g = torch.where(supp, Gn, torch.zeros((), dtype=Gn.dtype, device=Gn.device))
            empty = ~supp.any(dim=1, keepdim=True)
            g = torch.where(empty, Gn, g)
            gC = g @ C
            num = (g * g).sum(dim=1, keepdim=True)
            den = (gC * gC).sum(dim=1, keepdim=True)
            mu = torch.where(den > 0, num / den.clamp_min(_TINY), step_t).clamp_min(step)
        else:
            mu = step_t.expand(m, 1).clone()
        A_next, R_next, f_next = Aa.clone(), R.clone(), f.clone()
        moved = torch.zeros(m, dtype=torch.bool, device=X.device)
        mu = mu.clone()
        pending = torch.arange(m, device=X.device)
        for k in range(_MAX_BACKTRACK + 1):
            mu_p = mu[pending]
            A_try = _threshold_rows(Aa[pending] + mu_p * Gn[pending], mu_p, alpha, n_nonzero_coefs)
            ok = _accept(pending, A_try, Xa, C, alpha, f, (A_next, R_next, f_next))
            moved[pending[ok]] = True
            rejected = pending[~ok]
            # A sample rejected at the safe step stays where it is (rounding-level increase).
            pending = rejected[mu[rejected, 0] > step_t]
            if pending.numel() == 0:
                break
            if k >= _MAX_BACKTRACK - 1:
                mu[pending] = step_t
            else:
                mu[pending] = (0.5 * mu[pending]).clamp_min(step)
        if debias and bool(moved.any()):
            # Hard Thresholding Pursuit (Foucart 2011): least squares on the new support,
            # kept only where it does not increase the objective.
            rows = moved.nonzero().squeeze(1)
            A_ls = _ls_on_support(Bx[rows], G, A_next[rows])
            _accept(rows, A_ls, Xa, C, alpha, f_next, (A_next, R_next, f_next))
        rel = _rel_change(A_next, Aa)
        done = ~moved | (((A_next != 0) == (Aa != 0)).all(dim=1) & (rel < tol))
        Aa, R, f = A_next, R_next, f_next
        if bool(done.any()):
            out[act[done]] = Aa[done]
            keep = ~done
            act, Xa, Aa, R, f = act[keep], Xa[keep], Aa[keep], R[keep], f[keep]
            if debias:
                Bx = Bx[keep]
            if act.numel() == 0:
                break
        Gn = R @ C.T
    if act.numel():
        out[act] = Aa
    return out, n_done


def optimal_codes(
    X,
    C,
    *,
    alpha=None,
    n_nonzero_coefs=None,
    l1_alpha=None,
    max_iter=2000,
    tol=1e-5,
    batch_size=4096,
    progress=False,
    accelerated=True,
    zero_start=True,
):
    """The paper's "optimal codes": FISTA on the l1 problem, then IHT on the l0 / M-sparse one.

    For each chunk of ``batch_size`` samples: FISTA (with adaptive restart) on
    ``0.5 ||x - a C||^2 + l1_alpha ||a||_1`` gives the start, then IHT on the l0 problem
    ``0.5 ||x - a C||^2 + alpha ||a||_0`` (threshold ``sqrt(2 alpha mu)``; the paper's
    ``lambda = 0.5`` is ``alpha = 0.25``) or on the M-sparse problem ``||x - a C||^2``,
    ``||a||_0 <= M``, runs per sample until the support no longer changes and the relative change
    is below ``tol``, or ``max_iter`` iterations. No IHT iteration increases the objective: a
    step is accepted only when the objective does not increase (the safe step
    ``1 / ||C||_2^2`` always qualifies in exact arithmetic, Blumensath & Davies 2008).

    With ``accelerated=True`` every accepted IHT step is followed by a least-squares fit on
    the new support, kept where it does not increase the objective (Hard Thresholding Pursuit,
    Foucart 2011): the iterates reach a fixed point of IHT in tens of iterations instead of
    the hundreds that the gradient steps alone need on a coherent dictionary.

    The problems are not convex and the l1 start can lead IHT to a poor local minimum (typically
    for small ``M``), so the IHT phase also runs from a second start, 10 plain IHT iterations
    from zeros; after 50 iterations from both, each sample keeps the better one and only that
    one runs on to convergence. Every step being monotone, the optimal codes are
    never worse, sample by sample, than ``iht(X, C, ..., n_iter=10)`` from zeros (nor than fewer
    iterations, e.g. the untrained K-stage encoder), up to rounding (with the default
    ``zero_start=True``).

    Default l1 weights of the initialisation (``l1_alpha=None``):

    * l0 form: ``sqrt(2 * alpha) / 2``, half the hard threshold of a unit step;
    * M form: per sample, half the ``(M+1)``-th largest ``|x C^T|``, so that roughly ``M``
      atoms survive the first shrinkage (``0`` when ``M >= n_components``).

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
    C : torch.Tensor of shape (n_components, n_features)
    alpha : float, optional
        l0 weight. Exactly one of ``alpha`` and ``n_nonzero_coefs`` must be given.
    n_nonzero_coefs : int, optional
        ``M`` of the M-sparse problem.
    l1_alpha : float or torch.Tensor, optional
        l1 weight of the FISTA initialisation (scalar or one per sample); see above.
    max_iter : int, default=2000
        Maximum iterations of each phase (FISTA, then IHT).
    tol : float, default=1e-5
        Relative-change tolerance of both phases (at least ``1e-4`` for the FISTA start).
    batch_size : int, default=4096
        Samples per chunk.
    progress : bool, default=False
        Show a tqdm progress bar over the chunks.
    accelerated : bool, default=True
        Use the normalised IHT step (Blumensath & Davies 2010) with backtracking on the
        objective, each accepted step followed by the least-squares fit on its support
        (HTP); ``False`` runs plain IHT at the fixed step ``1 / ||C||_2^2``. Both are
        monotone.
    zero_start : bool, default=True
        Race the second start (10 plain IHT iterations from zeros) against the l1 start, as
        described above. ``False`` refines the l1 start alone: with ``accelerated=False``
        this is the paper's definition word for word (the l1 solution, then its IHT until
        convergence), whose codes move continuously with ``x`` but reach a higher
        objective and need thousands of iterations on a coherent dictionary.

    Returns
    -------
    torch.Tensor of shape (n_samples, n_components)
    """
    _one_problem(alpha, n_nonzero_coefs)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}.")
    n = X.shape[0]
    p = C.shape[0]
    out = torch.zeros(n, p, dtype=X.dtype, device=X.device)
    if n == 0:
        return out
    G = C @ C.T
    step = 1.0 / _safe_norm(C)
    starts = range(0, n, int(batch_size))
    if progress:
        from ._progress import progress_bar

        starts = progress_bar(starts, desc="optimal codes", unit="chunk")
    opts = {
        "alpha": alpha,
        "n_nonzero_coefs": n_nonzero_coefs,
        "step": step,
        "tol": tol,
        "adaptive": accelerated,
        "debias": accelerated,
        "gram": G,
    }
    for s in starts:
        Xb = X[s : s + int(batch_size)]
        if l1_alpha is None:
            w = _default_l1_alpha(Xb @ C.T, alpha, n_nonzero_coefs)
        elif isinstance(l1_alpha, torch.Tensor) and l1_alpha.ndim > 0:
            w = l1_alpha.reshape(-1, 1)[s : s + int(batch_size)]
        else:
            w = l1_alpha
        w = _as_column(w, Xb)
        zeros = torch.zeros(Xb.shape[0], p, dtype=X.dtype, device=X.device)
        A0, _ = _fista_loop(Xb @ C.T, G, zeros, w, step, int(max_iter), max(tol, _L1_START_TOL),
                            per_sample=True)
        if not zero_start:
            A, _ = _refine_iht(Xb, C, A0, max_iter=max_iter, **opts)
            out[s : s + Xb.shape[0]] = A
            continue
        # Second start: a few plain IHT steps from zeros (what the untrained encoder computes).
        Az, _ = iht(
            Xb,
            C,
            alpha=alpha,
            n_nonzero_coefs=n_nonzero_coefs,
            n_iter=min(_ZERO_START_ITERS, max_iter),
            step=step,
            gram=G,
        )
        # Race both starts for a few iterations, keep the better per sample, then finish it.
        # Every step is monotone, so the result is never worse than either start.
        m = Xb.shape[0]
        race = min(_RACE_ITERS, max_iter)
        X2 = torch.cat([Xb, Xb])
        A2, _ = _refine_iht(X2, C, torch.cat([A0, Az]), max_iter=race, **opts)
        f2 = _objective_rows(X2 - A2 @ C, A2, alpha)
        if n_nonzero_coefs is not None:
            # max_iter = 0 may leave the l1 start infeasible.
            over = (A2 != 0).sum(dim=1) > n_nonzero_coefs
            f2 = torch.where(over, torch.full_like(f2, math.inf), f2)
        A = torch.where((f2[:m] <= f2[m:]).unsqueeze(1), A2[:m], A2[m:])
        A, _ = _refine_iht(Xb, C, A, max_iter=max_iter - race, **opts)
        out[s : s + Xb.shape[0]] = A
    return out


# --------------------------------------------------------------------------------------------
# Dictionary learning
# --------------------------------------------------------------------------------------------


def _initial_dictionary(X, n_components, generator):
    """scikit-learn's start: the top right singular vectors scaled by their singular values.

    From at most 10,000 random rows of ``X``; rows beyond the rank are zero (they are replaced
    by data samples at the first update). Each vector's sign is fixed as scikit-learn's
    ``svd_flip(u_based_decision=False)`` fixes it (its largest entry in magnitude positive),
    so the start does not depend on the SVD routine that ran (LAPACK's on the CPU, cuSOLVER's
    on a GPU may return either sign), nor, up to float rounding, the dictionary learned from
    it.
    """
    n = X.shape[0]
    rows = torch.randperm(n, generator=generator)[: min(n, 10_000)].to(X.device)
    _, S, Vt = torch.linalg.svd(X[rows].double(), full_matrices=False)
    signs = torch.sign(Vt.gather(1, Vt.abs().argmax(dim=1, keepdim=True)))
    Vt = Vt * torch.where(signs == 0, 1.0, signs)
    D = (S[:, None] * Vt)[:n_components].to(X.dtype)
    if D.shape[0] < n_components:
        D = torch.cat([D, D.new_zeros(n_components - D.shape[0], X.shape[1])])
    return D


def _update_atoms(C, Xb, A_stat, B_stat, generator):
    """One block-coordinate pass over the atoms (Mairal et al. 2010, as in scikit-learn).

    ``C`` is updated in place, atom by atom (each update sees the previous ones):
    ``c_k += (B_k - A_k C) / A_kk``, then projected on the unit ball. An atom that is (almost)
    never used (``A_kk <= 1e-6``) is replaced by a random sample of the batch plus 1 % noise.
    """
    diag = A_stat.diagonal().tolist()
    for k, akk in enumerate(diag):
        if akk > 1e-6:
            C[k] += (B_stat[k] - A_stat[k] @ C) / akk
        else:
            j = int(torch.randint(Xb.shape[0], (1,), generator=generator))
            new = Xb[j]
            scale = 0.01 * (float(new.std(correction=0)) or 1.0)
            noise = torch.randn(new.shape, generator=generator, dtype=new.dtype) * scale
            C[k] = new + noise.to(new.device)
        C[k] /= torch.linalg.vector_norm(C[k]).clamp_min(1.0)  # no host sync on a GPU


def learn_dictionary(
    X,
    n_components,
    *,
    alpha,
    max_iter=10,
    batch_size=256,
    tol=1e-3,
    max_no_improvement=10,
    coding_max_iter=100,
    coding_tol=1e-3,
    seed=0,
    progress=False,
):
    """Online dictionary learning for the l1 problem (Mairal et al. 2010), batched on torch.

    The algorithm of :class:`sklearn.decomposition.MiniBatchDictionaryLearning` (its start, its
    sufficient statistics with forgetting, its block-coordinate atom update, its early stopping)
    with the mini-batch codes computed by :func:`fista` on the device instead of coordinate
    descent per sample, which makes each mini-batch a few matrix products. It minimises
    ``0.5 ||x - a C||^2 + alpha ||a||_1`` over the codes and the atoms, ``||c_k|| <= 1``.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        Training data, on the device and in the dtype of the computation.
    n_components : int
        Number of atoms ``p``.
    alpha : float
        l1 weight of the codes.
    max_iter : int, default=10
        Maximum number of passes (epochs) over the data.
    batch_size : int, default=256
        Samples per mini-batch.
    tol : float, default=1e-3
        Stop when ``||C_new - C_old||_F / n_components <= tol`` after a mini-batch
        (scikit-learn's rule; ``0`` disables it).
    max_no_improvement : int or None, default=10
        Stop after this many mini-batches without improvement of the exponentially weighted
        mean mini-batch cost (scikit-learn's rule; ``None`` disables it).
    coding_max_iter, coding_tol : int and float
        Iterations and tolerance of the FISTA coding of each mini-batch.
    seed : int, default=0
        Seed of the shuffle, the start and the atom resampling (a private generator).
    progress : bool, default=False
        Show a progress bar over the mini-batches (plain lines where stderr is not a
        terminal; :func:`skl0._progress.progress_bar`).

    Returns
    -------
    C : torch.Tensor of shape (n_components, n_features)
        Atoms of norm at most 1.
    n_steps : int
        Mini-batches processed.

    Warns
    -----
    UserWarning
        If ``n_components`` exceeds the number of samples: the atoms then hold more values
        (``n_components * n_features``) than the data (``n_samples * n_features``), so the
        data cannot determine them all; the atoms beyond the data's rank start as zeros and
        are replaced by samples plus noise (:func:`_update_atoms`), while the cost grows as
        ``n_components**2`` (the ``(n_components, n_components)`` statistics and Gram
        matrix).
    """
    n, m = X.shape
    if n == 0:
        raise ValueError("X has no samples.")
    if n_components < 1 or max_iter < 0 or batch_size < 1:
        raise ValueError(
            f"need n_components >= 1, max_iter >= 0 and batch_size >= 1; got {n_components!r}, "
            f"{max_iter!r}, {batch_size!r}."
        )
    if n_components > n:
        mib = 2 * n_components**2 * X.element_size() / 2**20
        warnings.warn(
            f"n_components={n_components} exceeds the {n} training samples: the data "
            f"determine at most {n} atoms, the other {n_components - n} stay copies of "
            f"samples plus noise, and dictionary learning holds two {n_components} x "
            f"{n_components} matrices ({mib:,.0f} MiB) and grows as n_components**2. Use "
            f"n_components <= n_samples, or more samples",
            UserWarning,
            stacklevel=2,
        )
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    C = _initial_dictionary(X, n_components, gen)
    C /= torch.linalg.vector_norm(C, dim=1, keepdim=True).clamp_min(1.0)
    order = torch.randperm(n, generator=gen).to(X.device)
    bs = min(int(batch_size), n)
    per_epoch = -(-n // bs)
    n_steps = int(max_iter) * per_epoch
    A_stat = X.new_zeros(n_components, n_components)
    B_stat = X.new_zeros(n_components, m)  # scikit-learn's B, transposed
    ewa = ewa_min = None
    no_improvement = 0
    steps = range(n_steps)
    if progress:
        from ._progress import progress_bar

        steps = progress_bar(steps, desc="dictionary", unit="batch")
    step = -1
    for step in steps:
        s = (step % per_epoch) * bs
        Xb = X[order[s : s + bs]]
        b = Xb.shape[0]
        A, _ = fista(Xb, C, alpha=alpha, n_iter=coding_max_iter, tol=coding_tol)
        cost = float(0.5 * ((Xb - A @ C) ** 2).sum() + alpha * A.abs().sum()) / b
        theta = (step + 1) * b if step < b - 1 else b * b + step + 1 - b
        beta = (theta + 1 - b) / (theta + 1)
        A_stat.mul_(beta).add_(A.T @ A, alpha=1.0 / b)
        B_stat.mul_(beta).add_(A.T @ Xb, alpha=1.0 / b)
        old = C.clone()
        _update_atoms(C, Xb, A_stat, B_stat, gen)
        # scikit-learn's early stopping: ignore the first epoch (at most 100 steps).
        if step + 1 <= min(100, n / b):
            continue
        w = min(b / (n + 1), 1.0)
        ewa = cost if ewa is None else ewa * (1 - w) + cost * w
        if tol > 0 and float(torch.linalg.vector_norm(C - old)) / n_components <= tol:
            break
        if ewa_min is None or ewa < ewa_min:
            ewa_min, no_improvement = ewa, 0
        else:
            no_improvement += 1
        if max_no_improvement is not None and no_improvement >= max_no_improvement:
            break
    return C, step + 1
