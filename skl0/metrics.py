"""Evaluation metrics of the paper: code prediction, support recovery, clustering, and the
sparse-coding objective.

The error metrics return fractions (scikit-learn's habit); the paper's tables print them in
percent (``100 * value``), except the support error, which is a count of positions per sample.

- :func:`code_prediction_error` -- the "total prediction error" of Tables 1 and 2, the normalised
  squared error between the optimal codes and the predicted codes.
- :func:`support_error` -- the "averaged non-zero support error" of Table 3, the number of
  mismatched nonzero locations per sample.
- :func:`clustering_error` -- the clustering error rate of Tables 6 and 7, one minus the accuracy
  after the best one-to-one matching of clusters to classes (Hungarian algorithm).
- :func:`sparse_coding_objective` -- the mean objective that codes reach on their problem,
  ``||x - a D||^2`` (M-sparse) or ``0.5 ||x - a D||^2 + alpha ||a||_0`` (l0-regularised).
"""

from numbers import Real

import numpy as np
import scipy.sparse as sp
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.metrics.cluster import contingency_matrix
from sklearn.utils import check_array, check_consistent_length, column_or_1d
from sklearn.utils._param_validation import Interval, validate_params

from ._problems import sparse_coding_problem

__all__ = [
    "code_prediction_error",
    "support_error",
    "clustering_error",
    "clustering_scores",
    "sparse_coding_objective",
]


def _check_codes(codes_true, codes_pred):
    """Validate a pair of code matrices and return them as dense float arrays.

    A 1-D array is taken as the codes of one sample. Sparse matrices are densified.
    """
    arrays = []
    for name, codes in (("codes_true", codes_true), ("codes_pred", codes_pred)):
        codes = check_array(
            codes,
            accept_sparse=("csr", "csc", "coo"),
            dtype=(np.float64, np.float32),
            ensure_2d=False,
            input_name=name,
        )
        if sp.issparse(codes):
            codes = codes.toarray()
        if codes.ndim == 1:
            codes = codes.reshape(1, -1)
        arrays.append(codes)
    codes_true, codes_pred = arrays
    check_consistent_length(codes_true, codes_pred)
    if codes_true.shape != codes_pred.shape:
        raise ValueError(
            "codes_true and codes_pred must have the same shape; got "
            f"{codes_true.shape} and {codes_pred.shape}."
        )
    return codes_true, codes_pred


@validate_params(
    {
        "codes_true": ["array-like", "sparse matrix"],
        "codes_pred": ["array-like", "sparse matrix"],
    },
    prefer_skip_nested_validation=True,
)
def code_prediction_error(codes_true, codes_pred):
    """Normalised squared error between true and predicted sparse codes.

    This is the paper's "total prediction error" (Tables 1 and 2): the squared Frobenius norm
    of the difference over the whole set, divided by the squared Frobenius norm of the truth,

    .. math:: \\|A_{pred} - A_{true}\\|_F^2 \\, / \\, \\|A_{true}\\|_F^2 .

    It is a fraction (0 is perfect, 1 is what the all-zero prediction scores); multiply by 100
    for the percentages of the paper.

    Parameters
    ----------
    codes_true : array-like or sparse matrix of shape (n_samples, n_components)
        Reference ("optimal") codes, e.g. from :func:`skl0.sparse_encode`. A 1-D array is the
        codes of one sample.
    codes_pred : array-like or sparse matrix of shape (n_samples, n_components)
        Predicted codes, e.g. from an encoder's ``transform``.

    Returns
    -------
    error : float
        ``||codes_pred - codes_true||_F^2 / ||codes_true||_F^2``.

    Raises
    ------
    ValueError
        If the shapes differ, an array holds NaN or infinity, or ``codes_true`` is all zero
        (the normalisation is then undefined).

    See Also
    --------
    support_error : Mismatch of the nonzero supports.
    clustering_error : Error rate of a clustering after matching clusters to classes.
    sklearn.metrics.mean_squared_error : The unnormalised squared error.

    Examples
    --------
    >>> import numpy as np
    >>> from skl0.metrics import code_prediction_error
    >>> codes_true = np.array([[1.0, 0.0, 2.0], [0.0, 2.0, 0.0]])
    >>> codes_pred = np.array([[1.0, 0.0, 1.0], [0.0, 2.0, 1.0]])
    >>> round(code_prediction_error(codes_true, codes_pred), 4)  # 2 / 9
    0.2222
    >>> float(code_prediction_error(codes_true, codes_true))
    0.0
    """
    codes_true, codes_pred = _check_codes(codes_true, codes_pred)
    codes_true = codes_true.astype(np.float64, copy=False)
    codes_pred = codes_pred.astype(np.float64, copy=False)
    denominator = float(np.sum(codes_true**2))
    if denominator == 0.0:
        raise ValueError(
            "codes_true is all zero: the normalised prediction error "
            "||codes_pred - codes_true||^2 / ||codes_true||^2 is undefined."
        )
    return float(np.sum((codes_pred - codes_true) ** 2)) / denominator


@validate_params(
    {
        "codes_true": ["array-like", "sparse matrix"],
        "codes_pred": ["array-like", "sparse matrix"],
        "tol": [Interval(Real, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def support_error(codes_true, codes_pred, *, tol=0.0):
    """Mean number of mismatched nonzero locations per sample.

    This is the paper's "averaged non-zero support error" (Table 3): for each sample, the size of
    the symmetric difference between the supports (sets of nonzero positions) of the true and
    the predicted codes, averaged over samples. A position is nonzero when its absolute value
    exceeds ``tol``. Unlike the other metrics this is a count, not a fraction: a sample whose
    predicted support misses one true atom and adds one wrong atom contributes 2.

    Parameters
    ----------
    codes_true : array-like or sparse matrix of shape (n_samples, n_components)
        Reference ("optimal") codes. A 1-D array is the codes of one sample.
    codes_pred : array-like or sparse matrix of shape (n_samples, n_components)
        Predicted codes.
    tol : float, default=0.0
        A coefficient counts as nonzero when ``abs(coefficient) > tol``; must be >= 0.

    Returns
    -------
    error : float
        Mean over samples of ``|supp(true) ^ supp(pred)|``, between 0 and ``n_components``.

    Raises
    ------
    ValueError
        If the shapes differ or an array holds NaN or infinity. A ``tol`` that is not a
        real number >= 0 raises scikit-learn's ``InvalidParameterError`` naming it.

    See Also
    --------
    code_prediction_error : Normalised squared error of the codes.
    clustering_error : Error rate of a clustering after matching clusters to classes.

    Examples
    --------
    >>> import numpy as np
    >>> from skl0.metrics import support_error
    >>> codes_true = np.array([[1.0, 0.0, 2.0, 0.0], [0.0, 3.0, 0.0, 0.0]])
    >>> codes_pred = np.array([[0.5, 0.0, 0.0, 1.0], [0.0, 3.0, 0.0, 0.0]])
    >>> float(support_error(codes_true, codes_pred))  # (2 + 0) / 2
    1.0
    >>> float(support_error(codes_true, codes_pred, tol=0.75))  # 0.5 is now a zero: (3 + 0) / 2
    1.5
    """
    codes_true, codes_pred = _check_codes(codes_true, codes_pred)
    mismatch = (np.abs(codes_true) > tol) != (np.abs(codes_pred) > tol)
    return float(np.mean(np.sum(mismatch, axis=1)))


def _check_labels(labels, name):
    """Return ``labels`` as a 1-D array, refusing NaN and empty input."""
    labels = column_or_1d(labels, warn=False)
    if labels.shape[0] == 0:
        raise ValueError(f"{name} is empty.")
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)):
            raise ValueError(f"{name} contains NaN or infinity.")
    elif labels.dtype.kind == "O":
        if any(label is None or (isinstance(label, float) and label != label) for label in labels):
            raise ValueError(f"{name} contains NaN or None.")
    return labels


@validate_params(
    {
        "labels_true": ["array-like"],
        "labels_pred": ["array-like"],
    },
    prefer_skip_nested_validation=True,
)
def clustering_error(labels_true, labels_pred):
    """Clustering error rate after the best one-to-one matching of clusters to classes.

    Each predicted cluster is matched to at most one class and each class to at most one
    cluster so that the number of correctly labelled samples is maximal (Hungarian algorithm,
    :func:`scipy.optimize.linear_sum_assignment` on the contingency matrix); the error is one
    minus the resulting accuracy. This is the error rate of the paper's Tables 6 and 7.

    The numbers of clusters and classes may differ: samples of unmatched clusters (or of
    unmatched classes) count as errors. Labels of any type are accepted (integers, strings, ...)
    and cluster names need not share values with class names.

    Parameters
    ----------
    labels_true : array-like of shape (n_samples,)
        Ground-truth class labels.
    labels_pred : array-like of shape (n_samples,)
        Cluster labels to evaluate.

    Returns
    -------
    error : float
        Fraction of misassigned samples, in ``[0, 1]``; 0 when the clustering equals the classes
        up to a renaming of the clusters.

    Raises
    ------
    ValueError
        If the inputs are not 1-D, have different lengths, are empty or contain NaN.

    See Also
    --------
    clustering_scores : This accuracy with NMI and ARI, in one dict.
    code_prediction_error : Normalised squared error of sparse codes.
    support_error : Mismatch of the nonzero supports of sparse codes.
    sklearn.metrics.accuracy_score : Accuracy without the matching of clusters to classes.

    Examples
    --------
    >>> from skl0.metrics import clustering_error
    >>> clustering_error([0, 0, 1, 1, 2, 2], [5, 5, 3, 3, 9, 9])  # a renaming: no error
    0.0
    >>> round(clustering_error(["a", "a", "a", "b", "b", "b"], [1, 1, 0, 0, 0, 0]), 4)
    0.1667
    """
    labels_true = _check_labels(labels_true, "labels_true")
    labels_pred = _check_labels(labels_pred, "labels_pred")
    check_consistent_length(labels_true, labels_pred)
    contingency = contingency_matrix(labels_true, labels_pred)
    rows, cols = linear_sum_assignment(contingency, maximize=True)
    n_correct = int(contingency[rows, cols].sum())
    return 1.0 - n_correct / labels_true.shape[0]


@validate_params(
    {
        "labels_true": ["array-like"],
        "labels_pred": ["array-like"],
    },
    prefer_skip_nested_validation=True,
)
def clustering_scores(labels_true, labels_pred):
    """Hungarian-matched accuracy, NMI and ARI of a clustering, in one dict.

    ``accuracy`` is ``1 - clustering_error`` (:func:`clustering_error`), ``nmi``
    :func:`sklearn.metrics.normalized_mutual_info_score` (arithmetic mean normalisation) and
    ``ari`` :func:`sklearn.metrics.adjusted_rand_score`. The three together are the usual
    report of a clustering method: accuracy needs a one-to-one match of clusters to classes,
    NMI and ARI do not.

    Parameters
    ----------
    labels_true : array-like of shape (n_samples,)
        Ground-truth class labels.
    labels_pred : array-like of shape (n_samples,)
        Cluster labels to evaluate.

    Returns
    -------
    scores : dict
        ``{"accuracy": float, "nmi": float, "ari": float}``; 1.0 each for a renaming of the
        classes.

    Raises
    ------
    ValueError
        If the inputs are not 1-D, have different lengths, are empty or contain NaN.

    See Also
    --------
    clustering_error : One minus the accuracy reported here.
    sklearn.metrics.normalized_mutual_info_score : The NMI reported here.
    sklearn.metrics.adjusted_rand_score : The ARI reported here.

    Examples
    --------
    >>> from skl0.metrics import clustering_scores
    >>> clustering_scores([0, 0, 1, 1], [1, 1, 0, 0])
    {'accuracy': 1.0, 'nmi': 1.0, 'ari': 1.0}
    >>> {k: round(v, 3) for k, v in clustering_scores([0, 0, 1, 1], [0, 0, 0, 1]).items()}
    {'accuracy': 0.75, 'nmi': 0.344, 'ari': 0.0}
    """
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    accuracy = 1.0 - clustering_error(labels_true, labels_pred)
    labels_true = _check_labels(labels_true, "labels_true")
    labels_pred = _check_labels(labels_pred, "labels_pred")
    return {"accuracy": float(accuracy),
            "nmi": float(normalized_mutual_info_score(labels_true, labels_pred)),
            "ari": float(adjusted_rand_score(labels_true, labels_pred))}


def _dense(array, name):
    """A 2-D float64 array of ``array`` (sparse input densified), finite."""
    array = check_array(array, accept_sparse=("csr", "csc", "coo"), dtype=np.float64,
                        input_name=name)
    return array.toarray() if sp.issparse(array) else array


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "codes": ["array-like", "sparse matrix"],
        "dictionary": ["array-like"],
        "alpha": [Interval(Real, 0, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def sparse_coding_objective(X, codes, dictionary, *, alpha=None):
    """Mean objective of sparse codes on their problem, in float64.

    With ``alpha=None`` the M-sparse problem's ``||x - a D||^2`` (the paper's eq. 2; the
    number of nonzeros is not checked), else the l0-regularised problem's
    ``0.5 ||x - a D||^2 + alpha ||a||_0`` (eq. 1, the paper's "lambda = 0.5" being
    ``alpha=0.25``), averaged over the samples. Lower is better: it compares codes of the same
    signals over the same dictionary, whatever computed them.

    Parameters
    ----------
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Signals.
    codes : array-like or sparse matrix of shape (n_samples, n_components)
        Their codes, e.g. from an encoder's ``transform`` or :func:`skl0.sparse_encode`.
    dictionary : array-like of shape (n_components, n_features)
        Atoms as rows (scikit-learn's layout), so that ``X ~ codes @ dictionary``.
    alpha : float, default=None
        The l0 weight (>= 0) of the l0-regularised problem; None for the M-sparse problem.

    Returns
    -------
    objective : float
        The mean over samples.

    Raises
    ------
    ValueError
        If the shapes do not fit together or an array holds NaN or infinity. A parameter of
        the wrong type or range raises scikit-learn's ``InvalidParameterError`` naming it.

    See Also
    --------
    code_prediction_error : Normalised squared error between codes and reference codes.
    support_error : Mismatch of the nonzero supports of sparse codes.
    skl0.sparse_encode : Codes that minimise this objective (the optimal codes).

    Examples
    --------
    >>> import numpy as np
    >>> from skl0.metrics import sparse_coding_objective
    >>> X, dictionary = np.array([[1.0, 1.0], [2.0, 0.0]]), np.eye(2)
    >>> codes = np.array([[1.0, 0.0], [2.0, 0.0]])
    >>> float(sparse_coding_objective(X, codes, dictionary))  # (1 + 0) / 2
    0.5
    >>> float(sparse_coding_objective(X, codes, dictionary, alpha=0.25))  # (0.75 + 0.25) / 2
    0.5
    """
    X = _dense(X, "X")
    codes = _dense(codes, "codes")
    D = _dense(dictionary, "dictionary")
    check_consistent_length(X, codes)
    if codes.shape[1] != D.shape[0] or X.shape[1] != D.shape[1]:
        raise ValueError(
            f"codes {codes.shape} @ dictionary {D.shape} must have X's shape {X.shape}: the "
            "dictionary is (n_components, n_features)."
        )
    # the M-sparse objective does not read M: every atom allowed
    problem = sparse_coding_problem(
        alpha, None if alpha is not None else max(codes.shape[1], 1))
    values = problem.objective(torch.from_numpy(X), torch.from_numpy(codes), torch.from_numpy(D))
    return float(values.mean())
