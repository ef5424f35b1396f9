"""Run every script of ``examples/`` and check what it computes and prints.

The scripts are discovered by glob, so a new example is run (and must carry a gallery
docstring and a line in ``examples/README.md``) as soon as it is added. They run in this
process with :func:`runpy.run_path`, under pytest's ``filterwarnings = error``: an example
that warns fails. The checks below look at the variables a script leaves behind.
"""

import ast
import math
import runpy
from pathlib import Path

import numpy as np
import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.py"))


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


def _check_pipeline_gridsearch(ns, out):
    search = ns["search"]
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["l0__alpha"] in (0.1, 0.25)
    assert search.best_params_["l0__n_components"] in (64, 128)
    assert 0.9 < search.best_score_ <= 1
    assert 0.9 < ns["test_accuracy"] <= 1 and 0.9 < ns["baseline_test"] <= 1
    assert "Best parameters" in out and "baseline" in out and "time:" in out


def _check_classification(ns, out):
    accuracy = ns["accuracy"]
    assert len(accuracy) == 4 and all(0.9 < acc <= 1 for acc in accuracy.values()), accuracy
    assert "LogisticRegression on the pixels (baseline)" in accuracy
    assert "L0Classifier() (end to end)" in out and "time:" in out


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
    "encode_digits.py": _check_encode_digits,
    "pipeline_gridsearch.py": _check_pipeline_gridsearch,
    "classification.py": _check_classification,
    "clustering.py": _check_clustering,
    "speed_vs_omp.py": _check_speed_vs_omp,
}


def test_examples_are_found_and_every_check_has_its_script():
    names = {path.name for path in EXAMPLES}
    assert len(names) >= 4
    assert set(CHECKS) <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_has_a_gallery_docstring_and_a_readme_line(path):
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert docstring, f"{path.name} has no module docstring"
    lines = docstring.splitlines()
    title, underline = lines[0].strip(), lines[1].strip()
    assert title and underline == "=" * len(title), f"{path.name}: title not underlined with ="
    assert len(lines) > 3 and not lines[2].strip() and lines[3].strip(), (
        f"{path.name}: the title needs a paragraph after a blank line")
    readme = (EXAMPLES_DIR / "README.md").read_text(encoding="utf-8")
    assert f"`{path.name}`" in readme


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(path, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # anything a script writes lands here
    monkeypatch.setenv("MPLBACKEND", "Agg")  # headless, should a script plot
    namespace = runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out
    assert out.strip(), f"{path.name} printed nothing"
    check = CHECKS.get(path.name)
    if check is not None:
        check(namespace, out)
