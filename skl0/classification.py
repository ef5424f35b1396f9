"""Task-driven classification: a deep ℓ0 encoder fine-tuned end to end with a softmax loss."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy.special import softmax
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
from skorch.utils import to_numpy

from ._constraints import _COMMON_CONSTRAINTS, _FLOAT_DTYPES
from ._inference import batched_forward
from ._skorch import resolve_optimizer
from ._task import _WRAPPER_CONSTRAINTS, _TaskDrivenBase
from ._utils import as_float32, fit_guard, resolve_device


class WeightedCrossEntropy(torch.nn.Module):
    """The cross-entropy of a batch weighted per sample: ``Σ w_i ce_i / Σ w_i``.

    ``target`` has two columns, each sample's class index and its weight; ``ce_i`` is
    ``−log softmax(logits_i)_{y_i}``. A batch whose weights are all zero has loss 0.
    """

    def forward(self, logits, target):
        labels = target[:, 0].long()
        weights = target[:, 1].to(logits.dtype)
        ce = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
        total = weights.sum().clamp_min(torch.finfo(logits.dtype).tiny)
        return (weights * ce).sum() / total


class _SplitOnLabels:
    """A ``train_split`` given the labels (``y``'s first column) where the target has two
    columns, labels and weights (a stratified split needs the labels alone)."""

    def __init__(self, split):
        self.split = split

    def __call__(self, dataset, y=None, groups=None):
        labels = None if y is None else to_numpy(y)[:, 0].astype(np.int64)
        return self.split(dataset, labels, groups)


class L0Classifier(ClassifierMixin, _TaskDrivenBase):
    """Task-driven classifier: a deep ℓ0 encoder → linear → softmax, trained end to end.

    The "Task-Driven Optimization" of Wang, Ling and Huang (2016) for classification.
    ``fit`` first fits a clone of ``encoder`` on ``X`` without the labels (its own
    ``fit``: dictionary, optimal codes, regression to them), which initialises the
    trunk; it then initialises the linear layer ``(ω, b)`` by a multinomial
    :class:`~sklearn.linear_model.LogisticRegression` on the frozen codes and trains
    the whole net — the encoder's ``W``, ``S``, ``θ`` and ``(ω, b)`` — with the
    cross-entropy (softmax) loss

    ``loss = −(1/n) Σ_i log softmax(ωᵀ a(x_i) + b)_{y_i}``,  ``a(x)`` the encoder's code,

    averaged over mini-batches of ``batch_size`` (with ``sample_weight``, the weighted mean
    ``Σ w_i ce_i / Σ w_i`` of each batch). Training of an ℓ0 trunk uses HELU_σ;
    ``predict`` uses the exact HELU (or max-M pooling for :class:`~skl0.MSparseEncoder`).
    With ``max_epochs=0`` the classifier is the logistic regression on frozen codes: those
    of the encoder's network (its ``transform`` with ``route="network"``; the other routes
    are not part of the classifier's net). The encoder's network is trained whatever route
    the encoder would choose on its own.

    Parameters
    ----------
    encoder : estimator or None, default=None
        An unfitted skl0 encoder (:class:`~skl0.L0Encoder`, :class:`~skl0.MSparseEncoder`
        or :class:`~skl0.LISTAEncoder`, the last being the paper's "tuned LISTA");
        ``None`` means ``L0Encoder()``. It is cloned; its own training parameters govern
        its unsupervised fit, and ``device`` and ``random_state`` are overridden by the
        classifier's. Tune it with nested names, e.g. ``encoder__n_nonzero_coefs``.
        A fitted encoder wrapped in :class:`~sklearn.frozen.FrozenEstimator` is not
        fitted again: a copy of it, on the classifier's device, starts the end-to-end
        training, and the given encoder is left as it is.
    max_epochs : int, default=50
        Epochs of end-to-end training (``0``: no fine-tuning).
    batch_size : int, default=128
        Mini-batch size (the paper's).
    lr : float, default=1e-3
        Learning rate.
    optimizer : {"adam", "sgd", "adamw", "rmsprop"} or torch.optim.Optimizer class, \
default="adam"
        The optimiser of the end-to-end phase.
    lr_decay : float in (0, 1], default=0.98
        Per-epoch multiplicative decay of the learning rate.
    sigma : float in [0, 1], default=0.2
        σ of HELU_σ at the start of fine-tuning (ℓ0 trunks only).
    sigma_decay : float ≥ 1, default=1.0
        σ is divided by this after each epoch (the paper: 10; 1 holds σ).
    train_split : float in (0, 1), callable or None, default=None
        Validation split of the training data, as skorch's ``train_split``: a fraction
        gives a stratified ``skorch.dataset.ValidSplit`` seeded by ``random_state``; a
        callable (e.g. a ``ValidSplit``) is used as is; ``None`` trains on everything.
        The history then records ``valid_loss``.
    patience : int or None, default=None
        Early stopping (skorch's ``EarlyStopping``, restoring the best weights): stop
        when the monitored loss — ``valid_loss`` with a ``train_split``, else
        ``train_loss`` — has not improved for ``patience`` epochs. ``None``: off.
    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; the
        encoder is fitted on the same device.
    random_state : int, RandomState instance or None, default=None
        Seeds the encoder's fit, the head's initialisation, the validation split and the
        shuffling of batches.
    verbose : int, default=0
        ``1`` prints skorch's epoch table.

    Attributes
    ----------
    encoder_ : estimator
        The fitted encoder after fine-tuning: its ``transform`` gives the fine-tuned codes
        (its ``net_.module_`` is the trunk of ``net_.module_``).
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    net_ : skorch.NeuralNet
        The end-to-end net; ``net_.module_`` is an :class:`~skl0._layers.EncoderHead`.
    history_ : skorch.History
        The history of the end-to-end training (empty when ``max_epochs=0``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    Notes
    -----
    The defaults (Adam at ``lr=1e-3`` decaying by 0.98 per epoch, 50 epochs, σ held) were
    chosen on digits and MNIST-5k (the History page of the documentation). An untrained
    trunk (``max_epochs=0`` on the encoder) trains better with a smaller ``lr`` such as 3e-4.
    The paper's σ schedule (``sigma_decay=10``) trained no better than σ held.

    See Also
    --------
    L0Clusterer : The task-driven clusterer.
    L0Encoder : The default encoder.
    sklearn.linear_model.LogisticRegression : The same head on frozen codes (in a
        ``Pipeline`` after an encoder).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from skl0 import L0Classifier, MSparseEncoder
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16.0
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> # max_epochs=0: the encoder is K IHT steps on a learned dictionary (eq. 8), no
    >>> # optimal codes are computed; the classifier then trains it end to end
    >>> enc = MSparseEncoder(32, n_nonzero_coefs=8, max_epochs=0, dict_max_iter=2)
    >>> clf = L0Classifier(enc, max_epochs=10, random_state=0).fit(X_train, y_train)
    >>> clf.predict_proba(X_test).shape
    (450, 10)
    >>> clf.score(X_test, y_test) > 0.8
    True
    """

    _parameter_constraints: dict = {
        **_WRAPPER_CONSTRAINTS,
        **{key: _COMMON_CONSTRAINTS[key] for key in ("train_split", "patience")},
    }

    def __init__(self, encoder=None, *, max_epochs=50, batch_size=128, lr=1e-3, optimizer="adam",
                 lr_decay=0.98, sigma=0.2, sigma_decay=1.0, train_split=None, patience=None,
                 device="auto", random_state=None, verbose=0):
        self.encoder = encoder
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.lr_decay = lr_decay
        self.sigma = sigma
        self.sigma_decay = sigma_decay
        self.train_split = train_split
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    @fit_guard
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit the encoder on ``X`` (initialisation), then train end to end on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, dense.
        y : array-like of shape (n_samples,)
            Class labels of any type (at least 2 classes).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples in the loss: the logistic-regression
            initialisation and the end-to-end cross-entropy, whose batch loss becomes
            ``Σ w_i ce_i / Σ w_i``. An integer weight then acts, up to the shuffling of the
            batches, as that many copies of the sample, and a zero weight as dropping it.
            The encoder's unsupervised fit uses the samples of positive weight, unweighted,
            and ``classes_`` are their classes.
            ``None`` (or equal weights): every sample counts alike.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        X, y = validate_data(self, X, y, dtype=_FLOAT_DTYPES, ensure_min_samples=2)
        weights = None
        if sample_weight is not None:
            weights = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                           ensure_non_negative=True)
            if np.all(weights == weights[0]):
                weights = None  # equal weights: the unweighted loss, exactly
            else:
                X, y, weights = X[weights > 0], y[weights > 0], weights[weights > 0]
                if len(X) < 2:
                    raise ValueError("sample_weight must give at least 2 samples a positive "
                                     "weight")
        check_classification_targets(y)
        label_encoder = LabelEncoder().fit(y)
        self.classes_ = label_encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"L0Classifier needs samples of at least 2 classes; got 1 class "
                f"({self.classes_[0]!r})"
            )
        y_index = label_encoder.transform(y).astype(np.int64)
        resolve_device(self.device)
        resolve_optimizer(self.optimizer)

        self._start_encoder(X)
        codes = self._trunk_codes(X)
        head = self._logistic_init(codes, y_index, weights)
        criterion, target, wrap_split = torch.nn.CrossEntropyLoss(), y_index, None
        if weights is not None:
            criterion = WeightedCrossEntropy()
            target = np.column_stack([y_index, weights]).astype(np.float32)
            wrap_split = _SplitOnLabels
        self._train_end_to_end(head, criterion, as_float32(X), target, self.random_state,
                               stratified=True, wrap_split=wrap_split)
        return self

    def _logistic_init(self, codes, y_index, sample_weight=None):
        """``(ω, b)`` of a multinomial logistic regression on the frozen codes."""
        lr = LogisticRegression(max_iter=200)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            lr.fit(codes.astype(np.float64, copy=False), y_index, sample_weight=sample_weight)
        coef, intercept = lr.coef_, lr.intercept_
        if coef.shape[0] == 1:  # binary: softmax([−z/2, z/2]) is sigmoid(z)
            coef = np.vstack([-coef / 2, coef / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        return coef, intercept

    def _logits(self, X):
        check_is_fitted(self, "net_")
        X = validate_data(self, X, reset=False, dtype=_FLOAT_DTYPES,
                          ensure_all_finite=False)  # checked per batch below
        return batched_forward(self.net_.module_, X, self.net_.device, np.float64,
                               check_finite=True)

    def predict_proba(self, X):
        """Class probabilities ``softmax(ωᵀ a(x) + b)`` (exact HELU / max-M codes).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to 1; columns follow ``classes_``.
        """
        return softmax(self._logits(X), axis=1)

    def predict(self, X):
        """Predicted class labels (the most probable class).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        logits = self._logits(X)
        return self.classes_[np.argmax(logits, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
