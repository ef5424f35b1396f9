import copy
import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from skl0 import L0Classifier, L0Encoder, LISTAEncoder, MSparseEncoder

# encoders untrained (max_epochs=0: K IHT steps from a learned dictionary, no solver run):
# the wrappers fine-tune them end to end, which is what these tests are about
FAST = {"max_epochs": 0, "dict_max_iter": 2}
WRAP = {"device": "cpu", "random_state": 0}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return X[:500], y[:500], X[500:800], y[500:800]


@pytest.fixture(scope="module")
def fitted(digits):
    X, y, _, _ = digits
    return L0Classifier(L0Encoder(32, alpha=0.05, **FAST), max_epochs=5, **WRAP).fit(X, y)


def test_learns_digits_better_than_chance(fitted, digits):
    _, _, X_test, y_test = digits
    assert fitted.score(X_test, y_test) > 0.7  # chance: 0.1
    assert len(fitted.history_) == 5
    assert fitted.n_features_in_ == 64
    np.testing.assert_array_equal(fitted.classes_, np.arange(10))


def test_predict_proba_sums_to_one_and_agrees_with_predict(fitted, digits):
    _, _, X_test, _ = digits
    proba = fitted.predict_proba(X_test)
    assert proba.shape == (len(X_test), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert (proba >= 0).all()
    np.testing.assert_array_equal(fitted.classes_[proba.argmax(axis=1)], fitted.predict(X_test))


@pytest.mark.parametrize("labels", [np.array(["cat", "dog", "emu"]), np.array([3, 7, 100])])
def test_string_and_noncontiguous_labels(digits, labels):
    X, y, _, _ = digits
    keep = y < 3
    Xs, ys = X[keep], labels[y[keep]]
    clf = L0Classifier(L0Encoder(16, alpha=0.05, **FAST), max_epochs=2, **WRAP).fit(Xs, ys)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    pred = clf.predict(Xs)
    assert pred.dtype == ys.dtype
    assert set(pred) <= set(labels)
    assert np.mean(pred == ys) > 0.8


def test_single_class_is_an_error(digits):
    X, _, _, _ = digits
    with pytest.raises(ValueError, match="class"):
        L0Classifier(L0Encoder(8, **FAST), **WRAP).fit(X[:20], np.zeros(20))


def test_scale_beyond_float32_is_an_error(digits):
    X, y, _, _ = digits
    with pytest.raises(ValueError, match="too small for float32"):
        L0Classifier(L0Encoder(8, **FAST), **WRAP).fit(X[:50] * 1e-25, y[:50])


def test_encoder_must_be_an_skl0_encoder(digits):
    X, y, _, _ = digits
    with pytest.raises(TypeError, match="skl0 encoder"):
        L0Classifier(PCA(4), max_epochs=1, **WRAP).fit(X[:50], y[:50])


def test_fine_tuning_changes_the_encoder_and_transform_uses_it(digits):
    X, y, _, _ = digits
    # the network's own codes (the pursuit of transform is not part of the classifier's net)
    enc = L0Encoder(16, alpha=0.05, route="network", **FAST)
    frozen = L0Classifier(enc, max_epochs=0, **WRAP).fit(X, y)
    tuned = L0Classifier(enc, max_epochs=3, **WRAP).fit(X, y)
    # same unsupervised initialisation (same seed, same device) ...
    np.testing.assert_array_equal(frozen.encoder_.components_, tuned.encoder_.components_)
    assert len(frozen.history_) == 0
    # ... then fine-tuning moves W, S and θ, and encoder_ is the fine-tuned encoder
    W0 = frozen.encoder_.net_.module_.W.weight.detach()
    W1 = tuned.encoder_.net_.module_.W.weight.detach()
    assert not torch.allclose(W0, W1)
    assert tuned.net_.module_.trunk is tuned.encoder_.net_.module_
    np.testing.assert_allclose(tuned.encoder_.thresholds_,
                               tuned.net_.module_.trunk.theta.detach().numpy(), rtol=1e-6)
    codes = tuned.encoder_.transform(X)
    assert codes.shape == (len(X), 16)
    assert not np.allclose(codes, frozen.encoder_.transform(X))
    # the wrapper's device and seed were passed to the encoder clone
    assert tuned.encoder_.device == "cpu" and tuned.encoder_.random_state == 0
    assert enc.device == "auto"  # the given encoder is left untouched


def test_max_epochs_0_is_logistic_regression_on_frozen_codes(digits):
    X, y, X_test, _ = digits
    clf = L0Classifier(MSparseEncoder(16, n_nonzero_coefs=4, route="network", **FAST),
                       max_epochs=0, **WRAP)
    clf.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lr = LogisticRegression(max_iter=200).fit(clf.encoder_.transform(X), y)
    codes = clf.encoder_.transform(X_test)
    np.testing.assert_allclose(clf.predict_proba(X_test), lr.predict_proba(codes), atol=1e-4)


def test_sigma_schedule_reaches_an_l0_trunk(digits):
    X, y, _, _ = digits
    clf = L0Classifier(L0Encoder(8, **FAST), max_epochs=2, sigma=0.5, sigma_decay=10.0, **WRAP)
    clf.fit(X[:100], y[:100])
    assert clf.history_[:, "sigma"] == [0.5, 0.05]
    assert clf.net_.module_.trunk.sigma == pytest.approx(0.005)


def test_lista_trunk(digits):
    X, y, X_test, y_test = digits
    clf = L0Classifier(LISTAEncoder(16, **FAST), max_epochs=2, **WRAP).fit(X, y)
    assert clf.score(X_test, y_test) > 0.5
    assert "sigma" not in clf.history_[-1]


def test_validation_split_and_early_stopping(digits):
    X, y, _, _ = digits
    clf = L0Classifier(L0Encoder(8, **FAST), max_epochs=40, lr=0.05, train_split=0.25,
                       patience=2, **WRAP).fit(X, y)
    assert "valid_loss" in clf.history_[-1]
    assert len(clf.history_) < 40  # a large lr plateaus quickly


def test_nested_grid_search_in_parallel(digits):
    X, y, _, _ = digits
    search = GridSearchCV(
        L0Classifier(MSparseEncoder(n_components=16, **FAST), max_epochs=2, **WRAP),
        {"encoder__n_nonzero_coefs": [2, 4]}, cv=2, n_jobs=2,
    ).fit(X[:200], y[:200])
    assert search.best_params_["encoder__n_nonzero_coefs"] in (2, 4)
    assert search.best_estimator_.encoder_.n_nonzero_coefs_ == \
        search.best_params_["encoder__n_nonzero_coefs"]


@pytest.mark.parametrize("roundtrip", [
    lambda m: pickle.loads(pickle.dumps(m)),
    lambda m: copy.deepcopy(m),
    "joblib",
])
def test_pickle_round_trip(fitted, digits, roundtrip, tmp_path):
    _, _, X_test, _ = digits
    if roundtrip == "joblib":
        joblib.dump(fitted, tmp_path / "clf.joblib")
        loaded = joblib.load(tmp_path / "clf.joblib")
    else:
        loaded = roundtrip(fitted)
    np.testing.assert_array_equal(loaded.predict_proba(X_test), fitted.predict_proba(X_test))
    np.testing.assert_array_equal(loaded.encoder_.transform(X_test),
                                  fitted.encoder_.transform(X_test))


def test_inputs_not_modified(digits):
    X, y, _, _ = digits
    X32 = np.array(X[:100], dtype=np.float32)
    X_copy, y_copy = X32.copy(), y[:100].copy()
    clf = L0Classifier(L0Encoder(8, **FAST), max_epochs=1, **WRAP)
    params = clf.get_params()
    clf.fit(X32, y[:100])
    clf.predict_proba(X32)
    np.testing.assert_array_equal(X32, X_copy)
    np.testing.assert_array_equal(y[:100], y_copy)
    assert clone(clf).get_params().keys() == params.keys()


def test_experiment_runs_and_writes_its_table(tmp_path, monkeypatch):
    from skl0.experiments import classification as experiment

    # the plumbing only: untrained encoders and 2 epochs instead of the quick settings
    monkeypatch.setattr(experiment, "settings", lambda quick: ({"max_epochs": 0,
                                                                "dict_max_iter": 1}, 2))
    rows = experiment.run("classification", dataset=None, n_components=[12], seed=0,
                          quick=True, output_dir=tmp_path, device="cpu")
    methods = [r["method"] for r in rows]
    assert methods[0] == "LogisticRegression (pixels)"
    assert "L0Classifier (Deep M-Sparse (M = 10))" in methods
    assert not any("M = 20" in m for m in methods)  # M > p is left out
    assert all(0 <= r["error"] < 0.9 for r in rows)
    assert (tmp_path / "classification_digits.md").read_text().count("\n|") == len(rows) + 2
    assert (tmp_path / "classification_digits.csv").exists()


def _fixed_encoder(X):
    # a fixed dictionary and no solver: the unsupervised fit is the same whatever samples
    # it sees, so the comparisons below are about the weighted loss alone
    D = np.random.default_rng(0).standard_normal((32, X.shape[1]))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    return L0Encoder(alpha=0.05, dictionary=D, max_epochs=0)


def test_sample_weight_integers_act_as_repeated_samples(digits):
    X, y, X_test, y_test = digits
    w = np.random.default_rng(1).integers(1, 4, len(X))
    kw = dict(max_epochs=15, **WRAP)
    weighted = L0Classifier(_fixed_encoder(X), **kw).fit(X, y, sample_weight=w)
    repeated = L0Classifier(_fixed_encoder(X), **kw).fit(np.repeat(X, w, axis=0),
                                                         np.repeat(y, w))
    plain = L0Classifier(_fixed_encoder(X), **kw).fit(X, y)
    p_w, p_r = weighted.predict_proba(X_test), repeated.predict_proba(X_test)
    assert np.mean(weighted.predict(X_test) == repeated.predict(X_test)) > 0.9
    assert np.abs(p_w - p_r).mean() < 0.05
    # the weights matter: nearer the repeated fit than the unweighted one at the start
    lr_w = L0Classifier(_fixed_encoder(X), max_epochs=0, **WRAP).fit(X, y, sample_weight=w)
    lr_r = L0Classifier(_fixed_encoder(X), max_epochs=0, **WRAP).fit(
        np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(lr_w.predict_proba(X_test), lr_r.predict_proba(X_test),
                               atol=1e-3)
    assert plain.score(X_test, y_test) > 0.75 and weighted.score(X_test, y_test) > 0.75


def test_sample_weight_zero_acts_as_dropping_and_ones_as_none(digits):
    X, y, X_test, _ = digits
    w = np.ones(len(X))
    w[::3] = 0
    kw = dict(max_epochs=3, **WRAP)
    enc = L0Encoder(32, alpha=0.05, **FAST)
    zero = L0Classifier(enc, **kw).fit(X, y, sample_weight=w)
    dropped = L0Classifier(enc, **kw).fit(X[w > 0], y[w > 0])
    np.testing.assert_allclose(zero.predict_proba(X_test), dropped.predict_proba(X_test),
                               atol=1e-6)
    ones = L0Classifier(enc, **kw).fit(X, y, sample_weight=np.ones(len(X)))
    none = L0Classifier(enc, **kw).fit(X, y)
    np.testing.assert_array_equal(ones.predict_proba(X_test), none.predict_proba(X_test))
    with pytest.raises(ValueError, match="at least 2 samples"):
        L0Classifier(enc, **kw).fit(X, y, sample_weight=np.r_[1.0, np.zeros(len(X) - 1)])
    with pytest.raises(ValueError, match="(?i)negative"):
        L0Classifier(enc, **kw).fit(X, y, sample_weight=-w)


def test_sample_weight_with_a_stratified_validation_split_and_in_a_pipeline(digits):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, _, _ = digits
    w = np.where(y % 2 == 0, 2.0, 1.0)
    clf = L0Classifier(L0Encoder(32, alpha=0.05, **FAST), max_epochs=2, train_split=0.2,
                       **WRAP).fit(X, y, sample_weight=w)
    assert np.isfinite(clf.history_[:, "valid_loss"]).all()
    pipe = make_pipeline(StandardScaler(), L0Classifier(L0Encoder(32, alpha=0.05, **FAST),
                                                        max_epochs=1, **WRAP))
    pipe.fit(X, y, l0classifier__sample_weight=w)
    assert pipe.score(X, y) > 0.5


def test_frozen_fitted_encoder_is_the_start_and_is_left_as_it_is(digits):
    # FrozenEstimator(fitted): no second unsupervised fit; the classifier trains a copy
    from sklearn.exceptions import NotFittedError
    from sklearn.frozen import FrozenEstimator

    X, y, X_test, y_test = digits
    enc = L0Encoder(32, alpha=0.05, max_epochs=2, dict_max_iter=2, device="cpu",
                    route="pursuit", random_state=0).fit(X)
    before = {k: v.clone() for k, v in enc.net_.module_.state_dict().items()}
    codes = enc.transform(X_test)
    head_only = L0Classifier(FrozenEstimator(enc), max_epochs=0, **WRAP).fit(X, y)
    assert head_only.encoder_ is not enc
    np.testing.assert_array_equal(head_only.encoder_.components_, enc.components_)
    np.testing.assert_array_equal(head_only.encoder_.transform(X_test), codes)
    tuned = L0Classifier(FrozenEstimator(enc), max_epochs=3, **WRAP).fit(X, y)
    assert tuned.score(X_test, y_test) > 0.8
    assert not np.array_equal(tuned.encoder_.thresholds_, enc.thresholds_)  # fine-tuned copy
    for key, value in enc.net_.module_.state_dict().items():
        assert torch.equal(value, before[key]), key  # the caller's encoder untouched
    np.testing.assert_array_equal(enc.transform(X_test), codes)
    # the same as fitting a clone with the wrapper's seed and device
    direct = L0Classifier(clone(enc), max_epochs=3, **WRAP).fit(X, y)
    np.testing.assert_allclose(direct.predict_proba(X_test), tuned.predict_proba(X_test),
                               atol=1e-5)
    assert clone(tuned).encoder.estimator is enc  # cloning keeps the frozen encoder

    with pytest.raises(NotFittedError, match="FrozenEstimator of an unfitted L0Encoder"):
        L0Classifier(FrozenEstimator(L0Encoder(8)), **WRAP).fit(X, y)
    with pytest.raises(ValueError, match="fitted on 64 features"):
        L0Classifier(FrozenEstimator(enc), **WRAP).fit(X[:, :10], y)
