"""scikit-learn's estimator checks over every public estimator of skl0."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import skl0
from skl0 import L0Encoder, LISTAEncoder, MSparseEncoder

# Small, fast settings: the checks fit hundreds of times on tiny data.
_FAST = {"max_epochs": 3, "dict_max_iter": 2, "solver_max_iter": 50, "random_state": 0,
         "device": "cpu"}


def _estimators():
    # every route by name: route="auto" chooses by timing, and checks that compare two fits
    # (idempotence, the same seed twice) would then depend on the machine's load
    ests = [
        L0Encoder(n_components=6, alpha=0.05, route="ols", **_FAST),
        L0Encoder(n_components=6, alpha=0.05, l1_stages=1, route="network", **_FAST),
        MSparseEncoder(n_components=6, route="pursuit", **_FAST),
        LISTAEncoder(n_components=6, alpha=0.05, **_FAST),
    ]
    wrapper = {"max_epochs": 3, "random_state": 0, "device": "cpu"}
    for name, kwargs in (("L0Classifier", {}), ("L0Clusterer", {"n_clusters": 3})):
        cls = getattr(skl0, name, None)
        if cls is not None:
            ests.append(cls(encoder=L0Encoder(n_components=6, alpha=0.05, **_FAST), **kwargs,
                            **wrapper))
    return ests


# Checks that cannot hold for a model trained by stochastic mini-batches, each marked as a
# strict expected failure (it must fail: a pass means the entry is stale) and each with the
# looser test of the same property that replaces it.
_EXPECTED_FAILED = {
    "L0Classifier": {
        "check_sample_weight_equivalence_on_dense_data": (
            "an integer weight acts as repeated samples only up to the mini-batches that "
            "training draws (the repeated data have more of them); "
            "test_classification.py::test_sample_weight_integers_act_as_repeated_samples "
            "checks it approximately"),
    },
}

# Checks that compare outputs at float64's tolerance (rtol 1e-7) after the rows are
# reordered or taken one at a time. skl0 computes in float32, and whether a row's float32
# products round the same at another position or in a batch of another size depends on
# the kernels the CPU runs (its BLAS, torch's dispatch, the thread count): these checks pass
# on one machine and fail on another. They are expected failures that may pass (not
# strict), for every estimator, and test_outputs_do_not_depend_on_sample_order_or_batch
# checks the same properties at float32's tolerance.
_FLOAT32_TOLERANCE = {
    name: ("float32 outputs are invariant to row order and batching only to float32's "
           "precision, which a float64-tolerance check passes or not depending on the CPU's "
           "kernels; test_outputs_do_not_depend_on_sample_order_or_batch checks it")
    for name in ("check_methods_sample_order_invariance", "check_methods_subset_invariance")
}


def _expected_failed(estimator):
    return _EXPECTED_FAILED.get(type(estimator).__name__, {})


def _check_name(check):
    func = getattr(check, "func", check)  # checks come as functools.partial
    return getattr(func, "__name__", str(func))


# scikit-learn's checks set n_clusters=1 in some fits, where L0Clusterer warns by design
@pytest.mark.filterwarnings("ignore:n_clusters=1:UserWarning")
@parametrize_with_checks(_estimators())
def test_sklearn_compatible_estimator(estimator, check, request):
    name = _check_name(check)
    reason = _expected_failed(estimator).get(name)
    if reason is not None:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
    elif name in _FLOAT32_TOLERANCE:
        request.applymarker(pytest.mark.xfail(reason=_FLOAT32_TOLERANCE[name], strict=False))
    check(estimator)


_METHODS = ("predict", "transform", "decision_function", "score_samples", "predict_proba")


def _fitted(est, X, y):
    return est.fit(X, y) if type(est).__name__ == "L0Classifier" else est.fit(X)


@pytest.mark.parametrize("est", _estimators(), ids=lambda e: type(e).__name__)
def test_outputs_do_not_depend_on_sample_order_or_batch(est):
    # scikit-learn's sample-order and subset invariance checks at float32's precision:
    # every output method on reordered rows, and on one row at a time (the subset check's
    # batches) and on larger batches, gives the rows of the full call
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=60, centers=3, n_features=5, random_state=0)
    perm = np.random.default_rng(0).permutation(len(X))
    est = _fitted(est, X, y)
    labels = None
    if hasattr(est, "predict_proba"):
        # labels may differ only where two probabilities tie to float32 precision
        top2 = np.sort(est.predict_proba(X), axis=1)[:, -2:]
        labels = top2[:, 1] - top2[:, 0] > 1e-5
    for method in [m for m in _METHODS if hasattr(est, m)]:
        func = getattr(est, method)
        full = func(X)
        parts = {
            "reordered": (func(X[perm]), perm),
            "one row at a time": (np.concatenate([func(X[i:i + 1]) for i in range(len(X))]),
                                  np.arange(len(X))),
            "batches of 7": (np.concatenate([func(X[i:i + 7]) for i in range(0, len(X), 7)]),
                             np.arange(len(X))),
        }
        for how, (got, rows) in parts.items():
            want = full[rows]
            if method == "predict":
                keep = labels[rows] if labels is not None else slice(None)
                np.testing.assert_array_equal(got[keep], want[keep], err_msg=f"{method}, {how}")
            else:
                scale = float(np.max(np.abs(full))) or 1.0
                np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * scale,
                                           err_msg=f"{method}, {how}")
