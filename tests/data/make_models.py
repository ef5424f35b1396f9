"""Write the saved models that ``tests/test_persistence.py`` loads, run by hand.

One tiny fitted model per estimator (16 samples, 5 features, 4 atoms, one epoch), saved with
``skl0.persistence.dump`` as ``<prefix><name>.skops``, and beside it ``<prefix><name>.npz``
holding the data ``X`` and the outputs of the fitted model (``transform``, or
``predict_proba`` and ``predict``). A later skl0 must load these files and give the same
outputs: rerun this script only when a change of the saved state is meant to break old files,
and say so in the history page. When a deliberate change of the computation (not of the
state) moves the outputs, ``--outputs-only`` loads the files as they are and records what
they give now (say so in the history page too).

Usage, from the repository root::

    python tests/data/make_models.py                   # the current format
    # the format of skl0 0.1.0's persistence (custom skops nodes), from that commit's code:
    git archive 0f4fce1 skl0 | tar -x -C /tmp/skl0-0.1.0
    PYTHONPATH=/tmp/skl0-0.1.0 python tests/data/make_models.py --prefix legacy_
    # the outputs of the files as they are, for both prefixes
    python tests/data/make_models.py --outputs-only
    python tests/data/make_models.py --prefix legacy_ --outputs-only
"""

import argparse
import pathlib
import zipfile

import numpy as np

HERE = pathlib.Path(__file__).parent


def models():
    """The estimators saved, by file name (parameters both skl0 versions accept)."""
    from skl0 import L0Classifier, L0Clusterer, L0Encoder, LISTAEncoder, MSparseEncoder

    small = {"n_components": 4, "max_epochs": 1, "dict_max_iter": 2, "solver_max_iter": 3,
             "random_state": 0, "device": "cpu"}
    # the routes that save a network (0.1.0 had no route: its pursuit flag was on by default)
    routes = ({"l0": {"route": "pursuit"}, "msparse": {"route": "network"}}
              if "route" in L0Encoder().get_params() else {"l0": {}, "msparse": {}})
    return {
        "l0_encoder": L0Encoder(**small, **routes["l0"]),
        "msparse_encoder": MSparseEncoder(**small, n_nonzero_coefs=2, **routes["msparse"]),
        "lista_encoder": LISTAEncoder(**small),
        "l0_classifier": L0Classifier(L0Encoder(**small), max_epochs=1, random_state=0,
                                      device="cpu"),
        "l0_clusterer": L0Clusterer(2, MSparseEncoder(**small, n_nonzero_coefs=2),
                                    max_epochs=1, random_state=0, device="cpu"),
    }


def outputs(model, X):
    """What a loaded model must reproduce exactly."""
    if hasattr(model, "transform"):
        return {"transform": model.transform(X)}
    return {"predict_proba": model.predict_proba(X), "predict": model.predict(X)}


def rerecord_outputs(prefix):
    """Load each saved model as it is and record its outputs on the saved ``X`` anew."""
    from skl0.persistence import load

    for name in models():
        with np.load(HERE / f"{prefix}{name}.npz") as saved:
            X = saved["X"]
        model = load(HERE / f"{prefix}{name}.skops")
        np.savez(HERE / f"{prefix}{name}.npz", X=X, **outputs(model, X))
        print(f"{prefix}{name}: outputs recorded")


def main(prefix):
    from skl0.persistence import dump

    rng = np.random.RandomState(0)
    X, y = rng.randn(16, 5), np.arange(16) % 2
    for name, model in models().items():
        model.fit(X, y) if name == "l0_classifier" else model.fit(X)
        # skops stores its schema uncompressed by default; these files are kept in git
        dump(model, HERE / f"{prefix}{name}.skops", compression=zipfile.ZIP_DEFLATED)
        np.savez(HERE / f"{prefix}{name}.npz", X=X, **outputs(model, X))
        print(f"{prefix}{name}: {(HERE / f'{prefix}{name}.skops').stat().st_size} bytes")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default="", help="prefix of the file names")
    parser.add_argument("--outputs-only", action="store_true",
                        help="keep the saved models; record their outputs anew")
    args = parser.parse_args()
    rerecord_outputs(args.prefix) if args.outputs_only else main(args.prefix)
