import copy
import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs

from skl0 import L0Clusterer, L0Encoder, MSparseEncoder
from skl0._layers import ClusteringLoss
from skl0.metrics import clustering_error

# encoders untrained (max_epochs=0: K IHT steps from a learned dictionary, no solver run):
# the wrappers fine-tune them end to end, which is what these tests are about
FAST = {"max_epochs": 0, "dict_max_iter": 2}
WRAP = {"device": "cpu", "random_state": 0}


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=300, centers=4, n_features=8, cluster_std=1.0, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def fitted(blobs):
    X, _ = blobs
    return L0Clusterer(4, L0Encoder(16, alpha=0.05, **FAST), max_epochs=5, **WRAP).fit(X)


def test_separated_blobs_are_found(fitted, blobs):
    X, y = blobs
    assert clustering_error(y, fitted.labels_) < 0.05
    assert fitted.labels_.dtype.kind == "i"
    assert len(fitted.history_) == 5
    assert fitted.n_features_in_ == 8


def test_labels_predict_fit_predict_agree(fitted, blobs):
    X, _ = blobs
    np.testing.assert_array_equal(fitted.predict(X), fitted.labels_)
    proba = fitted.predict_proba(X)
    assert proba.shape == (len(X), 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(proba.argmax(axis=1), fitted.labels_)
    labels = L0Clusterer(4, L0Encoder(16, alpha=0.05, **FAST), max_epochs=5, **WRAP) \
        .fit_predict(X)
    np.testing.assert_array_equal(labels, fitted.labels_)  # seeded: reproducible


def test_more_clusters_than_samples_is_an_error():
    X = np.random.default_rng(0).standard_normal((5, 3))
    with pytest.raises(ValueError, match="n_clusters=6"):
        L0Clusterer(6, L0Encoder(4, **FAST), **WRAP).fit(X)


def test_scale_beyond_float32_is_an_error():
    X = np.random.default_rng(0).standard_normal((30, 4)) * 1e20
    with pytest.raises(ValueError, match="too large for float32"):
        L0Clusterer(2, L0Encoder(4, **FAST), **WRAP).fit(X)


def test_loss_formula():
    scores = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0], [-1.0, 3.0, 0.0]])
    p = torch.softmax(scores, dim=1)
    mean_entropy = -(p * p.log()).sum(1).mean()
    pbar = p.mean(0)
    marginal_entropy = -(pbar * pbar.log()).sum()
    for balance in (0.0, 0.5, 2.0):
        expected = mean_entropy - balance * marginal_entropy
        assert ClusteringLoss(balance)(scores, None).item() == pytest.approx(expected.item())
    # a collapsed confident assignment costs more than a balanced one, unless balance=0
    collapsed = torch.tensor([[9.0, -9.0], [9.0, -9.0]])
    balanced = torch.tensor([[9.0, -9.0], [-9.0, 9.0]])
    assert ClusteringLoss(1.0)(balanced, None) < ClusteringLoss(1.0)(collapsed, None) - 0.5
    assert ClusteringLoss(0.0)(balanced, None).item() == pytest.approx(
        ClusteringLoss(0.0)(collapsed, None).item(), abs=1e-6)


def test_loss_gradient_is_finite_when_a_cluster_is_empty_in_float32():
    # p̄ of the second cluster underflows to exactly 0: log(p̄) would be -inf, its gradient NaN
    scores = torch.tensor([[0.0, -200.0], [1.0, -200.0]], requires_grad=True)
    assert torch.softmax(scores, dim=1)[:, 1].sum().item() == 0.0
    loss = ClusteringLoss(1.0)(scores, None)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(scores.grad).all()
    # and it is the same function where nothing underflows (float64 reference)
    s64 = torch.tensor([[0.0, -20.0], [1.0, -20.0]], dtype=torch.float64)
    p = torch.softmax(s64, dim=1)
    pbar = p.mean(0)
    expected = -(p * p.log()).sum(1).mean() + (pbar * pbar.log()).sum()
    assert ClusteringLoss(1.0)(s64, None).item() == pytest.approx(expected.item(), rel=1e-12)


def test_balance_term_prevents_collapse(blobs):
    # aggressive training: with the balance term every cluster stays in use
    X, y = blobs
    enc = L0Encoder(16, alpha=0.05, **FAST)
    cl = L0Clusterer(4, enc, balance=1.0, lr=1e-2, max_epochs=30, batch_size=64, **WRAP).fit(X)
    assert len(np.unique(cl.labels_)) == 4
    assert clustering_error(y, cl.labels_) < 0.1


def test_fine_tuning_changes_the_encoder():
    # overlapping blobs: on well-separated ones the initial softmax saturates (float32 one-hot)
    # and the gradients underflow, so nothing would move
    X, _ = make_blobs(n_samples=300, centers=4, n_features=8, cluster_std=4.0, random_state=0)
    enc = MSparseEncoder(16, n_nonzero_coefs=4, **FAST)
    frozen = L0Clusterer(4, enc, max_epochs=0, **WRAP).fit(X)
    tuned = L0Clusterer(4, enc, max_epochs=3, lr=1e-3, **WRAP).fit(X)
    np.testing.assert_array_equal(frozen.encoder_.components_, tuned.encoder_.components_)
    W0 = frozen.encoder_.net_.module_.W.weight.detach()
    W1 = tuned.encoder_.net_.module_.W.weight.detach()
    assert not torch.allclose(W0, W1)
    assert tuned.net_.module_.trunk is tuned.encoder_.net_.module_
    codes = tuned.encoder_.transform(X)
    assert (np.count_nonzero(codes, axis=1) <= 4).all()


def test_pickle_round_trip(fitted, blobs):
    X, _ = blobs
    for loaded in (pickle.loads(pickle.dumps(fitted)), copy.deepcopy(fitted)):
        np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
        np.testing.assert_array_equal(loaded.labels_, fitted.labels_)


def test_inputs_not_modified(blobs):
    X, _ = blobs
    X32 = np.array(X[:60], dtype=np.float32)
    X_copy = X32.copy()
    L0Clusterer(3, L0Encoder(8, **FAST), max_epochs=1, **WRAP).fit(X32).predict(X32)
    np.testing.assert_array_equal(X32, X_copy)


def test_experiment_runs_and_writes_its_table(tmp_path, monkeypatch):
    from skl0.experiments import clustering as experiment

    monkeypatch.setattr(experiment, "settings", lambda quick: ({"max_epochs": 0,
                                                                "dict_max_iter": 1}, 2))
    rows = experiment.run("clustering", dataset="digits", n_components=[12], seed=0,
                          quick=True, output_dir=tmp_path, device="cpu")
    methods = [r["method"] for r in rows]
    assert methods[0] == "KMeans (pixels)"
    assert "L0Clusterer (Deep l0-Regularized)" in methods
    assert all(0 <= r["error"] < 0.9 for r in rows)
    assert (tmp_path / "clustering_digits.csv").exists()
