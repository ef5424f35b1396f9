import numpy as np
import pytest
import torch

from skl0._kernels import keep_largest
from skl0._layers import (
    HELU,
    HELUSigma,
    MaxMPool,
    SoftThreshold,
    UnfoldedEncoder,
    helu_sigma,
    keep_largest_mask,
)
from skl0._problems import l0_threshold, l1_objective
from skl0._solvers import fista, iht, spectral_norm_sq


def _problem(seed=0, n=40, m=12, p=24, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    C = torch.randn(p, m, generator=g, dtype=dtype)
    C = C / C.norm(dim=1, keepdim=True)
    X = torch.randn(n, m, generator=g, dtype=dtype)
    return X, C


def test_helu_sigma_matches_eq9_pointwise():
    sigma = 0.2
    v = torch.linspace(-2, 2, 401, dtype=torch.float64)
    out = helu_sigma(v, sigma)
    for vi, oi in zip(v.tolist(), out.tolist(), strict=True):
        a = abs(vi)
        if a <= 1 - sigma:
            ref = 0.0
        elif a >= 1:
            ref = vi
        elif vi > 0:
            ref = (vi - 1 + sigma) / sigma
        else:
            ref = (vi + 1 - sigma) / sigma
        assert oi == pytest.approx(ref, abs=1e-12)


def test_helu_sigma_is_continuous_and_tends_to_helu():
    v = torch.linspace(-3, 3, 6001, dtype=torch.float64)
    out = helu_sigma(v, 0.3)
    # no jumps: the steepest piece (the ramp, slope 1/σ) bounds every increment
    assert (out.diff().abs() <= 0.001 / 0.3 * (1 + 1e-6)).all()
    exact = HELU()(v)
    assert torch.equal(exact, v * (v.abs() >= 1))
    assert (helu_sigma(v, 1e-9) - exact).abs().max() < 1e-6


def test_helu_sigma_gradcheck():
    v = torch.tensor([-1.7, -0.95, -0.3, 0.1, 0.85, 0.97, 1.4], dtype=torch.float64,
                     requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: HELUSigma(0.2)(x), (v,))


def test_scaled_helu_gradcheck_in_theta():
    # θ·HELU_σ(u/θ): differentiable in u and θ away from the kinks.
    u = torch.tensor([0.05, 0.19, -0.21, 0.6, -0.9], dtype=torch.float64, requires_grad=True)
    theta = torch.tensor([0.2, 0.2, 0.22, 0.5, 0.5], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, t: t * helu_sigma(a / t, 0.2), (u, theta))


def test_soft_threshold_gradcheck_and_values():
    u = torch.tensor([-2.0, -0.3, 0.4, 1.5], dtype=torch.float64, requires_grad=True)
    theta = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(SoftThreshold(), (u, theta))
    assert SoftThreshold()(u, theta).tolist() == pytest.approx([-1.5, 0.0, 0.0, 1.0])


def test_max_m_pool_keeps_m_largest_and_routes_gradient():
    g = torch.Generator().manual_seed(1)
    u = torch.randn(5, 10, generator=g, dtype=torch.float64, requires_grad=True)
    out = MaxMPool(3)(u)
    assert (out.count_nonzero(dim=1) == 3).all()
    ref = torch.zeros_like(u)
    idx = u.detach().abs().argsort(dim=1, descending=True)[:, :3]
    ref.scatter_(1, idx, u.detach().gather(1, idx))
    assert torch.equal(out.detach(), ref)
    w = torch.randn(5, 10, generator=g, dtype=torch.float64)
    (out * w).sum().backward()
    mask = keep_largest_mask(u.detach(), 3)
    assert torch.equal(u.grad, w * mask)  # whole error signal at the switches, 0 elsewhere
    assert torch.autograd.gradcheck(MaxMPool(3), (u,))


def test_max_m_pool_m_at_least_p_is_identity():
    u = torch.randn(3, 4)
    assert torch.equal(MaxMPool(4)(u), u)
    assert torch.equal(MaxMPool(10)(u), u)


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("n_stages", [1, 2, 3, 5])
def test_untrained_l0_net_equals_k_iht_iterations(n_stages, tied):
    X, C = _problem()
    step = 1.0 / spectral_norm_sq(C)
    alpha = 0.05
    net = UnfoldedEncoder(12, 24, n_stages=n_stages, kind="l0", tied=tied).double()
    net.init_from_dictionary(C, step, l0_threshold(alpha, step))
    A_net = net.eval()(X)
    A_iht, _ = iht(X, C, alpha=alpha, n_iter=n_stages, step=step)
    assert A_iht.count_nonzero() > 0
    torch.testing.assert_close(A_net, A_iht, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize(("n_stages", "l1_stages"), [(2, 1), (3, 2), (4, 1)])
def test_untrained_l0_net_with_l1_stages_equals_ista_then_iht(n_stages, l1_stages, tied):
    X, C = _problem(seed=5)
    step = 1.0 / spectral_norm_sq(C)
    alpha, lam1 = 0.05, 0.2
    net = UnfoldedEncoder(12, 24, n_stages=n_stages, kind="l0", tied=tied,
                          l1_stages=l1_stages).double()
    net.init_from_dictionary(C, step, l0_threshold(alpha, step), l1_threshold=step * lam1)
    assert net.theta.shape == (n_stages, 24)  # one θ per stage, tied or not
    A = torch.zeros(X.shape[0], 24, dtype=X.dtype)
    for _ in range(l1_stages):  # plain ISTA from zero ...
        U = A + step * (X - A @ C) @ C.T
        A = torch.sign(U) * torch.relu(U.abs() - step * lam1)
    ref, _ = iht(X, C, alpha=alpha, n_iter=n_stages - l1_stages, step=step, init=A)  # ... then IHT
    # ISTA's step written as A + μ(X − AC)Cᵀ rounds apart from the net's μXCᵀ + A(I − μCCᵀ)
    # by ~1e-9 here (float64); a flipped threshold would differ by ~0.1
    torch.testing.assert_close(net.eval()(X), ref, rtol=1e-7, atol=1e-8)
    assert ref.count_nonzero() > 0
    plain, _ = iht(X, C, alpha=alpha, n_iter=n_stages, step=step)
    assert not torch.allclose(ref, plain)  # the ℓ1 stages do change the net
    # in training mode the ℓ1 stages are soft thresholds too (HELU_σ only in the others)
    net.train()
    net.sigma = 0.0
    torch.testing.assert_close(net(X), ref, rtol=1e-7, atol=1e-8)


def test_l1_stages_validation_and_old_modules():
    with pytest.raises(ValueError, match="kind='l0' only"):
        UnfoldedEncoder(4, 6, kind="msparse", n_nonzero_coefs=2, l1_stages=1)
    with pytest.raises(ValueError, match=r"l1_stages must be in \[0, n_stages\) = \[0, 2\)"):
        UnfoldedEncoder(4, 6, n_stages=2, l1_stages=2)
    net = UnfoldedEncoder(4, 6, n_stages=2, l1_stages=1)
    with pytest.raises(ValueError, match="needs l1_threshold"):
        net.init_from_dictionary(torch.eye(6, 4), step=0.5)
    assert "l1_stages=1" in repr(net)
    # a module pickled before the option existed has no l1_stages of its own: the paper's net
    old, X = _perturbed_net("l0", 2, True)
    ref = old(X)
    del old.l1_stages
    assert old.l1_stages == 0 and "l1_stages" not in repr(old)
    torch.testing.assert_close(old(X), ref)
    out = torch.empty_like(ref)
    old.inference_forward()(X, out)
    torch.testing.assert_close(out, ref)


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("n_stages", [1, 2, 4])
def test_untrained_msparse_net_equals_k_iht_iterations(n_stages, tied):
    X, C = _problem(seed=3)
    step = 1.0 / spectral_norm_sq(C)
    net = UnfoldedEncoder(12, 24, n_stages=n_stages, kind="msparse", n_nonzero_coefs=5,
                          tied=tied).double()
    net.init_from_dictionary(C, step)
    A_net = net.eval()(X)
    A_iht, _ = iht(X, C, n_nonzero_coefs=5, n_iter=n_stages, step=step)
    torch.testing.assert_close(A_net, A_iht, rtol=1e-10, atol=1e-12)
    assert (A_net.count_nonzero(dim=1) <= 5).all()


def test_untrained_lista_net_equals_ista_iterations():
    X, C = _problem(seed=4)
    step = 1.0 / spectral_norm_sq(C)
    alpha = 0.2
    net = UnfoldedEncoder(12, 24, n_stages=3, kind="lista").double()
    net.init_from_dictionary(C, step, step * alpha)
    A = torch.zeros(X.shape[0], 24, dtype=X.dtype)
    for _ in range(3):  # plain ISTA
        U = A + step * (X - A @ C) @ C.T
        A = torch.sign(U) * torch.relu(U.abs() - step * alpha)
    torch.testing.assert_close(net.eval()(X), A)
    # and many ISTA stages approach the lasso objective reached by FISTA
    deep = UnfoldedEncoder(12, 24, n_stages=3000, kind="lista").double()
    deep.init_from_dictionary(C, step, step * alpha)
    ref, _ = fista(X, C, alpha=alpha, n_iter=5000, tol=1e-12)
    obj_deep = l1_objective(X, deep.eval()(X), C, alpha)
    obj_ref = l1_objective(X, ref, C, alpha)
    assert (obj_deep >= obj_ref - 1e-9).all()
    torch.testing.assert_close(obj_deep, obj_ref, rtol=1e-4, atol=0)


def test_float32_net_matches_iht_to_rounding():
    X, C = _problem(seed=5, dtype=torch.float32)
    step = 1.0 / spectral_norm_sq(C)
    net = UnfoldedEncoder(12, 24, n_stages=2, kind="l0")
    net.init_from_dictionary(C, step, l0_threshold(0.05, step))
    A_iht, _ = iht(X, C, alpha=0.05, n_iter=2, step=step)
    A_net = net.eval()(X).detach()
    # a value sitting on the threshold may flip; everything else agrees to float32 rounding
    close = torch.isclose(A_net, A_iht, rtol=1e-4, atol=1e-5)
    assert close.float().mean() > 0.99


def test_training_mode_uses_helu_sigma_and_eval_exact():
    net = UnfoldedEncoder(2, 2, n_stages=1, kind="l0", sigma=0.5)
    net.init_from_dictionary(torch.eye(2), 1.0, 1.0)
    x = torch.tensor([[0.8, 2.0]])
    assert net.train()(x).tolist()[0] == pytest.approx([0.6, 2.0])
    assert net.eval()(x).tolist()[0] == pytest.approx([0.0, 2.0])


def test_encoder_backward_reaches_all_parameters():
    X, C = _problem(seed=6, dtype=torch.float32)
    for kind, kw in (("l0", {}), ("msparse", {"n_nonzero_coefs": 4}), ("lista", {})):
        net = UnfoldedEncoder(12, 24, kind=kind, **kw)
        net.init_from_dictionary(C, 0.1, 0.05)
        net.train()(X).pow(2).sum().backward()
        for name, prm in net.named_parameters():
            assert prm.grad is not None and torch.isfinite(prm.grad).all(), (kind, name)
            assert prm.grad.abs().sum() > 0, (kind, name)


def test_bad_kind():
    with pytest.raises(ValueError, match="kind"):
        UnfoldedEncoder(2, 2, kind="l2")
    with pytest.raises(ValueError, match="n_nonzero_coefs"):
        UnfoldedEncoder(2, 2, kind="msparse")


def test_flops_count():
    net = UnfoldedEncoder(256, 512, n_stages=2)
    assert net.flops_per_sample() == 2 * 256 * 512 + 2 * 512 * 512
    assert np.isfinite(net.flops_per_sample())


def test_helu_sigma_underflowing_sigma_is_exact_with_finite_gradient():
    # the paper's schedule divides σ by 10 per epoch: after ~45 epochs σ < float32 eps
    v = torch.tensor([-1.5, -0.999999, 0.5, 0.9999999, 1.0, 2.0], requires_grad=True)
    out = helu_sigma(v, 0.2 / 10**46)
    assert torch.equal(out.detach(), HELU()(v.detach()))
    out.sum().backward()
    assert torch.isfinite(v.grad).all()


def test_untied_stages_have_their_own_parameters():
    net = UnfoldedEncoder(6, 8, n_stages=3, kind="l0", tied=False)
    tied = UnfoldedEncoder(6, 8, n_stages=3, kind="l0")
    n_params = sum(p.numel() for p in net.parameters())
    assert n_params == 6 * 8 + 2 * 8 * 8 + 3 * 8
    assert sum(p.numel() for p in tied.parameters()) == 6 * 8 + 8 * 8 + 8
    assert net.theta.shape == (3, 8) and len(net.S) == 2
    net.init_from_dictionary(torch.randn(8, 6), 0.1, 0.3)
    X = torch.randn(20, 6)
    net.train()(X).pow(2).sum().backward()
    # every stage's S and θ receives its own gradient
    assert all(S.weight.grad is not None and S.weight.grad.abs().sum() > 0 for S in net.S)
    assert (net.theta.grad.abs().sum(dim=1) > 0).all()
    assert "tied=False" in repr(net)


@pytest.mark.parametrize("sigma", [0.05, 0.2, 0.9])
def test_l0_training_activation_is_theta_helu_sigma_of_u_over_theta(sigma):
    # the closed form used while training equals the paper's composition, values and gradients
    g = torch.Generator().manual_seed(0)
    net = UnfoldedEncoder(3, 40, n_stages=1, kind="l0", sigma=sigma).double().train()
    with torch.no_grad():
        net.theta.copy_(torch.rand(40, generator=g, dtype=torch.float64) * 0.5 + 0.1)
    u = (torch.randn(30, 40, generator=g, dtype=torch.float64) * 0.4).requires_grad_(True)
    w = torch.randn(30, 40, generator=g, dtype=torch.float64)
    ours = net._activation(u)
    (ours * w).sum().backward()
    gu, gt = u.grad.clone(), net.theta.grad.clone()
    u.grad, net.theta.grad = None, None
    ref = net.theta * helu_sigma(u / net.theta, sigma)
    (ref * w).sum().backward()
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gu, u.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(gt, net.theta.grad, rtol=1e-10, atol=1e-12)
    # the three regions are all exercised
    a, t = u.detach().abs(), net.theta.detach()
    lo = (1 - sigma) * t
    assert (a >= t).any() and (a <= lo).any() and ((a > lo) & (a < t)).any()


def _perturbed_net(kind, n_stages, tied, seed=0, dtype=torch.float64, n_nonzero_coefs=5,
                   l1_stages=0):
    """An initialised net whose θ and S no longer have the untrained structure."""
    X, C = _problem(seed=seed, dtype=dtype)
    step = 1.0 / spectral_norm_sq(C)
    net = UnfoldedEncoder(12, 24, n_stages=n_stages, kind=kind, n_nonzero_coefs=n_nonzero_coefs,
                          tied=tied, l1_stages=l1_stages).to(dtype)
    net.init_from_dictionary(C, step, 0.3 * step if kind == "lista" else l0_threshold(0.05, step),
                             l1_threshold=0.3 * step if l1_stages else None)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        if net.theta is not None:
            net.theta.mul_(1 + torch.rand(net.theta.shape, generator=g, dtype=dtype))
        for S in net._stage_S():
            S.weight.add_(0.01 * torch.randn(S.weight.shape, generator=g, dtype=dtype))
    return net.eval(), X


@pytest.mark.parametrize(("kind", "n_stages", "l1_stages"), [
    *((kind, k, 0) for kind in ("l0", "msparse", "lista") for k in (1, 2, 3)),
    ("l0", 2, 1), ("l0", 3, 1), ("l0", 3, 2),  # soft-threshold first stages
])
@pytest.mark.parametrize("tied", [True, False])
def test_inference_forward_equals_eval_forward(kind, n_stages, l1_stages, tied):
    net, X = _perturbed_net(kind, n_stages, tied, l1_stages=l1_stages)
    before = [t.clone() for t in net.state_dict().values()]
    with torch.inference_mode():
        ref = net(X)
        out = torch.full(ref.shape, float("nan"), dtype=torch.float64)
        net.inference_forward()(X, out)
    assert ref.count_nonzero() > 0 and (ref == 0).any()
    assert torch.equal(out != 0, ref != 0)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    if kind == "msparse":  # the same products in the same order: bit for bit
        assert torch.equal(out, ref)
    assert all(torch.equal(a, b)
               for a, b in zip(before, net.state_dict().values(), strict=True))


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("n_stages", [2, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_msparse_inference_forward_sparse_stages(tied, n_stages, dtype, monkeypatch):
    # M = 2 of p = 24: the products by S take the kept entries as a sparse matrix
    import skl0._layers as L

    calls = []
    real = L._keep_largest_csr
    monkeypatch.setattr(L, "_keep_largest_csr", lambda U, M: calls.append(M) or real(U, M))
    net, X = _perturbed_net("msparse", n_stages, tied, dtype=dtype, n_nonzero_coefs=2)
    monkeypatch.setattr(L, "_SPARSE_STAGES", 16)
    net.inference_forward()(X, torch.empty(len(X), 24))
    assert calls == []  # 2 of 24 is more than 1/16 of the row: dense products
    monkeypatch.setattr(L, "_SPARSE_STAGES", 12)
    X = torch.cat([X, torch.zeros(3, X.shape[1], dtype=dtype)])  # all-zero rows: ties
    with torch.inference_mode():
        ref = net(X)
        out = torch.full(ref.shape, float("nan"), dtype=torch.float64)
        net.inference_forward()(X, out)
    assert calls == [2] * (n_stages - 1)
    assert torch.equal(out != 0, ref != 0) and (out != 0).sum(1).max() == 2
    torch.testing.assert_close(out, ref.double(), rtol=1e-5 if dtype == torch.float32 else 1e-12,
                               atol=1e-6 if dtype == torch.float32 else 1e-12)
    # and the sparse matrix is the dense selection
    U = torch.randn(40, 24, generator=torch.Generator().manual_seed(3), dtype=dtype)
    assert torch.equal(real(U, 2).to_dense(), keep_largest(U, 2))
    Ut = U.t().contiguous().t()  # the same values, column-major
    assert torch.equal(real(Ut, 2).to_dense(), keep_largest(U, 2))
    U[5, :] = 1.0  # a tie at the M-th value, a NaN, zeros: topk's positions
    U[6, 3] = torch.nan
    U[7, :] = 0.0
    Z = real(U, 2)
    assert torch.equal(Z.crow_indices(), torch.arange(0, 81, 2))  # M stored in every row
    assert torch.equal(Z.to_dense().nan_to_num(7.0), keep_largest(U, 2).nan_to_num(7.0))


@pytest.mark.parametrize("kind", ["l0", "msparse"])
def test_inference_forward_float32_writes_any_float_output(kind):
    net, X = _perturbed_net(kind, 2, True, dtype=torch.float32)
    with torch.inference_mode():
        ref = net(X)
        for dtype in (torch.float32, torch.float64):
            out = torch.empty(ref.shape, dtype=dtype)
            net.inference_forward()(X, out)
            close = torch.isclose(out.float(), ref, rtol=1e-5, atol=1e-6)
            assert close.float().mean() > 0.99  # a value on the threshold may flip


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_each_activation_owns_its_stage_and_its_eval_step(dtype):
    # both forms of each activation against the plain operators of skl0._problems
    from skl0._problems import hard_threshold, soft_threshold

    g = torch.Generator().manual_seed(0)
    u = torch.randn(30, 24, generator=g, dtype=dtype)
    theta = torch.rand(24, generator=g, dtype=dtype) * 0.8 + 0.2
    ctx = {"n_components": 24, "device": u.device, "products": True}
    helu = HELUSigma(0.3).eval()
    cases = [(helu, hard_threshold(u, theta)), (SoftThreshold(), soft_threshold(u, theta)),
             (MaxMPool(5), keep_largest(u, 5))]
    for activation, ref in cases:
        torch.testing.assert_close(activation.stage(u.clone(), theta), ref)
        step = activation.eval_step(theta, **ctx)
        v = u if step.scale is None else u / step.scale
        out = torch.full_like(u, float("nan"))
        step.write(v, out)
        torch.testing.assert_close(out, ref)
        kept = step.apply(v)
        kept = kept.to_dense() if kept.is_sparse_csr else kept
        torch.testing.assert_close(kept if step.scale is None else kept * step.scale, ref)
    # in training mode HELU_σ is the ramp, θ·HELU_σ(u/θ)
    helu.train()
    torch.testing.assert_close(helu.stage(u, theta), theta * helu_sigma(u / theta, 0.3))
    assert helu.scheduled_sigma and not SoftThreshold.scheduled_sigma
    assert not MaxMPool.scheduled_sigma


@pytest.mark.parametrize(("kind", "l1_stages", "names"), [
    ("l0", 0, ["helu"] * 3), ("l0", 2, ["shrink", "shrink", "helu"]),
    ("lista", 0, ["shrink"] * 3), ("msparse", 0, ["pool"] * 3)])
def test_one_activation_per_stage_chosen_at_construction(kind, l1_stages, names):
    net = UnfoldedEncoder(4, 6, n_stages=3, kind=kind, n_nonzero_coefs=2, l1_stages=l1_stages)
    assert all(a is getattr(net, name) for a, name in zip(net.activations, names, strict=True))
    # the activations hold no parameters: the saved keys are W, S and θ alone
    assert {key.split(".")[0] for key in net.state_dict()} <= {"W", "S", "theta"}
    assert net.trains_sigma == (kind == "l0")
    net.sigma = 0.05
    assert net.sigma == (0.05 if kind == "l0" else None)


@pytest.mark.parametrize("kind", ["l0", "msparse", "lista"])
def test_a_module_saved_without_its_activations_chooses_them(kind):
    # a module built from a file saved before the activations were children of the net
    net, X = _perturbed_net(kind, 3, False)
    ref = net(X)
    del net._modules["activations"]
    assert "activations" not in net._modules
    torch.testing.assert_close(net(X), ref)
    assert len(net.activations) == 3
    out = torch.empty_like(ref)
    net.inference_forward().encode_into(X, out)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
