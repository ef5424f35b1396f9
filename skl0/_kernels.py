"""Keep-largest kernels (``h_M``, max-M pooling): the reference through ``topk``, and the
fast CPU routes (a numpy sort per row; a sparse CSR result for products) tested equal to it.

This module imports torch and numpy only."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import torch


def keep_largest(U, n_nonzero_coefs, out=None):
    """Keep the ``M`` entries of largest magnitude in each row, zero the others (``h_M``).

    Parameters
    ----------
    U : torch.Tensor of shape (n_samples, n_components)
        Input.
    n_nonzero_coefs : int
        ``M``, the number of entries kept per row. ``M >= n_components`` keeps all of them and
        ``M <= 0`` keeps none. Ties are broken by :func:`torch.topk`, so exactly ``M`` positions
        are kept.
    out : torch.Tensor, optional
        Receives the result (``U``'s shape, any float dtype, on the CPU when ``U`` is).

    Returns
    -------
    torch.Tensor
        ``out``, or a new tensor, with at most ``M`` nonzeros per row.

    Notes
    -----
    A float32/float64 matrix on the CPU that needs no gradient takes a faster route with the
    same result (:func:`_keep_largest_sorted`); everything else uses ``topk``.
    """
    M = int(n_nonzero_coefs)
    n_components = U.shape[-1]
    if (0 < M < n_components and U.device.type == "cpu" and U.dim() == 2
            and U.dtype in (torch.float32, torch.float64)
            and not (U.requires_grad and torch.is_grad_enabled())
            and (out is None or out.device.type == "cpu")):
        return _keep_largest_sorted(U, M, out=out)
    if M >= n_components:
        return U.clone() if out is None else out.copy_(U)
    if M <= 0:
        return torch.zeros_like(U) if out is None else out.zero_()
    Z = _keep_largest_topk(U, M)
    return Z if out is None else out.copy_(Z)


def keep_largest_mask(U, n_nonzero_coefs):
    """Boolean mask of the ``n_nonzero_coefs`` largest ``|U|`` in each row (``topk``'s ties)."""
    if n_nonzero_coefs >= U.shape[-1]:
        return torch.ones_like(U, dtype=torch.bool)
    idx = torch.topk(U.detach().abs(), n_nonzero_coefs, dim=-1, sorted=False).indices
    return torch.zeros_like(U, dtype=torch.bool).scatter_(-1, idx, True)


def _keep_largest_topk(U, M):
    """:func:`keep_largest` through ``topk`` and a boolean mask (any device, autograd)."""
    mask = keep_largest_mask(U, M)
    return torch.where(mask, U, torch.zeros((), dtype=U.dtype, device=U.device))


def _keep_largest_sorted(U, M, out=None):
    """:func:`_keep_largest_topk` for a float CPU matrix, the fast way (the same values).

    Each row's ``|u|`` is sorted (numpy's SIMD sort, one thread; faster than its partition
    and than ``topk``, docs/history.md), which gives the (M+1)-th largest ``t`` and the M-th
    largest ``s`` of the row. When ``s > t`` the kept set ``|u| > t`` is exactly the M
    largest, each strictly above every dropped one: ``topk``'s set (with ``t = 0`` too: the
    row then has exactly M nonzeros). The mask and the product are numpy passes (a boolean
    comparison is several times faster in numpy than in torch on the CPU). The other rows
    (a tie at the M-th value, a NaN) are redone with ``topk``. ``out`` (a CPU tensor of
    ``U``'s shape, any float dtype, its rows contiguous) receives the result when given.
    """
    U = U.detach()
    Z = torch.empty_like(U) if out is None else out
    if U.shape[0] == 0:
        return Z
    u = U.numpy()
    keep, exact = _sorted_mask(u, M)
    with np.errstate(invalid="ignore"):  # inf * 0 in a dropped entry: only rows redone below
        np.multiply(u, keep, out=Z.numpy())
    redo = np.flatnonzero(~exact)
    if len(redo):
        redo = torch.from_numpy(redo)
        Z[redo] = _keep_largest_topk(U[redo], M).to(Z.dtype)
    return Z


def _sorted_mask(u, M):
    """``(keep, exact)`` of :func:`_keep_largest_sorted` for the numpy matrix ``u``.

    ``keep`` is ``|u| > t`` with ``t`` each row's (M+1)-th largest ``|u|``; ``exact[i]`` says
    that row ``i``'s M-th largest is strictly above ``t`` (and no NaN): ``keep[i]`` then
    holds exactly ``topk``'s M positions.
    """
    p = u.shape[1]
    a = np.abs(u)  # a copy, sorted in place
    a.sort(axis=1)
    k = p - M - 1
    t = a[:, k:k + 1].copy()  # the (M+1)-th largest |u| of each row
    exact = a[:, k + 1] > t[:, 0]  # the M-th largest strictly above it (False for a NaN)
    exact &= ~np.isnan(a[:, -1])  # a NaN sorts last; topk keeps it, so redo the row
    return np.greater(np.abs(u, out=a), t), exact


def _keep_largest_csr(U, M):
    """:func:`keep_largest` of a float CPU matrix as a sparse CSR tensor (M entries a row).

    For a product ``keep_largest(U, M) @ S`` when M is a small part of the row: the sparse
    product costs ``M p`` instead of ``p²`` multiply-adds per row (MKL's sparse kernel on the
    CPU). The kept positions are those of :func:`_keep_largest_sorted`, ``topk``'s for the
    rows that need its tie-break (a tie at the M-th value, a NaN; a kept zero is stored).
    ``U`` is a float CPU matrix and ``0 < M < n_components``.
    """
    U = U.detach()
    n, p = U.shape
    u = U.numpy()
    keep, exact = _sorted_mask(u, M)
    redo = np.flatnonzero(~exact)
    if len(redo):
        keep[redo] = keep_largest_mask(U[torch.from_numpy(redo)], M).numpy()
    flat = np.flatnonzero(keep)  # exactly M per row, in row order
    values = torch.from_numpy(u.reshape(-1)[flat])
    cols = torch.from_numpy((flat.reshape(n, M) - np.arange(0, n * p, p)[:, None]).reshape(-1))
    rows = torch.arange(0, n * M + 1, M)
    _quiet_csr()
    return torch.sparse_csr_tensor(rows, cols, values, (n, p), check_invariants=False)


@functools.cache
def _quiet_csr():
    """Build one sparse CSR tensor with torch's "beta" warning silenced.

    torch warns once per process when the first CSR tensor is made; making it here, under
    ``catch_warnings`` and before any worker thread does, keeps that notice from users.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta", UserWarning)
        zero = torch.zeros(1, dtype=torch.int64)
        torch.sparse_csr_tensor(torch.zeros(2, dtype=torch.int64), zero, torch.zeros(1),
                                (1, 1), check_invariants=False)
