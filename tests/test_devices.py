"""The same answers on every device: the CPU always, CUDA when torch sees a GPU.

Each test runs once per device in ``DEVICES``; the CUDA runs carry the ``gpu`` marker (so
``python -m pytest -m gpu`` runs them alone, as ``benchmarks/gpu_check.sh`` does) and skip
without a GPU. The CPU runs check the tests themselves on every machine; the CUDA ones
compare what the GPU computes with the CPU's answer, which needs no GPU to be trusted.
"""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from skl0 import L0Classifier, L0Encoder, LISTAEncoder, MSparseEncoder, iht, sparse_encode
from skl0._problems import l0_objective, msparse_objective

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(
        not torch.cuda.is_available(), reason="needs CUDA")]),
]
M = 4
FAST = {"max_epochs": 3, "dict_max_iter": 2, "solver_max_iter": 100, "random_state": 0}
NET = {"route": "network"}  # these tests are about the network on the device
MAKERS = {
    "l0": lambda **kw: L0Encoder(n_components=24, alpha=0.1, **{**NET, **kw}),
    "l0_l1stages": lambda **kw: L0Encoder(n_components=24, alpha=0.1, n_stages=3,
                                          tied_stages=False, l1_stages=1, **{**NET, **kw}),
    "msparse": lambda **kw: MSparseEncoder(n_components=24, n_nonzero_coefs=M,
                                           **{**NET, **kw}),
    "lista": lambda **kw: LISTAEncoder(n_components=24, alpha=0.1, **kw),
}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X[:300]), y[:300]


@pytest.fixture(scope="module")
def dictionary(digits):
    X, _ = digits
    D = X[np.random.default_rng(0).choice(len(X), 24, replace=False)]
    return D / np.linalg.norm(D, axis=1, keepdims=True)


def _agree(Z, ref, kind):
    """Codes of two devices agree: float rounding may move an entry across a threshold."""
    assert Z.shape == ref.shape and Z.dtype == ref.dtype
    assert np.isfinite(Z).all()
    if kind == "msparse":
        assert (np.count_nonzero(Z, axis=1) <= M).all()
    same_support = ((Z != 0) == (ref != 0)).all(axis=1)
    assert same_support.mean() >= 0.95, same_support.mean()
    np.testing.assert_allclose(Z[same_support], ref[same_support], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_untrained_transform_matches_the_cpu(digits, dictionary, kind, device):
    # the same net (the dictionary's initialisation, no training) on the device and on the
    # CPU: the device's codes are the CPU's up to float rounding
    X, _ = digits
    make = MAKERS[kind]
    ref = make(dictionary=dictionary, max_epochs=0, device="cpu").fit(X).transform(X)
    enc = make(dictionary=dictionary, max_epochs=0, device=device).fit(X)
    assert next(enc.net_.module_.parameters()).device.type == device
    _agree(enc.transform(X), ref, kind)
    # float64 in, float64 out, whatever the device computes in
    assert enc.transform(X.astype(np.float64)).dtype == np.float64


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_fit_on_the_device_trains_and_pickles(digits, kind, device):
    X, _ = digits
    enc = MAKERS[kind](device=device, **FAST).fit(X)
    assert next(enc.net_.module_.parameters()).device.type == device
    assert set(enc.fit_times_) >= {"dictionary", "targets", "training"}
    losses = enc.net_.history[:, "train_loss"]
    assert len(losses) == FAST["max_epochs"] and np.isfinite(losses).all()
    Z = enc.transform(X)
    assert isinstance(Z, np.ndarray) and np.isfinite(Z).all()
    # trained on the device, the fit is close to what the CPU's fit gives (the same seed)
    cpu = MAKERS[kind](device="cpu", **FAST).fit(X)
    np.testing.assert_allclose(enc.components_, cpu.components_, atol=1e-3)
    # the pickle comes back on the same device with the same codes
    again = pickle.loads(pickle.dumps(enc))
    assert next(again.net_.module_.parameters()).device.type == device
    np.testing.assert_allclose(again.transform(X), Z, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_solvers_on_the_device_reach_the_cpu_objective(digits, dictionary, device):
    X, _ = digits
    Xt = torch.as_tensor(X, dtype=torch.float64)
    Dt = torch.as_tensor(dictionary, dtype=torch.float64)
    for kw, objective in (({"alpha": 0.1}, lambda A: l0_objective(Xt, A, Dt, 0.1)),
                          ({"n_nonzero_coefs": M}, lambda A: msparse_objective(Xt, A, Dt))):
        ref_iht = iht(X, dictionary, n_iter=10, device="cpu", **kw)
        A_iht = iht(X, dictionary, n_iter=10, device=device, **kw)
        assert A_iht.dtype == ref_iht.dtype
        _agree(A_iht, ref_iht, "msparse" if "n_nonzero_coefs" in kw else "l0")
        ref = sparse_encode(X, dictionary, device="cpu", **kw)
        A = sparse_encode(X, dictionary, device=device, **kw)
        f_ref = float(objective(torch.as_tensor(ref)).mean())
        f = float(objective(torch.as_tensor(A)).mean())
        assert f == pytest.approx(f_ref, rel=1e-2)
        # and far below the 10 IHT iterations
        assert f < float(objective(torch.as_tensor(A_iht)).mean())


@pytest.mark.parametrize("device", DEVICES)
def test_classifier_on_the_device(digits, device):
    X, y = digits
    clf = L0Classifier(MSparseEncoder(n_components=32, n_nonzero_coefs=M, **FAST),
                       max_epochs=10, random_state=0, device=device).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 10) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert clf.score(X, y) > 0.5


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["l0", "msparse"])
def test_least_squares_route_on_the_device_matches_the_cpu(digits, dictionary, kind, device):
    """The "ols" route on the device (the compiled loop on the CPU, batched torch code on a
    GPU) against the batched torch code on the CPU, the two implementations of one rule."""
    from skl0._problems import sparse_coding_problem
    from skl0._routes import OLSRoute

    X, _ = digits
    enc = MAKERS[kind](dictionary=dictionary, route="ols", device=device).fit(X)
    assert enc.route_ == "ols" and not hasattr(enc, "net_")
    problem = sparse_coding_problem(**({"alpha": 0.1} if kind == "l0" else
                                       {"n_nonzero_coefs": M}))
    batched = OLSRoute(torch.as_tensor(dictionary, dtype=torch.float32), problem)
    ref = batched(torch.as_tensor(X, dtype=torch.float32)).double().numpy()
    codes = enc.transform(X)
    assert codes.shape == ref.shape and np.isfinite(codes).all() and np.count_nonzero(codes)
    # the atoms are rows of X: many samples have tied choices, which float32 rounding breaks
    # either way; a row's objective is the same whichever tied atom was taken
    Xt, Dt = torch.as_tensor(X), torch.as_tensor(dictionary)
    value = problem.objective(Xt, torch.as_tensor(codes), Dt).numpy()
    ref_value = problem.objective(Xt, torch.as_tensor(ref), Dt).numpy()
    np.testing.assert_allclose(value, ref_value, rtol=1e-4, atol=1e-4)
    assert ((codes != 0) == (ref != 0)).all(axis=1).mean() > 0.9
