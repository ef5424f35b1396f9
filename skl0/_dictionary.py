"""Online dictionary learning for the l1 problem on torch (Mairal et al. 2010, batched).

The mini-batch codes come from :func:`skl0._solvers.fista`. This module imports torch only
(and skl0._progress lazily for progress bars).
"""

from __future__ import annotations

import warnings

import torch

from ._solvers import fista

__all__ = ["learn_dictionary"]


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
