"""A fitted estimator's state as numpy arrays and plain configuration.

:class:`_PlainState` gives skl0's estimators ``__getstate__`` / ``__setstate__`` whose state
holds only dicts, lists, tuples, strings, numbers, booleans, ``None``, numpy arrays and
nested estimators: every skorch ``NeuralNet`` attribute becomes its module's structure (the
class of every submodule, its plain attributes, its parameters and buffers as numpy arrays),
its criterion's, its optimizer's ``state_dict`` and its history; a torch tensor becomes a
numpy array. ``pickle``, ``joblib``, :func:`copy.deepcopy` and ``skops.io``'s default
handling all save that state, and ``__setstate__`` rebuilds the net through
:func:`skl0._skorch.estimator_net` on the device it was saved on, or on the CPU where that
device is absent. Nothing is registered with any library, and loading constructs no class
outside ``skl0`` and ``torch.nn``.

A module held by a nested estimator (the encoder an :class:`~skl0.L0Classifier` fine-tunes
is the trunk of its own net) is saved once and referenced by its path, so the loaded wrapper
shares it as the fitted one did.

A state saved by an earlier skl0 loads too: a constructor parameter it lacks takes its
default, and a state of skl0 0.1.0 (which pickled the nets themselves) is brought to today's
attributes. The state records its format number; a newer format is refused with a message.
"""

from __future__ import annotations

import importlib
import inspect

import numpy as np
import torch
from skorch import NeuralNet
from skorch.history import History

_KEY = "_skl0_state"
_FORMAT = 1
# numpy holds these exactly (bfloat16 and the complex halves have no numpy dtype)
_DTYPES = {torch.float16, torch.float32, torch.float64, torch.int8, torch.int16,
           torch.int32, torch.int64, torch.uint8, torch.bool}
_MODULE_INTERNALS = frozenset(torch.nn.Module().__dict__) - {"training"}
_PLAIN_SCALARS = (type(None), bool, int, float, str, np.ndarray, np.generic)


def _map_device(device):
    """``device`` where it exists here; the CPU for a CUDA device this machine lacks."""
    dev = torch.device(device)
    if dev.type != "cuda":
        return str(dev)
    if not torch.cuda.is_available():
        return "cpu"
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        return "cpu"
    return str(dev)


def _array(tensor):
    if tensor.dtype not in _DTYPES or tensor.layout != torch.strided:
        raise TypeError(f"torch tensors of dtype {tensor.dtype} and layout {tensor.layout} "
                        "cannot be saved as numpy arrays")
    # a copy: the CPU tensor's numpy view would change with further training
    return tensor.detach().cpu().numpy().copy()


def _plain(value, where):
    """``value`` with every tensor as a numpy array; a TypeError names anything else."""
    if isinstance(value, torch.Tensor):
        return _array(value)
    if isinstance(value, _PLAIN_SCALARS):
        return value
    if isinstance(value, dict):
        return {key: _plain(item, f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, list | tuple):
        items = [_plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    raise TypeError(f"{where} is a {type(value).__name__}, which skl0 cannot save as plain "
                    "configuration")


def _python(value):
    """History entries as Python scalars (skorch records some losses as numpy floats)."""
    if isinstance(value, dict):
        return {key: _python(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_python(item) for item in value]
    if isinstance(value, torch.Tensor):
        value = _array(value)
    if isinstance(value, np.generic | np.ndarray) and np.ndim(value) == 0:
        return value.item()
    return value


# ------------------------------------------------------------------------------- modules
def _module_state(module, path, known, where):
    """The structure and arrays of ``module``; a module seen before becomes its path."""
    if id(module) in known:
        return {"ref": list(known[id(module)])}
    known[id(module)] = tuple(path)
    cls = type(module)
    attributes = {key: _plain(value, f"{where}.{key}") for key, value in vars(module).items()
                  if key not in _MODULE_INTERNALS and not key.startswith("_cached")}
    parameters = {
        name: None if p is None else {"data": _array(p), "requires_grad": bool(p.requires_grad)}
        for name, p in module._parameters.items()}
    buffers = {name: None if b is None else _array(b) for name, b in module._buffers.items()}
    children = {
        name: None if child is None
        else _module_state(child, [*path, name], known, f"{where}.{name}")
        for name, child in module._modules.items()}
    return {
        "class": [cls.__module__, cls.__qualname__],
        "attributes": attributes,
        "parameters": parameters,
        "buffers": buffers,
        "non_persistent": sorted(module._non_persistent_buffers_set),
        "children": children,
    }


def _module_class(name):
    """The torch module class ``[module, qualname]`` names, from ``skl0`` or ``torch.nn`` only."""
    module_name, qualname = name
    if not (module_name == "skl0" or module_name.startswith(("skl0.", "torch.nn."))):
        raise TypeError(f"{module_name}.{qualname} is not a module class of skl0 or torch.nn")
    obj = importlib.import_module(module_name)
    for attr in qualname.split("."):
        obj = getattr(obj, attr, None)
    if not (isinstance(obj, type) and issubclass(obj, torch.nn.Module)):
        raise TypeError(f"{module_name}.{qualname} is not a torch module class")
    return obj


def _build_module(state, path, resolve):
    """The module ``state`` describes, made without calling its ``__init__``."""
    if "ref" in state:
        return resolve(tuple(state["ref"]))
    cls = _module_class(state["class"])
    module = cls.__new__(cls)
    torch.nn.Module.__init__(module)
    resolve.built[tuple(path)] = module
    for name, p in state["parameters"].items():
        module.register_parameter(name, None if p is None else torch.nn.Parameter(
            torch.tensor(p["data"]), requires_grad=bool(p["requires_grad"])))
    non_persistent = set(state["non_persistent"])
    for name, b in state["buffers"].items():
        module.register_buffer(name, None if b is None else torch.tensor(b),
                               persistent=name not in non_persistent)
    for name, child in state["children"].items():
        module.add_module(name, None if child is None
                          else _build_module(child, [*path, name], resolve))
    # as unpickling does: plain attributes straight into __dict__, no property setter runs
    vars(module).update(state["attributes"])
    return module


class _Resolver:
    """Finds a referenced module: one built earlier in this state, or a nested estimator's."""

    def __init__(self, owner):
        self.owner = owner
        self.built = {}

    def __call__(self, path):
        if path in self.built:
            return self.built[path]
        nested = vars(self.owner).get(path[0]) if path else None
        net = vars(nested).get(path[1]) if isinstance(nested, _PlainState) else None
        if not isinstance(net, NeuralNet) or not path[2:] or path[2] != "module_":
            raise TypeError(f"the saved module reference {'.'.join(path)} names no module")
        return net.module_.get_submodule(".".join(path[3:]))


# ---------------------------------------------------------------------------------- nets
def _optimizer_state(optimizer):
    state = optimizer.state_dict()
    return {
        "state": {str(key): _plain(value, "optimizer state")
                  for key, value in state["state"].items()},
        "param_groups": _plain(state["param_groups"], "optimizer param_groups"),
    }


def _load_optimizer_state(optimizer, saved):
    state = {int(key): {name: torch.as_tensor(value) if isinstance(value, np.ndarray)
                        else value for name, value in values.items()}
             for key, values in saved["state"].items()}
    optimizer.load_state_dict({"state": state, "param_groups": saved["param_groups"]})


def _net_state(net, path, known):
    module = getattr(net, "module_", None)
    criterion = getattr(net, "criterion_", None)
    if module is None or criterion is None:
        raise TypeError(f"{path[0]} is a skorch net that was never initialized; skl0 saves "
                        "fitted nets only")
    optimizer = getattr(net, "optimizer_", None)
    return {
        "module": _module_state(module, [*path, "module_"], known, f"{path[0]}.module_"),
        # the criterion is a module of its own: nothing refers to it
        "criterion": _module_state(criterion, [*path, "criterion_"], {}, f"{path[0]}.criterion_"),
        "optimizer": None if optimizer is None else _optimizer_state(optimizer),
        "device": str(net.device),
        "history": _python(list(net.history)),
    }


def _build_net(owner, name, state, resolve):
    # imported here: _skorch is loaded with the estimators, after this module
    from sklearn.base import is_classifier

    from ._skorch import estimator_net

    device = _map_device(state["device"])
    module = _build_module(state["module"], [name, "module_"], resolve).to(device)
    criterion = _build_module(state["criterion"], [name, "criterion_"], _Resolver(owner))
    # the split is rebuilt from the parameters as fit builds it (the classifier's
    # sample-weight wrapper aside: that net is never trained again, only evaluated)
    net = estimator_net(owner, module, criterion, device, stratified=is_classifier(owner))
    net.initialize()
    if state["optimizer"] is not None:
        _load_optimizer_state(net.optimizer_, state["optimizer"])
    net.history = History(state["history"])
    return net


class _PlainState:
    """``__getstate__`` / ``__setstate__`` of numpy arrays and plain configuration.

    Mixed into skl0's estimators ahead of :class:`~sklearn.base.BaseEstimator`. The state is
    the estimator's ``__dict__`` with every skorch net, history and tensor replaced by plain
    data (under one private key) and every ``_cached…`` attribute left out.

    Examples
    --------
    >>> import pickle, numpy as np
    >>> from skl0 import LISTAEncoder
    >>> X = np.random.RandomState(0).randn(20, 6)
    >>> enc = LISTAEncoder(n_components=4, max_epochs=1, device="cpu", random_state=0).fit(X)
    >>> sorted(enc.__getstate__()["_skl0_state"]["nets"])
    ['net_']
    >>> np.array_equal(pickle.loads(pickle.dumps(enc)).transform(X), enc.transform(X))
    True
    """

    def __getstate__(self):
        state = super().__getstate__()
        # modules of nested estimators' nets are saved with them: refer to them by path
        known = {}
        for key, value in state.items():
            if isinstance(value, _PlainState):
                for net_key, net in vars(value).items():
                    if isinstance(net, NeuralNet) and hasattr(net, "module_"):
                        for sub, module in net.module_.named_modules(remove_duplicate=False):
                            path = [key, net_key, "module_", *filter(None, sub.split("."))]
                            known.setdefault(id(module), tuple(path))
        plain, nets, histories, tensors, modules = {}, {}, {}, {}, {}
        for key, value in state.items():
            if key.startswith("_cached"):
                continue  # derived data, rebuilt on demand
            if isinstance(value, NeuralNet):
                nets[key] = _net_state(value, [key], known)
            elif isinstance(value, torch.nn.Module):
                modules[key] = _module_state(value, [key], known, key)
            elif isinstance(value, torch.Tensor):
                tensors[key] = {"data": _array(value), "device": str(value.device),
                                "requires_grad": bool(value.requires_grad)}
            elif isinstance(value, History):
                # a net's own history (``history_`` is ``net_.history``) stays that one
                owner = [k for k, net in state.items()
                         if isinstance(net, NeuralNet) and net.history is value]
                histories[key] = owner[0] if owner else _python(list(value))
            else:
                plain[key] = _detensor(value)
        plain[_KEY] = {"format": _FORMAT, "nets": nets, "modules": modules,
                       "tensors": tensors, "histories": histories}
        return plain

    def __setstate__(self, state):
        state = dict(state)
        saved = state.pop(_KEY, None)
        super().__setstate__(state)
        # a parameter added since the model was saved takes its default, as in a new model
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            if param.default is not param.empty and name not in vars(self):
                setattr(self, name, param.default)
        if saved is None:
            _upgrade_0_1_0(self)
            return  # pickled before skl0 had this state: its nets unpickle themselves
        if saved["format"] > _FORMAT:
            raise ValueError(f"this model was saved in skl0's state format {saved['format']}; "
                             f"this version of skl0 reads up to {_FORMAT}: upgrade skl0")
        resolve = _Resolver(self)
        for key, t in saved["tensors"].items():
            tensor = torch.tensor(t["data"], device=_map_device(t["device"]))
            setattr(self, key, tensor.requires_grad_(bool(t["requires_grad"])))
        for key, module in saved["modules"].items():
            setattr(self, key, _build_module(module, [key], resolve))
        for key, net in saved["nets"].items():
            setattr(self, key, _build_net(self, key, net, resolve))
        for key, history in saved["histories"].items():
            setattr(self, key, getattr(self, history).history if isinstance(history, str)
                    else History(history))


def _upgrade_0_1_0(estimator):
    """A state of skl0 0.1.0 in today's terms: its ``pursuit`` flag chose what ``transform``
    ran, now the fitted ``route_`` (the pursuit after the network, or the network alone);
    the network was trained for the ``alpha`` it holds."""
    attrs = vars(estimator)
    if "pursuit" in attrs and "route_" not in attrs and "route" in attrs:
        estimator.route_ = "pursuit" if attrs.pop("pursuit") else "network"
    if "components_" in attrs and "alpha" in attrs and "_fit_alpha" not in attrs:
        estimator._fit_alpha = attrs["alpha"]


def _detensor(value):
    """``value`` with every tensor inside a dict, list or tuple as a numpy array; any other
    object (a nested estimator, a parameter's class or callable) is left to the pickler."""
    if isinstance(value, torch.Tensor):
        return _array(value)
    if type(value) is dict:
        return {key: _detensor(item) for key, item in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_detensor(item) for item in value)
    return value
