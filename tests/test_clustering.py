import copy
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning

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
    assert clustering_error(y, fitted.labels_) == 0.0  # solved exactly
    assert fitted.n_clusters_used_ == 4
    assert clustering_error(y, fitted.init_labels_) == 0.0
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


def test_fit_predict_equals_fit_labels(blobs):
    X, _ = blobs
    est = L0Clusterer(4, L0Encoder(16, alpha=0.05, **FAST), max_epochs=3, **WRAP)
    np.testing.assert_array_equal(est.fit_predict(X), est.labels_)
    np.testing.assert_array_equal(clone(est).fit(X).labels_, est.labels_)


def test_training_loss_decreases():
    X, _ = make_blobs(n_samples=400, centers=5, n_features=10, cluster_std=3.0,
                      random_state=1)
    cl = L0Clusterer(5, L0Encoder(16, alpha=0.05, **FAST), max_epochs=15, **WRAP).fit(X)
    losses = cl.history_[:, "train_loss"]
    assert losses[-1] < losses[0]
    assert min(losses[5:]) < losses[0]


def test_score_is_the_mutual_information(fitted, blobs):
    X, _ = blobs
    p = fitted.predict_proba(X)
    pbar = p.mean(0)
    logp = np.log(np.clip(p, 1e-300, None))
    expected = -(pbar * np.log(pbar)).sum() + (p * logp).sum(1).mean()
    assert fitted.score(X) == pytest.approx(expected, abs=1e-6)
    assert 0 <= fitted.score(X) <= np.log(4) + 1e-9
    # higher is better: a one-cluster model scores 0
    with pytest.warns(UserWarning, match="n_clusters=1"):
        one = L0Clusterer(1, L0Encoder(16, alpha=0.05, **FAST), max_epochs=1, **WRAP).fit(X)
    assert one.score(X) == pytest.approx(0.0, abs=1e-9)
    assert fitted.score(X) > 1.0
    np.testing.assert_array_equal(one.labels_, 0)
    assert one.n_clusters_used_ == 1


def test_fewer_clusters_used_than_asked_warns():
    # three distinct points, each repeated: at most three clusters can hold samples
    X = np.repeat(np.array([[0.0, 0.0, 5.0], [5.0, 0.0, 0.0], [0.0, 5.0, 0.0]]), 20, axis=0)
    X = X + np.random.default_rng(0).normal(scale=1e-3, size=X.shape)
    with pytest.warns(ConvergenceWarning, match="Only 3 of n_clusters=5"):
        cl = L0Clusterer(5, L0Encoder(6, alpha=0.05, **FAST), max_epochs=2, **WRAP).fit(X)
    assert cl.n_clusters_used_ == 3 == len(np.unique(cl.labels_))


def test_init_kmeans_and_max_epochs_zero(blobs):
    X, y = blobs
    enc = L0Encoder(16, alpha=0.05, **FAST)
    cl = L0Clusterer(4, enc, init="kmeans", max_epochs=0, **WRAP).fit(X)
    assert len(cl.history_) == 0
    # max_epochs=0: the nearest-centroid softmax of the initial partition
    np.testing.assert_array_equal(cl.labels_, cl.init_labels_)
    assert clustering_error(y, cl.labels_) == 0.0


def test_default_encoder_and_verbose_progress(capsys):
    X, y = make_blobs(n_samples=80, centers=2, n_features=3, random_state=0)
    cl = L0Clusterer(2, max_epochs=2, verbose=1, **WRAP)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a tiny default encoder fit
        cl.fit(X)
    assert cl.encoder is None and cl.encoder_.n_components == 3  # min(n_features, 128)
    out = capsys.readouterr().out
    assert "[L0Clusterer] encoder fitted" in out and "initial partition (spectral)" in out
    assert "train_loss" in out
    assert clustering_error(y, cl.labels_) == 0.0


def test_nested_encoder_params_and_predict_on_new_samples(blobs):
    X, y = blobs
    cl = L0Clusterer(4, L0Encoder(16, alpha=0.05, **FAST), max_epochs=2, **WRAP)
    cl.set_params(encoder__n_components=12)
    cl.fit(X[:200])
    assert cl.encoder_.n_components == 12
    assert clustering_error(y[200:], cl.predict(X[200:])) == 0.0


def test_frozen_fitted_encoder_is_the_start(blobs):
    from sklearn.frozen import FrozenEstimator

    X, y = blobs
    enc = L0Encoder(16, alpha=0.05, device="cpu", random_state=0, **FAST).fit(X)
    components = enc.components_.copy()
    cl = L0Clusterer(3, FrozenEstimator(enc), max_epochs=2, **WRAP).fit(X)
    direct = L0Clusterer(3, clone(enc), max_epochs=2, **WRAP).fit(X)
    np.testing.assert_array_equal(cl.labels_, direct.labels_)
    np.testing.assert_array_equal(enc.components_, components)
    assert cl.encoder_ is not enc
