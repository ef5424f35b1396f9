"""Tests of the keep-largest kernels: the fast CPU routes equal the topk reference."""


import pytest
import torch

from skl0 import _kernels as S


def test_keep_largest():
    U = torch.tensor([[0.1, -3.0, 2.0, 0.5], [4.0, 0.0, -1.0, 1.5]])
    out = S.keep_largest(U, 2)
    assert torch.equal(out, torch.tensor([[0.0, -3.0, 2.0, 0.0], [4.0, 0.0, 0.0, 1.5]]))
    assert torch.equal(S.keep_largest(U, 4), U)
    assert torch.equal(S.keep_largest(U, 10), U)
    assert S.keep_largest(U, 10) is not U
    ties = S.keep_largest(torch.ones(3, 6), 2)
    assert torch.equal((ties != 0).sum(dim=1), torch.tensor([2, 2, 2]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("M", [0, 1, 3, 5, 7, 8, 12])
def test_keep_largest_cpu_route_equals_topk(M, dtype):
    # the sorting route (CPU, no autograd) must give topk's result exactly, ties included
    g = torch.Generator().manual_seed(M)
    U = torch.randn(60, 8, generator=g, dtype=dtype)
    U[0] = 0.0                                               # all zero
    U[1, 3:] = 0.0                                           # three nonzeros
    U[2, :5] = 0.0                                           # exactly three nonzeros, at the end
    U[3] = torch.tensor([1.0, -1.0, 1.0, 2.0, -1.0, 0.5, 1.0, -3.0], dtype=dtype)  # ties
    U[4] = 2.0                                               # all tied
    U[5] = torch.tensor([1e-40, -1e-41, 3e-42, 0, 0, 0, 0, 2e-45], dtype=dtype)  # subnormal
    U[6] *= 1e30
    U[7, ::2] = -U[7, 1::2]                                  # ties in magnitude, opposite signs
    before = U.clone()
    ref = (U.clone() if M >= U.shape[1] else torch.zeros_like(U) if M <= 0
           else S._keep_largest_topk(U, M))
    fast = S.keep_largest(U, M)
    assert torch.equal(U, before)
    assert fast.dtype == dtype and fast.shape == U.shape
    assert torch.equal(fast, ref)
    assert (fast.count_nonzero(dim=1) <= M).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("M", [1, 3, 6])
def test_keep_largest_cpu_route_nonfinite_and_out(M, dtype):
    # NaN and inf rows as topk treats them (a NaN counts as the largest), a transposed view,
    # and the result written into a given tensor of another float dtype
    g = torch.Generator().manual_seed(M)
    U = torch.randn(8, 20, generator=g, dtype=dtype).t()     # not contiguous: 20 rows of 8
    U[0, 2] = torch.nan
    U[1, :3] = torch.nan
    U[2, 5] = torch.inf
    U[3, [1, 4]] = -torch.inf
    U[4, :] = torch.nan
    U[5, [0, 7]] = torch.tensor([torch.inf, -torch.inf], dtype=dtype)
    ref = S._keep_largest_topk(U, M)
    fast = S.keep_largest(U, M)
    assert torch.equal(fast.isnan(), ref.isnan())
    assert torch.equal(fast.nan_to_num(7.0), ref.nan_to_num(7.0))
    other = torch.float64 if dtype == torch.float32 else torch.float32
    out = torch.full(U.shape, -5.0, dtype=other)
    res = S._keep_largest_sorted(U[6:], M, out=out[6:])
    assert res.data_ptr() == out[6:].data_ptr()
    assert torch.equal(out[6:], ref[6:].to(other)) and (out[:6] == -5.0).all()


def test_keep_largest_out_on_every_route():
    # float16 is not the sort route's: topk for 0 < M < p, a copy or zeros otherwise
    U = torch.tensor([[0.1, -3.0, 2.0, 0.5], [4.0, 0.0, -1.0, 1.5]], dtype=torch.float16)
    for M, ref in ((2, [[0.0, -3.0, 2.0, 0.0], [4.0, 0.0, 0.0, 1.5]]),
                   (4, U.tolist()), (9, U.tolist()),  # all kept
                   (0, [[0.0] * 4] * 2), (-1, [[0.0] * 4] * 2)):  # none kept
        out = torch.full((2, 4), 7.0, dtype=torch.float64)
        res = S.keep_largest(U, M, out=out)
        assert res is out and torch.equal(out, torch.tensor(ref, dtype=torch.float64))
        assert torch.equal(S.keep_largest(U, M), torch.tensor(ref, dtype=torch.float16))


def test_fast_keep_largest_no_rows():
    U = torch.zeros(0, 6)
    assert S.keep_largest(U, 2).shape == (0, 6)


def test_keep_largest_routes():
    U = torch.randn(30, 10, generator=torch.Generator().manual_seed(1), requires_grad=True)
    out = S.keep_largest(U, 3)  # autograd: the topk route, gradient through the kept entries
    out.sum().backward()
    assert torch.equal(U.grad, (out != 0).to(U.dtype))
    with torch.no_grad():
        assert torch.equal(S.keep_largest(U, 3), out.detach())
    assert torch.equal(S.keep_largest(U.detach().double(), 3), out.detach().double())
