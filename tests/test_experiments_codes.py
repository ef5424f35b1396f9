"""The code-prediction experiments (Tables 1–3) on a tiny digits case, and their CLI."""

import csv
import json

import numpy as np
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
    seen.clear()
    assert main(["reproduce", "table1", "--dataset", "digits", "--zca", "0.01"]) == 0
    assert seen["zca"] == 0.01
    with pytest.raises(SystemExit, match="table1, table2 and table3"):
        main(["reproduce", "classification", "--zca", "0.01"])
    seen.clear()
    assert main(["reproduce", "table2", "--dataset", "digits", "--targets", "paper"]) == 0
    assert seen["targets"] == "paper"
    with pytest.raises(SystemExit, match="table1, table2 and table3"):
        main(["reproduce", "clustering", "--targets", "paper"])


def test_cli_recipe_options(monkeypatch):
    seen = {}
    monkeypatch.setattr(codes, "run", lambda experiment, **kwargs: seen.update(kwargs))
    assert main(["reproduce", "table1", "--n-stages", "3", "--untied", "--n-train",
                 "20000"]) == 0
    assert seen["encoder_params"] == {"n_stages": 3, "tied_stages": False}
    assert seen["n_train"] == 20000
    assert seen["tag"] == "20k_K3untied"  # the names of the files docs/results.md cites
    seen.clear()
    assert main(["reproduce", "table2", "--n-stages", "4"]) == 0
    assert seen["encoder_params"] == {"n_stages": 4} and seen["tag"] == "K4tied"
    seen.clear()
    assert main(["reproduce", "table3", "--untied", "--n-train", "1234"]) == 0
    assert seen["encoder_params"] == {"tied_stages": False} and seen["tag"] == "n1234_K2untied"
    seen.clear()
    assert main(["reproduce", "table2", "--n-stages", "3", "--untied", "--lr", "3e-3"]) == 0
    assert seen["encoder_params"] == {"n_stages": 3, "tied_stages": False, "lr": 0.003}
    assert seen["tag"] == "K3untied_lr0.003"
    seen.clear()
    assert main(["reproduce", "table1", "--lr", "0.0005"]) == 0
    assert seen["encoder_params"] == {"lr": 0.0005} and seen["tag"] == "lr0.0005"
    seen.clear()
    assert main(["reproduce", "table1", "--augment", "2", "--n-stages", "3", "--untied"]) == 0
    assert seen["augment"] == 2 and seen["tag"] == "K3untied"  # run() appends _aug2
    seen.clear()
    assert main(["reproduce", "table1", "--n-stages", "3", "--untied", "--valid", "0.1",
                 "--patience", "10"]) == 0
    assert seen["encoder_params"] == {"n_stages": 3, "tied_stages": False,
                                      "train_split": 0.1, "patience": 10}
    assert seen["tag"] == "K3untied_val0.1_pat10"
    seen.clear()
    assert main(["reproduce", "table1", "--n-stages", "3", "--untied", "--l1-stages", "2"]) == 0
    assert seen["encoder_params"] == {"n_stages": 3, "tied_stages": False, "l1_stages": 2}
    assert seen["tag"] == "K3untied_l1s2"
    seen.clear()
    assert main(["reproduce", "table2", "--patience", "5"]) == 0
    assert seen["encoder_params"] == {"patience": 5} and seen["tag"] == "pat5"
    seen.clear()
    assert main(["reproduce", "table1"]) == 0
    assert not {"encoder_params", "tag", "n_train", "augment"} & set(seen)  # the paper's
    seen.clear()
    for argv, msg in ((["classification", "--untied"], "--untied applies to table1"),
                      (["clustering", "--n-stages", "3"], "--n-stages applies to table1"),
                      (["table1", "--n-stages", "0"], "--n-stages: The 'n_stages' parameter"),
                      (["table1", "--n-train", "0"], "--n-train must be at least 1"),
                      (["classification", "--lr", "0.01"], "--lr applies to table1"),
                      (["table2", "--lr", "0"], "--lr: The 'lr' parameter"),
                      (["table2", "--lr", "nan"], "--lr: The 'lr' parameter"),
                      (["table2", "--lr", "inf"], "--lr: The 'lr' parameter"),
                      (["table1", "--augment", "0"], "--augment must be at least 1"),
                      (["clustering", "--augment", "1"], "--augment applies to table1"),
                      (["table1", "--valid", "1"], "--valid: The 'train_split' parameter"),
                      (["table1", "--valid", "nan"], "--valid: The 'train_split' parameter"),
                      (["table1", "--valid", "0.1", "--augment", "1"], "with --augment"),
                      (["table1", "--patience", "0"], "--patience: The 'patience' parameter"),
                      (["table2", "--l1-stages", "1"], "--l1-stages applies to table1 only"),
                      (["clustering", "--l1-stages", "1"], "--l1-stages applies to table1"),
                      (["table1", "--l1-stages", "2"], r"less than --n-stages \(2\)"),
                      (["table1", "--n-stages", "3", "--l1-stages", "-1"], "--l1-stages: The "),
                      (["classification", "--patience", "3"], "--patience applies to"),
                      (["table1", "--seed", "-1"], "--seed: The 'random_state' parameter"),
                      (["classification", "--seed", "4294967296"], "--seed: The 'random_"),
                      (["table1", "--p", "128", "0"], "--p: The 'n_components' parameter"),
                      (["table1", "--device", "tpu"], "--device: device='tpu' is not"),
                      (["table1", "--threads", "0"], "--threads must be at least 1")):
        with pytest.raises(SystemExit, match=msg):
            main(["reproduce", *argv])
    assert not seen  # every one stopped before the run
    with pytest.raises(SystemExit, match="--max-epochs: The 'max_epochs' parameter"):
        main(["demo", "--max-epochs", "-1"])
    with pytest.raises(SystemExit, match="--seed: The 'random_state' parameter"):
        main(["demo", "--seed", "-2"])


def test_cli_reports_bad_choices_and_missing_data_in_one_line(monkeypatch, capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "table1", "--dataset", "indian_pines"])
    assert "invalid choice: 'indian_pines'" in capsys.readouterr().err

    def missing(experiment, **kwargs):
        raise FileNotFoundError("Fashion-MNIST not found: apt-get install dataset-fashion-mnist")

    monkeypatch.setattr(codes, "run", missing)
    with pytest.raises(SystemExit, match="reproduce: error: Fashion-MNIST not found: apt-get"):
        main(["reproduce", "table1", "--dataset", "fashion"])


def test_zca_whitens_with_training_statistics():
    rng = np.random.RandomState(0)
    mix = rng.randn(6, 6) * np.array([5.0, 2.0, 1.0, 0.5, 0.2, 0.1])
    Xtr, Xte = rng.randn(4000, 6) @ mix + 3.0, rng.randn(50, 6) @ mix
    before = Xtr.copy()
    Ztr, Zte = codes._zca(Xtr, Xte, 1e-12)
    np.testing.assert_array_equal(Xtr, before)  # input not modified
    cov = np.cov(Ztr, rowvar=False)
    np.testing.assert_allclose(cov, np.eye(6) * cov[0, 0], atol=1e-6)  # white
    assert np.mean(Ztr**2) == pytest.approx(1.0)  # mean variance 1
    # the test part goes through the training statistics: a symmetric linear map
    W = np.linalg.lstsq(Xtr - Xtr.mean(0), Ztr, rcond=None)[0]
    np.testing.assert_allclose(W, W.T, atol=1e-8)
    np.testing.assert_allclose(Zte, (Xte - Xtr.mean(0)) @ W, atol=1e-8)
    # a larger eps leaves the weak directions less amplified
    Zeps = codes._zca(Xtr, Xte, 0.1)[0]
    assert np.cov(Zeps, rowvar=False).diagonal().std() > 0.1


def test_tables_with_zca(tmp_path):
    Xtr, Xte, desc = codes.load_dataset("digits", n_train=300, n_test=80, zca=0.01)
    assert Xtr.dtype == np.float32 and Xte.shape == (80, 64) and "ZCA" in desc
    rows = codes.run("table1", dataset="digits", n_components=[16], seed=0, quick=True,
                     output_dir=tmp_path, device="cpu", zca=0.01,
                     **{**TINY, "max_epochs": 5})
    assert (tmp_path / "table1_digits_zca0.01.csv").is_file()
    assert "ZCA" in (tmp_path / "table1_digits_zca0.01.md").read_text(encoding="utf-8")
    assert {r["method"] for r in rows} >= {"IHT (10 iterations)", "Deep ℓ0 encoder"}


def test_tables_with_the_papers_targets(tmp_path):
    kw = dict(dataset="digits", n_components=[16], seed=0, quick=True, output_dir=tmp_path,
              device="cpu", **{**TINY, "max_epochs": 5})
    default = {r["method"]: r for r in codes.run("table1", **kw)}
    paper = {r["method"]: r for r in codes.run("table1", targets="paper", **kw)}
    md = (tmp_path / "table1_digits_paper-targets.md").read_text(encoding="utf-8")
    assert "plain IHT until convergence" in md
    assert (tmp_path / "table1_digits_paper-targets.csv").is_file()
    assert "HTP" in (tmp_path / "table1_digits.md").read_text(encoding="utf-8")
    # the same dictionary and IHT rows (objectives), other targets (their errors and objective)
    it10 = "IHT (10 iterations)"
    assert paper[it10]["objective_mean"] == default[it10]["objective_mean"]
    assert paper[it10]["prediction_error_pct"] != default[it10]["prediction_error_pct"]
    target = "Optimal codes (target)"
    assert paper[target]["objective_mean"] != default[target]["objective_mean"]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="experiment"):
        codes.run("table9", dataset="digits", output_dir=tmp_path)
    with pytest.raises(ValueError, match="dataset"):
        codes.run("table1", dataset="cifar", output_dir=tmp_path)
    with pytest.raises(ValueError, match="zca must be a positive float"):
        codes.load_dataset("digits", zca=-1.0)
    with pytest.raises(ValueError, match="targets must be one of"):
        codes.run("table1", dataset="digits", output_dir=tmp_path, targets="omp")


def test_shifted_copies_against_a_loop():
    rng = np.random.default_rng(0)
    imgs = rng.standard_normal((3, 4 * 5))
    out = codes._shifted_copies(imgs, (4, 5), 1)
    assert out.shape == (8 * 3, 20)
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
    for k, (dy, dx) in enumerate(shifts):
        for n in range(3):
            img, ref = imgs[n].reshape(4, 5), np.zeros((4, 5))
            for i in range(4):
                for j in range(5):
                    if 0 <= i - dy < 4 and 0 <= j - dx < 5:
                        ref[i, j] = img[i - dy, j - dx]  # pixel (i, j) comes from (i-dy, j-dx)
            np.testing.assert_array_equal(out[k * 3 + n].reshape(4, 5), ref)
    assert codes._shifted_copies(imgs, (4, 5), 2).shape == (24 * 3, 20)


def test_shifted_training_set_and_a_table_trained_on_it(tmp_path):
    Xtr, _, _ = codes.load_dataset("digits", seed=0, n_train=300)
    X_extra = codes.shifted_training_set("digits", max_shift=1, seed=0, n_train=300)
    assert X_extra.dtype == np.float32 and X_extra.shape == (8 * 300, 64)
    # the raw images are the training set's, row for row; the copies are preprocessed alike
    _, _, _, raw, shape, prepare = codes._load("digits", 0, 300, None)
    np.testing.assert_allclose(prepare(raw), Xtr, rtol=1e-6)
    np.testing.assert_allclose(X_extra[:300], prepare(codes._shifted_copies(raw, shape, 1)[:300]),
                               rtol=1e-6)
    kw = dict(dataset="digits", n_components=[16], seed=0, quick=True, output_dir=tmp_path,
              device="cpu", **{**TINY, "max_epochs": 5})
    plain = {r["method"]: r for r in codes.run("table1", **kw)}
    aug = {r["method"]: r for r in codes.run("table1", augment=1, **kw)}
    md = (tmp_path / "table1_digits_aug1.md").read_text(encoding="utf-8")
    assert "2400 copies of their images shifted by up to 1 pixels" in md
    # the same dictionary, test codes and IHT rows; the encoders trained on more data
    for method in ("IHT (10 iterations)", "Optimal codes (target)"):
        assert aug[method]["prediction_error_pct"] == plain[method]["prediction_error_pct"]
        assert aug[method]["objective_mean"] == plain[method]["objective_mean"]
    deep = "Deep ℓ0 encoder"
    assert aug[deep]["prediction_error_pct"] != plain[deep]["prediction_error_pct"]
    assert aug[deep]["n_train"] == plain[deep]["n_train"] == 300
    assert json.loads(aug[deep]["settings"])["augment"] == 1
    assert "augment" not in json.loads(plain[deep]["settings"])


def test_bad_augment(tmp_path):
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="augment must be a non-negative integer"):
            codes.run("table1", dataset="digits", output_dir=tmp_path, augment=bad)
    with pytest.raises(ValueError, match="cannot be combined"):
        codes.run("table1", dataset="digits", output_dir=tmp_path, augment=1, zca=0.1)
    for bad in (0, 8, 2.0):
        with pytest.raises(ValueError, match="max_shift must be"):
            codes.shifted_training_set("digits", max_shift=bad)


def test_other_seeds_get_their_own_files(tmp_path):
    tiny = {**TINY, "max_epochs": 2}
    for seed in (0, 1):
        codes.run("table1", dataset="digits", n_components=[16], seed=seed, quick=True,
                  output_dir=tmp_path, device="cpu", **tiny)
    seed0 = (tmp_path / "table1_digits.md").read_text(encoding="utf-8")
    seed1 = (tmp_path / "table1_digits_seed1.md").read_text(encoding="utf-8")
    assert "seed 0" in seed0 and "seed 1" in seed1
    for suffix in (".csv", "_vs_p.png", "_vs_iter.png"):
        assert (tmp_path / f"table1_digits_seed1{suffix}").is_file()
    with open(tmp_path / "table1_digits_seed1.csv", encoding="utf-8") as f:
        assert {row["seed"] for row in csv.DictReader(f)} == {"1"}


def test_a_table1_with_l1_stages(tmp_path):
    rows = codes.run("table1", dataset="digits", n_components=[16], seed=0, quick=True,
                     output_dir=tmp_path, device="cpu",
                     encoder_params={"n_stages": 2, "l1_stages": 1}, tag="K2tied_l1s1", **TINY)
    deep = next(r for r in rows if r["method"] == "Deep ℓ0 encoder")
    assert deep["n_iter"] == 2 and json.loads(deep["settings"])["l1_stages"] == 1
    assert deep["prediction_error_pct"] < next(
        r for r in rows if r["method"] == "IHT (2 iterations)")["prediction_error_pct"]
    assert (tmp_path / "table1_digits_K2tied_l1s1.md").is_file()


def test_a_table_with_the_recipe_options(tmp_path):
    params = {"n_stages": 3, "tied_stages": False, "train_split": 0.2, "patience": 3}
    rows = codes.run("table1", dataset="digits", n_components=[16], seed=0, quick=True,
                     output_dir=tmp_path, device="cpu", encoder_params=params,
                     tag="K3untied_val0.2_pat3", **TINY)
    deep = next(r for r in rows if r["method"] == "Deep ℓ0 encoder")
    assert deep["n_iter"] == 3
    assert json.loads(deep["settings"])["train_split"] == 0.2
    assert 3 < deep["epochs"] < TINY["max_epochs"]  # stopped early, after patience + 1
    assert deep["prediction_error_pct"] < next(
        r for r in rows if r["method"] == "IHT (2 iterations)")["prediction_error_pct"]
    assert (tmp_path / "table1_digits_K3untied_val0.2_pat3.md").is_file()
