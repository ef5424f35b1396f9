"""skl0._utils: the guard of every fit."""

import numpy as np
import pytest
import torch
from _helpers import network_encoder

import skl0

FAST = {"max_epochs": 2, "dict_max_iter": 1, "solver_max_iter": 20, "random_state": 0,
        "device": "cpu"}


def _estimators():
    enc = network_encoder(skl0.L0Encoder, n_components=6, **FAST)
    wrapper = {"max_epochs": 2, "random_state": 0, "device": "cpu"}
    return [enc, skl0.L0Encoder(n_components=6, **FAST),  # and its default route
            network_encoder(skl0.MSparseEncoder, n_components=6, **FAST),
            network_encoder(skl0.LISTAEncoder, n_components=6, **FAST),
            skl0.L0Classifier(encoder=enc, **wrapper),
            skl0.L0Clusterer(encoder=enc, n_clusters=2, **wrapper)]


@pytest.mark.parametrize("est", _estimators(), ids=lambda e: type(e).__name__)
def test_fit_leaves_torchs_global_random_stream_alone(est):
    rng = np.random.RandomState(0)
    X, y = rng.randn(40, 5), np.repeat([0, 1], 20)
    torch.manual_seed(123)
    want = torch.rand(8)
    torch.manual_seed(123)
    est.fit(X, y)
    if hasattr(est, "partial_fit"):
        est.partial_fit(X)
    assert torch.equal(torch.rand(8), want)
    # and a fit seeded by random_state is the same whatever the global stream
    outputs = []
    for seed in (7, 8):
        torch.manual_seed(seed)
        est.fit(X, y)
        outputs.append(est.transform(X) if hasattr(est, "transform") else est.predict_proba(X))
    np.testing.assert_array_equal(*outputs)


def test_fit_guard_restores_the_attributes_on_an_interrupt_only():
    from skl0._utils import fit_guard

    class Estimator:
        def __init__(self):
            self.param = [1]

        @fit_guard
        def fit(self, fail):
            self.fitted_ = torch.rand(1)  # draws from the global stream
            self.param = None
            if fail:
                raise fail
            return self

    est = Estimator()
    param = est.param
    with pytest.raises(KeyboardInterrupt):
        est.fit(KeyboardInterrupt())
    assert est.__dict__ == {"param": param} and est.param is param
    with pytest.raises(RuntimeError):  # other errors leave what fit did, as scikit-learn does
        est.fit(RuntimeError())
    assert hasattr(est, "fitted_")
    state = torch.get_rng_state()
    est.fit(None)
    assert torch.equal(torch.get_rng_state(), state)
