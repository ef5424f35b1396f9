"""Safe persistence of fitted skl0 models with :mod:`skops.io` (no pickle on load).

``pickle.load`` of a file from elsewhere runs whatever code the file names. ``skops.io``
instead rebuilds an object from a tree of known node types and refuses (unless told
otherwise) any type it does not trust. A fitted skl0 estimator's state is numpy arrays and
plain configuration (its skorch nets as their modules' structure, parameters, optimizer
state and history; see ``__getstate__``), so skops' default handling saves and loads it
with no registration: ``skops.io.dump(model, file)`` and ``skops.io.load(file,
trusted=skops.io.get_untrusted_types(file=file))``, where the untrusted types are skl0's
estimators (numpy's arrays and scalars are trusted by default). On load a net goes back to
the device it was saved on when that device exists, else to the CPU (:func:`map_device`).

This module is the two-call convenience: :func:`dump` and :func:`load` with
:func:`trusted_types` trusted. :func:`load` also reads files written by skl0 0.1.0's
persistence, whose tensors and nets had node types of their own. skops is an optional
dependency (``pip install skl0[skops]``); importing this module without it raises
``ImportError``.
"""

from __future__ import annotations

import copy
import io
import json
import os
import zipfile

import numpy as np
import torch
from sklearn.utils._param_validation import HasMethods, validate_params
from skops.io import dump as _sio_dump
from skops.io import dumps as _sio_dumps
from skops.io import get_untrusted_types
from skops.io import loads as _sio_loads
from skops.io.exceptions import UnsupportedTypeException
from skorch import NeuralNet

from . import L0Classifier, L0Clusterer, L0Encoder, LISTAEncoder, MSparseEncoder
from ._skorch import resolve_optimizer
from ._state import _map_device, _PlainState

__all__ = ["trusted_types", "dump", "dumps", "load", "loads", "get_untrusted_types",
           "map_device"]


def _name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


# the estimators, and the torch optimizer classes their `optimizer` parameter may hold
_TRUSTED_CLASSES = (L0Encoder, MSparseEncoder, LISTAEncoder, L0Classifier, L0Clusterer,
                    *(resolve_optimizer(name) for name in ("sgd", "adam", "adamw", "rmsprop")))


@validate_params({}, prefer_skip_nested_validation=True)
def trusted_types():
    """The names of the types a fitted skl0 model needs trusted by :func:`skops.io.load`.

    skl0's estimators, and torch's optimizer classes (an ``optimizer`` parameter may be one).
    Loading an estimator constructs it from its saved state; nothing is unpickled. skops
    trusts numpy's and scikit-learn's types by default.

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
    >>> "torch.Tensor" in trusted_types()  # a fitted model's state holds numpy arrays
    False
    """
    return [_name(cls) for cls in _TRUSTED_CLASSES]


@validate_params({"device": [str, torch.device]}, prefer_skip_nested_validation=True)
def map_device(device):
    """The device a net saved on ``device`` is loaded onto here.

    The same device when this machine has it; the CPU otherwise (a CUDA device that
    is absent, or whose index is beyond the GPUs present), as skorch's pickling does.
    Every load of a fitted skl0 estimator (skops, ``pickle``, :func:`copy.deepcopy`)
    places its nets so.

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
    load : Loads saved nets onto this device.

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
    if dev.type in ("cpu", "cuda"):
        return _map_device(dev)
    raise UnsupportedTypeException(f"models saved on device {device!r} are not supported")


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
    skops' ``UntrustedTypesFoundException`` before anything is built. A net saved on a
    CUDA device absent here is loaded onto the CPU (:func:`map_device`). A file written by
    skl0 0.1.0's persistence (tensors and nets as node types of its own) is read too, its
    torch and skorch objects trusted by name (none is unpickled), and converted to the
    current estimators.

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
    trusted = _check_trusted(trusted)
    if isinstance(file, str | os.PathLike):
        with open(file, "rb") as handle:
            return _load_bytes(handle.read(), trusted)
    return _load_bytes(file.read(), trusted)


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
    return _load_bytes(bytes(data), _check_trusted(trusted))


# ----------------------------------------------------------- files of skl0 0.1.0's persistence
# The loaders that version registered with skops for torch tensors and skorch nets
_LEGACY_TENSOR = "Skl0TorchTensorNode"
_LEGACY_NET = "Skl0SkorchNetNode"
# What those files hold besides the estimators, by the names the files give them
_LEGACY_TRUSTED = [
    "skl0._layers.UnfoldedEncoder", "skl0._layers.HELUSigma", "skl0._layers.MaxMPool",
    "skl0._layers.SoftThreshold", "skl0._layers.EncoderHead", "skl0._layers.ClusteringLoss",
    "skl0._skorch.DivergenceGuard", "skl0._skorch.SigmaSchedule", "skl0._skorch._batch_loader",
    "torch.nn.modules.loss.MSELoss", "torch.nn.modules.loss.CrossEntropyLoss",
    "torch.nn.modules.linear.Linear", "torch.nn.modules.container.ModuleList",
    "torch.optim.lr_scheduler.ExponentialLR", "skorch.dataset.Dataset",
    "skorch.dataset.ValidSplit", "skorch.history.History", "skorch.callbacks.logging.EpochTimer",
    "skorch.callbacks.logging.PrintLog", "skorch.callbacks.scoring.PassthroughScoring",
    "skorch.callbacks.training.EarlyStopping", "skorch.callbacks.lr_scheduler.LRScheduler",
    "skorch.setter.optimizer_setter", "functools.partial", "builtins.print",
]


def _load_bytes(data, trusted):
    names = trusted_types() + trusted
    legacy = _legacy_file(data)
    if legacy is None:
        return _sio_loads(data, trusted=names)
    return _from_legacy(_sio_loads(legacy, trusted=names + _LEGACY_TRUSTED))


def _legacy_file(data):
    """The file with its legacy nodes as skops' own (a tensor its array, a net a dict of its
    attributes and optimizers), or None for a file without them."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        raw = archive.read("schema.json")
    except (zipfile.BadZipFile, KeyError):
        return None  # skops says what is wrong with it
    if _LEGACY_NET.encode() not in raw and _LEGACY_TENSOR.encode() not in raw:
        return None
    schema = json.loads(raw)
    ids = iter(range(_max_id(schema) + 1, 2**62))

    def rewrite(node):
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = {key: rewrite(value) for key, value in node.items()}
        if node.get("__loader__") == _LEGACY_TENSOR:
            # the tensor's id, not its temporary array's: a parameter saved twice (module,
            # optimizer) is then loaded once, as before
            return {**node["content"]["array"], "__id__": node["__id__"]}
        if node.get("__loader__") == _LEGACY_NET:
            keys = ["attrs", "optimizers"]
            str_type = {"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode"}
            return {
                "__class__": "dict", "__module__": "builtins", "__loader__": "DictNode",
                "__id__": node["__id__"],
                "content": {key: node["content"][key] for key in keys},
                "key_types": {"__class__": "list", "__module__": "builtins",
                              "__loader__": "ListNode", "__id__": next(ids),
                              "content": [{**str_type, "__id__": next(ids)} for _ in keys]},
            }
        return node

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in archive.infolist():
            body = (json.dumps(rewrite(schema)) if info.filename == "schema.json"
                    else archive.read(info))
            dst.writestr(info, body)
    return out.getvalue()


def _max_id(node):
    if isinstance(node, list):
        return max((_max_id(item) for item in node), default=0)
    if isinstance(node, dict):
        own = node.get("__id__", 0) if isinstance(node.get("__id__"), int) else 0
        return max([own, *(_max_id(value) for value in node.values())])
    return 0


def _is_legacy_net(value):
    return (type(value) is dict and set(value) == {"attrs", "optimizers"}
            and isinstance(value["attrs"], dict) and "module_" in value["attrs"])


def _from_legacy(obj):
    """``obj`` with every legacy net made a skorch net again, then copied through the
    estimators' current state (the nets rebuilt as a fit builds them)."""
    # id of a loaded array -> (the array, kept alive; its parameter), across all the nets:
    # a wrapper's net holds its encoder's parameters
    params = {}
    seen, stack = set(), [obj]
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, torch.nn.Module | NeuralNet):
            continue
        seen.add(id(item))
        if isinstance(item, _PlainState):
            for key, value in vars(item).items():
                if _is_legacy_net(value):
                    setattr(item, key, _legacy_net(value, params))
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif hasattr(item, "__dict__") and not isinstance(item, type):
            stack.extend(vars(item).values())
    return copy.deepcopy(obj)


def _legacy_net(saved, params):
    """A skorch net from the attributes and optimizers of a legacy file, its parameters
    (loaded as numpy arrays) made torch parameters again, shared as they were."""
    attrs = dict(saved["attrs"])
    for key in ("module_", "criterion_"):
        for module in attrs[key].modules():
            for name, array in module._parameters.items():
                if isinstance(array, np.ndarray):
                    if id(array) not in params:
                        params[id(array)] = array, torch.nn.Parameter(torch.tensor(array))
                    module._parameters[name] = params[id(array)][1]
            for name, array in module._buffers.items():
                if isinstance(array, np.ndarray):
                    module._buffers[name] = torch.tensor(array)
    if attrs.get("device") is not None:
        attrs["device"] = _map_device(attrs["device"])
    net = NeuralNet.__new__(NeuralNet)
    vars(net).update(attrs)
    for key, opt in saved["optimizers"].items():
        cls = opt["class"]
        if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
            raise TypeError(f"{cls!r} is not a torch optimizer")
        groups = [{**group, "params": [params[id(p)][1] for p in group["params"]]}
                  for group in opt["param_groups"]]
        optimizer = cls(groups)
        state = {k: {name: torch.as_tensor(v) if isinstance(v, np.ndarray) else v
                     for name, v in values.items()}
                 for k, values in opt["state_dict"]["state"].items()}
        optimizer.load_state_dict({"state": state,
                                   "param_groups": opt["state_dict"]["param_groups"]})
        setattr(net, key, optimizer)
    return net
