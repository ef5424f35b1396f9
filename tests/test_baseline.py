import numpy as np
import pytest
import torch

from skl0.experiments.baseline import BaselineEncoder, fit_baseline
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


def test_fit_baseline_learns_codes_and_is_seeded():
    rng = np.random.default_rng(0)
    D = rng.standard_normal((12, 20))
    codes = np.zeros((600, 12))
    for i in range(600):
        codes[i, rng.choice(12, 3, replace=False)] = rng.uniform(1, 2, 3)
    X = codes @ D
    kwargs = {"lr": 1e-2, "batch_size": 32, "seed": 0}
    state = torch.random.get_rng_state()
    untrained = fit_baseline(X[:500], codes[:500], max_epochs=0, **kwargs)
    net = fit_baseline(X[:500], codes[:500], max_epochs=40, **kwargs)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's stream untouched
    test = X[500:].astype(np.float32)
    err = code_prediction_error(codes[500:], net.predict(test))
    err0 = code_prediction_error(codes[500:], untrained.predict(test))
    assert err < 0.7 and err < 0.75 * err0  # predicting zeros scores 1
    assert len(net.history) == 40
    again = fit_baseline(X[:500], codes[:500], max_epochs=3, **kwargs)
    np.testing.assert_array_equal(again.predict(test),
                                  fit_baseline(X[:500], codes[:500], max_epochs=3,
                                               **kwargs).predict(test))
