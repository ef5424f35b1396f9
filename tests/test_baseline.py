import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from skl0 import L0Classifier
from skl0._baseline import _BaselineRegressor
from skl0._layers import BaselineEncoder
from skl0.metrics import code_prediction_error


def test_architecture_is_the_papers():
    net = BaselineEncoder(10, 16)
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(10, 16), (16, 16),
                                                                   (16, 16), (16, 16)]
    assert sum(isinstance(m, torch.nn.ReLU) for m in net.modules()) == 3
    drops = [m.p for m in net.modules() if isinstance(m, torch.nn.Dropout)]
    assert drops == pytest.approx([0.1, 0.1, 0.5])  # keep probabilities 0.9, 0.9, 0.5
    x = torch.randn(4, 10)
    net.eval()
    torch.testing.assert_close(net(x), net(x))  # no dropout in eval mode
    net.train()
    torch.manual_seed(0)
    assert not torch.equal(net(x), net(x))
    with pytest.raises(ValueError, match="keep_probs"):
        BaselineEncoder(10, 16, keep_probs=(0.9, 0.0, 0.5))


@pytest.fixture(scope="module")
def regression_problem():
    rng = np.random.default_rng(0)
    D = rng.standard_normal((12, 20))
    codes = np.zeros((600, 12))
    for i in range(600):
        codes[i, rng.choice(12, 3, replace=False)] = rng.uniform(1, 2, 3)
    return codes @ D, codes


def test_regressor_learns_codes(regression_problem):
    X, codes = regression_problem
    kwargs = {"lr": 1e-2, "batch_size": 32, "device": "cpu", "random_state": 0}
    untrained = _BaselineRegressor(max_epochs=0, **kwargs).fit(X[:500], codes[:500])
    reg = _BaselineRegressor(max_epochs=40, **kwargs).fit(X[:500], codes[:500])
    assert reg.net_.module_.n_components == 12
    err = code_prediction_error(codes[500:], reg.transform(X[500:]))
    err0 = code_prediction_error(codes[500:], untrained.transform(X[500:]))
    assert err < 0.7 and err < 0.75 * err0  # predicting zeros scores 1
    assert len(reg.history_) == 40
    loaded = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(loaded.transform(X[500:]), reg.transform(X[500:]))


def test_regressor_checks_n_components(regression_problem):
    X, codes = regression_problem
    with pytest.raises(ValueError, match="n_components=5"):
        _BaselineRegressor(5, max_epochs=1, device="cpu").fit(X, codes)


def test_as_classifier_trunk():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    trunk = _BaselineRegressor(32, device="cpu")  # fitted without codes: initialised only
    clf = L0Classifier(trunk, max_epochs=8, lr=1e-2, batch_size=64, device="cpu",
                       random_state=0)
    clf.fit(X[:500], y[:500])
    assert clf.score(X[500:800], y[500:800]) > 0.6  # chance: 0.1
    assert clf.encoder_.random_state == 0
    assert clf.encoder_.transform(X[:5]).shape == (5, 32)
