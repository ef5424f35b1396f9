"""The paper's fully-connected baseline encoder, as a private estimator (benchmarks, tables).

:class:`_BaselineRegressor` trains :class:`~skl0._layers.BaselineEncoder` (3 hidden ReLU
layers of width p with dropout, keep probabilities 0.9, 0.9, 0.5) as a regressor from
samples to given codes (the "Baseline Encoder" rows of Tables 1 and 2). Fitted without
codes it is only initialised (random weights), which makes it usable as the trunk of
:class:`~skl0.L0Classifier`, trained end to end from scratch.
"""

from __future__ import annotations

from numbers import Integral

import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from ._inference import batched_forward
from ._layers import BaselineEncoder
from ._skorch import build_net, fit_net, resolve_optimizer
from ._utils import as_float32, resolve_device, torch_seed
from .encoders import _COMMON_CONSTRAINTS, _FLOAT_DTYPES


class _BaselineRegressor(TransformerMixin, BaseEstimator):
    """Fully-connected baseline encoder trained as a code regressor (private).

    Parameters
    ----------
    n_components : int or None, default=None
        p: the hidden width and the code dimension. ``None``: the number of columns of
        the codes given to ``fit`` (``n_features`` when fitted without codes).
    keep_probs : tuple of 3 floats, default=(0.9, 0.9, 0.5)
        Dropout retain probabilities of the hidden layers (the paper's).
    max_epochs, batch_size, lr, optimizer, lr_decay, device, random_state, verbose
        As for :class:`~skl0.L0Encoder`; the loss is the mean squared error.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        ``net_.module_`` is the :class:`~skl0._layers.BaselineEncoder`.
    history_ : skorch.History
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from skl0._baseline import _BaselineRegressor
    >>> rng = np.random.default_rng(0)
    >>> X, codes = rng.standard_normal((100, 8)), rng.standard_normal((100, 4))
    >>> reg = _BaselineRegressor(max_epochs=2, device="cpu", random_state=0).fit(X, codes)
    >>> reg.transform(X).shape
    (100, 4)
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "keep_probs": [tuple, list],
        **{key: _COMMON_CONSTRAINTS[key] for key in (
            "max_epochs", "batch_size", "lr", "optimizer", "lr_decay", "device",
            "random_state", "verbose")},
    }

    def __init__(self, n_components=None, *, keep_probs=(0.9, 0.9, 0.5), max_epochs=100,
                 batch_size=128, lr=1e-3, optimizer="adam", lr_decay=0.98, device="auto",
                 random_state=None, verbose=0):
        self.n_components = n_components
        self.keep_probs = keep_probs
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.lr_decay = lr_decay
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the baseline to map ``X`` to the codes ``y`` (``None``: initialise only).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples, n_components) or None
            Target codes, e.g. :func:`skl0.sparse_encode` of ``X``.

        Returns
        -------
        self : object
        """
        if y is None:
            X = validate_data(self, X, dtype=_FLOAT_DTYPES, ensure_min_samples=2)
            p = self.n_components if self.n_components is not None else X.shape[1]
        else:
            X, y = validate_data(self, X, y, dtype=_FLOAT_DTYPES, multi_output=True,
                                 y_numeric=True, ensure_min_samples=2)
            y = y.reshape(len(y), -1)
            p = y.shape[1]
            if self.n_components is not None and self.n_components != p:
                raise ValueError(
                    f"n_components={self.n_components} does not match the {p} columns of "
                    "the target codes y"
                )
        device = resolve_device(self.device)
        resolve_optimizer(self.optimizer)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed(self.random_state))
            module = BaselineEncoder(X.shape[1], p, keep_probs=self.keep_probs)
        net = build_net(module, torch.nn.MSELoss(), optimizer=self.optimizer, lr=self.lr,
                        lr_decay=self.lr_decay, max_epochs=self.max_epochs,
                        batch_size=self.batch_size, device=device, verbose=int(self.verbose))
        if y is not None and self.max_epochs > 0:
            fit_net(net, as_float32(X), as_float32(y), self.random_state)
        else:
            net.initialize()
        self.net_ = net
        self._sync_from_module()
        return self

    def _sync_from_module(self):
        """Refresh the fitted attributes that mirror the module (after any training)."""
        self.history_ = self.net_.history

    def transform(self, X):
        """Predicted codes (dropout off).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self, "net_")
        X = validate_data(self, X, reset=False, dtype=_FLOAT_DTYPES,
                          ensure_all_finite=False)  # checked per batch below
        return batched_forward(self.net_.module_, X, self.net_.device, X.dtype,
                               check_finite=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
