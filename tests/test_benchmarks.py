"""``benchmarks/run.py`` and its section modules at a tiny size: every section runs and
prints tables that add up.

The benchmark is a deliverable of its own that no other test runs; here it runs
in this process on a few thousand samples at p = 64, so an API change that breaks it fails
here, and its tables are checked for what must hold whatever the speed: the M-sparse codes
have M nonzeros, the optimal codes reach a lower objective than 10 IHT iterations, the
output of ``transform`` is part of its peak memory. No time is asserted.
"""

import importlib.util
from pathlib import Path

import pytest
import torch

RUN_PY = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("skl0_benchmarks_run", RUN_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tables(text):
    """``{title: [row dicts]}`` from the markdown tables that the script prints."""
    tables, lines = {}, text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("### "):
            header = [c.strip() for c in lines[i + 2].strip("|").split("|")]
            rows = []
            for row in lines[i + 4:]:
                if not row.startswith("|"):
                    break
                rows.append(dict(zip(header, (c.strip() for c in row.strip("|").split("|")),
                                     strict=True)))
            tables[line[4:]] = rows
    return tables


def _table(tables, start):
    (title,) = [t for t in tables if t.startswith(start)]
    return tables[title]


def _number(text):
    return float(text.replace(",", ""))


def test_every_section_at_a_tiny_size(bench, capsys):
    threads = torch.get_num_threads()
    bench.main(["--quick", "--sizes", "64", "--transform-samples", "2000",
                "--memory-samples", "20000", "--fit-samples", "1000", "--fit-epochs", "2"])
    assert torch.get_num_threads() == threads
    out = capsys.readouterr().out
    tables = _tables(out)

    rows = {r["method"]: r for r in _table(tables, "transform throughput")}
    for name in ("L0Encoder", "MSparseEncoder", "skl0.iht (10 it)", "sklearn omp",
                 "sklearn lasso_cd", "sklearn lasso_lars", "sklearn threshold"):
        assert rows[name]["p"] == "64"
        assert _number(rows[name]["samples/s"]) > 0
    import _common  # the sections' shared module, importable once run.py is loaded

    assert _number(rows["MSparseEncoder"]["mean nnz"]) == _common.M
    assert _number(rows["skl0.iht (10 it)"]["mean nnz"]) == _common.M
    assert _number(rows["sklearn omp"]["mean nnz"]) <= _common.M
    assert _number(rows["MSparseEncoder"]["MSparse speed-up"]) == 1.0
    assert _number(rows["L0Encoder"]["L0 speed-up"]) == 1.0

    floor = _table(tables, "floor")
    assert [r["encoder"] for r in floor] == ["L0Encoder (net only)", "MSparseEncoder (net only)"]
    for r in floor:
        assert r["n"] == "2000"
        # the ratio is the time over the floor (both printed to 0.05 ms, the ratio to 0.005)
        t, f = _number(r["transform ms"]), _number(r["floor ms"])
        low, high = (t - 0.05) / (f + 0.05), (t + 0.05) / max(f - 0.05, 1e-9)
        assert low - 0.005 <= _number(r["ours / floor"]) <= high + 0.005, r
        assert _number(r["ours / GEMMs"]) > 0

    fit = _table(tables, "fit end to end on 1,000 samples")
    assert [r["encoder"] for r in fit] == ["L0Encoder", "MSparseEncoder"]
    for r in fit:
        assert r["p"] == "64" and r["epochs"] == "2"
        phases = sum(_number(r[k]) for k in ("dictionary s", "routes s", "optimal codes s",
                                             "training s"))
        assert phases <= _number(r["total s"]) + 0.25  # five numbers, each to 0.05 s
        # the codes that the encoder is trained on are better than 10 IHT iterations
        assert _number(r["obj: optimal codes"]) < _number(r["obj: IHT 10 it"])

    memory = _table(tables, "peak memory of transform on 20,000")
    assert [r["encoder"] for r in memory] == ["L0Encoder", "MSparseEncoder"]
    for r in memory:
        output = _number(r["output MiB"])
        assert output == pytest.approx(20000 * 64 * 4 / 2**20, abs=0.5)
        # the returned codes are part of the peak (measurable where the high-water mark can
        # be reset; otherwise the script counts from the mark of the child's start-up)
        if "could not be reset" not in out:
            assert _number(r["extra peak MiB"]) >= 0.9 * output


@pytest.mark.parametrize("argv, message", [
    (["--device", "tpu"], "--device must be cpu, cuda or cuda:N"),
    (["--sizes", "0"], "must be a positive integer"),
    (["--fit-epochs", "-1"], "must be a non-negative integer"),
])
def test_bad_arguments_are_named(bench, capsys, argv, message):
    with pytest.raises(SystemExit):
        bench.main(argv)
    assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_without_a_device_is_refused_before_any_work(bench, capsys):
    with pytest.raises(SystemExit):
        bench.main(["--device", "cuda"])
    captured = capsys.readouterr()
    assert "torch sees no CUDA device" in captured.err
    assert "machine:" not in captured.out


def test_a_named_data_folder_must_exist(bench, tmp_path):
    # without --data a missing Fashion-MNIST falls back to random data (with a message);
    # a folder asked for by name is never silently replaced
    with pytest.raises(FileNotFoundError, match="not found"):
        bench.main(["--quick", "--section", "memory", "--data", str(tmp_path / "missing")])


def test_frontier_section_at_a_tiny_size(bench, capsys, tmp_path):
    bench.main(["--quick", "--section", "frontier", "--frontier-data", "digits", "--sizes",
                "128", "--frontier-epochs", "2", "--frontier-lean", "--out", str(tmp_path)])
    tables = _tables(capsys.readouterr().out)
    msparse = {r["method"]: r for r in _table(tables, "frontier: digits p=128 M-sparse")}
    l0 = {r["method"]: r for r in _table(tables, "frontier: digits p=128 ℓ0")}
    assert _number(msparse["sklearn OMP"]["objective ratio"]) == 1.0
    assert _number(l0["converged solver (sparse_encode)"]["objective ratio"]) == 1.0
    summary = _table(tables, "frontier summary")
    assert [r["panel"] for r in summary] == ["digits p=128 M-sparse M=10", "digits p=128 ℓ0 α=0.25"]
    for r in summary:  # computed from the panel's rows, whatever it says
        assert r["faster and better"] != ""
    assert (tmp_path / "frontier_digits.png").stat().st_size > 10_000


@pytest.mark.parametrize("problem", ["msparse", "l0"])
def test_frontier_cell_on_tiny_digits(bench, problem):
    # one panel of benchmarks/frontier.py: every route a row, the peers on the same dictionary
    import frontier
    import numpy as np

    from skl0 import L0Encoder, sparse_encode
    from skl0.experiments.codes import load_dataset

    Xtr, Xte, _ = load_dataset("digits", n_train=400, n_test=150)
    D = L0Encoder(32, max_epochs=0, dict_max_iter=1, random_state=0).fit(Xtr).components_
    D = np.asarray(D, dtype=np.float64)
    value = 4 if problem == "msparse" else frontier.ALPHA
    kw = {"n_nonzero_coefs": value} if problem == "msparse" else {"alpha": value}
    targets = sparse_encode(Xtr, D, max_iter=50, **kw)
    rows, route = frontier.run_panel(
        problem, D, Xtr, targets, Xte, np.tile(Xte, (4, 1)), m_or_alpha=value, device="cpu",
        repeats=1, common={"random_state": 0, "device": "cpu", "max_epochs": 3}, lean=True)
    by = {r["method"]: r for r in rows}
    name = "MSparseEncoder" if problem == "msparse" else "L0Encoder"
    routes = {r: by[f"{name}, route={r}" + (" (default)" if r == "auto" else "")]
              for r in frontier.ROUTES}
    assert rows[0]["ratio"] == 1.0 and route in frontier.ROUTES
    for r in routes.values():
        assert r["small"] > 0 and r["large"] > 0 and r["gflops"] > 0
        assert r["beaten"] is not None  # "faster and better" is computed for skl0's rows
        if problem == "msparse":
            assert r["nnz"] <= value
    # OLS over every atom is the greedy rule SPAMS runs: the same residual, near-ties aside
    spams = [r for r in rows if r["method"].startswith("SPAMS")]
    if spams:
        assert routes["ols"]["ratio"] <= 1.02 * spams[0]["ratio"]
    # the network alone is the paper's encoder: worse codes than any pursuit over it
    assert routes["network"]["ratio"] > routes["ols"]["ratio"]
    assert routes["network"]["ratio"] > routes["pursuit"]["ratio"]


def test_load_benchmark_runs_and_stops_its_busy_process(capsys):
    # benchmarks/load.py at a tiny size: the table, and the busy process gone afterwards
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "load.py"
    spec = importlib.util.spec_from_file_location("skl0_load_benchmark", path)
    load = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(load)
    started = []
    start_busy = load.start_busy

    def recording():
        started.append(start_busy())
        return started[-1]

    load.start_busy = recording
    before = torch.get_num_threads()
    assert load.main(["--repeat", "1", "--epochs", "0", "--transform-rows", "200",
                      "--no-grid"]) == 0
    out = capsys.readouterr().out
    assert "| fit |" in out and "| transform |" in out
    assert len(started) == 1 and started[0].poll() is not None  # stopped
    assert torch.get_num_threads() == before


def test_clustering_benchmark_cell_on_blobs():
    # benchmarks/clustering.py's unit of work at a tiny size: every row, scores in range
    from sklearn.datasets import make_blobs

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "clustering.py"
    spec = importlib.util.spec_from_file_location("skl0_clustering_benchmark", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    X, y = make_blobs(n_samples=150, centers=3, n_features=6, random_state=0)
    rows, seconds = bench.run_cell(X, y, seed=0, ablation=True)
    assert set(rows) == {"KMeans (input)", "KMeans (frozen codes)", "L0Clusterer (defaults)",
                         'L0Clusterer (init="kmeans")', "L0Clusterer (max_epochs=0)"}
    assert all(0 <= v <= 1 for scores in rows.values() for v in scores.values())
    assert rows["L0Clusterer (defaults)"]["accuracy"] > 0.9 and seconds > 0


def test_workflow_fit_benchmark_at_a_tiny_size(capsys):
    # benchmarks/workflow_fit.py's large-p table at p = 64: each row names the route fit
    # chose, and a fit that ends in "ols" spent nothing on targets or training
    import sys
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location("skl0_workflow_fit", folder /
                                                      "workflow_fit.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.main(["--quick", "--section", "large-p"])
    finally:
        sys.path.remove(str(folder))
    rows = [line.split("|")[1:-1] for line in capsys.readouterr().out.splitlines()
            if line.startswith(("| MSparseEncoder", "| L0Encoder"))]
    assert len(rows) == 2
    for row in rows:
        route = row[2].strip()
        assert route in {"ols", "pursuit", "network"}
        if route == "ols":
            assert float(row[5]) == 0.0 and float(row[6]) == 0.0
