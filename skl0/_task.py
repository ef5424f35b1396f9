"""What the task-driven wrappers share: the encoder they start from, and the end-to-end training
of that encoder with a linear head (:class:`~skl0.L0Classifier`, :class:`~skl0.L0Clusterer`)."""

from __future__ import annotations

import copy
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from ._constraints import _COMMON_CONSTRAINTS
from ._inference import batched_forward
from ._layers import EncoderHead
from ._skorch import estimator_net, fit_net
from ._state import _PlainState
from ._utils import resolve_device
from .encoders import L0Encoder

_WRAPPER_CONSTRAINTS = {
    "encoder": [HasMethods(["fit", "transform"]), None],
    **{key: _COMMON_CONSTRAINTS[key] for key in (
        "max_epochs", "batch_size", "lr", "optimizer", "lr_decay", "device", "random_state",
        "verbose")},
    "sigma": [Interval(Real, 0, 1, closed="both")],
    "sigma_decay": [Interval(Real, 1, None, closed="left")],
}


class _TaskDrivenBase(_PlainState, BaseEstimator):
    """An skl0 encoder, fitted on its own (or given fitted), then trained end to end with a
    linear head: ``encoder_``, ``net_`` and ``history_``."""

    def _default_encoder(self, X):
        return L0Encoder()

    def _start_encoder(self, X):
        """The fitted encoder the net starts from, as ``encoder_``.

        ``encoder`` wrapped in :class:`~sklearn.frozen.FrozenEstimator` is used as fitted (a
        copy, moved to the wrapper's device, its network trained on ``X`` if its route did
        not need one; the caller's encoder is left as it is); otherwise a clone of it
        (``None``: :meth:`_default_encoder`) takes the wrapper's ``device``,
        ``random_state`` (and ``verbose`` when set) and is fitted on ``X`` with its network
        trained whatever its route.
        """
        encoder = self.encoder
        if isinstance(encoder, FrozenEstimator):
            fitted = encoder.estimator
            check_is_fitted(fitted, msg=(
                f"encoder is a FrozenEstimator of an unfitted {type(fitted).__name__}: fit it "
                "first, or pass the encoder itself to have it fitted here"))
            if getattr(fitted, "n_features_in_", X.shape[1]) != X.shape[1]:
                raise ValueError(
                    f"X has {X.shape[1]} features, but the frozen encoder was fitted on "
                    f"{fitted.n_features_in_} features"
                )
            enc = copy.deepcopy(fitted)
        else:
            enc = self._default_encoder(X) if encoder is None else clone(encoder)
            params = enc.get_params(deep=False)
            update = {"device": self.device, "random_state": self.random_state}
            if self.verbose:
                update["verbose"] = self.verbose
            enc.set_params(**{key: value for key, value in update.items() if key in params})
        if not hasattr(enc, "_network_on"):
            raise TypeError(
                "encoder must be an skl0 encoder (L0Encoder, MSparseEncoder, LISTAEncoder), "
                f"whose network the wrapper trains end to end; got {type(enc).__name__}"
            )
        if not isinstance(encoder, FrozenEstimator):
            enc._fit(X, network=True)
        enc._network_on(resolve_device(self.device), X)
        self.encoder_ = enc
        return enc

    def _trunk_codes(self, X, check_finite=False):
        """The codes of ``encoder_``'s network (no pursuit: it is not part of the net)."""
        trunk = self.encoder_._network_on()  # where it is (a loaded model may have moved)
        return batched_forward(trunk, X, trunk.W.weight.device,
                               np.float64, check_finite=check_finite)

    def _train_end_to_end(self, head, criterion, X32, target, seed, **net_kwargs):
        """Train ``encoder_``'s network with a linear head initialised to ``head = (ω, b)``.

        Sets ``net_`` and ``history_``; ``max_epochs=0`` keeps the initialisation.
        """
        trunk = self.encoder_._network_on(resolve_device(self.device))
        module = EncoderHead(trunk, head[0].shape[0])
        module.init_head(*head)
        net = estimator_net(self, module, criterion, resolve_device(self.device), **net_kwargs)
        if self.max_epochs > 0:
            fit_net(net, X32, target, seed)
        else:
            net.initialize()
        self.net_ = net
        self.history_ = net.history
        return net
