"""Saving and loading fitted skl0 estimators: pickle, joblib, deepcopy and skops' default
handling of their plain state; skl0.persistence; files saved by earlier versions."""

import copy
import io
import json
import os
import pathlib
import pickle
import subprocess
import sys
import zipfile

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

sio = pytest.importorskip("skops.io")

from skl0 import (  # noqa: E402
    L0Classifier,
    L0Clusterer,
    L0Encoder,
    LISTAEncoder,
    MSparseEncoder,
    persistence,
)
from skl0._state import _PlainState  # noqa: E402

DATA = pathlib.Path(__file__).parent / "data"
FAST = {"n_components": 6, "max_epochs": 2, "dict_max_iter": 3, "solver_max_iter": 5,
        "random_state": 0, "device": "cpu"}
NET = {"route": "network"}  # the encoders that have routes train their network for it
MAKERS = {
    "l0": lambda: L0Encoder(**FAST, **NET),
    "l0_untied_l1": lambda: L0Encoder(**FAST, **NET, n_stages=3, tied_stages=False,
                                      l1_stages=1, optimizer="sgd", lr=1e-4),
    "msparse": lambda: MSparseEncoder(**FAST, route="pursuit", lr_decay=0.9, patience=1,
                                      train_split=0.25),
    "msparse_residual": lambda: MSparseEncoder(**FAST, **NET, network_loss="residual"),
    "lista": lambda: LISTAEncoder(**FAST, optimizer="rmsprop"),
    "untrained": lambda: L0Encoder(**{**FAST, "max_epochs": 0}, **NET),
    "classifier": lambda: L0Classifier(MSparseEncoder(**FAST), max_epochs=2, random_state=0,
                                       optimizer="adamw", device="cpu"),
    "clusterer": lambda: L0Clusterer(2, L0Encoder(**FAST), max_epochs=2, random_state=0,
                                     device="cpu"),
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    return rng.randn(40, 8).astype(np.float32), rng.randint(0, 2, 40)


def _outputs(est, X):
    if hasattr(est, "transform"):
        return [est.transform(X)]
    return [est.predict_proba(X), est.predict(X)]


def _assert_same(again, est, X):
    assert type(again) is type(est)
    for got, want in zip(_outputs(again, X), _outputs(est, X), strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return {k: make().fit(X, y) if k == "classifier" else make().fit(X)
            for k, make in MAKERS.items()}


def _own_types(untrusted):
    return all(name.startswith(("skl0.", "numpy.")) for name in untrusted)


@pytest.mark.parametrize("kind", list(MAKERS))
def test_skops_default_handling_round_trip(fitted, data, kind, tmp_path):
    # plain skops, nothing registered: the file names skl0's classes (and numpy's) only
    X, _ = data
    est = fitted[kind]
    path = tmp_path / "model.skops"
    sio.dump(est, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert _own_types(untrusted), untrusted
    assert set(untrusted) <= set(persistence.trusted_types())
    again = sio.load(path, trusted=untrusted)
    _assert_same(again, est, X)
    # the loaded model is a whole one: params, history, a clone, another save
    assert again.get_params().keys() == est.get_params().keys()
    assert len(again.history_) == len(est.history_)
    assert again.history_ is again.net_.history
    clone(again)
    _assert_same(sio.loads(sio.dumps(again), trusted=untrusted), est, X)


@pytest.mark.parametrize("kind", list(MAKERS))
@pytest.mark.parametrize("copier", ["pickle", "joblib", "deepcopy"])
def test_pickle_joblib_and_deepcopy(fitted, data, kind, copier, tmp_path):
    X, _ = data
    est = fitted[kind]
    if copier == "pickle":
        again = pickle.loads(pickle.dumps(est))
    elif copier == "joblib":
        joblib.dump(est, tmp_path / "m.joblib")
        again = joblib.load(tmp_path / "m.joblib")
    else:
        again = copy.deepcopy(est)
    _assert_same(again, est, X)
    assert again.net_ is not est.net_


def test_plain_skops_needs_no_import_of_skl0_persistence(tmp_path):
    # a fresh process: skops' own dump and load, skl0.persistence never imported
    code = (
        "import sys, numpy as np, skops.io as sio; from skl0 import L0Classifier, L0Encoder\n"
        "X = np.random.RandomState(0).randn(20, 5); y = np.arange(20) % 2\n"
        "m = L0Classifier(L0Encoder(n_components=4, max_epochs=1, dict_max_iter=2,"
        " random_state=0, device='cpu'), max_epochs=1, random_state=0, device='cpu')"
        ".fit(X, y)\n"
        f"sio.dump(m, {str(tmp_path / 'm.skops')!r})\n"
        f"t = sio.get_untrusted_types(file={str(tmp_path / 'm.skops')!r})\n"
        f"again = sio.load({str(tmp_path / 'm.skops')!r}, trusted=t)\n"
        "assert 'skl0.persistence' not in sys.modules\n"
        "assert np.array_equal(again.predict_proba(X), m.predict_proba(X))\n"
        "print(sorted(t))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, timeout=300).stdout
    assert out.splitlines()[-1] == "['skl0.classification.L0Classifier', 'skl0.encoders.L0Encoder']"


_PLAIN = (type(None), bool, int, float, str, np.ndarray, np.generic)


def _assert_plain(value, where="state"):
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str | int), where
            _assert_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _assert_plain(item, f"{where}[{i}]")
    elif isinstance(value, _PlainState):
        _assert_plain(value.__getstate__(), f"{where}.__getstate__()")
    else:
        assert isinstance(value, _PLAIN), f"{where} is a {type(value).__name__}"


@pytest.mark.parametrize("kind", list(MAKERS))
def test_the_state_is_numpy_arrays_and_plain_configuration(fitted, kind):
    state = fitted[kind].__getstate__()
    _assert_plain(state)
    assert "net_" not in state and "history_" not in state  # both are in the nets' state


def test_the_wrapper_shares_its_encoders_module_after_loading(fitted, data):
    # the net fine-tunes the encoder's own module: one object, saved once, before and after
    X, _ = data
    for kind in ("classifier", "clusterer"):
        est = fitted[kind]
        assert est.net_.module_.trunk is est.encoder_.net_.module_
        state = est.__getstate__()["_skl0_state"]["nets"]["net_"]["module"]
        assert state["children"]["trunk"] == {"ref": ["encoder_", "net_", "module_"]}
        for again in (pickle.loads(pickle.dumps(est)), persistence.loads(persistence.dumps(est))):
            assert again.net_.module_.trunk is again.encoder_.net_.module_
            np.testing.assert_array_equal(again.encoder_.transform(X), est.encoder_.transform(X))


def test_cached_attributes_are_dropped_and_a_missing_net_is_fine(fitted, data):
    X, _ = data
    est = copy.deepcopy(fitted["l0"])
    est._cached_anything = object()  # not plain, not saved
    del est.net_, est.history_  # a route that needs no network leaves no net
    state = est.__getstate__()
    assert "_cached_anything" not in state and not state["_skl0_state"]["nets"]
    again = pickle.loads(pickle.dumps(est))
    assert not hasattr(again, "net_") and not hasattr(again, "_cached_anything")
    np.testing.assert_array_equal(again.components_, est.components_)


def test_a_parameter_added_later_takes_its_default(fitted, data):
    X, _ = data
    est = fitted["lista"]
    state = est.__getstate__()
    del state["batch_size"]  # as if saved before the parameter existed
    again = type(est).__new__(type(est))
    again.__setstate__(state)
    assert again.batch_size == type(est)().batch_size
    np.testing.assert_array_equal(again.transform(X), est.transform(X))


def test_the_optimizer_comes_back_with_its_state_and_the_module_parameters(fitted):
    est = fitted["l0"]
    again = persistence.loads(persistence.dumps(est))
    opt, opt0 = again.net_.optimizer_, est.net_.optimizer_
    assert type(opt) is type(opt0)
    # the optimizer updates the loaded module's own parameters
    ids = {id(p) for g in opt.param_groups for p in g["params"]}
    assert ids == {id(p) for p in again.net_.module_.parameters()}
    sd, sd0 = opt.state_dict(), opt0.state_dict()
    assert sd["param_groups"] == sd0["param_groups"]
    for k, state in sd0["state"].items():
        for name, value in state.items():
            torch.testing.assert_close(sd["state"][k][name], value)


@pytest.mark.parametrize("make", [L0Encoder, MSparseEncoder])
def test_training_goes_on_after_loading_as_on_the_original(data, make):
    # the optimizer's state and the schedules come back: partial_fit continues identically
    X, _ = data
    est = make(**FAST, lr_decay=0.9).partial_fit(X[:20])
    again = persistence.loads(persistence.dumps(est))
    est.partial_fit(X[20:])
    again.partial_fit(X[20:])
    np.testing.assert_array_equal(again.transform(X), est.transform(X))
    assert again.history_ == est.history_[:-1] + again.history_[-1:]
    assert len(again.history_) == len(est.history_)


def test_a_pipeline_round_trip(data):
    X, _ = data
    pipe = make_pipeline(StandardScaler(), L0Encoder(**FAST)).fit(X)
    again = persistence.loads(persistence.dumps(pipe))
    np.testing.assert_array_equal(again.transform(X), pipe.transform(X))


def test_trusted_types_come_from_the_classes():
    names = persistence.trusted_types()
    for cls in (L0Encoder, MSparseEncoder, LISTAEncoder, L0Classifier, L0Clusterer):
        assert f"{cls.__module__}.{cls.__qualname__}" in names
    assert _own_types([n for n in names if not n.startswith("torch.optim.")])


def test_a_frozen_encoder_and_an_optimizer_class_load_with_the_list(fitted, data):
    # what a wrapper's parameters may hold besides skl0's classes: no trusted=... for them
    from sklearn.frozen import FrozenEstimator

    X, y = data
    clf = L0Classifier(FrozenEstimator(fitted["lista"]), max_epochs=1, random_state=0,
                       optimizer=torch.optim.SGD, device="cpu").fit(X, y)
    saved = persistence.dumps(clf)
    untrusted = sio.get_untrusted_types(data=saved)
    assert "torch.optim.sgd.SGD" in untrusted
    assert set(untrusted) <= set(persistence.trusted_types())
    _assert_same(persistence.loads(saved), clf, X)


def test_untrusted_files_are_refused(fitted):
    data = sio.dumps(os.system)
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException, match="system"):
        persistence.loads(data)
    # without a list, skops names the estimator's class as a type to trust
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException, match="L0Encoder"):
        sio.loads(persistence.dumps(fitted["l0"]))


def test_no_private_skops_api_anywhere():
    root = pathlib.Path(__file__).parents[1]
    private = "skops.io." + "_"  # spelled in two parts so this file does not match
    for path in root.glob("**/*.py"):
        if ".git" not in path.parts:
            assert private not in path.read_text(encoding="utf-8"), path


def _with_device(data, device):
    """The file with every net's saved device replaced (as if fitted there)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(src.read("schema.json"))
    fresh = iter(range(1, 10**6))

    def walk(node):
        if isinstance(node, dict):
            content = node.get("content")
            if isinstance(content, dict) and {"module", "criterion", "device"} <= set(content):
                # a new id: skops shares equal strings saved once (the `device` parameter)
                content["device"] = {**content["device"], "content": json.dumps(device),
                                     "__id__": -next(fresh)}
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = json.dumps(schema) if info.filename == "schema.json" else src.read(info)
            dst.writestr(info.filename, body)
    return out.getvalue()


def test_a_model_saved_on_cuda_loads_on_the_cpu(fitted, data, monkeypatch):
    X, _ = data
    est = fitted["classifier"]
    data_cuda = _with_device(persistence.dumps(est), "cuda:0")
    assert data_cuda.count(b"cuda:0") == 2  # the wrapper's net and its encoder's
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    again = persistence.loads(data_cuda)
    assert again.net_.device == again.encoder_.net_.device == "cpu"
    assert all(p.device.type == "cpu" for p in again.net_.module_.parameters())
    np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))


def test_map_device(monkeypatch):
    assert persistence.map_device("cpu") == "cpu"
    assert persistence.map_device(torch.device("cpu")) == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert persistence.map_device("cuda") == "cpu"
    assert persistence.map_device("cuda:3") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert persistence.map_device("cuda:1") == "cuda:1"
    assert persistence.map_device("cuda:2") == "cpu"
    with pytest.raises(sio.exceptions.UnsupportedTypeException, match="meta"):
        persistence.map_device("meta")


def test_tensors_numpy_cannot_hold_are_refused_at_save(data):
    X, _ = data
    est = LISTAEncoder(**FAST).fit(X)
    est.net_.module_.to(torch.bfloat16)
    with pytest.raises(TypeError, match="bfloat16"):
        pickle.dumps(est)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fitted_model_loads_in_a_cpu_only_process(data, tmp_path):
    X, _ = data
    est = L0Encoder(**{**FAST, "device": "cuda"}, **NET).fit(X)
    path, codes = tmp_path / "m.skops", tmp_path / "codes.npy"
    persistence.dump(est, path)
    np.save(tmp_path / "X.npy", X)
    code = (
        "import numpy as np, torch; from skl0 import persistence as p; "
        f"m = p.load({str(path)!r}); assert not torch.cuda.is_available(); "
        "assert m.net_.device == 'cpu'; "
        f"np.save({str(codes)!r}, m.transform(np.load({str(tmp_path / 'X.npy')!r})))"
    )
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300)
    np.testing.assert_allclose(np.load(codes), est.transform(X), rtol=1e-5, atol=1e-5)


def _saved_models(legacy):
    names = sorted(p.stem for p in DATA.glob("*.skops"))
    return [n for n in names if n.startswith("legacy_") == legacy]


@pytest.mark.parametrize("name", _saved_models(legacy=False))
def test_a_model_saved_by_an_earlier_version_loads(name):
    # the files of tests/data/make_models.py: skops' default handling, exact outputs
    path = DATA / f"{name}.skops"
    untrusted = sio.get_untrusted_types(file=path)
    assert _own_types(untrusted), untrusted
    for model in (sio.load(path, trusted=untrusted), persistence.load(path)):
        expected = np.load(DATA / f"{name}.npz")
        for method in expected.files[1:]:
            np.testing.assert_array_equal(getattr(model, method)(expected["X"]),
                                          expected[method])


@pytest.mark.parametrize("name", _saved_models(legacy=True))
def test_a_model_saved_by_the_custom_skops_nodes_of_0_1_0_loads(name):
    # skl0 0.1.0's persistence saved tensors and nets with node types of its own
    path = DATA / f"{name}.skops"
    assert b"Skl0SkorchNetNode" in zipfile.ZipFile(path).read("schema.json")
    model = persistence.load(path)
    expected = np.load(DATA / f"{name}.npz")
    for method in expected.files[1:]:
        np.testing.assert_array_equal(getattr(model, method)(expected["X"]), expected[method])
    assert "_skl0_state" in model.__getstate__()  # converted: saved anew in today's state


@pytest.mark.parametrize(
    "name, kwargs, param",
    [
        ("dump", {"estimator": None, "file": 3}, "file"),
        ("dump", {"estimator": None, "file": b"model.skops"}, "file"),
        ("load", {"file": None}, "file"),
        ("load", {"file": io.BytesIO(), "trusted": "os.system"}, "trusted"),
        ("load", {"file": io.BytesIO(), "trusted": 1}, "trusted"),
        ("loads", {"data": "not bytes"}, "data"),
        ("loads", {"data": b"", "trusted": None}, "trusted"),
        ("map_device", {"device": 0}, "device"),
        ("map_device", {"device": None}, "device"),
    ],
)
def test_public_functions_name_the_invalid_parameter(name, kwargs, param):
    # scikit-learn's InvalidParameterError, a ValueError and a TypeError; nothing is read
    func = getattr(persistence, name)
    with pytest.raises(InvalidParameterError, match=f"'{param}' parameter of {name}"):
        func(**kwargs)
    with pytest.raises(TypeError, match=f"'{param}' parameter"):
        func(**kwargs)


def test_trusted_entries_and_device_strings_are_checked():
    with pytest.raises(ValueError, match="trusted must hold type names"):
        persistence.loads(b"", trusted=["sklearn.preprocessing.StandardScaler", 3])
    with pytest.raises(ValueError, match="'tpu:0' is not a torch device"):
        persistence.map_device("tpu:0")
    with pytest.raises(TypeError, match="positional argument"):
        persistence.trusted_types("extra")
