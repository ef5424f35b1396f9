"""Run every script of ``examples/`` and check what it computes, prints and draws.

The scripts are discovered by glob, so a new example is run as soon as it is added; it
must be named ``plot_*.py`` (the documentation's gallery runs only those), carry a
sphinx-gallery docstring, import nothing private of skl0, pass ``device="cpu"`` to every
skl0 estimator, and draw at least one figure. They run in this process with
:func:`runpy.run_path`, under pytest's ``filterwarnings = error`` (an example that warns
fails) and matplotlib's Agg backend. The checks below look at the variables a script
leaves behind.
"""

import ast
import math
import runpy
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")  # headless, before pyplot is imported by a script
import matplotlib.pyplot as plt  # noqa: E402

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.py"))
ESTIMATORS = {"L0Encoder", "MSparseEncoder", "LISTAEncoder", "L0Classifier", "L0Clusterer"}


def _check_encode_digits(ns, out):
    errors = ns["errors"]
    iht_rows = [f"IHT, {k} iterations" for k in (2, 5, 10)]
    for problem in (0, 1):  # ℓ0-regularised, M-sparse
        values = [errors[name][problem] for name in iht_rows]
        assert all(0 < v <= 1 for v in values), values
        assert values[0] > values[1] > values[2], values  # IHT converges to the targets
        # two trained stages beat two untrained ones (IHT's 2 iterations)
        assert errors["deep encoder, K = 2"][problem] < values[0]
    assert errors["OMP (sklearn)"][0] is None and 0 < errors["OMP (sklearn)"][1] < 1
    assert all(0 < e < 1 for e in errors["deep encoder + pursuit"])
    assert "deep encoder, K = 2" in out and "held-out" in out and "time:" in out


def _check_dictionary_atoms(ns, out):
    atoms, codes = ns["atoms"], ns["codes"]
    assert atoms.shape == (64, 64)
    np.testing.assert_allclose(np.linalg.norm(atoms, axis=1), 1, atol=1e-5)
    assert codes.shape == (len(ns["X_test"]), 64)
    assert 0 < np.count_nonzero(codes, axis=1).mean() < 64  # sparse, not empty
    assert np.isclose(ns["usage"].sum() * len(codes), np.count_nonzero(codes))
    assert "unit norm: True" in out


def _check_stages_vs_iht(ns, out):
    iht_error = ns["iht_error"]
    assert np.all(np.diff(iht_error) <= 1e-6), iht_error  # IHT never moves away
    # the untrained network is exactly K IHT iterations
    np.testing.assert_allclose(ns["untrained_error"], iht_error[:3], rtol=1e-3, atol=1e-4)
    for k, trained in zip(ns["stages"], ns["trained_error"], strict=True):
        assert 0 < trained < iht_error[k - 1], (k, trained)  # training helps at every K
    assert "trained net" in out


def _check_pipeline_gridsearch(ns, out):
    search = ns["search"]
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["l0__alpha"] in (0.1, 0.25)
    assert search.best_params_["l0__n_components"] in (32, 64)
    assert 0.9 < search.best_score_ <= 1
    assert 0.9 < ns["test_accuracy"] <= 1 and 0.9 < ns["baseline_test"] <= 1
    assert "Best parameters" in out and "baseline" in out and "time:" in out


def _check_classification(ns, out):
    accuracy = ns["accuracy"]
    assert len(accuracy) == 3 and all(0.9 < acc <= 1 for acc in accuracy.values()), accuracy
    assert "LogisticRegression on the pixels (baseline)" in accuracy
    assert "L0Classifier (end to end)" in out and "time:" in out


def _check_clustering(ns, out):
    errors = ns["errors"]
    assert all(0 <= e <= 1 for e in errors.values()), errors
    assert errors["L0Clusterer, 20 epochs end to end"] < errors["KMeans on the pixels"]
    assert "clustering error" in out


def _check_speed_vs_omp(ns, out):
    M = ns["N_NONZERO"]
    assert np.count_nonzero(ns["codes_encoder"], axis=1).max() <= M
    assert np.count_nonzero(ns["codes_omp"], axis=1).max() <= M
    assert np.count_nonzero(ns["codes_network"], axis=1).max() <= M
    for codes in (ns["codes_encoder"], ns["codes_omp"], ns["codes_network"]):
        assert 0 < ns["relative_error"](codes) < 1
    assert math.isfinite(ns["speedup"]) and ns["speedup"] > 0  # timings are never asserted
    assert "faster than OMP" in out and "held-out" in out and "time:" in out


CHECKS = {
    "plot_encode_digits.py": _check_encode_digits,
    "plot_dictionary_atoms.py": _check_dictionary_atoms,
    "plot_stages_vs_iht.py": _check_stages_vs_iht,
    "plot_pipeline_gridsearch.py": _check_pipeline_gridsearch,
    "plot_classification.py": _check_classification,
    "plot_clustering.py": _check_clustering,
    "plot_speed_vs_omp.py": _check_speed_vs_omp,
}


def test_examples_are_found_and_every_check_has_its_script():
    names = {path.name for path in EXAMPLES}
    assert set(CHECKS) <= names
    assert (EXAMPLES_DIR / "README.txt").is_file()  # sphinx-gallery needs the gallery header


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_is_a_gallery_script(path):
    assert path.name.startswith("plot_"), f"{path.name}: the gallery runs only plot_*.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstring = ast.get_docstring(tree)
    assert docstring, f"{path.name} has no module docstring"
    lines = docstring.splitlines()
    title, underline = lines[0].strip(), lines[1].strip()
    assert title and underline == "=" * len(title), f"{path.name}: title not underlined with ="
    assert len(lines) > 3 and not lines[2].strip() and lines[3].strip(), (
        f"{path.name}: the title needs a paragraph after a blank line")
    for node in ast.walk(tree):
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        private = [m for m in modules if m.startswith("skl0") and "._" in m]
        assert not private, f"{path.name} imports private names: {private}"
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ESTIMATORS:
            keywords = {kw.arg: kw.value for kw in node.keywords}
            assert "device" in keywords and ast.literal_eval(keywords["device"]) == "cpu", (
                f"{path.name}, line {node.lineno}: pass device=\"cpu\" to {node.func.id}")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_runs_and_draws(path, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # anything a script writes lands here
    plt.close("all")
    try:
        namespace = runpy.run_path(str(path), run_name="__main__")
        figures = [plt.figure(number) for number in plt.get_fignums()]
        assert figures, f"{path.name} drew no figure"
        for figure in figures:
            assert figure.axes and any(ax.has_data() for ax in figure.axes), (
                f"{path.name}: a figure without data")
    finally:
        plt.close("all")
    out = capsys.readouterr().out
    assert out.strip(), f"{path.name} printed nothing"
    assert path.name in CHECKS, f"{path.name} has no check in CHECKS"
    CHECKS[path.name](namespace, out)
