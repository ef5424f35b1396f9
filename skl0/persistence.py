"""Safe persistence of fitted skl0 models with :mod:`skops.io` (no pickle on load).

``pickle.load`` of a file from elsewhere runs whatever code the file names. ``skops.io``
instead rebuilds an object from a tree of known node types and refuses (unless told
otherwise) any type it does not trust. Out of the box it cannot save a fitted skl0 model:
torch tensors have no skops representation, and skorch's ``NeuralNet`` pickles its module
and optimizer into a byte string, which its ``__setstate__`` unpickles on load. Importing
this module teaches skops three things, none of which unpickles anything:

- a torch tensor (or parameter) is saved as a numpy array with its dtype, ``requires_grad``
  and device; on load it goes back to that device when it exists here, else to the CPU (a
  model fitted on CUDA loads on a CPU-only machine);
- a skorch ``NeuralNet`` is saved from its attributes, its module and criterion as plain
  objects, its optimizer as its class and ``state_dict`` (rebuilt on load with
  :meth:`~torch.optim.Optimizer.load_state_dict`), its device mapped like the tensors';
  ``__setstate__`` is never called;
- a skorch learning-rate scheduler callback drops the torch scheduler it builds at the
  start of each training (rebuilt by the next ``fit``).

:func:`trusted_types` lists, by name, every other type a fitted skl0 estimator holds
(skl0's, torch's, skorch's and numpy's own), so ``skops.io.load(file,
trusted=trusted_types())`` loads a model without ``trusted=True``. :func:`dump` and
:func:`load` are the two calls with that list. skops is an optional dependency
(``pip install skl0[skops]``); importing this module without it raises ``ImportError``.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from sklearn.utils._param_validation import HasMethods, validate_params
from skops.io import _audit, _utils, get_untrusted_types
from skops.io import dump as _sio_dump
from skops.io import dumps as _sio_dumps
from skops.io import load as _sio_load
from skops.io import loads as _sio_loads
from skops.io._audit import Node, get_tree
from skops.io._protocol import PROTOCOL
from skops.io._utils import get_module, get_state
from skops.io.exceptions import UnsupportedTypeException
from skorch import NeuralNet
from skorch.callbacks import LRScheduler

__all__ = ["trusted_types", "dump", "dumps", "load", "loads", "get_untrusted_types",
           "map_device"]

_TENSOR_LOADER = "Skl0TorchTensorNode"
_NET_LOADER = "Skl0SkorchNetNode"

# dtypes whose values numpy holds exactly (bfloat16 and the complex halves do not)
_TENSOR_DTYPES = {
    torch.float16: "float16", torch.float32: "float32", torch.float64: "float64",
    torch.int8: "int8", torch.int16: "int16", torch.int32: "int32", torch.int64: "int64",
    torch.uint8: "uint8", torch.bool: "bool",
}
_TENSOR_CLASSES = {"torch.Tensor": False, "torch.nn.parameter.Parameter": True}

# What a fitted model holds besides tensors, nets and skops' defaults: none is unpickled on load.
_TRUSTED = [
    # skl0
    "skl0.encoders.L0Encoder",
    "skl0.encoders.MSparseEncoder",
    "skl0.encoders.LISTAEncoder",
    "skl0.classification.L0Classifier",
    "skl0.clustering.L0Clusterer",
    "skl0._layers.UnfoldedEncoder",
    "skl0._layers.HELUSigma",
    "skl0._layers.MaxMPool",
    "skl0._layers.SoftThreshold",
    "skl0._layers.EncoderHead",
    "skl0._layers.ClusteringLoss",
    "skl0._skorch.DivergenceGuard",
    "skl0._skorch.SigmaSchedule",
    "skl0._skorch._batch_loader",
    # torch
    "torch.nn.modules.loss.MSELoss",
    "torch.nn.modules.loss.CrossEntropyLoss",
    "torch.nn.modules.linear.Linear",
    "torch.nn.modules.container.ModuleList",
    "torch.optim.adam.Adam",
    "torch.optim.adamw.AdamW",
    "torch.optim.sgd.SGD",
    "torch.optim.rmsprop.RMSprop",
    "torch.optim.lr_scheduler.ExponentialLR",
    # skorch
    "skorch.dataset.Dataset",
    "skorch.dataset.ValidSplit",
    "skorch.history.History",
    "skorch.callbacks.logging.EpochTimer",
    "skorch.callbacks.logging.PrintLog",
    "skorch.callbacks.scoring.PassthroughScoring",
    "skorch.callbacks.training.EarlyStopping",
    "skorch.callbacks.lr_scheduler.LRScheduler",
    "skorch.setter.optimizer_setter",
    # the standard library (the function inside is checked on its own)
    "functools.partial",
    "builtins.print",  # PrintLog's sink: imported, never called on load
]


@validate_params({}, prefer_skip_nested_validation=True)
def trusted_types():
    """The names of the types a fitted skl0 model needs trusted by :func:`skops.io.load`.

    These are skl0's estimators, torch modules and callbacks, and the torch, skorch,
    numpy and standard-library classes and functions they hold, listed by name (not
    computed from a file). Tensors and skorch nets need no entry: they are rebuilt by
    this module's own loaders, which construct nothing else.

    Returns
    -------
    names : list of str
        Fully qualified type names, for ``skops.io.load(file, trusted=names)``.

    See Also
    --------
    load : :func:`skops.io.load` with these names trusted.
    skops.io.get_untrusted_types : The types of a file that are not trusted by default.

    Examples
    --------
    >>> from skl0.persistence import trusted_types
    >>> "skl0.encoders.L0Encoder" in trusted_types()
    True
    >>> "torch.Tensor" in trusted_types()  # saved by skl0's own loader instead
    False
    """
    return list(_TRUSTED)


@validate_params({"device": [str, torch.device]}, prefer_skip_nested_validation=True)
def map_device(device):
    """The device a tensor saved on ``device`` is loaded onto here.

    The same device when this machine has it; the CPU otherwise (a CUDA device that
    is absent, or whose index is beyond the GPUs present), as skorch's pickling does.

    Parameters
    ----------
    device : str or torch.device
        The device the tensor was on when saved, e.g. ``"cuda:1"``.

    Returns
    -------
    device : str
        ``"cpu"`` or the CUDA device, as a string.

    Raises
    ------
    ValueError
        If ``device`` is not a torch device string.
    skops.io.exceptions.UnsupportedTypeException
        If it is a device other than the CPU or CUDA.

    See Also
    --------
    load : Loads saved tensors onto this device.

    Examples
    --------
    >>> from skl0.persistence import map_device
    >>> map_device("cpu")
    'cpu'
    >>> import torch
    >>> map_device("cuda:0") == ("cuda:0" if torch.cuda.is_available() else "cpu")
    True
    """
    try:
        dev = torch.device(device)
    except RuntimeError as exc:  # torch's own error for an unknown device string
        raise ValueError(f"device={device!r} is not a torch device") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            return "cpu"
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            return "cpu"
        return str(dev)
    if dev.type == "cpu":
        return "cpu"
    raise UnsupportedTypeException(f"tensors saved on device {device!r} are not supported")


# ---------------------------------------------------------------------------- tensors
def _tensor_get_state(obj, save_context):
    cls_name = f"{get_module(type(obj))}.{type(obj).__name__}"
    if cls_name not in _TENSOR_CLASSES:
        raise UnsupportedTypeException(f"torch tensor subclass {cls_name} is not supported")
    if obj.dtype not in _TENSOR_DTYPES or obj.layout != torch.strided:
        raise UnsupportedTypeException(
            f"torch tensors of dtype {obj.dtype} and layout {obj.layout} are not supported")
    array = obj.detach().cpu().numpy()
    return {
        "__class__": type(obj).__name__,
        "__module__": get_module(type(obj)),
        "__loader__": _TENSOR_LOADER,
        "content": {
            "array": get_state(array, save_context),
            "device": str(obj.device),
            "requires_grad": bool(obj.requires_grad),
        },
    }


class TensorNode(Node):
    """A torch tensor or parameter, rebuilt from a numpy array (``torch.from_numpy``)."""

    def __init__(self, state, load_context, trusted=None):
        super().__init__(state, load_context, trusted)
        # only these two classes are ever built, by the code below
        self.trusted = self._get_trusted(trusted, list(_TENSOR_CLASSES))
        content = state["content"]
        self.array = get_tree(content["array"], load_context, trusted=trusted)
        self.device = str(content["device"])
        self.requires_grad = bool(content["requires_grad"])
        self.children = {"array": self.array}

    def _construct(self):
        name = f"{self.module_name}.{self.class_name}"
        if name not in _TENSOR_CLASSES:
            raise TypeError(f"{name} is not a tensor class skl0 loads")
        array = self.array.construct()
        if not isinstance(array, np.ndarray) or array.dtype.name not in _TENSOR_DTYPES.values():
            raise TypeError("a saved tensor's data is not a numpy array of a supported dtype")
        tensor = torch.from_numpy(np.array(array, copy=True)).to(map_device(self.device))
        if _TENSOR_CLASSES[name]:
            return torch.nn.Parameter(tensor, requires_grad=self.requires_grad)
        return tensor.requires_grad_(self.requires_grad)


# ------------------------------------------------------------------------ skorch nets
def _cuda_keys(net, attrs):
    prefixes = tuple(net.cuda_dependent_attributes_)
    return [k for k in attrs if isinstance(k, str) and k.startswith(prefixes)]


def _net_get_state(obj, save_context):
    if type(obj) is not NeuralNet:
        raise UnsupportedTypeException(
            f"{type(obj).__name__}: only skorch.NeuralNet itself is supported")
    attrs = dict(obj.__dict__)
    optimizers = {}
    for key in _cuda_keys(obj, attrs):
        value = attrs[key]
        if isinstance(value, torch.optim.Optimizer):
            del attrs[key]
            optimizers[key] = {"class": type(value), "param_groups": value.param_groups,
                               "state_dict": value.state_dict()}
    return {
        "__class__": type(obj).__name__,
        "__module__": get_module(type(obj)),
        "__loader__": _NET_LOADER,
        "content": {
            "attrs": get_state(attrs, save_context),
            "optimizers": get_state(optimizers, save_context),
        },
    }


class NetNode(Node):
    """A skorch ``NeuralNet`` rebuilt from its attributes; its optimizers from their class
    and ``state_dict``. ``NeuralNet.__setstate__`` (which unpickles) is never called."""

    def __init__(self, state, load_context, trusted=None):
        super().__init__(state, load_context, trusted)
        self.trusted = self._get_trusted(trusted, ["skorch.net.NeuralNet"])
        self.attrs = get_tree(state["content"]["attrs"], load_context, trusted=trusted)
        self.optimizers = get_tree(state["content"]["optimizers"], load_context,
                                   trusted=trusted)
        self.children = {"attrs": self.attrs, "optimizers": self.optimizers}

    def _construct(self):
        if (self.module_name, self.class_name) != ("skorch.net", "NeuralNet"):
            raise TypeError(f"{self.module_name}.{self.class_name} is not a net skl0 loads")
        net = NeuralNet.__new__(NeuralNet)
        attrs = self.attrs.construct()
        if "device" in attrs and attrs["device"] is not None:
            attrs["device"] = map_device(attrs["device"])
        net.__dict__.update(attrs)
        for key, saved in self.optimizers.construct().items():
            cls = saved["class"]
            if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
                raise TypeError(f"{cls!r} is not a torch optimizer")
            # the parameters were saved as tensors: loaded once, they are the module's own
            optimizer = cls(saved["param_groups"])
            optimizer.load_state_dict(saved["state_dict"])
            setattr(net, key, optimizer)
        return net


def _lr_scheduler_get_state(obj, save_context):
    # the scheduler built at a training's start holds the optimizer; the next fit rebuilds it
    from skops.io._general import object_get_state

    clone = LRScheduler.__new__(type(obj))
    clone.__dict__.update({k: v for k, v in obj.__dict__.items() if k != "lr_scheduler_"})
    return object_get_state(clone, save_context)


def _register():
    _utils._get_state.register(torch.Tensor)(_tensor_get_state)
    _utils._get_state.register(NeuralNet)(_net_get_state)
    _utils._get_state.register(LRScheduler)(_lr_scheduler_get_state)
    _audit.NODE_TYPE_MAPPING[(_TENSOR_LOADER, PROTOCOL)] = TensorNode
    _audit.NODE_TYPE_MAPPING[(_NET_LOADER, PROTOCOL)] = NetNode


_register()


# ------------------------------------------------------------------------ the calls
@validate_params(
    {"estimator": "no_validation", "file": [str, os.PathLike, HasMethods(["write"])]},
    prefer_skip_nested_validation=True,
)
def dump(estimator, file, **kwargs):
    """Save a fitted skl0 estimator (or any object holding one) with :func:`skops.io.dump`.

    Parameters
    ----------
    estimator : object
        A fitted :class:`~skl0.L0Encoder`, :class:`~skl0.MSparseEncoder`,
        :class:`~skl0.LISTAEncoder`, :class:`~skl0.L0Classifier` or
        :class:`~skl0.L0Clusterer`, or a pipeline or search holding them.
    file : str, path or binary file object
        Where to write (skops' zip format; ``.skops`` is the usual extension).
    **kwargs
        Passed to :func:`skops.io.dump` (``compression``, ``compresslevel``).

    See Also
    --------
    load : Load what this wrote.
    dumps : The same, to bytes.
    skops.io.dump : What this calls.

    Examples
    --------
    >>> import io, numpy as np
    >>> from skl0 import L0Encoder
    >>> from skl0.persistence import dump, load
    >>> X = np.random.RandomState(0).randn(20, 6)
    >>> enc = L0Encoder(n_components=4, max_epochs=1, device="cpu", random_state=0).fit(X)
    >>> buffer = io.BytesIO()
    >>> dump(enc, buffer)
    >>> _ = buffer.seek(0)
    >>> np.array_equal(load(buffer).transform(X), enc.transform(X))
    True
    """
    _sio_dump(estimator, file, **kwargs)


@validate_params({"estimator": "no_validation"}, prefer_skip_nested_validation=True)
def dumps(estimator, **kwargs):
    """The bytes :func:`dump` would write.

    Parameters
    ----------
    estimator : object
        A fitted skl0 estimator, or an object holding one.
    **kwargs
        Passed to :func:`skops.io.dumps`.

    Returns
    -------
    data : bytes

    See Also
    --------
    loads : Load these bytes.
    dump : The same, to a file.

    Examples
    --------
    >>> import numpy as np
    >>> from skl0 import MSparseEncoder
    >>> from skl0.persistence import dumps, loads
    >>> X = np.random.RandomState(0).randn(20, 6)
    >>> enc = MSparseEncoder(n_components=4, max_epochs=0, device="cpu").fit(X)
    >>> np.array_equal(loads(dumps(enc)).transform(X), enc.transform(X))
    True
    """
    return _sio_dumps(estimator, **kwargs)


def _check_trusted(trusted):
    """The extra trusted types as a list: names or types, never a lone string's letters."""
    trusted = list(trusted)
    for entry in trusted:
        if not isinstance(entry, str | type):
            raise ValueError(f"trusted must hold type names (str) or types; got {entry!r}")
    return trusted


@validate_params(
    {"file": [str, os.PathLike, HasMethods(["read", "seek"])], "trusted": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def load(file, trusted=()):
    """Load a file of :func:`dump` with :func:`skops.io.load`, trusting only
    :func:`trusted_types` and the names in ``trusted``.

    A file holding any other type (say, a function of ``os``) is refused with
    skops' ``UntrustedTypesFoundException`` before anything is built. Tensors saved on a
    CUDA device absent here are loaded onto the CPU, and so is the net's ``device``.

    Parameters
    ----------
    file : str, path or binary file object
        A file written by :func:`dump` or :func:`skops.io.dump`.
    trusted : sequence of str or type, default=()
        More types to trust, e.g. those of a pipeline's other steps (see
        :func:`skops.io.get_untrusted_types`).

    Returns
    -------
    estimator : object

    Raises
    ------
    skops.io.exceptions.UntrustedTypesFoundException
        If the file holds a type that is not trusted.

    See Also
    --------
    dump : Write the file this loads.
    loads : The same, from bytes.
    trusted_types : The types trusted without ``trusted``.
    skops.io.load : What this calls.

    Examples
    --------
    >>> import io, numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skl0 import LISTAEncoder
    >>> from skl0.persistence import dump, load
    >>> X = np.random.RandomState(0).randn(20, 6)
    >>> pipe = make_pipeline(StandardScaler(),
    ...                      LISTAEncoder(n_components=4, max_epochs=0, device="cpu")).fit(X)
    >>> buffer = io.BytesIO()
    >>> dump(pipe, buffer)
    >>> _ = buffer.seek(0)
    >>> np.array_equal(load(buffer).transform(X), pipe.transform(X))
    True
    """
    return _sio_load(file, trusted=trusted_types() + _check_trusted(trusted))


@validate_params(
    {"data": [bytes, bytearray], "trusted": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def loads(data, trusted=()):
    """:func:`load` from bytes.

    Parameters
    ----------
    data : bytes
        What :func:`dumps` returned.
    trusted : sequence of str or type, default=()
        More types to trust besides :func:`trusted_types`.

    Returns
    -------
    estimator : object

    See Also
    --------
    dumps : The bytes this loads.
    load : The same, from a file.

    Examples
    --------
    >>> import numpy as np
    >>> from skl0 import L0Encoder
    >>> from skl0.persistence import dumps, loads
    >>> X = np.random.RandomState(0).randn(20, 6)
    >>> enc = L0Encoder(n_components=4, max_epochs=0, device="cpu").fit(X)
    >>> loads(dumps(enc)).n_components
    4
    """
    return _sio_loads(data, trusted=trusted_types() + _check_trusted(trusted))
