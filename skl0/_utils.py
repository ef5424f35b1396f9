"""Small helpers every module shares: the device, the seed, float32 input checks, and the
guard of every ``fit``."""

from __future__ import annotations

import contextlib
import copy
import functools
import numbers

import numpy as np
import torch


def resolve_device(device):
    """Turn the ``device`` parameter into a concrete torch device string.

    ``"auto"`` means CUDA when it is available, else the CPU; ``"cpu"``, ``"cuda"``
    and ``"cuda:N"`` (or a :class:`torch.device`) are accepted as they are.

    Raises
    ------
    ValueError
        If the string is not a device torch knows, or CUDA is asked for but absent.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f"device must be a string such as 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device; use 'auto', 'cpu', 'cuda' or 'cuda:N'"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available here")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device={device!r}: only 'cpu' and 'cuda' devices are supported")
    return str(dev)


def torch_seed(random_state):
    """A 63-bit torch seed drawn from a ``random_state`` (None, int or RandomState)."""
    from sklearn.utils import check_random_state

    if isinstance(random_state, numbers.Integral):
        return int(random_state) % (2**63)
    rng = check_random_state(random_state)
    return int(rng.randint(np.iinfo(np.int32).max))


@contextlib.contextmanager
def torch_rng_kept():
    """Run a block and leave torch's global random state as it was before it.

    The CPU generator, and those of the CUDA devices once CUDA is initialised, are saved
    and restored (:func:`torch.random.fork_rng`), so that a ``fit`` whose modules draw
    their initial weights from the global generator does not move the caller's stream,
    as scikit-learn's estimators leave numpy's global state alone.
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        yield


def _is_net(value):
    """Whether ``value`` is a network (a skorch net or a torch module), which a
    ``partial_fit`` trains in place."""
    return isinstance(value, torch.nn.Module) or hasattr(value, "module_")


def fit_guard(fit):
    """Decorate an estimator's ``fit`` or ``partial_fit``: nothing left behind by a Ctrl-C.

    The method runs under :func:`torch_rng_kept`. On a ``KeyboardInterrupt`` (which skl0's
    training lets through: :func:`~skl0._skorch.fit_net`) the estimator's attributes are
    put back as they were before the call, and the interrupt passes on, so that a
    ``GridSearchCV`` stops too. ``fit`` replaces what it fits, so a shallow copy of the
    attributes is enough there; a ``partial_fit`` trains its network in place, so where
    the estimator holds one (a skorch net, a torch module) its fitted attributes (all but
    the parameters) are deep-copied before the call.

    Examples
    --------
    >>> from skl0._utils import fit_guard
    >>> class Estimator:
    ...     @fit_guard
    ...     def fit(self, X):
    ...         self.fitted_ = True
    ...         raise KeyboardInterrupt
    >>> est = Estimator()
    >>> try:
    ...     est.fit(None)
    ... except KeyboardInterrupt:
    ...     print(hasattr(est, "fitted_"))
    False
    """
    deep = fit.__name__ == "partial_fit"

    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        before = dict(self.__dict__)
        if deep and any(_is_net(value) for value in before.values()):
            # the fitted attributes together (history_ is the net's own history), the
            # parameters as they are
            params = self.get_params(deep=False) if hasattr(self, "get_params") else {}
            fitted = {key: value for key, value in before.items() if key not in params}
            before.update(copy.deepcopy(fitted))
        try:
            with torch_rng_kept():
                return fit(self, *args, **kwargs)
        except KeyboardInterrupt:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    return wrapper


def as_float32(X):
    """``X`` as a C-contiguous, writable float32 array (copied only when needed).

    torch warns on (and must not write into) read-only buffers such as memory maps.
    """
    if X.dtype == np.float32 and X.flags.writeable and X.flags.c_contiguous:
        return X
    return np.array(X, dtype=np.float32, order="C")


def check_float32_scale(X, name="X", hint="with StandardScaler"):
    """Raise a ``ValueError`` if ``X``'s scale is out of reach of the float32 computations.

    ``fit`` and the solvers compute in float32: a row's squared norm must not overflow it
    (beyond, the training loss is infinite and a dictionary's step ``1 / ||D||^2`` is 0) and
    the squares of the largest values must not underflow it (below, that step overflows).
    An all-zero array passes. ``name`` names the array in the message, ``hint`` how to
    rescale it.
    """
    # two reductions instead of np.abs(X).max(): no temporary of X's size
    big = max(abs(float(X.max())), abs(float(X.min()))) if X.size else 0.0
    info = np.finfo(np.float32)
    if big > 0.0 and big * big < float(info.tiny):
        raise ValueError(
            f"Input {name} is too small for float32 (max |x| = {big:.3g}: its squares "
            f"underflow); skl0 computes in float32: rescale it, e.g. {hint}"
        )
    if big * big * X.shape[1] > float(info.max):
        raise ValueError(
            f"Input {name} is too large for float32 (max |x| = {big:.3g}: a row's squared "
            f"norm overflows); skl0 computes in float32: rescale it, e.g. {hint}"
        )

