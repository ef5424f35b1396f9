"""The sparse-coding problems that skl0 solves, each as one small object.

The conventions of the whole package: ``X`` is ``(n_samples, n_features)``, the dictionary
``C`` is ``(n_components, n_features)`` (rows are atoms, scikit-learn's layout, so the paper's
``D`` is ``C.T``) and the codes ``A`` are ``(n_samples, n_components)``; the reconstruction is
``A @ C``. Three problems:

* :class:`L0Problem`, the l0-regularised problem (the paper's eq. 1),
  ``min_a 0.5 ||x - a C||^2 + alpha ||a||_0``;
* :class:`MSparseProblem`, the M-sparse problem (eq. 2), ``min_a ||x - a C||^2`` s.t.
  ``||a||_0 <= M``;
* :class:`L1Problem`, the l1 problem (eq. 3), ``min_a 0.5 ||x - a C||^2 + alpha ||a||_1``.

Each gives the projection (threshold) that goes with a gradient step, its per-sample
objective on torch tensors and, for the iterative solvers, its stopping rule.
:func:`sparse_coding_problem` turns the user's ``(alpha, n_nonzero_coefs)`` pair into the l0
or the M-sparse problem.

Because of the factor 1/2 in the l0 objective, the hard threshold that goes with a gradient step
``mu`` is ``sqrt(2 * alpha * mu)`` (:func:`l0_threshold`). The paper writes the objective without
the 1/2 and uses ``mu = 1``, so its threshold ``lambda ** 0.5`` is the same rule: the paper's
"lambda = 0.5" is ``alpha = 0.25`` here.

This module imports torch only.
"""

from __future__ import annotations

import math

import torch

from ._kernels import keep_largest

__all__ = [
    "L0Problem",
    "L1Problem",
    "MSparseProblem",
    "hard_threshold",
    "l0_objective",
    "l0_threshold",
    "l1_objective",
    "l1_start_weight",
    "msparse_objective",
    "relative_change",
    "soft_threshold",
    "sparse_coding_problem",
]

# Denominator floor for relative changes ``||a_new - a|| / max(||a||, _TINY)``.
_TINY = 1e-30


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

    Examples
    --------
    >>> import torch
    >>> hard_threshold(torch.tensor([0.5, -1.0, 3.0]), 1.0).tolist()
    [0.0, -1.0, 3.0]
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

    Examples
    --------
    >>> import torch
    >>> soft_threshold(torch.tensor([0.5, -2.0, 3.0]), 1.0).tolist()
    [0.0, -1.0, 2.0]
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

    Examples
    --------
    >>> round(l0_threshold(0.25, 1.0) ** 2, 12)  # the paper's lambda = 0.5
    0.5
    """
    return math.sqrt(2.0 * float(alpha) * float(step))


def l1_start_weight(alpha):
    """The l1 weight ``sqrt(2 * alpha) / 2`` that starts the l0 problem's optimal codes.

    Half the hard threshold of a unit step (:func:`l0_threshold` at ``step = 1``): the FISTA
    start of :func:`skl0._targets.optimal_codes`, the dictionary learning of ``L0Encoder`` and
    its ISTA stages (``l1_stages``) all use it.

    Parameters
    ----------
    alpha : float
        The l0 weight (>= 0).

    Returns
    -------
    float

    Examples
    --------
    >>> l1_start_weight(0.5)
    0.5
    """
    return l0_threshold(alpha, 1.0) / 2.0


# --------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------


def _as_column(value, ref):
    """A scalar stays a float; a tensor becomes an ``(n, 1)`` column on ``ref``'s device."""
    if isinstance(value, torch.Tensor):
        value = value.to(device=ref.device, dtype=ref.dtype)
        if value.ndim == 0:
            return value
        return value.reshape(-1, 1)
    return float(value)


def _squares(R):
    """Per-row ``||r||^2`` of the residuals ``R = X - A @ C``."""
    return (R * R).sum(dim=1)


def relative_change(A_new, A):
    """Per-sample ``||a_new - a|| / max(||a||, tiny)``, the solvers' measure of progress.

    Parameters
    ----------
    A_new, A : torch.Tensor of shape (n_samples, n_components)

    Returns
    -------
    torch.Tensor of shape (n_samples,)

    Examples
    --------
    >>> import torch
    >>> relative_change(torch.tensor([[3.0, 4.0]]), torch.tensor([[3.0, 0.0]])).tolist()
    [1.3333333730697632]
    """
    num = torch.linalg.vector_norm(A_new - A, dim=1)
    den = torch.linalg.vector_norm(A, dim=1).clamp_min(_TINY)
    return num / den


class _SupportProblem:
    """What the l0 and the M-sparse problems share: IHT's stopping rule on the support."""

    def converged(self, A_new, A, tol):
        """Whether every sample's support stayed and its relative change is below ``tol``."""
        # the support first: the norms only when it could stop
        return torch.equal(A_new != 0, A != 0) and float(relative_change(A_new, A).max()) < tol

    def converged_rows(self, A_new, A, tol):
        """Per sample: the support stayed and the relative change is below ``tol``."""
        rel = relative_change(A_new, A)
        return ((A_new != 0) == (A != 0)).all(dim=1) & (rel < tol)

    def objective(self, X, A, C):
        """Per-sample objective of the codes ``A`` of ``X`` over ``C`` (torch, rows).

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_features)
        A : torch.Tensor of shape (n_samples, n_components)
        C : torch.Tensor of shape (n_components, n_features)

        Returns
        -------
        torch.Tensor of shape (n_samples,)
        """
        return self.residual_objective(X - A @ C, A)


# --------------------------------------------------------------------------------------------
# The problems
# --------------------------------------------------------------------------------------------


class L0Problem(_SupportProblem):
    """The l0-regularised problem ``min_a 0.5 ||x - a C||^2 + alpha ||a||_0`` (eq. 1).

    Parameters
    ----------
    alpha : float or torch.Tensor
        The l0 weight (>= 0): a scalar, or one per sample as an ``(n, 1)`` column (the
        objective only).

    Examples
    --------
    >>> import torch
    >>> problem = L0Problem(0.25)
    >>> problem.threshold(torch.tensor([[0.5, -0.8, 0.2]]), 1.0).tolist()  # sqrt(0.5) = 0.707
    [[0.0, -0.800000011920929, 0.0]]
    >>> X, C = torch.tensor([[1.0, 1.0]]), torch.eye(2)
    >>> problem.objective(X, torch.tensor([[1.0, 0.0]]), C).tolist()  # 0.5 * 1 + 0.25 * 1
    [0.75]
    """

    def __init__(self, alpha):
        self.alpha = alpha if isinstance(alpha, torch.Tensor) else float(alpha)

    def __repr__(self):
        return f"L0Problem(alpha={self.alpha!r})"

    def threshold(self, U, step):
        """The hard threshold at ``sqrt(2 alpha step)`` of a gradient step ``step``.

        ``step`` is a float, or an ``(n, 1)`` tensor column of per-sample steps.
        """
        if isinstance(step, torch.Tensor):
            return hard_threshold(U, torch.sqrt(2.0 * self.alpha * step))
        return hard_threshold(U, l0_threshold(self.alpha, step))

    def residual_objective(self, R, A, *, constrained=False):
        """``0.5 ||r||^2 + alpha ||a||_0`` per sample, from the residuals ``R = X - A @ C``.

        ``constrained`` is accepted for symmetry with :class:`MSparseProblem` (no constraint).
        """
        nnz = (A != 0).sum(dim=1, keepdim=True).to(R.dtype)
        return 0.5 * _squares(R) + (self.alpha * nnz).reshape(-1)

    # the greedy least squares' rule (skl0's routes): an atom joins while it lowers
    # ``0.5 ||r||^2`` by more than alpha, i.e. ``||r||^2`` by more than 2 alpha
    penalised = True

    def greedy_steps(self, n_atoms):
        """The most atoms a greedy pass over ``n_atoms`` candidates may choose."""
        return int(n_atoms)

    @property
    def least_gain(self):
        """The drop of ``||r||^2`` an atom must beat to join: ``2 alpha``."""
        return 2.0 * float(self.alpha)

    def value_from_gain(self, sq_norm, gain, nnz):
        """The objective from ``||x||^2``, the greedy pass's drop of it and the nonzeros."""
        return 0.5 * (sq_norm - gain) + self.alpha * nnz

    def l1_start(self, B):
        """The l1 weight of the FISTA start of the optimal codes, :func:`l1_start_weight`.

        ``B = X @ C.T`` (unused: the weight depends on ``alpha`` alone).
        """
        return l1_start_weight(self.alpha)


class MSparseProblem(_SupportProblem):
    """The M-sparse problem ``min_a ||x - a C||^2`` s.t. ``||a||_0 <= M`` (eq. 2).

    Parameters
    ----------
    n_nonzero_coefs : int
        ``M``, the largest number of nonzeros a sample's code may have.

    Examples
    --------
    >>> import torch
    >>> problem = MSparseProblem(1)
    >>> problem.threshold(torch.tensor([[0.5, -0.8, 0.2]]), 1.0).tolist()
    [[0.0, -0.800000011920929, 0.0]]
    >>> X, C = torch.tensor([[1.0, 1.0]]), torch.eye(2)
    >>> problem.objective(X, torch.tensor([[1.0, 0.0]]), C).tolist()
    [1.0]
    """

    def __init__(self, n_nonzero_coefs):
        self.n_nonzero_coefs = int(n_nonzero_coefs)

    def __repr__(self):
        return f"MSparseProblem(n_nonzero_coefs={self.n_nonzero_coefs})"

    def threshold(self, U, step):
        """Keep the ``M`` entries of largest magnitude of each row (any ``step``)."""
        return keep_largest(U, self.n_nonzero_coefs)

    def residual_objective(self, R, A, *, constrained=False):
        """``||r||^2`` per sample, from the residuals ``R = X - A @ C``.

        With ``constrained=True`` a code with more than ``M`` nonzeros (an infeasible start)
        scores ``inf``; by default the constraint is not checked.
        """
        value = _squares(R)
        if not constrained:
            return value
        over = (A != 0).sum(dim=1) > self.n_nonzero_coefs
        return torch.where(over, torch.full_like(value, math.inf), value)

    # the greedy least squares' rule (skl0's routes): M atoms, each the best drop
    penalised = False
    least_gain = 0.0

    def greedy_steps(self, n_atoms):
        """The most atoms a greedy pass over ``n_atoms`` candidates may choose: M."""
        return min(self.n_nonzero_coefs, int(n_atoms))

    def value_from_gain(self, sq_norm, gain, nnz):
        """The objective from ``||x||^2`` and the greedy pass's drop of it."""
        return sq_norm - gain

    def l1_start(self, B):
        """Per sample, half the ``(M+1)``-th largest ``|x C^T|`` (``B = X @ C.T``).

        So that roughly ``M`` atoms survive the first shrinkage of the FISTA start of the
        optimal codes; ``0`` when ``M >= n_components``.
        """
        M = self.n_nonzero_coefs
        if M >= B.shape[1]:
            return 0.0
        kth = B.abs().topk(M + 1, dim=1).values[:, -1:]
        return 0.5 * kth


class L1Problem:
    """The l1 problem ``min_a 0.5 ||x - a C||^2 + alpha ||a||_1`` (eq. 3).

    Parameters
    ----------
    alpha : float or torch.Tensor
        The l1 weight (>= 0): a scalar, or one per sample (shape ``(n,)`` or ``(n, 1)``).

    Examples
    --------
    >>> import torch
    >>> problem = L1Problem(0.5)
    >>> problem.threshold(torch.tensor([[0.5, -2.0]]), 2.0).tolist()  # shrinks by 2 * 0.5
    [[0.0, -1.0]]
    >>> X, C = torch.tensor([[1.0, 1.0]]), torch.eye(2)
    >>> problem.objective(X, torch.tensor([[1.0, 0.0]]), C).tolist()  # 0.5 * 1 + 0.5 * 1
    [1.0]
    """

    def __init__(self, alpha):
        if alpha is None:
            raise ValueError("The l1 problem needs its weight alpha.")
        if isinstance(alpha, torch.Tensor):
            if bool((alpha < 0).any()):
                raise ValueError("alpha must be non-negative.")
        elif not alpha >= 0:
            raise ValueError(f"alpha must be non-negative, got {alpha!r}.")
        self.alpha = alpha

    def __repr__(self):
        return f"L1Problem(alpha={self.alpha!r})"

    def on(self, X):
        """This problem with ``alpha`` a float or an ``(n, 1)`` column on ``X``'s device."""
        return L1Problem(_as_column(self.alpha, X))

    def take(self, rows):
        """The problem of the samples ``rows`` (the same one for a scalar ``alpha``)."""
        if isinstance(self.alpha, torch.Tensor) and self.alpha.ndim > 0:
            return L1Problem(self.alpha[rows])
        return self

    def threshold(self, U, step):
        """The soft threshold at ``step * alpha`` of a gradient step ``step``."""
        return soft_threshold(U, step * self.alpha)

    def converged(self, A_new, A, tol):
        """Whether every sample's relative change is below ``tol``."""
        return float(relative_change(A_new, A).max()) < tol

    def converged_rows(self, A_new, A, tol):
        """Per sample: the relative change is below ``tol``."""
        return relative_change(A_new, A) < tol

    def objective(self, X, A, C):
        """Per-sample ``0.5 ||x - a C||^2 + alpha ||a||_1`` (torch, rows).

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_features)
        A : torch.Tensor of shape (n_samples, n_components)
        C : torch.Tensor of shape (n_components, n_features)

        Returns
        -------
        torch.Tensor of shape (n_samples,)
        """
        alpha = _as_column(self.alpha, X)
        return 0.5 * _squares(X - A @ C) + (alpha * A.abs()).sum(dim=1)


def sparse_coding_problem(alpha=None, n_nonzero_coefs=None):
    """The problem of the user's ``(alpha, n_nonzero_coefs)`` pair: exactly one is given.

    Parameters
    ----------
    alpha : float, optional
        The l0 weight: :class:`L0Problem`.
    n_nonzero_coefs : int, optional
        ``M``: :class:`MSparseProblem`.

    Returns
    -------
    L0Problem or MSparseProblem

    Raises
    ------
    ValueError
        If both or neither are given.

    Examples
    --------
    >>> sparse_coding_problem(alpha=0.25)
    L0Problem(alpha=0.25)
    >>> sparse_coding_problem(n_nonzero_coefs=3)
    MSparseProblem(n_nonzero_coefs=3)
    """
    if (alpha is None) == (n_nonzero_coefs is None):
        raise ValueError(
            "Exactly one of alpha (l0-regularised problem) and n_nonzero_coefs (M-sparse "
            f"problem) must be given; got alpha={alpha!r}, n_nonzero_coefs={n_nonzero_coefs!r}."
        )
    if alpha is not None:
        return L0Problem(alpha)
    return MSparseProblem(n_nonzero_coefs)


def as_problem(problem=None, alpha=None, n_nonzero_coefs=None):
    """The solvers' argument: a problem object, or the ``(alpha, n_nonzero_coefs)`` pair."""
    if problem is None:
        return sparse_coding_problem(alpha, n_nonzero_coefs)
    if alpha is not None or n_nonzero_coefs is not None:
        raise ValueError(
            f"Give either a problem or alpha / n_nonzero_coefs, not both; got {problem!r}, "
            f"alpha={alpha!r}, n_nonzero_coefs={n_nonzero_coefs!r}."
        )
    return problem


# --------------------------------------------------------------------------------------------
# Objectives as functions
# --------------------------------------------------------------------------------------------


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

    Examples
    --------
    >>> import torch
    >>> l0_objective(torch.ones(1, 2), torch.tensor([[1.0, 0.0]]), torch.eye(2), 0.25).tolist()
    [0.75]
    """
    return L0Problem(_as_column(alpha, X)).objective(X, A, C)


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

    Examples
    --------
    >>> import torch
    >>> msparse_objective(torch.ones(1, 2), torch.tensor([[1.0, 0.0]]), torch.eye(2)).tolist()
    [1.0]
    """
    return _squares(X - A @ C)


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

    Examples
    --------
    >>> import torch
    >>> l1_objective(torch.ones(1, 2), torch.tensor([[2.0, 0.0]]), torch.eye(2), 0.5).tolist()
    [2.0]
    """
    return L1Problem(alpha).objective(X, A, C)
