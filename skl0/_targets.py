"""The paper's optimal codes on torch: FISTA on the l1 problem, then IHT on the l0 or
M-sparse problem until convergence, the regression targets of the encoders.

The problems, their thresholds and objectives are those of :mod:`skl0._problems`; the
iterative solvers those of :mod:`skl0._solvers`. This module imports torch only.
"""

from __future__ import annotations

import torch

from ._problems import _TINY, L1Problem, _as_column, as_problem
from ._solvers import _fista_loop, _safe_norm, iht

__all__ = ["optimal_codes"]

# Backtracking tries of the adaptive IHT before it falls back to the safe step.
_MAX_BACKTRACK = 8
# Plain IHT steps from zeros that make the second start of optimal_codes.
_ZERO_START_ITERS = 10
# Relative-change tolerance (at least) of the FISTA start of optimal_codes: a start, not an answer.
_L1_START_TOL = 1e-4
# IHT iterations run from both starts before optimal_codes keeps the better one per sample.
_RACE_ITERS = 50


# --------------------------------------------------------------------------------------------
# Optimal codes
# --------------------------------------------------------------------------------------------


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


def _accept(rows, A_try, X, C, problem, f_ref, state):
    """Candidate codes ``A_try`` for ``rows``: written into ``state = (A, R, f)`` where the
    objective does not exceed ``f_ref[rows]``. Returns the boolean mask of accepted rows."""
    R_try = X[rows] - A_try @ C
    f_try = problem.residual_objective(R_try, A_try)
    ok = f_try <= f_ref[rows]
    if bool(ok.any()):
        kept = rows[ok]
        A, R, f = state
        A[kept], R[kept], f[kept] = A_try[ok], R_try[ok], f_try[ok]
    return ok


def _refine_iht(X, C, A, *, problem, step, max_iter, tol, adaptive, debias=False, gram=None):
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
    # an infeasible start (more than M nonzeros) has an infinite M-sparse objective
    f = problem.residual_objective(R, Aa, constrained=True)
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
            A_try = problem.threshold(Aa[pending] + mu_p * Gn[pending], mu_p)
            ok = _accept(pending, A_try, Xa, C, problem, f, (A_next, R_next, f_next))
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
            _accept(rows, A_ls, Xa, C, problem, f_next, (A_next, R_next, f_next))
        done = ~moved | problem.converged_rows(A_next, Aa, tol)
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
    problem=None,
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
    problem : L0Problem or MSparseProblem, optional
        The problem (:mod:`skl0._problems`); or give ``alpha`` or ``n_nonzero_coefs``.
    alpha : float, optional
        l0 weight. Without ``problem``, exactly one of ``alpha`` and ``n_nonzero_coefs`` must
        be given.
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

    Examples
    --------
    >>> import torch
    >>> X, C = torch.tensor([[3.0, 1.0, -2.0]]), torch.eye(3)
    >>> optimal_codes(X, C, n_nonzero_coefs=2).tolist()
    [[3.0, 0.0, -2.0]]
    """
    problem = as_problem(problem, alpha, n_nonzero_coefs)
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
        "problem": problem,
        "step": step,
        "tol": tol,
        "adaptive": accelerated,
        "debias": accelerated,
        "gram": G,
    }
    for s in starts:
        Xb = X[s : s + int(batch_size)]
        if l1_alpha is None:
            w = problem.l1_start(Xb @ C.T)
        elif isinstance(l1_alpha, torch.Tensor) and l1_alpha.ndim > 0:
            w = l1_alpha.reshape(-1, 1)[s : s + int(batch_size)]
        else:
            w = l1_alpha
        start = L1Problem(_as_column(w, Xb))
        zeros = torch.zeros(Xb.shape[0], p, dtype=X.dtype, device=X.device)
        A0, _ = _fista_loop(Xb @ C.T, G, zeros, start, step, int(max_iter),
                            max(tol, _L1_START_TOL), per_sample=True)
        if not zero_start:
            A, _ = _refine_iht(Xb, C, A0, max_iter=max_iter, **opts)
            out[s : s + Xb.shape[0]] = A
            continue
        # Second start: a few plain IHT steps from zeros (what the untrained encoder computes).
        Az, _ = iht(Xb, C, problem, n_iter=min(_ZERO_START_ITERS, max_iter), step=step, gram=G)
        # Race both starts for a few iterations, keep the better per sample, then finish it.
        # Every step is monotone, so the result is never worse than either start.
        m = Xb.shape[0]
        race = min(_RACE_ITERS, max_iter)
        X2 = torch.cat([Xb, Xb])
        A2, _ = _refine_iht(X2, C, torch.cat([A0, Az]), max_iter=race, **opts)
        # max_iter = 0 may leave the l1 start infeasible
        f2 = problem.residual_objective(X2 - A2 @ C, A2, constrained=True)
        A = torch.where((f2[:m] <= f2[m:]).unsqueeze(1), A2[:m], A2[m:])
        A, _ = _refine_iht(Xb, C, A, max_iter=max_iter - race, **opts)
        out[s : s + Xb.shape[0]] = A
    return out


