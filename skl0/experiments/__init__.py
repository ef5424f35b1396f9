"""The paper's experiments as runnable code (``python -m skl0 reproduce EXPERIMENT``).

Each module named in :data:`EXPERIMENTS` exposes
``run(experiment, *, dataset, n_components, seed, quick, output_dir, device)``, prints its
table with progress while it runs and writes Markdown, CSV and figures to ``output_dir``.
Tables 1–3 run from one frozen :class:`~skl0.experiments.settings.TableSettings`, cache their
dictionaries, codes and rows with :class:`~skl0.experiments.cache.Cache` (keyed by the
settings' hash) and write through :mod:`skl0.experiments.report`, which also regenerates the
documentation's results page from its CSV files (``python -m skl0 report``).
"""

from ..metrics import sparse_coding_objective

EXPERIMENTS = {
    "table1": "skl0.experiments.codes",
    "table2": "skl0.experiments.codes",
    "table3": "skl0.experiments.codes",
    "classification": "skl0.experiments.classification",
    "clustering": "skl0.experiments.clustering",
}


def result_stem(experiment, dataset, *, seed=0, tag=None):
    """The name (without suffix) of an experiment's result files.

    ``experiment_dataset[_tag][_seedS]``: the seed appears when it is not 0, so runs with
    other seeds in the same output folder never overwrite each other (nor seed 0's files,
    whose names stay those the documentation cites).

    >>> result_stem("table1", "mnist5k", seed=2, tag="paper-targets")
    'table1_mnist5k_paper-targets_seed2'
    >>> result_stem("classification", "digits")
    'classification_digits'
    """
    parts = [experiment, dataset, tag, f"seed{seed}" if seed else None]
    return "_".join(str(part) for part in parts if part)


def mean_objective(X, codes, dictionary, *, alpha=None):
    """The mean over samples of ``0.5 ||x - a D||² + alpha ||a||_0`` (``alpha`` given), else
    of the M-sparse residual ``||x - a D||²``, in float64 (the experiments' name for
    :func:`skl0.metrics.sparse_coding_objective`).

    >>> import numpy as np
    >>> X, D = np.ones((2, 3)), np.eye(3)
    >>> mean_objective(X, np.ones((2, 3)), D), mean_objective(X, np.zeros((2, 3)), D, alpha=1)
    (0.0, 1.5)
    """
    return sparse_coding_objective(X, codes, dictionary, alpha=alpha)
