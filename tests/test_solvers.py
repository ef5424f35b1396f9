"""Tests of the reference solvers: skl0._solvers and skl0._targets (torch) and
skl0.sparse_coding (numpy API)."""

import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.linear_model import Lasso
from sklearn.utils._param_validation import InvalidParameterError

from skl0 import _problems as P
from skl0 import _solvers as S
from skl0 import _targets as T
from skl0._dictionary import _initial_dictionary, learn_dictionary
from skl0._kernels import keep_largest
from skl0.sparse_coding import iht, sparse_encode

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _problem(n=12, p=24, d=10, seed=0, dtype=torch.float64, coherent=True):
    """Signals X (n, d) and unit-norm atoms C (p, d); coherent atoms share a common direction."""
    g = torch.Generator().manual_seed(seed)
    C = torch.randn(p, d, generator=g, dtype=dtype)
    if coherent:
        C = C + 1.5 * torch.randn(1, d, generator=g, dtype=dtype)
    C = C / torch.linalg.vector_norm(C, dim=1, keepdim=True)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    return X, C


def _numpy_problem(n=6, p=16, d=8, seed=0):
    rng = np.random.RandomState(seed)
    D = rng.randn(p, d)
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    return rng.randn(n, d), D


# --------------------------------------------------------------------------------------------
# thresholding operators
# --------------------------------------------------------------------------------------------


def test_hard_threshold_keeps_entries_at_or_above_threshold():
    U = torch.tensor([[-2.0, -0.5, 0.5, 1.0, 3.0]])
    out = P.hard_threshold(U, 1.0)
    assert torch.equal(out, torch.tensor([[-2.0, 0.0, 0.0, 1.0, 3.0]]))
    assert torch.equal(U, torch.tensor([[-2.0, -0.5, 0.5, 1.0, 3.0]]))  # new tensor
    per_column = P.hard_threshold(U, torch.tensor([3.0, 0.1, 0.1, 2.0, 0.0]))
    assert torch.equal(per_column, torch.tensor([[0.0, -0.5, 0.5, 0.0, 3.0]]))


def test_soft_threshold():
    U = torch.tensor([-2.0, -0.5, 0.0, 0.5, 3.0])
    assert torch.equal(P.soft_threshold(U, 1.0), torch.tensor([-1.0, 0.0, 0.0, 0.0, 2.0]))


@pytest.mark.parametrize("alpha, step", [(0.25, 1.0), (0.1, 0.3), (2.0, 0.05)])
def test_l0_threshold_is_the_prox_of_the_half_objective(alpha, step):
    # H(u) at sqrt(2 alpha step) minimises (1 / (2 step)) (a - u)^2 + alpha [a != 0] per entry:
    # a = u costs alpha, a = 0 costs u^2 / (2 step); the other values of a are never better.
    thr = P.l0_threshold(alpha, step)
    assert thr == pytest.approx(math.sqrt(2 * alpha * step))
    u = torch.linspace(-3, 3, 601, dtype=torch.float64)
    out = P.hard_threshold(u, thr)
    keep_cost = torch.full_like(u, alpha)
    zero_cost = u * u / (2 * step)
    decided = (keep_cost - zero_cost).abs() > 1e-12
    brute = torch.where(keep_cost < zero_cost, u, torch.zeros_like(u))
    assert torch.equal(out[decided], brute[decided])


def test_paper_lambda_mapping():
    # The paper: objective without 1/2, step 1, threshold lambda ** 0.5; lambda = 0.5 <-> 0.25.
    assert P.l0_threshold(0.25, 1.0) == pytest.approx(0.5**0.5)


def test_iht_l0_is_brute_force_optimum_for_orthogonal_dictionary():
    # C = s Q with orthonormal rows: G = s^2 I, step 1 / s^2, and one IHT step from zero is
    # the exact global minimiser of 0.5 ||x - aC||^2 + alpha ||a||_0 (enumerate all supports).
    p, d, s, alpha = 6, 9, 2.0, 0.3
    g = torch.Generator().manual_seed(1)
    Q = torch.linalg.qr(torch.randn(d, p, generator=g, dtype=torch.float64)).Q.T
    C = s * Q
    X = 1.5 * torch.randn(8, d, generator=g, dtype=torch.float64)
    A, n_done = S.iht(X, C, alpha=alpha, n_iter=1)
    assert n_done == 1
    obj = P.l0_objective(X, A, C, alpha)
    best = torch.full((X.shape[0],), math.inf, dtype=torch.float64)
    for k in range(p + 1):
        for support in itertools.combinations(range(p), k):
            Ab = torch.zeros(X.shape[0], p, dtype=torch.float64)
            if support:
                Cs = C[list(support)]
                Ab[:, list(support)] = torch.linalg.lstsq(Cs.T, X.T).solution.T
            best = torch.minimum(best, P.l0_objective(X, Ab, C, alpha))
    torch.testing.assert_close(obj, best, rtol=1e-10, atol=1e-10)
    assert 0 < int((A != 0).sum()) < A.numel()  # the threshold actually decided something


def test_iht_fixed_point_characterisation():
    # At convergence each kept coefficient is a fixed point (zero gradient on the support and
    # above the threshold sqrt(2 alpha mu)); each zero has |mu * gradient| below the threshold.
    X, C = _problem(n=10, p=16, d=12, seed=3)
    alpha = 0.02
    mu = 1.0 / S.spectral_norm_sq(C)
    A, _ = S.iht(X, C, alpha=alpha, n_iter=20000, tol=1e-13)
    thr = math.sqrt(2 * alpha * mu)
    U = A + mu * (X @ C.T - A @ (C @ C.T))
    kept = A != 0
    assert kept.any()
    torch.testing.assert_close(U[kept], A[kept], rtol=0, atol=1e-9)
    assert bool((A[kept].abs() >= thr).all())
    assert bool((U[~kept].abs() < thr + 1e-12).all())
    torch.testing.assert_close(P.hard_threshold(U, thr), A, rtol=0, atol=1e-9)


# --------------------------------------------------------------------------------------------
# objectives and spectral norm
# --------------------------------------------------------------------------------------------


def test_objectives_match_explicit_formulas():
    X, C = _problem(n=5, p=7, d=4, seed=2)
    A = keep_largest(torch.randn(5, 7, generator=torch.Generator().manual_seed(0),
                                   dtype=torch.float64), 3)
    res = ((X - A @ C) ** 2).sum(dim=1)
    torch.testing.assert_close(P.msparse_objective(X, A, C), res)
    torch.testing.assert_close(P.l0_objective(X, A, C, 0.3), 0.5 * res + 0.3 * 3)
    torch.testing.assert_close(P.l1_objective(X, A, C, 0.3), 0.5 * res + 0.3 * A.abs().sum(1))
    w = torch.arange(1, 6, dtype=torch.float64)
    expected = 0.5 * res + w * A.abs().sum(1)
    torch.testing.assert_close(P.l1_objective(X, A, C, w.reshape(-1, 1)), expected)
    torch.testing.assert_close(P.l1_objective(X, A, C, w), expected)


@pytest.mark.parametrize("shape", [(30, 12), (12, 30), (5, 3), (3, 40), (64, 64), (200, 48)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_spectral_norm_sq_matches_torch(shape, dtype):
    g = torch.Generator().manual_seed(sum(shape))
    C = torch.randn(*shape, generator=g).to(dtype)
    expected = float(torch.linalg.matrix_norm(C.double(), ord=2)) ** 2
    got = S.spectral_norm_sq(C)
    assert isinstance(got, float)
    assert got == pytest.approx(expected, rel=1e-6)
    assert S.spectral_norm_sq(C) == got  # deterministic


def test_spectral_norm_sq_degenerate():
    assert S.spectral_norm_sq(torch.zeros(20, 10)) == 0.0
    assert S.spectral_norm_sq(torch.zeros(40, 30)) == 0.0
    A, _ = S.iht(torch.ones(2, 10), torch.zeros(20, 10), n_nonzero_coefs=3, n_iter=3)
    assert torch.equal(A, torch.zeros(2, 20))


# --------------------------------------------------------------------------------------------
# IHT
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", [{"alpha": 0.05}, {"n_nonzero_coefs": 3}])
def test_iht_never_increases_objective(form):
    X, C = _problem(n=20, p=30, d=12, seed=4)
    if "alpha" in form:
        def objective(A):
            return P.l0_objective(X, A, C, form["alpha"])
    else:
        def objective(A):
            return P.msparse_objective(X, A, C)
    A = torch.zeros(X.shape[0], C.shape[0], dtype=X.dtype)
    values = [objective(A)]
    for _ in range(30):
        A, _ = S.iht(X, C, n_iter=1, init=A, **form)
        values.append(objective(A))
        if "n_nonzero_coefs" in form:
            assert int((A != 0).sum(dim=1).max()) <= form["n_nonzero_coefs"]
    values = torch.stack(values)
    assert bool((values[1:] <= values[:-1] + 1e-12).all())
    assert float(values[-1].sum()) < float(values[0].sum())
    # Restarting one step at a time is the same as one run of n_iter steps.
    A30, n_done = S.iht(X, C, n_iter=30, **form)
    assert n_done == 30
    torch.testing.assert_close(A30, A, rtol=0, atol=1e-12)


def test_iht_msparse_never_exceeds_m():
    X, C = _problem(n=25, p=40, d=15, seed=5, dtype=torch.float32)
    for M in (1, 4, 9):
        A, _ = S.iht(X, C, n_nonzero_coefs=M, n_iter=30)
        assert int((A != 0).sum(dim=1).max()) <= M
        A = T.optimal_codes(X, C, n_nonzero_coefs=M, max_iter=100)
        assert int((A != 0).sum(dim=1).max()) <= M


def test_iht_tol_stops_early_and_n_iter_zero():
    X, C = _problem(n=8, p=12, d=6, seed=6)
    A, n_done = S.iht(X, C, n_nonzero_coefs=2, n_iter=5000, tol=1e-8)
    assert 1 <= n_done < 5000
    A0, n0 = S.iht(X, C, alpha=0.1, n_iter=0)
    assert n0 == 0 and torch.equal(A0, torch.zeros(8, 12, dtype=X.dtype))
    init = torch.ones(8, 12, dtype=X.dtype)
    Ai, _ = S.iht(X, C, alpha=0.1, n_iter=0, init=init)
    assert torch.equal(Ai, init) and Ai is not init


def test_iht_problem_selection_errors():
    X, C = _problem(n=2, p=4, d=3)
    with pytest.raises(ValueError, match="Exactly one of alpha"):
        S.iht(X, C)
    with pytest.raises(ValueError, match="Exactly one of alpha"):
        S.iht(X, C, alpha=0.1, n_nonzero_coefs=2)
    with pytest.raises(ValueError, match="Exactly one of alpha"):
        T.optimal_codes(X, C)


def test_iht_custom_step_and_gram():
    X, C = _problem(n=6, p=10, d=5, seed=7)
    mu = 0.5 / S.spectral_norm_sq(C)
    A1, _ = S.iht(X, C, alpha=0.01, n_iter=7, step=mu)
    A2, _ = S.iht(X, C, alpha=0.01, n_iter=7, step=mu, gram=C @ C.T)
    torch.testing.assert_close(A1, A2)
    # Literally A <- H(A + mu (B - A G)).
    A = torch.zeros(6, 10, dtype=X.dtype)
    for _ in range(7):
        A = P.hard_threshold(A + mu * (X @ C.T - A @ (C @ C.T)), P.l0_threshold(0.01, mu))
    torch.testing.assert_close(A1, A)


def test_solvers_do_not_modify_inputs():
    X, C = _problem(n=6, p=10, d=5, seed=8)
    init = torch.randn(6, 10, dtype=X.dtype)
    copies = [t.clone() for t in (X, C, init)]
    S.iht(X, C, alpha=0.1, n_iter=5, init=init)
    S.fista(X, C, alpha=0.1, n_iter=5, init=init)
    T.optimal_codes(X, C, n_nonzero_coefs=3, max_iter=20)
    for t, c in zip((X, C, init), copies, strict=True):
        assert torch.equal(t, c)


# --------------------------------------------------------------------------------------------
# FISTA
# --------------------------------------------------------------------------------------------


def test_fista_matches_sklearn_lasso():
    X, C = _problem(n=4, p=15, d=20, seed=9, coherent=False)
    alpha = 0.3
    A, n_done = S.fista(X, C, alpha=alpha, n_iter=100000, tol=1e-13)
    assert n_done < 100000
    d = X.shape[1]
    for i in range(X.shape[0]):
        lasso = Lasso(alpha=alpha / d, fit_intercept=False, tol=1e-10, max_iter=100000)
        lasso.fit(C.T.numpy(), X[i].numpy())
        ref = lasso.coef_
        assert np.count_nonzero(ref) > 0
        err = np.linalg.norm(A[i].numpy() - ref) / np.linalg.norm(ref)
        assert err < 1e-4


def test_fista_per_sample_alpha():
    X, C = _problem(n=3, p=12, d=8, seed=10)
    w = torch.tensor([0.05, 0.2, 0.5], dtype=X.dtype)
    A, _ = S.fista(X, C, alpha=w.reshape(-1, 1), n_iter=20000, tol=1e-12)
    for i in range(3):
        Ai, _ = S.fista(X[i : i + 1], C, alpha=float(w[i]), n_iter=20000, tol=1e-12)
        torch.testing.assert_close(A[i : i + 1], Ai, rtol=1e-7, atol=1e-9)
    # Optimality (subgradient) conditions of the l1 problem.
    Gn = (X - A @ C) @ C.T
    nz = A != 0
    torch.testing.assert_close(Gn[nz], (w.reshape(-1, 1) * A.sign()).expand_as(A)[nz],
                               rtol=0, atol=1e-7)
    assert bool((Gn[~nz].abs() <= w.reshape(-1, 1).expand_as(A)[~nz] + 1e-7).all())


def test_fista_per_sample_freezing_agrees_with_batch_stop():
    X, C = _problem(n=6, p=12, d=8, seed=16)
    step = 1.0 / S.spectral_norm_sq(C)
    A, _ = S.fista(X, C, alpha=0.1, n_iter=20000, tol=1e-12)
    zeros = torch.zeros(6, 12, dtype=X.dtype)
    Ap, n_done = S._fista_loop(X @ C.T, C @ C.T, zeros, P.L1Problem(0.1), step, 20000, 1e-12,
                                 per_sample=True)
    assert n_done < 20000
    torch.testing.assert_close(Ap, A, rtol=1e-8, atol=1e-10)


# --------------------------------------------------------------------------------------------
# optimal codes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", [{"alpha": 0.02}, {"n_nonzero_coefs": 4}])
def test_optimal_codes_beat_ten_iht_iterations(form):
    X, C = _problem(n=20, p=32, d=12, seed=11)
    if "alpha" in form:
        def objective(A):
            return P.l0_objective(X, A, C, form["alpha"])
    else:
        def objective(A):
            return P.msparse_objective(X, A, C)
    A10, _ = S.iht(X, C, n_iter=10, **form)
    A = T.optimal_codes(X, C, max_iter=200, batch_size=7, **form)
    assert bool((objective(A) <= objective(A10) + 1e-9).all())
    assert float(objective(A).mean()) < float(objective(A10).mean())
    plain = T.optimal_codes(X, C, max_iter=200, batch_size=7, accelerated=False, **form)
    assert bool((objective(plain) <= objective(A10) + 1e-9).all())


@pytest.mark.parametrize("form", [{"alpha": 0.02}, {"n_nonzero_coefs": 4}])
@pytest.mark.parametrize("adaptive", [False, True])
def test_optimal_codes_iht_phase_is_monotone(form, adaptive):
    X, C = _problem(n=20, p=40, d=16, seed=12)
    alpha, M = form.get("alpha"), form.get("n_nonzero_coefs")
    step = 1.0 / S.spectral_norm_sq(C)
    w = P.sparse_coding_problem(alpha, M).l1_start(X @ C.T)
    A, _ = S.fista(X, C, alpha=w, n_iter=200, step=step)
    values = []
    for _ in range(40):
        A, _ = T._refine_iht(X, C, A, problem=P.sparse_coding_problem(alpha, M), step=step,
                             max_iter=1, tol=0.0, adaptive=adaptive)
        if M is None:
            values.append(P.l0_objective(X, A, C, alpha))
        else:
            assert int((A != 0).sum(dim=1).max()) <= M
            values.append(P.msparse_objective(X, A, C))
    values = torch.stack(values)
    assert bool((values[1:] <= values[:-1] + 1e-12).all())


@pytest.mark.parametrize("form", [{"alpha": 0.01}, {"n_nonzero_coefs": 5}])
def test_accelerated_iht_no_worse_than_plain_with_same_budget(form):
    X, C = _problem(n=40, p=48, d=16, seed=13)
    alpha, M = form.get("alpha"), form.get("n_nonzero_coefs")
    step = 1.0 / S.spectral_norm_sq(C)
    w = P.sparse_coding_problem(alpha, M).l1_start(X @ C.T)
    A0, _ = S.fista(X, C, alpha=w, n_iter=300, step=step)
    out = {}
    for adaptive in (False, True):
        A, _ = T._refine_iht(X, C, A0, problem=P.sparse_coding_problem(alpha, M), step=step,
                             max_iter=50, tol=1e-6, adaptive=adaptive)
        if M is None:
            out[adaptive] = P.l0_objective(X, A, C, alpha)
        else:
            out[adaptive] = P.msparse_objective(X, A, C)
    assert float(out[True].mean()) <= float(out[False].mean())


@pytest.mark.parametrize("form", [{"alpha": 0.02}, {"n_nonzero_coefs": 4}])
def test_optimal_codes_papers_definition(form):
    # zero_start=False, accelerated=False: the paper's optimal codes written out plainly for
    # each sample, its l1 solution (FISTA), then plain IHT at the safe step until it stops
    X, C = _problem(n=8, p=32, d=12, seed=11)
    w = P.sparse_coding_problem(form.get("alpha"), form.get("n_nonzero_coefs")).l1_start(X @ C.T)
    w = torch.as_tensor(w, dtype=X.dtype).expand(len(X), 1)
    ref = []
    for x, wi in zip(X.split(1), w.split(1), strict=True):
        start, _ = S.fista(x, C, alpha=wi, n_iter=3000, tol=1e-4)
        ref.append(S.iht(x, C, init=start, n_iter=3000, tol=1e-6, **form)[0])
    ref = torch.cat(ref)
    A = T.optimal_codes(X, C, max_iter=3000, tol=1e-6, batch_size=3, accelerated=False,
                        zero_start=False, **form)
    assert torch.equal(A != 0, ref != 0)
    torch.testing.assert_close(A, ref, rtol=1e-6, atol=1e-7)


def test_optimal_codes_default_l1_weights():
    X, C = _problem(n=5, p=12, d=6, seed=14)
    B = X @ C.T
    assert P.sparse_coding_problem(0.08, None).l1_start(B) == pytest.approx(math.sqrt(0.16) / 2)
    w = P.sparse_coding_problem(None, 3).l1_start(B)
    fourth = B.abs().sort(dim=1, descending=True).values[:, 3:4]
    torch.testing.assert_close(w, 0.5 * fourth)
    assert P.sparse_coding_problem(None, 12).l1_start(B) == 0.0


def test_optimal_codes_float32_progress_and_edge_cases():
    X, C = _problem(n=10, p=16, d=8, seed=15, dtype=torch.float32)
    A = T.optimal_codes(X, C, alpha=0.05, max_iter=50, batch_size=4, progress=True)
    assert A.dtype == torch.float32 and A.shape == (10, 16)
    assert torch.isfinite(A).all()
    assert torch.equal(T.optimal_codes(X, C, n_nonzero_coefs=3, max_iter=0), torch.zeros(10, 16))
    full = T.optimal_codes(X, C, n_nonzero_coefs=16, max_iter=100)  # M = p: least squares
    assert torch.isfinite(full).all()
    assert float(P.msparse_objective(X, full, C).max()) < 1e-3
    w = torch.full((10,), 0.1)
    A_w = T.optimal_codes(X, C, alpha=0.05, l1_alpha=w, max_iter=50, batch_size=3)
    A_s = T.optimal_codes(X, C, alpha=0.05, l1_alpha=0.1, max_iter=50, batch_size=3)
    torch.testing.assert_close(A_w, A_s)


# --------------------------------------------------------------------------------------------
# public API: skl0.sparse_coding
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["optimal", "iht", "fista"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_sparse_encode_dtype_and_inputs_untouched(algorithm, dtype):
    X, D = _numpy_problem()
    X = (10 * X).astype(dtype)
    X_copy, D_copy = X.copy(), D.copy()
    kwargs = {"alpha": 0.1} if algorithm == "fista" else {"n_nonzero_coefs": 3}
    codes = sparse_encode(X, D, algorithm=algorithm, max_iter=30, device="cpu", **kwargs)
    expected = np.float32 if dtype == np.float32 else np.float64
    assert codes.dtype == expected
    assert codes.shape == (X.shape[0], D.shape[0])
    assert np.all(np.isfinite(codes))
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(D, D_copy)


def test_iht_public_matches_solver_and_keeps_inputs():
    X, D = _numpy_problem(seed=1)
    init = np.random.RandomState(0).randn(X.shape[0], D.shape[0])
    copies = X.copy(), D.copy(), init.copy()
    codes = iht(X, D, alpha=0.05, n_iter=25, init=init, device="cpu")
    for a, c in zip((X, D, init), copies, strict=True):
        np.testing.assert_array_equal(a, c)
    ref, _ = S.iht(torch.tensor(X, dtype=torch.float32), torch.tensor(D, dtype=torch.float32),
                   alpha=0.05, n_iter=25, init=torch.tensor(init, dtype=torch.float32))
    np.testing.assert_allclose(codes, ref.numpy(), rtol=1e-5, atol=1e-6)
    assert codes.dtype == np.float64
    codes32 = iht(X.astype(np.float32), D, n_nonzero_coefs=2, device="cpu")
    assert codes32.dtype == np.float32
    assert (np.count_nonzero(codes32, axis=1) <= 2).all()


def test_public_read_only_and_list_inputs():
    X, D = _numpy_problem(seed=4)
    X.setflags(write=False)
    D.setflags(write=False)
    a = sparse_encode(X, D, algorithm="iht", alpha=0.05, max_iter=5, device="cpu")
    b = iht(X.tolist(), D.tolist(), alpha=0.05, n_iter=5, device="cpu")
    np.testing.assert_allclose(a, b)


def test_iht_public_n_iter_zero():
    X, D = _numpy_problem()
    np.testing.assert_array_equal(iht(X, D, alpha=0.1, n_iter=0), np.zeros((6, 16)))
    init = np.ones((6, 16))
    out = iht(X, D, alpha=0.1, n_iter=0, init=init)
    np.testing.assert_array_equal(out, init)
    assert not np.shares_memory(out, init)


def test_sparse_encode_sparse_input_is_densified():
    X, D = _numpy_problem(seed=2)
    X[X < 0.3] = 0.0
    dense = sparse_encode(X, D, algorithm="iht", n_nonzero_coefs=3, device="cpu")
    sparse = sparse_encode(sp.csr_matrix(X), D, algorithm="iht", n_nonzero_coefs=3, device="cpu")
    np.testing.assert_allclose(dense, sparse)
    assert isinstance(sparse, np.ndarray)


def test_sparse_encode_optimal_beats_iht():
    X, D = _numpy_problem(n=10, p=20, d=8, seed=3)
    alpha = 0.05
    opt = sparse_encode(X, D, alpha=alpha, device="cpu")
    it = sparse_encode(X, D, algorithm="iht", alpha=alpha, max_iter=10, device="cpu")

    def obj(A):
        return 0.5 * ((X - A @ D) ** 2).sum(1) + alpha * np.count_nonzero(A, axis=1)

    assert (obj(opt) <= obj(it) + 1e-5).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "Exactly one of alpha"),
        ({"alpha": 0.1, "n_nonzero_coefs": 2}, "Exactly one of alpha"),
        ({"alpha": -0.1}, "'alpha' parameter of iht"),
        ({"n_nonzero_coefs": 0}, "'n_nonzero_coefs' parameter of iht"),
        ({"n_nonzero_coefs": 17}, "n_nonzero_coefs must be <= n_components=16"),
        ({"n_nonzero_coefs": 2.5}, "'n_nonzero_coefs' parameter of iht"),
        ({"alpha": 0.1, "n_iter": -1}, "'n_iter' parameter of iht"),
        ({"alpha": 0.1, "init": np.zeros((6, 3))}, "init must have shape"),
    ],
)
def test_iht_public_validation(kwargs, match):
    X, D = _numpy_problem()
    with pytest.raises(ValueError, match=match):
        iht(X, D, **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "Exactly one of alpha"),
        ({"alpha": 0.1, "n_nonzero_coefs": 2}, "Exactly one of alpha"),
        ({"algorithm": "iht"}, "Exactly one of alpha"),
        ({"alpha": -1.0}, "'alpha' parameter of sparse_encode"),
        ({"n_nonzero_coefs": 20}, "n_nonzero_coefs must be <= n_components=16"),
        ({"algorithm": "omp", "alpha": 0.1}, "'algorithm' parameter of sparse_encode"),
        ({"algorithm": "fista"}, "needs alpha"),
        ({"algorithm": "fista", "alpha": 0.1, "n_nonzero_coefs": 2}, "n_nonzero_coefs must be"),
        ({"algorithm": "iht", "alpha": 0.1, "max_iter": -3}, "'max_iter' parameter"),
        ({"alpha": 0.1, "tol": -1.0}, "'tol' parameter of sparse_encode"),
        ({"alpha": 0.1, "l1_alpha": -1.0}, "'l1_alpha' parameter of sparse_encode"),
        ({"algorithm": "iht", "alpha": 0.1, "l1_alpha": 0.1}, "l1_alpha is only used"),
    ],
)
def test_sparse_encode_validation(kwargs, match):
    X, D = _numpy_problem()
    with pytest.raises(ValueError, match=match):
        sparse_encode(X, D, **kwargs)


_BAD_COMMON = [("X", 3.0), ("dictionary", "atoms"), ("alpha", "0.1"), ("alpha", np.inf),
               ("n_nonzero_coefs", 0), ("n_nonzero_coefs", 2.0), ("tol", np.nan),
               ("device", 0)]


@pytest.mark.parametrize(
    "func, param, value",
    [(iht, *case) for case in _BAD_COMMON + [("n_iter", 1.5), ("init", 0.0)]]
    + [(sparse_encode, *case) for case in _BAD_COMMON + [
        ("algorithm", "omp"), ("l1_alpha", -1.0), ("max_iter", "10"), ("verbose", "yes")]],
)
def test_public_functions_name_the_invalid_parameter(func, param, value):
    # scikit-learn's InvalidParameterError: a ValueError and a TypeError that names the parameter
    X, D = _numpy_problem()
    kwargs = {"X": X, "dictionary": D, "n_nonzero_coefs": 2, param: value}
    if param == "alpha":
        del kwargs["n_nonzero_coefs"]
    with pytest.raises(InvalidParameterError, match=f"'{param}' parameter of {func.__name__}"):
        func(**kwargs)
    with pytest.raises(TypeError, match=f"'{param}' parameter"):
        func(**kwargs)


def test_public_validation_of_arrays():
    X, D = _numpy_problem()
    with pytest.raises(ValueError, match="dictionary"):
        iht(X, D[:, :5], alpha=0.1)
    with pytest.raises(ValueError, match="dictionary"):
        sparse_encode(X, D[:, :5], alpha=0.1)
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sparse_encode(X_nan, D, alpha=0.1)
    X_inf = X.copy()
    X_inf[1, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        iht(X_inf, D, alpha=0.1)
    with pytest.raises(ValueError, match="2D array"):
        iht(X[0], D, alpha=0.1)
    with pytest.raises(ValueError, match="minimum of 1 is required"):
        sparse_encode(X[:0], D, alpha=0.1)


@pytest.mark.parametrize("func", [iht, sparse_encode])
@pytest.mark.parametrize("problem", [{"alpha": 0.1}, {"n_nonzero_coefs": 2}])
def test_public_rejects_scales_beyond_float32(func, problem):
    # they used to end in torch's overflow RuntimeError (a 1e-30 dictionary), silent NaN
    # codes (iht, M-sparse) or silent zeros (a 1e25 dictionary, X beyond float32's range)
    X, D = _numpy_problem()
    for args, match in [((X, D * 1e-30), "dictionary is too small for float32"),
                        ((X, D * 1e25), "dictionary is too large for float32"),
                        ((X * 1e39, D), "X is too large for float32"),
                        ((X * 1e-25, D), "X is too small for float32")]:
        with pytest.raises(ValueError, match=match):
            func(*args, device="cpu", **problem)
    if func is iht:
        with pytest.raises(ValueError, match="init is too large for float32"):
            func(X, D, device="cpu", init=np.full((len(X), len(D)), 1e39), **problem)
    # far inside the bounds the codes scale with X (the M-sparse problem is scale-free)
    if "n_nonzero_coefs" in problem:
        codes = func(X, D, device="cpu", **problem)
        np.testing.assert_allclose(func(X * 1e-12, D, device="cpu", **problem) * 1e12, codes,
                                   rtol=1e-4, atol=1e-6)



# --------------------------------------------------------------------------------------------
# dictionary learning
# --------------------------------------------------------------------------------------------


def _l1_cost(X, C, alpha):
    A, _ = S.fista(X, C, alpha=alpha, n_iter=2000, tol=1e-7)
    return float((0.5 * ((X - A @ C) ** 2).sum(1) + alpha * A.abs().sum(1)).mean())


def test_learn_dictionary_recovers_planted_atoms():
    from skl0.datasets import make_sparse_signals

    X, D, _ = make_sparse_signals(2000, 20, 30, 3, noise=0.01, random_state=0)
    Xt = torch.as_tensor(X, dtype=torch.float64)
    # no early stopping: 30 epochs of 8 mini-batches (sklearn's MBDL recovers 53 % here)
    C, n_steps = learn_dictionary(Xt, 30, alpha=0.2, max_iter=30, tol=0,
                                    max_no_improvement=None, seed=0)
    assert n_steps == 240
    assert torch.all(torch.linalg.vector_norm(C, dim=1) <= 1 + 1e-9)
    Cn = C / torch.linalg.vector_norm(C, dim=1, keepdim=True)
    Dt = torch.as_tensor(D / np.linalg.norm(D, axis=1, keepdims=True))
    best = (Dt @ Cn.T).abs().max(dim=1).values
    assert float((best > 0.9).double().mean()) >= 0.7, best


def test_learn_dictionary_matches_sklearn_objective():
    # same algorithm as MiniBatchDictionaryLearning, so a comparable l1 cost on held-out data
    import warnings

    from sklearn.decomposition import MiniBatchDictionaryLearning

    rng = np.random.RandomState(0)
    X = rng.randn(600, 12) @ rng.randn(12, 12)
    Xtr, Xte = torch.as_tensor(X[:500]), torch.as_tensor(X[500:])
    C, _ = learn_dictionary(Xtr, 16, alpha=0.5, max_iter=5, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = MiniBatchDictionaryLearning(16, alpha=0.5, batch_size=256, max_iter=5,
                                          random_state=0).fit(X[:500]).components_
    ours, theirs = _l1_cost(Xte, C, 0.5), _l1_cost(Xte, torch.as_tensor(ref), 0.5)
    start = _l1_cost(Xte, _initial_dictionary(Xtr, 16, torch.Generator().manual_seed(0))
                     .clamp(-1, 1) / 10, 0.5)
    assert ours < 1.1 * theirs, (ours, theirs)
    assert ours < start


def test_initial_dictionary_signs_do_not_depend_on_the_svd(monkeypatch):
    # LAPACK and cuSOLVER may return any sign for each singular vector: the start takes
    # scikit-learn's svd_flip convention (each row's largest entry positive), so a routine
    # that flips signs gives the same start and the same learned dictionary
    X, _ = _problem(n=60, p=10, d=8)
    C0 = _initial_dictionary(X, 6, torch.Generator().manual_seed(0))
    rows = C0[C0.abs().sum(1) > 0]
    assert (rows.gather(1, rows.abs().argmax(1, keepdim=True)) > 0).all()
    learned, _ = learn_dictionary(X, 6, alpha=0.1, max_iter=2, batch_size=16, seed=0)
    svd = torch.linalg.svd

    def flipped_svd(A, full_matrices=True):
        U, sv, Vt = svd(A, full_matrices=full_matrices)
        flip = torch.tensor([(-1.0) ** k for k in range(len(sv))], dtype=A.dtype)
        return U * flip, sv, Vt * flip[:, None]

    monkeypatch.setattr(torch.linalg, "svd", flipped_svd)
    torch.testing.assert_close(_initial_dictionary(X, 6, torch.Generator().manual_seed(0)),
                               C0)
    again, _ = learn_dictionary(X, 6, alpha=0.1, max_iter=2, batch_size=16, seed=0)
    torch.testing.assert_close(again, learned)


def test_learn_dictionary_seeded_and_input_untouched():
    X, _ = _problem(n=40, p=8, d=6)
    X0 = X.clone()
    C1, n1 = learn_dictionary(X, 50, alpha=0.1, max_iter=2, batch_size=16, seed=3)
    C2, n2 = learn_dictionary(X, 50, alpha=0.1, max_iter=2, batch_size=16, seed=3)
    assert torch.equal(X, X0)
    assert torch.equal(C1, C2) and n1 == n2
    # more atoms than samples or features: the rows beyond the rank are resampled, not zero
    assert torch.all(torch.linalg.vector_norm(C1, dim=1) > 0.5)
    assert torch.isfinite(C1).all()


def test_learn_dictionary_bad_arguments():
    X, _ = _problem()
    with pytest.raises(ValueError, match="no samples"):
        learn_dictionary(X[:0], 4, alpha=0.1)
    with pytest.raises(ValueError, match="n_components"):
        learn_dictionary(X, 0, alpha=0.1)


# --------------------------------------------------------------------------------------------
# hard thresholding pursuit (least squares on the support)
# --------------------------------------------------------------------------------------------


def test_ls_on_support_is_least_squares_per_sample():
    X, C = _problem(n=7, p=40, d=30, coherent=False)
    g = torch.Generator().manual_seed(1)
    sizes = [0, 1, 3, 16, 17, 25, 30]  # empty, and across the power-of-two groups
    A = torch.zeros(7, 40, dtype=torch.float64)
    for i, k in enumerate(sizes):
        A[i, torch.randperm(40, generator=g)[:k]] = 1.0
    out = T._ls_on_support(X @ C.T, C @ C.T, A)
    for i, k in enumerate(sizes):
        S_i = (A[i] != 0).nonzero().squeeze(1)
        assert torch.equal(out[i] != 0, A[i] != 0)
        if k:
            ref = np.linalg.lstsq(C[S_i].T.numpy(), X[i].numpy(), rcond=None)[0]
            np.testing.assert_allclose(out[i, S_i].numpy(), ref, rtol=1e-8, atol=1e-10)


def test_ls_on_support_keeps_singular_systems():
    X, C = _problem(n=2, p=6, d=4)
    C = torch.cat([C, C[:1]])  # atom 6 duplicates atom 0
    A = torch.zeros(2, 7, dtype=torch.float64)
    A[0, [0, 6]] = 1.0  # singular G_SS: kept as it was
    A[1, [1, 2]] = 1.0
    out = T._ls_on_support(X @ C.T, C @ C.T, A)
    assert torch.isfinite(out).all()
    assert torch.equal(out[0], A[0]) or P.msparse_objective(
        X[:1], out[:1], C) <= P.msparse_objective(X[:1], A[:1], C)


@pytest.mark.parametrize("kw", [{"alpha": 0.05}, {"n_nonzero_coefs": 5}])
def test_optimal_codes_are_least_squares_on_their_support(kw):
    # a fixed point of HTP: the gradient vanishes on the support
    X, C = _problem(n=20, p=24, d=10)
    A = T.optimal_codes(X, C, **kw)
    grad = (X - A @ C) @ C.T
    assert float(grad[A != 0].abs().max()) < 1e-6


def test_solver_progress_is_plain_lines_in_a_file(capsys):
    # stderr captured by pytest is not a terminal: no carriage returns, no escape codes
    X = torch.randn(300, 16, generator=torch.Generator().manual_seed(0))
    learn_dictionary(X, 8, alpha=0.1, max_iter=2, batch_size=64, seed=0, progress=True)
    err = capsys.readouterr().err
    assert "dictionary" in err and "\r" not in err and "\x1b[" not in err


def test_public_iht_returns_its_iteration_count():
    rng = np.random.RandomState(0)
    D = rng.randn(12, 8)
    X = rng.randn(30, 8)
    codes, n_iter = iht(X, D, n_nonzero_coefs=3, n_iter=7, device="cpu", return_n_iter=True)
    assert n_iter == 7
    np.testing.assert_array_equal(codes, iht(X, D, n_nonzero_coefs=3, n_iter=7, device="cpu"))
    _, early = iht(X, D, alpha=0.1, n_iter=500, tol=1e-5, device="cpu", return_n_iter=True)
    assert 0 < early < 500
    assert iht(X, D, alpha=0.1, n_iter=0, device="cpu", return_n_iter=True)[1] == 0


@pytest.mark.parametrize("kw", [{"alpha": 0.05}, {"n_nonzero_coefs": 3}])
def test_l1_iht_is_the_papers_definition(kw):
    # the l1 solution refined by plain IHT alone: optimal_codes without its accelerations
    X, C = _problem(n=40, p=24, d=10, dtype=torch.float32)
    ours = sparse_encode(X.numpy(), C.numpy(), algorithm="l1_iht", max_iter=300, device="cpu",
                         **kw)
    ref = T.optimal_codes(X, C, max_iter=300, accelerated=False, zero_start=False, **kw)
    np.testing.assert_array_equal(ours, ref.numpy())
    best = sparse_encode(X.numpy(), C.numpy(), max_iter=300, device="cpu", **kw)
    alpha = kw.get("alpha")
    obj = (P.l0_objective if alpha is not None else (lambda X, A, C, a: P.msparse_objective(
        X, A, C)))
    f_paper = obj(X, torch.as_tensor(ours), C, alpha).mean()
    f_best = obj(X, torch.as_tensor(best), C, alpha).mean()
    assert f_best <= f_paper + 1e-6
