"""skops round trips of every fitted skl0 estimator, without ``trusted=True``."""

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile

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

FAST = {"n_components": 6, "max_epochs": 2, "dict_max_iter": 3, "solver_max_iter": 5,
        "random_state": 0, "device": "cpu"}
MAKERS = {
    "l0": lambda: L0Encoder(**FAST),
    "l0_untied_l1": lambda: L0Encoder(**FAST, n_stages=3, tied_stages=False, l1_stages=1,
                                      optimizer="sgd", lr=1e-4),
    "msparse": lambda: MSparseEncoder(**FAST, lr_decay=0.9, patience=1, train_split=0.25),
    "lista": lambda: LISTAEncoder(**FAST, optimizer="rmsprop"),
    "untrained": lambda: L0Encoder(**{**FAST, "max_epochs": 0}),
    "classifier": lambda: L0Classifier(MSparseEncoder(**FAST), max_epochs=2, random_state=0,
                                       optimizer="adamw"),
    "clusterer": lambda: L0Clusterer(2, L0Encoder(**FAST), max_epochs=2, random_state=0),
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    return rng.randn(40, 8).astype(np.float32), rng.randint(0, 2, 40)


def _outputs(est, X):
    if hasattr(est, "transform"):
        return [est.transform(X)]
    if hasattr(est, "predict_proba"):
        return [est.predict_proba(X), est.predict(X)]
    raise AssertionError(est)


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return {k: make().fit(X, y) if k == "classifier" else make().fit(X)
            for k, make in MAKERS.items()}


@pytest.mark.parametrize("kind", list(MAKERS))
def test_round_trip_without_blanket_trust(fitted, data, kind, tmp_path):
    X, _ = data
    est = fitted[kind]
    path = tmp_path / "model.skops"
    sio.dump(est, path)
    untrusted = sio.get_untrusted_types(file=path)
    # every type the file needs is in the explicit list; tensors and nets are not in it
    assert set(untrusted) <= set(persistence.trusted_types())
    assert not {"torch.Tensor", "skorch.net.NeuralNet"} & set(untrusted)
    again = sio.load(path, trusted=persistence.trusted_types())
    assert type(again) is type(est)
    for got, want in zip(_outputs(again, X), _outputs(est, X), strict=True):
        np.testing.assert_array_equal(got, want)
    # the loaded model is a whole one: params, history, a clone, a pickle
    assert again.get_params().keys() == est.get_params().keys()
    assert len(again.history_) == len(est.history_)
    clone(again)
    np.testing.assert_array_equal(_outputs(pickle.loads(pickle.dumps(again)), X)[0],
                                  _outputs(est, X)[0])


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


def test_a_pipeline_round_trip(data):
    X, _ = data
    pipe = make_pipeline(StandardScaler(), L0Encoder(**FAST)).fit(X)
    again = persistence.loads(persistence.dumps(pipe))
    np.testing.assert_array_equal(again.transform(X), pipe.transform(X))


def test_untrusted_files_are_refused(fitted):
    # a skorch net stored the generic way would run NeuralNet.__setstate__, which unpickles:
    # the list does not trust it, nor torch.Tensor's own __setstate__
    assert "skorch.net.NeuralNet" not in persistence.trusted_types()
    assert "torch.Tensor" not in persistence.trusted_types()
    data = sio.dumps(os.system)
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException, match="system"):
        persistence.loads(data)
    # without the list, skops names the types of a model that need trusting
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        sio.loads(persistence.dumps(fitted["l0"]))


def _rewrite_devices(data, device):
    """The file with every tensor and net saved on ``device`` (as if fitted there)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(src.read("schema.json"))

    def walk(node):
        if isinstance(node, dict):
            if node.get("__loader__") == "Skl0TorchTensorNode":
                node["content"]["device"] = device
            if node.get("__loader__") == "Skl0SkorchNetNode":
                attrs = node["content"]["attrs"]["content"]
                attrs["device"]["content"] = json.dumps(device)
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
    data_cuda = _rewrite_devices(persistence.dumps(est), "cuda:0")
    assert b"cuda:0" in zipfile.ZipFile(io.BytesIO(data_cuda)).read("schema.json")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    again = persistence.loads(data_cuda)
    assert again.net_.device == "cpu"
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


def test_unsupported_tensors_are_refused_at_dump():
    with pytest.raises(sio.exceptions.UnsupportedTypeException, match="bfloat16"):
        sio.dumps(torch.zeros(2, dtype=torch.bfloat16))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fitted_model_loads_in_a_cpu_only_process(data, tmp_path):
    X, _ = data
    est = L0Encoder(**{**FAST, "device": "cuda"}).fit(X)
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


@pytest.mark.skipif(not hasattr(L0Encoder, "partial_fit"), reason="no partial_fit")
@pytest.mark.parametrize("make", [L0Encoder, MSparseEncoder])
def test_training_goes_on_after_loading_as_on_the_original(data, make):
    # the optimizer's state and the schedules come back: partial_fit continues identically
    X, _ = data
    est = make(**FAST, lr_decay=0.9).fit(X[:20])
    again = persistence.loads(persistence.dumps(est))
    est.partial_fit(X[20:])
    again.partial_fit(X[20:])
    np.testing.assert_array_equal(again.transform(X), est.transform(X))


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
