"""The paper's experiments as runnable code (``python -m skl0 reproduce EXPERIMENT``).

Each module named in :data:`EXPERIMENTS` exposes
``run(experiment, *, dataset, n_components, seed, quick, output_dir, device)``, prints its
table with progress while it runs and writes Markdown, CSV and figures to ``output_dir``.
"""

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
