"""The parameter constraints the estimators share (scikit-learn's ``_parameter_constraints``
entries), and the float dtypes they accept."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._skorch import _OPTIMIZERS

_FLOAT_DTYPES = [np.float64, np.float32]

_COMMON_CONSTRAINTS = {
    "n_components": [Interval(Integral, 1, None, closed="left"), None],
    "n_stages": [Interval(Integral, 1, None, closed="left")],
    "tied_stages": ["boolean"],
    "dictionary": ["array-like", None],
    "max_epochs": [Interval(Integral, 0, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "optimizer": [StrOptions(set(_OPTIMIZERS)), type],
    "lr_decay": [Interval(Real, 0, 1, closed="right")],
    "solver_max_iter": [Interval(Integral, 1, None, closed="left")],
    "dict_max_iter": [Interval(Integral, 1, None, closed="left")],
    "train_split": [None, Interval(Real, 0, 1, closed="neither"), callable],
    "patience": [None, Interval(Integral, 1, None, closed="left")],
    "device": [str, torch.device],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}
