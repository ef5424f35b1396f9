"""The greedy pursuit that finishes the encoders' transform, against plain references."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import sparse_encode as sk_sparse_encode
from sklearn.preprocessing import StandardScaler

from skl0 import L0Encoder, MSparseEncoder, sparse_encode
from skl0._problems import MSparseProblem, sparse_coding_problem
from skl0._pursuit import greedy_pursuit, pursuit
from skl0._routes import PursuitRoute


def _problem(n=40, m=12, p=30, seed=0):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((p, m))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = rng.standard_normal((n, m))
    return X, D


def _t(a):
    return torch.as_tensor(a, dtype=torch.float64)


def _ols_reference(x, D, M):
    """Orthogonal least squares, one sample, the slow way: try every atom at every step."""
    support = []
    for _ in range(M):
        best, best_j = np.inf, None
        for j in range(len(D)):
            if j in support:
                continue
            S = support + [j]
            coef = np.linalg.lstsq(D[S].T, x, rcond=None)[0]
            r = np.sum((x - coef @ D[S]) ** 2)
            if r < best:
                best, best_j = r, j
        support.append(best_j)
    return support


def _dense(support, coefs, p):
    return torch.zeros(len(support), p, dtype=coefs.dtype).scatter_add_(1, support, coefs)


def test_greedy_pursuit_is_orthogonal_least_squares():
    X, D = _problem()
    Xt, Dt = _t(X), _t(D)
    G = Dt @ Dt.T
    cand = torch.arange(len(D)).expand(len(X), -1).contiguous()
    support, coefs, gain = greedy_pursuit(G, cand, Xt @ Dt.T, n_nonzero_coefs=5)
    for i in range(len(X)):
        assert support[i].tolist() == _ols_reference(X[i], D, 5)
        # the coefficients are the least-squares fit on the support
        S = support[i].numpy()
        ref = np.linalg.lstsq(D[S].T, X[i], rcond=None)[0]
        np.testing.assert_allclose(coefs[i].numpy(), ref, rtol=1e-8, atol=1e-10)
    codes = _dense(support, coefs, len(D)).numpy()
    resid = np.sum((X - codes @ D) ** 2, axis=1)
    np.testing.assert_allclose(gain.numpy(), np.sum(X**2, axis=1) - resid, rtol=1e-8)


def test_greedy_pursuit_chooses_among_the_candidates_only():
    X, D = _problem()
    Xt, Dt = _t(X), _t(D)
    rng = np.random.default_rng(1)
    cand = torch.as_tensor(np.stack([rng.choice(30, 8, replace=False) for _ in X]))
    support, coefs, _ = greedy_pursuit(Dt @ Dt.T, cand, Xt @ Dt.T, n_nonzero_coefs=4)
    for i in range(len(X)):
        assert set(support[i].tolist()) <= set(cand[i].tolist())
        sub = D[cand[i].numpy()]
        chosen = cand[i].numpy()[_ols_reference(X[i], sub, 4)]
        assert support[i].tolist() == chosen.tolist()


def test_l0_pursuit_stops_when_no_atom_pays_alpha():
    X, D = _problem(p=30)
    Xt, Dt = _t(X), _t(D)
    alpha = 0.3
    codes = pursuit(Xt, Dt, Dt @ Dt.T, Xt @ Dt.T, alpha=alpha, n_candidates=30,
                    n_rounds=0).numpy()
    for i in range(len(X)):
        S = np.flatnonzero(codes[i])
        r = X[i] - codes[i] @ D
        # no atom left out lowers ½‖r‖² by more than α: ⟨d_j, r⟩² / ‖P⊥ d_j‖² ≤ 2α
        Q = np.linalg.qr(D[S].T)[0] if len(S) else np.zeros((12, 0))
        for j in set(range(30)) - set(S.tolist()):
            perp = D[j] - Q @ (Q.T @ D[j])
            assert (D[j] @ r) ** 2 / max(perp @ perp, 1e-300) <= 2 * alpha + 1e-9
        # and the last atom added paid more than α
        if len(S):
            without = np.linalg.lstsq(D[S[:-1]].T, X[i], rcond=None)[0] if len(S) > 1 else []
            r_without = X[i] - (np.asarray(without) @ D[S[:-1]] if len(S) > 1 else 0)
            assert 0.5 * (r_without @ r_without - r @ r) > alpha - 1e-9 or len(S) > 1


@pytest.mark.parametrize("problem", [{"n_nonzero_coefs": 4}, {"alpha": 0.2}])
def test_refresh_rounds_never_raise_the_objective(problem):
    X, D = _problem(n=200, m=16, p=64, seed=3)
    Xt, Dt = _t(X), _t(D)
    G = Dt @ Dt.T
    scores = Xt @ Dt.T

    def objective(codes):
        r = np.sum((X - codes @ D) ** 2, axis=1)
        if "alpha" in problem:
            return 0.5 * r + problem["alpha"] * np.count_nonzero(codes, axis=1)
        return r

    values = [objective(pursuit(Xt, Dt, G, scores, n_candidates=8, n_rounds=r,
                                **problem).numpy()) for r in range(4)]
    for before, after in zip(values, values[1:], strict=False):
        assert np.all(after <= before + 1e-12)
    assert values[-1].mean() < values[0].mean()  # the rounds do something here


def test_pursuit_recovers_a_noiseless_sparse_code():
    rng = np.random.default_rng(0)
    D = rng.standard_normal((60, 40))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    A = np.zeros((50, 60))
    for i in range(50):
        A[i, rng.choice(60, 3, replace=False)] = rng.uniform(1, 2, 3) * rng.choice([-1, 1], 3)
    X = A @ D
    Xt, Dt = _t(X), _t(D)
    codes = pursuit(Xt, Dt, Dt @ Dt.T, Xt @ Dt.T, n_nonzero_coefs=3, n_candidates=6,
                    n_rounds=2).numpy()
    np.testing.assert_allclose(codes, A, atol=1e-8)


def test_pursuit_degenerate_cases_stay_finite():
    X, D = _problem(n=20, m=5, p=30)
    X[0] = 0.0
    Xt, Dt = _t(X).float(), _t(D).float()
    # M above n_features: atoms in the span of the chosen ones are never chosen
    codes = pursuit(Xt, Dt, Dt @ Dt.T, Xt @ Dt.T, n_nonzero_coefs=12, n_candidates=30,
                    n_rounds=1).numpy()
    assert np.isfinite(codes).all()
    assert np.count_nonzero(codes, axis=1).max() <= 5
    assert not codes[0].any()
    np.testing.assert_allclose(codes[1:] @ D, X[1:], atol=1e-4)  # a basis: exact fit
    # a zero atom is never chosen and stops nothing
    Dz = D.copy()
    Dz[3] = 0.0
    Dzt = _t(Dz).float()
    for route in ("compiled", "batched"):
        if route == "compiled":
            codes = pursuit(Xt, Dzt, Dzt @ Dzt.T, Xt @ Dzt.T, n_nonzero_coefs=4,
                            n_candidates=30, n_rounds=0).numpy()
        else:
            from skl0._pursuit import _pursuit_batched

            codes = _pursuit_batched(Xt, Dzt @ Dzt.T, Xt @ Dzt.T, Xt @ Dzt.T, 30, 4, 0.0,
                                     MSparseProblem(4), 0).numpy()
        assert np.isfinite(codes).all() and not codes[:, 3].any()
        assert (np.count_nonzero(codes[1:], axis=1) == 4).all()
    # duplicated atoms
    D2 = np.vstack([D, D])
    D2t = _t(D2).float()
    codes = pursuit(Xt, D2t, D2t @ D2t.T, Xt @ D2t.T, alpha=0.01, n_candidates=20,
                    n_rounds=1).numpy()
    assert np.isfinite(codes).all() and np.count_nonzero(codes, axis=1).max() <= 5


def test_pursuit_route_needs_exactly_one_problem():
    from skl0._layers import UnfoldedEncoder

    net = UnfoldedEncoder(4, 6, kind="msparse", n_nonzero_coefs=2)
    with pytest.raises(ValueError, match="Exactly one"):
        PursuitRoute(net, torch.eye(6, 4), n_candidates=3, n_rounds=1)
    with pytest.raises(ValueError, match="Exactly one"):
        PursuitRoute(net, torch.eye(6, 4), n_nonzero_coefs=2, alpha=0.1, n_candidates=3,
                     n_rounds=1)


# ---------------------------------------------------------------------- in the encoders


@pytest.fixture(scope="module")
def digits_split():
    X = StandardScaler().fit_transform(load_digits().data)
    return X[:1000], X[1000:1400]


@pytest.fixture(scope="module")
def msparse(digits_split):
    Xtr, _ = digits_split
    return MSparseEncoder(n_components=128, n_nonzero_coefs=10, max_epochs=30,
                          route="pursuit", random_state=0, device="cpu").fit(Xtr)


def test_msparse_quality_regression(msparse, digits_split):
    """Held-out residual within 1.1x of OMP's on the same dictionary (about 1.0 here)."""
    _, Xte = digits_split
    D = msparse.components_
    codes = msparse.transform(Xte)
    assert np.count_nonzero(codes, axis=1).max() <= 10
    assert msparse.n_candidates_ == 20
    omp = sk_sparse_encode(Xte, D, algorithm="omp", n_nonzero_coefs=10)
    ratio = np.sum((Xte - codes @ D) ** 2) / np.sum((Xte - omp @ D) ** 2)
    net = msparse.set_params(route="network").transform(Xte)
    msparse.set_params(route="pursuit")
    net_ratio = np.sum((Xte - net @ D) ** 2) / np.sum((Xte - omp @ D) ** 2)
    assert ratio < 1.1 and ratio < 0.7 * net_ratio


def test_l0_quality_regression(digits_split):
    """Held-out ℓ0 objective within 1.05x of the converged solver's (about 0.98 here)."""
    Xtr, Xte = digits_split
    enc = L0Encoder(n_components=128, alpha=0.25, max_epochs=30, route="pursuit",
                    random_state=0, device="cpu").fit(Xtr)
    D = enc.components_

    def objective(A):
        return np.mean(0.5 * np.sum((Xte - A @ D) ** 2, axis=1)
                       + 0.25 * np.count_nonzero(A, axis=1))

    solver = sparse_encode(Xte, D, alpha=0.25, device="cpu")
    assert objective(enc.transform(Xte)) < 1.05 * objective(solver)
    assert 2 <= enc.n_candidates_ <= 128


def test_transform_does_not_depend_on_batching(msparse, digits_split):
    _, Xte = digits_split
    whole = msparse.transform(Xte)
    one_by_one = np.vstack([msparse.transform(Xte[i:i + 1]) for i in range(0, 400, 37)])
    np.testing.assert_allclose(one_by_one, whole[::37], rtol=1e-5, atol=1e-6)


def test_candidates_parameter(digits_split):
    Xtr, _ = digits_split
    common = {"n_components": 32, "max_epochs": 2, "dict_max_iter": 2, "random_state": 0,
              "route": "pursuit", "device": "cpu"}
    assert MSparseEncoder(n_nonzero_coefs=4, n_candidates=2, **common).fit(
        Xtr).n_candidates_ == 4  # at least M
    assert MSparseEncoder(n_nonzero_coefs=4, n_candidates=100, **common).fit(
        Xtr).n_candidates_ == 32  # at most p
    enc = L0Encoder(n_candidates=7, **common).fit(Xtr)
    assert enc.n_candidates_ == 7
    assert np.count_nonzero(enc.transform(Xtr), axis=1).max() <= 7  # it bounds the support
    with pytest.raises(ValueError, match="pursuit_rounds"):
        MSparseEncoder(pursuit_rounds=-1, **common).fit(Xtr)
    with pytest.raises(ValueError, match="n_candidates"):
        L0Encoder(n_candidates=0, **common).fit(Xtr)


@pytest.mark.parametrize("problem", [{"n_nonzero_coefs": 6}, {"alpha": 0.05}])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compiled_and_batched_routes_agree(problem, dtype):
    """The CPU's compiled loop and the batched torch route (GPUs) give the same pursuit."""
    from skl0._pursuit import _greedy_batched

    X, D = _problem(n=300, m=32, p=48, seed=5)  # more features than steps: no ties
    Xt, Dt = _t(X).to(dtype), _t(D).to(dtype)
    G = Dt @ Dt.T
    corr = Xt @ Dt.T
    cand = corr.abs().topk(20, 1).indices
    support, coefs, gain = greedy_pursuit(G, cand, corr, **problem)
    steps = support.shape[1]
    least = 0.0 if "alpha" not in problem else 2 * problem["alpha"]
    s2, c2, g2 = _greedy_batched(G, cand, corr, steps, least)
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    a = _dense(support, coefs, 48).numpy()
    b = torch.zeros(300, 48, dtype=dtype).scatter_add_(1, s2, c2).numpy()
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    np.testing.assert_allclose(gain.numpy(), g2.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("problem", [{"n_nonzero_coefs": 5}, {"alpha": 0.1}])
def test_compiled_and_batched_pursuits_agree(problem):
    """The whole pursuit, rounds included: the CPU's compiled loop against the torch route."""
    from skl0._pursuit import _pursuit_batched

    X, D = _problem(n=400, m=32, p=96, seed=7)
    Xt, Dt = _t(X), _t(D)
    G = Dt @ Dt.T
    corr = Xt @ Dt.T
    scores = corr + 0.5 * torch.as_tensor(np.random.default_rng(0).standard_normal(corr.shape))
    steps = 5 if "n_nonzero_coefs" in problem else 12
    least = 2 * problem.get("alpha", 0.0)
    for rounds in (0, 2):
        a = pursuit(Xt, Dt, G, scores, n_candidates=12, n_rounds=rounds, **problem).numpy()
        b = _pursuit_batched(Xt, G, scores, corr, 12, steps, least,
                             sparse_coding_problem(**problem), rounds).numpy()
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


_KERNEL_RUN = """
import sys, numpy as np
from skl0._pursuit import _ols_rows, _pursuit_rows
rng = np.random.default_rng(0)
D = rng.standard_normal((96, 24)).astype(np.float32)
D /= np.linalg.norm(D, axis=1, keepdims=True)
G = (D.astype(np.float64) @ D.T.astype(np.float64)).astype(np.float32)
X = rng.standard_normal((300, 24)).astype(np.float32)
ols = np.empty((300, 96), np.float32)
_ols_rows(X, np.ascontiguousarray(D.T), G, 8, 0.0, 3e-4, ols)
corr = X @ D.T
scores = corr + rng.standard_normal(corr.shape).astype(np.float32)
refined = np.empty_like(ols)
_pursuit_rows(scores, corr, G, 16, 8, 0.0, False, 0.0, 2, 3e-4, refined)
sys.stdout.buffer.write(ols.tobytes() + refined.tobytes())
"""


def _kernel_bits(cache_dir, cpu=None):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    env.pop("NUMBA_CPU_NAME", None)
    if cpu is not None:
        env["NUMBA_CPU_NAME"] = cpu
    done = subprocess.run([sys.executable, "-c", _KERNEL_RUN], capture_output=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def test_compiled_codes_are_the_same_fresh_cached_and_on_another_cpu(tmp_path):
    # a code must not depend on whether numba compiled the loop in this process or read it
    # from its cache (saved models, transform_batches and dask workers compare them bit for
    # bit), nor on the instruction set the loop was compiled for
    fresh = _kernel_bits(tmp_path / "cache")
    assert len(fresh) == 2 * 300 * 96 * 4
    assert _kernel_bits(tmp_path / "cache") == fresh
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if cpuinfo.exists() else ""
    if " avx2" in flags and " fma" in flags:
        assert _kernel_bits(tmp_path / "haswell", cpu="haswell") == fresh
