"""Tests of skl0._problems: each problem's threshold, objective, stopping rule and l1 start
against the plain formulas, and the one check of the (alpha, n_nonzero_coefs) pair."""

import math

import pytest
import torch

from skl0._problems import (
    L0Problem,
    L1Problem,
    MSparseProblem,
    as_problem,
    relative_change,
    sparse_coding_problem,
)
from skl0._solvers import fista, iht


def _data(seed=0, n=9, p=7, d=5):
    g = torch.Generator().manual_seed(seed)
    C = torch.randn(p, d, generator=g, dtype=torch.float64)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    A = torch.randn(n, p, generator=g, dtype=torch.float64)
    A[A.abs() < 0.6] = 0.0
    return X, A, C


def _rows(X, A, C, value):
    # the reference: one sample at a time, in Python floats
    return torch.tensor([value([float(v) for v in x - a @ C], [float(v) for v in a])
                         for x, a in zip(X, A, strict=True)], dtype=torch.float64)


def test_each_objective_equals_the_plain_formula_row_by_row():
    X, A, C = _data()

    def sq(r):
        return sum(v * v for v in r)

    torch.testing.assert_close(
        L0Problem(0.3).objective(X, A, C),
        _rows(X, A, C, lambda r, a: 0.5 * sq(r) + 0.3 * sum(v != 0 for v in a)))
    torch.testing.assert_close(MSparseProblem(3).objective(X, A, C),
                               _rows(X, A, C, lambda r, a: sq(r)))
    torch.testing.assert_close(
        L1Problem(0.3).objective(X, A, C),
        _rows(X, A, C, lambda r, a: 0.5 * sq(r) + 0.3 * sum(abs(v) for v in a)))
    # per-sample weights of the l1 problem, as a row or as a column
    w = torch.linspace(0.1, 0.9, len(X), dtype=torch.float64)
    ref = 0.5 * ((X - A @ C) ** 2).sum(1) + w * A.abs().sum(1)
    torch.testing.assert_close(L1Problem(w).objective(X, A, C), ref)
    torch.testing.assert_close(L1Problem(w.reshape(-1, 1)).objective(X, A, C), ref)


def test_the_m_sparse_constraint_scores_infeasible_codes_inf():
    X, A, C = _data()
    R = X - A @ C
    nnz = (A != 0).sum(1)
    M = int(nnz.median())
    value = MSparseProblem(M).residual_objective(R, A, constrained=True)
    assert torch.isinf(value[nnz > M]).all()
    torch.testing.assert_close(value[nnz <= M], (R * R).sum(1)[nnz <= M])
    # the l0 problem has no constraint
    torch.testing.assert_close(L0Problem(0.1).residual_objective(R, A, constrained=True),
                               L0Problem(0.1).objective(X, A, C))


@pytest.mark.parametrize("step", [1.0, 0.37])
def test_the_thresholds_are_the_proximal_operators(step):
    U = torch.linspace(-2, 2, 41, dtype=torch.float64).reshape(1, -1)
    # l0: keep u exactly when u^2 / (2 step) >= alpha
    alpha = 0.2
    kept = L0Problem(alpha).threshold(U, step)
    ref = torch.tensor([[u if u * u / (2 * step) >= alpha * (1 - 1e-12) else 0.0
                         for u in U[0].tolist()]], dtype=torch.float64)
    torch.testing.assert_close(kept, ref)
    # the same threshold with a per-sample step column
    col = L0Problem(alpha).threshold(U.expand(2, -1), torch.full((2, 1), step, dtype=U.dtype))
    torch.testing.assert_close(col, ref.expand(2, -1))
    # M-sparse: the M largest magnitudes
    M = 5
    top = MSparseProblem(M).threshold(U, step)
    assert int((top != 0).sum()) == M and top.abs().max() == 2.0
    assert float(top[top != 0].abs().min()) >= float(U.abs().sort().values[0, -M])
    # l1: shrink by step * alpha
    shrunk = L1Problem(alpha).threshold(U, step)
    ref = torch.tensor([[math.copysign(max(abs(u) - step * alpha, 0.0), u)
                         for u in U[0].tolist()]], dtype=torch.float64)
    torch.testing.assert_close(shrunk, ref)


def test_the_stopping_rules():
    A = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    moved = A + 1e-9 * (A != 0)
    new_support = A.clone()
    new_support[1, 0] = 1e-9
    torch.testing.assert_close(relative_change(moved, A),
                               torch.tensor([1e-9 * math.sqrt(2) / math.sqrt(5), 1e-9],
                                            dtype=torch.float64))
    for problem in (L0Problem(0.1), MSparseProblem(2)):
        # support and relative change, per sample and for the whole batch
        assert problem.converged(moved, A, 1e-6)
        assert not problem.converged(new_support, A, 1e-6)
        assert problem.converged_rows(new_support, A, 1e-6).tolist() == [True, False]
        assert not problem.converged(moved, A, 1e-10)
    # the l1 problem: the relative change alone
    assert L1Problem(0.1).converged(new_support, A, 1e-6)
    assert L1Problem(0.1).converged_rows(moved, A, 1e-9).tolist() == [True, False]


def test_the_l1_starts():
    X, _, C = _data(n=6, p=8)
    B = X @ C.T
    assert L0Problem(0.08).l1_start(B) == pytest.approx(math.sqrt(2 * 0.08) / 2)
    w = MSparseProblem(3).l1_start(B)
    torch.testing.assert_close(w, 0.5 * B.abs().sort(dim=1, descending=True).values[:, 3:4])
    assert MSparseProblem(8).l1_start(B) == 0.0


def test_exactly_one_of_alpha_and_n_nonzero_coefs_is_checked_once():
    assert isinstance(sparse_coding_problem(alpha=0.0), L0Problem)
    assert sparse_coding_problem(n_nonzero_coefs=3).n_nonzero_coefs == 3
    for kw in ({}, {"alpha": 0.1, "n_nonzero_coefs": 2}):
        with pytest.raises(ValueError, match="Exactly one of alpha"):
            sparse_coding_problem(**kw)
        with pytest.raises(ValueError, match="Exactly one of alpha"):
            as_problem(None, **kw)
    problem = MSparseProblem(2)
    assert as_problem(problem) is problem
    with pytest.raises(ValueError, match="not both"):
        as_problem(problem, alpha=0.1)
    with pytest.raises(ValueError, match="needs its weight"):
        L1Problem(None)
    with pytest.raises(ValueError, match="non-negative"):
        L1Problem(-0.1)
    with pytest.raises(ValueError, match="non-negative"):
        L1Problem(torch.tensor([0.1, -0.1]))


def test_the_solvers_take_a_problem_or_the_pair_alike():
    X, _, C = _data(seed=3, n=12, p=10, d=6)
    for problem, kw in ((L0Problem(0.05), {"alpha": 0.05}),
                        (MSparseProblem(3), {"n_nonzero_coefs": 3})):
        a, n_a = iht(X, C, problem, n_iter=30, tol=1e-9)
        b, n_b = iht(X, C, n_iter=30, tol=1e-9, **kw)
        assert torch.equal(a, b) and n_a == n_b
    w = torch.rand(12, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    a, _ = fista(X, C, L1Problem(w), n_iter=50)
    b, _ = fista(X, C, alpha=w, n_iter=50)
    assert torch.equal(a, b)
    # the per-sample weights follow the samples that leave the working set
    assert torch.equal(L1Problem(w.reshape(-1, 1)).take(torch.tensor([2, 5])).alpha,
                       w.reshape(-1, 1)[[2, 5]])
    scalar = L1Problem(0.3)
    assert scalar.take(torch.tensor([1])) is scalar
