import ast
from pathlib import Path

import numpy as np
import pytest

import skl0
from skl0.experiments import data


def test_fashion_mnist_keeps_its_own_split(monkeypatch):
    rng = np.random.RandomState(0)
    files = {"train": (rng.randint(0, 256, (60, 28, 28)), rng.randint(0, 10, 60)),
             "test": (rng.randint(0, 256, (20, 28, 28)), rng.randint(0, 10, 20))}
    files["train"][0][3] = 7  # a constant image: dropped, with its label

    def fake_load(subset, return_X_y):
        return files[subset]

    monkeypatch.setattr(data, "load_fashion_mnist", fake_load)
    part = data.load_split("fashion", seed=0)
    assert part.X_train.shape == (59, 256) and part.X_test.shape == (20, 256)
    np.testing.assert_array_equal(part.y_train, np.delete(files["train"][1], 3))
    np.testing.assert_array_equal(part.y_test, files["test"][1])  # the test file, in order
    assert len(part.raw_train) == 59 and part.image_shape == (28, 28)
    X, y, description = data.load("fashion")
    np.testing.assert_array_equal(X, np.concatenate([part.X_train, part.X_test]))
    assert "Fashion-MNIST" in description


def test_digits_are_prepared_per_image_and_split_by_seed():
    part = data.load_split("digits", seed=0)
    X = np.concatenate([part.X_train, part.X_test])
    np.testing.assert_allclose(X.mean(axis=1), 0, atol=1e-5)  # each image centred
    np.testing.assert_allclose(X.std(axis=1), 1, rtol=1e-4)   # and of variance 1
    assert len(part.X_test) == 540  # 30 %
    np.testing.assert_array_equal(part.prepare(part.raw_train), part.X_train)
    other = data.load_split("digits", seed=1)
    assert not np.array_equal(other.y_test, part.y_test)
    with pytest.raises(ValueError, match="dataset must be one of"):
        data.load_split("mnist")


def test_experiments_use_only_the_public_api():
    # the experiments are written as a user would write them: no private module of skl0
    # (the progress bar, a display helper, excepted) and no private name of a public one
    root = Path(skl0.__file__).parent / "experiments"
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                parts = module.split(".")
                if node.level >= 2 or parts[0] == "skl0":
                    assert all(not p.startswith("_") or p == "_progress" for p in parts), (
                        path.name, module)
                    assert all(not alias.name.startswith("_") for alias in node.names), (
                        path.name, module)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                assert not (node.value.id in {"skl0", "_classification", "_clustering"}
                            and node.attr.startswith("_")), (path.name, node.attr)
