"""The code-prediction experiments (Tables 1–3) on a tiny digits case, and their CLI."""

import csv

import pytest

from skl0.__main__ import main
from skl0.experiments import codes

TINY = {"n_train": 300, "n_test": 80, "max_epochs": 40, "baseline_epochs": 3,
        "solver_max_iter": 100, "dict_max_iter": 1}


def test_tables_on_digits(tmp_path):
    # one test for both tables: table2 reuses the cached dictionary of table1
    for experiment in ("table1", "table2"):
        _check_table(tmp_path, experiment)


def _check_table(tmp_path, experiment):
    rows = codes.run(experiment, dataset="digits", n_components=[32], seed=0, quick=True,
                     output_dir=tmp_path, device="cpu", **TINY)
    stem = tmp_path / f"{experiment}_digits"
    for suffix in (".md", ".csv", "_vs_p.png", "_vs_iter.png"):
        assert (tmp_path / f"{stem.name}{suffix}").is_file()
    with open(f"{stem}.csv", encoding="utf-8") as f:
        written = list(csv.DictReader(f))
    assert len(written) == len(rows)
    by = {r["method"]: r for r in rows}
    deep = "Deep ℓ0 encoder" if experiment == "table1" else "Deep M-sparse encoder"
    assert by[deep]["prediction_error_pct"] < by["IHT (2 iterations)"]["prediction_error_pct"]
    assert by["Optimal codes (target)"]["prediction_error_pct"] == 0
    for r in rows:  # every row reports the objective its codes reach
        assert r["objective_mean"] > 0
    if experiment == "table2":
        assert by[deep]["nnz_mean"] <= codes.n_nonzero_for(32)
        assert any(m.startswith("OMP") for m in by)
    else:
        md = (tmp_path / "table1_digits.md").read_text(encoding="utf-8")
        assert "alpha = 0.25" in md and "λ = 0.5" in md


def test_cli_passes_arguments(monkeypatch, tmp_path):
    seen = {}

    def fake_run(experiment, **kwargs):
        seen.update(kwargs, experiment=experiment)

    monkeypatch.setattr(codes, "run", fake_run)
    assert main(["reproduce", "table3", "--dataset", "digits", "--p", "16", "32", "--seed",
                 "3", "--quick", "--output", str(tmp_path), "--device", "cpu"]) == 0
    assert seen == {"experiment": "table3", "dataset": "digits", "n_components": [16, 32],
                    "seed": 3, "quick": True, "output_dir": str(tmp_path), "device": "cpu"}


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="experiment"):
        codes.run("table9", dataset="digits", output_dir=tmp_path)
    with pytest.raises(ValueError, match="dataset"):
        codes.run("table1", dataset="cifar", output_dir=tmp_path)
