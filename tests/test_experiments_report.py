"""The experiments' settings, cache and report: names, keys and the results page."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from skl0.__main__ import main
from skl0.experiments import report
from skl0.experiments.cache import Cache
from skl0.experiments.settings import TableSettings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_settings_name_the_files_in_the_documented_order():
    s = TableSettings.from_options("table1", dataset="mnist5k", seed=2, targets="paper",
                                   zca=0.01, tag="K3untied", quick=True)
    assert s.stem == "table1_mnist5k_paper-targets_zca0.01_K3untied_seed2"
    s = TableSettings.from_options("table2", dataset="digits", augment=1, tag="K4untied")
    assert s.stem == "table2_digits_K4untied_aug1" and s.problem == "msparse"
    assert TableSettings.from_options("table3", dataset="fashion").stem == "table3_fashion"
    # quick budgets, explicit ones on top, p capped at 128 (the smallest kept if none fits)
    s = TableSettings.from_options("table1", dataset="digits", quick=True, n_components=[512,
                                   64, 128], max_epochs=7)
    assert s.n_components == (64, 128) and s.max_epochs == 7 and s.n_train == 2000
    assert TableSettings.from_options("table1", dataset="digits", quick=True,
                                      n_components=[256]).n_components == (256,)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.seed = 3


def test_cache_keys_follow_the_settings_that_decide_an_entry(tmp_path):
    base = TableSettings.from_options("table1", dataset="digits")
    # table2 and table3 share their rows; a name-only field changes no key
    assert base.key() == TableSettings.from_options("table1", dataset="digits",
                                                    tag="x", device="cuda").key()
    assert base.key() != TableSettings.from_options("table1", dataset="digits",
                                                    max_epochs=5).key()
    assert base.key("dataset", "seed") == TableSettings.from_options(
        "table1", dataset="digits", max_epochs=5).key("dataset", "seed")
    calls = []

    def compute():
        calls.append(1)
        return {"a": np.arange(3)}

    for _ in range(2):  # a second cache object on the same folder reads the file
        np.testing.assert_array_equal(Cache(tmp_path).arrays("d", base.key(), compute)["a"],
                                      np.arange(3))
    assert len(calls) == 1 and len(list(tmp_path.glob("d_*.npz"))) == 1
    rows, cached = Cache(tmp_path).rows("r", base.key(), lambda: [{"x": 1}])
    assert rows == [{"x": 1}] and not cached
    assert Cache(tmp_path).rows("r", base.key(), list) == ([{"x": 1}], True)


def test_render_page_fills_each_block_from_its_file(tmp_path):
    report.write_csv(tmp_path / "t.csv", [{"a": "1", "b": "x"}, {"a": "2", "b": "y"}])
    page = tmp_path / "page.md"
    page.write_text("intro\n\n<!-- csv: t.csv -->\nstale\n<!-- end csv -->\n\n"
                    "<!-- csv: t.csv -->\n<!-- end csv -->\nend\n", encoding="utf-8")
    assert report.update_page(page, tmp_path)
    table = "| a | b |\n|---|---|\n| 1 | x |\n| 2 | y |\n"
    assert page.read_text(encoding="utf-8") == (
        f"intro\n\n<!-- csv: t.csv -->\n{table}<!-- end csv -->\n\n"
        f"<!-- csv: t.csv -->\n{table}<!-- end csv -->\nend\n")
    assert not report.update_page(page, tmp_path, check=True)


def test_results_page_is_its_csv_files(capsys):
    # the committed page is what `python -m skl0 report` writes from docs/tables/*.csv
    page = DOCS / "results.md"
    assert main(["report", "--page", str(page), "--check"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert len(page.read_text(encoding="utf-8").splitlines()) < 600


def test_codes_reference_from_an_experiment_csv():
    header, rows = report.read_csv(DOCS / "tables" / "table1_mnist5k.csv")
    assert header == report.CODES_FIELDS
    lines = report.codes_reference("table1", rows)
    assert lines[0].startswith("| method | p=128: error % (objective)")
    assert lines[-1].startswith("IHT-10 error over Deep ℓ0 encoder error (paper ≈ 3.9 / 4.8")
