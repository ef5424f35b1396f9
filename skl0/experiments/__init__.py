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
