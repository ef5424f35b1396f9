"""Tests of skl0.metrics."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.utils._param_validation import InvalidParameterError

from skl0.metrics import (
    clustering_error,
    clustering_scores,
    code_prediction_error,
    sparse_coding_objective,
    support_error,
)

# --------------------------------------------------------------------------------------------
# code_prediction_error
# --------------------------------------------------------------------------------------------


def test_code_prediction_error_known_value():
    codes_true = np.array([[3.0, 0.0], [0.0, 4.0]])  # ||.||^2 = 25
    codes_pred = np.array([[2.0, 1.0], [0.0, 4.0]])  # diff^2 = 1 + 1 = 2
    assert code_prediction_error(codes_true, codes_pred) == pytest.approx(2 / 25)


def test_code_prediction_error_exact_and_zero_prediction():
    rng = np.random.RandomState(0)
    codes = rng.standard_normal((20, 8))
    assert code_prediction_error(codes, codes) == 0.0
    assert code_prediction_error(codes, np.zeros_like(codes)) == pytest.approx(1.0)


def test_code_prediction_error_scale_behaviour():
    rng = np.random.RandomState(1)
    codes_true = rng.standard_normal((30, 10))
    codes_pred = codes_true + 0.1 * rng.standard_normal((30, 10))
    error = code_prediction_error(codes_true, codes_pred)
    # invariant to a common scaling of both arguments
    assert code_prediction_error(7.0 * codes_true, 7.0 * codes_pred) == pytest.approx(error)
    # quadratic in the size of the residual
    doubled = codes_true + 2.0 * (codes_pred - codes_true)
    assert code_prediction_error(codes_true, doubled) == pytest.approx(4.0 * error)
    # shrinking the prediction by a factor c gives (1 - c)^2
    assert code_prediction_error(codes_true, 0.5 * codes_true) == pytest.approx(0.25)


def test_code_prediction_error_is_total_not_mean_of_rows():
    codes_true = np.array([[10.0, 0.0], [0.0, 1.0]])
    codes_pred = np.array([[10.0, 0.0], [0.0, 0.0]])
    # total: 1 / 101, whereas the mean of per-row errors would be 0.5
    assert code_prediction_error(codes_true, codes_pred) == pytest.approx(1 / 101)


def test_code_prediction_error_inputs():
    codes_true = np.array([[1.0, 0.0, 2.0]])
    codes_pred = np.array([[1.0, 1.0, 2.0]])
    expected = 1 / 5
    assert code_prediction_error(codes_true[0], codes_pred[0]) == pytest.approx(expected)
    assert code_prediction_error(codes_true.tolist(), codes_pred.tolist()) == pytest.approx(
        expected
    )
    assert code_prediction_error(
        sp.csr_matrix(codes_true), sp.csr_matrix(codes_pred)
    ) == pytest.approx(expected)
    assert code_prediction_error(
        codes_true.astype(np.float32), codes_pred.astype(np.float32)
    ) == pytest.approx(expected)
    assert isinstance(code_prediction_error(codes_true, codes_pred), float)


def test_code_prediction_error_all_zero_truth():
    with pytest.raises(ValueError, match="all zero"):
        code_prediction_error(np.zeros((3, 4)), np.ones((3, 4)))


@pytest.mark.parametrize("metric", [code_prediction_error, support_error])
def test_code_metrics_validation(metric):
    codes = np.ones((4, 3))
    with pytest.raises(ValueError, match="same shape"):
        metric(codes, np.ones((4, 2)))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        metric(codes, np.ones((5, 3)))
    bad = codes.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metric(codes, bad)
    with pytest.raises(ValueError, match="NaN"):
        metric(bad, codes)
    with pytest.raises(ValueError, match="dim 3"):
        metric(np.ones((2, 2, 2)), np.ones((2, 2, 2)))


# --------------------------------------------------------------------------------------------
# support_error
# --------------------------------------------------------------------------------------------


def test_support_error_known_supports():
    codes_true = np.array(
        [
            [1.0, 2.0, 0.0, 0.0, 0.0],  # support {0, 1}
            [0.0, 0.0, 3.0, 0.0, 1.0],  # support {2, 4}
            [1.0, 0.0, 0.0, 0.0, 0.0],  # support {0}
        ]
    )
    codes_pred = np.array(
        [
            [5.0, 0.0, 1.0, 0.0, 0.0],  # {0, 2}: symmetric difference {1, 2} -> 2
            [0.0, 0.0, -3.0, 0.0, 7.0],  # {2, 4}: same support, other values -> 0
            [0.0, 1.0, 1.0, 1.0, 0.0],  # {1, 2, 3}: difference {0, 1, 2, 3} -> 4
        ]
    )
    assert support_error(codes_true, codes_pred) == pytest.approx((2 + 0 + 4) / 3)
    assert support_error(codes_true, codes_true) == 0.0
    # the M-sparse case of the paper: exactly one wrong atom per sample counts 2
    assert support_error(codes_true[:2], codes_pred[:2]) == pytest.approx(1.0)


def test_support_error_tol():
    codes_true = np.array([[1.0, 0.0, 0.0]])
    codes_pred = np.array([[1.0, 1e-9, -1e-9]])
    assert support_error(codes_true, codes_pred) == 2.0
    assert support_error(codes_true, codes_pred, tol=1e-6) == 0.0
    for tol in (-1.0, np.nan, "0", None):
        with pytest.raises(ValueError, match="'tol' parameter of support_error"):
            support_error(codes_true, codes_pred, tol=tol)


def test_support_error_sparse_and_1d():
    codes_true = np.array([[0.0, 1.0, 0.0, 2.0]])
    codes_pred = np.array([[1.0, 1.0, 0.0, 0.0]])
    assert support_error(sp.csr_matrix(codes_true), sp.csc_matrix(codes_pred)) == 2.0
    assert support_error(codes_true[0], codes_pred[0]) == 2.0


# --------------------------------------------------------------------------------------------
# clustering_error
# --------------------------------------------------------------------------------------------


def test_clustering_error_permuted_labels_is_zero():
    rng = np.random.RandomState(0)
    labels_true = rng.randint(0, 5, size=200)
    permutation = rng.permutation(5)
    assert clustering_error(labels_true, permutation[labels_true]) == 0.0
    assert clustering_error(labels_true, labels_true + 100) == 0.0


def test_clustering_error_hand_computed():
    labels_true = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    labels_pred = [1, 1, 1, 2, 0, 0, 0, 2, 2, 1]
    # best matching: cluster 1 -> class 0 (3), cluster 0 -> class 1 (3), cluster 2 -> class 2 (1)
    assert clustering_error(labels_true, labels_pred) == pytest.approx(1 - 7 / 10)


def test_clustering_error_hungarian_beats_greedy():
    # Greedy majority voting would map both clusters to class 0; one-to-one matching must not.
    labels_true = [0, 0, 0, 1, 0, 0, 1, 1]
    labels_pred = [0, 0, 0, 0, 1, 1, 1, 1]
    # contingency [[3, 2], [1, 2]]: best one-to-one is 3 + 2 = 5 correct
    assert clustering_error(labels_true, labels_pred) == pytest.approx(3 / 8)


def test_clustering_error_different_numbers_of_clusters():
    labels_true = [0, 0, 1, 1, 2, 2]
    # two clusters for three classes: at most 4 samples can be right
    assert clustering_error(labels_true, [0, 0, 1, 1, 1, 1]) == pytest.approx(2 / 6)
    # six singleton clusters for three classes: three matched, three wrong
    assert clustering_error(labels_true, [0, 1, 2, 3, 4, 5]) == pytest.approx(3 / 6)
    # one cluster
    assert clustering_error(labels_true, [7] * 6) == pytest.approx(4 / 6)


def test_clustering_error_label_types():
    labels_true = np.array(["cat", "cat", "dog", "dog", "eel"], dtype=object)
    labels_pred = np.array([2.5, 2.5, -1.0, -1.0, 2.5])
    assert clustering_error(labels_true, labels_pred) == pytest.approx(1 / 5)
    assert clustering_error(np.array(["a", "b"]), np.array([True, False])) == 0.0
    assert clustering_error(np.array([[0], [1]]), [1, 0]) == 0.0  # column vector is fine
    assert isinstance(clustering_error([0, 1], [0, 1]), float)


def test_clustering_error_validation():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clustering_error([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="labels_pred contains NaN"):
        clustering_error([0, 1, 2], [0.0, np.nan, 1.0])
    with pytest.raises(ValueError, match="labels_true contains NaN"):
        clustering_error(np.array(["a", np.nan, "b"], dtype=object), [0, 1, 2])
    with pytest.raises(ValueError, match="empty"):
        clustering_error([], [])
    with pytest.raises(ValueError):
        clustering_error(np.zeros((3, 2)), [0, 1, 2])


# clustering_scores


def test_clustering_scores_match_sklearn_and_clustering_error():
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    rng = np.random.default_rng(0)
    labels_true = rng.integers(0, 4, 200)
    labels_pred = np.where(rng.random(200) < 0.7, labels_true, rng.integers(0, 5, 200))
    scores = clustering_scores(labels_true, labels_pred)
    assert scores == {
        "accuracy": pytest.approx(1 - clustering_error(labels_true, labels_pred)),
        "nmi": pytest.approx(normalized_mutual_info_score(labels_true, labels_pred)),
        "ari": pytest.approx(adjusted_rand_score(labels_true, labels_pred)),
    }
    assert clustering_scores(["a", "a", "b"], [7, 7, 3]) == {"accuracy": 1.0, "nmi": 1.0,
                                                             "ari": 1.0}
    with pytest.raises(ValueError):
        clustering_scores([0, 1], [0, 1, 1])


_CODES = np.eye(3)
_LABELS = [0, 1, 1]


@pytest.mark.parametrize(
    "func, kwargs, param",
    [
        (code_prediction_error, {"codes_true": 1.0, "codes_pred": _CODES}, "codes_true"),
        (code_prediction_error, {"codes_true": _CODES, "codes_pred": "codes"}, "codes_pred"),
        (support_error, {"codes_true": None, "codes_pred": _CODES}, "codes_true"),
        (support_error, {"codes_true": _CODES, "codes_pred": 0}, "codes_pred"),
        (support_error, {"codes_true": _CODES, "codes_pred": _CODES, "tol": -1e-3}, "tol"),
        (support_error, {"codes_true": _CODES, "codes_pred": _CODES, "tol": "0"}, "tol"),
        (clustering_error, {"labels_true": 3, "labels_pred": _LABELS}, "labels_true"),
        (clustering_error, {"labels_true": _LABELS, "labels_pred": None}, "labels_pred"),
        (clustering_scores, {"labels_true": "abc", "labels_pred": _LABELS}, "labels_true"),
        (clustering_scores, {"labels_true": _LABELS, "labels_pred": 1.5}, "labels_pred"),
    ],
)
def test_metrics_name_the_invalid_parameter(func, kwargs, param):
    # scikit-learn's InvalidParameterError, which is both a ValueError and a TypeError
    with pytest.raises(InvalidParameterError, match=f"'{param}' parameter of {func.__name__}"):
        func(**kwargs)
    with pytest.raises(TypeError, match=f"'{param}' parameter"):
        func(**kwargs)


# --------------------------------------------------------------------------------------------
# sparse_coding_objective
# --------------------------------------------------------------------------------------------


def test_sparse_coding_objective_equals_the_plain_formulas():
    # the reference written out in numpy, row by row
    rng = np.random.RandomState(0)
    X, D = rng.randn(30, 8), rng.randn(12, 8)
    codes = rng.randn(30, 12) * (rng.rand(30, 12) < 0.3)
    residual = [float(np.sum((x - a @ D) ** 2)) for x, a in zip(X, codes, strict=True)]
    nnz = [int(np.count_nonzero(a)) for a in codes]
    assert sparse_coding_objective(X, codes, D) == pytest.approx(np.mean(residual), rel=1e-12)
    l0 = [0.5 * r + 0.25 * k for r, k in zip(residual, nnz, strict=True)]
    assert sparse_coding_objective(X, codes, D, alpha=0.25) == pytest.approx(np.mean(l0),
                                                                              rel=1e-12)
    # sparse and float32 inputs give the same value
    assert sparse_coding_objective(sp.csr_matrix(X), sp.csr_matrix(codes), D.astype(np.float32),
                                   alpha=0.25) == pytest.approx(np.mean(l0), rel=1e-6)


def test_sparse_coding_objective_of_the_solvers_codes():
    # the optimal codes reach no higher an objective than ten IHT iterations, on both problems
    from skl0 import iht, sparse_encode

    rng = np.random.RandomState(1)
    D = rng.randn(16, 8)
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = rng.randn(20, 8)
    for kw in ({"alpha": 0.05}, {"n_nonzero_coefs": 3}):
        best = sparse_encode(X, D, device="cpu", **kw)
        ten = iht(X, D, n_iter=10, device="cpu", **kw)
        alpha = kw.get("alpha")
        assert (sparse_coding_objective(X, best, D, alpha=alpha)
                <= sparse_coding_objective(X, ten, D, alpha=alpha) + 1e-9)
    assert sparse_coding_objective(X, np.zeros((20, 16)), D) == pytest.approx(
        float(np.mean(np.sum(X**2, axis=1))))


def test_sparse_coding_objective_validation():
    X, D = np.ones((3, 2)), np.eye(2)
    with pytest.raises(ValueError, match="must have X's shape"):
        sparse_coding_objective(X, np.ones((3, 3)), D)
    with pytest.raises(ValueError, match="must have X's shape"):
        sparse_coding_objective(np.ones((3, 4)), np.ones((3, 2)), D)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        sparse_coding_objective(X, np.ones((2, 2)), D)
    with pytest.raises(ValueError, match="NaN"):
        sparse_coding_objective(X, np.full((3, 2), np.nan), D)
    with pytest.raises(InvalidParameterError, match="'alpha' parameter of sparse_coding_objective"):
        sparse_coding_objective(X, np.ones((3, 2)), D, alpha=-1.0)
    with pytest.raises(InvalidParameterError, match="'dictionary' parameter"):
        sparse_coding_objective(X, np.ones((3, 2)), None)
