"""skl0.parallel without a cluster: transform_batches, and transform_dask on dask's local
scheduler (skipped without dask)."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from skl0 import L0Encoder, LISTAEncoder, MSparseEncoder, parallel
from skl0.parallel import transform_batches

FAST = {"n_components": 12, "max_epochs": 1, "dict_max_iter": 2, "solver_max_iter": 10,
        "random_state": 0, "device": "cpu"}


def _close(got, want):
    """Equal up to float32 rounding: a batch's rows may be computed by other kernels
    (a 1-row product) than the same rows within a larger batch."""
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def enc():
    X = np.random.RandomState(0).randn(200, 7)
    return MSparseEncoder(**FAST).fit(X)


@pytest.fixture
def X_file(tmp_path):
    X = np.random.RandomState(1).randn(2500, 7).astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    return tmp_path / "X.npy", X


@pytest.mark.parametrize("batch_size", [None, 1, 999, 2500, 10_000])
def test_memmap_to_npy_file_equals_transform(enc, X_file, tmp_path, batch_size):
    path, X = X_file
    Xm = np.load(path, mmap_mode="r")
    codes = transform_batches(enc, Xm, tmp_path / "codes.npy", batch_size=batch_size)
    assert isinstance(codes, np.memmap) and codes.dtype == np.float32
    _close(codes, enc.transform(X))
    _close(np.load(tmp_path / "codes.npy"), enc.transform(X))


def test_outputs_in_memory_and_into_given_arrays(enc, X_file, tmp_path):
    path, X = X_file
    want = enc.transform(X)
    Xm = np.load(path, mmap_mode="r")
    _close(transform_batches(enc, Xm, batch_size=700), want)
    # a whole output memory map (written by offset) and a plain array (by slices)
    out = np.lib.format.open_memmap(tmp_path / "o.npy", mode="w+", dtype=np.float32,
                                    shape=want.shape)
    assert transform_batches(enc, Xm, out, batch_size=700) is out
    del out
    _close(np.load(tmp_path / "o.npy"), want)
    raw = np.memmap(tmp_path / "raw.bin", mode="w+", dtype=np.float32, shape=want.shape)
    transform_batches(enc, Xm, raw, batch_size=700)
    _close(raw, want)
    plain = np.empty_like(want)
    transform_batches(enc, Xm, plain, batch_size=700)
    _close(plain, want)


def test_views_lists_and_float64(enc, X_file):
    path, X = X_file
    Xm = np.load(path, mmap_mode="r")
    # a view of a memory map is read by slices, not by file offset
    _close(transform_batches(enc, Xm[100:900], batch_size=300),
                                  enc.transform(X[100:900]))
    _close(transform_batches(enc, Xm[:, :][::2], batch_size=300),
                                  enc.transform(X[::2]))
    X64 = X.astype(np.float64)
    got = transform_batches(enc, X64, batch_size=300)
    assert got.dtype == np.float64
    _close(got, enc.transform(X64))
    # a non-float input is encoded in float64, as transform does
    Xi = np.round(X * 3).astype(np.int64)
    _close(transform_batches(enc, Xi, batch_size=300),
                                  enc.transform(Xi))


@pytest.mark.parametrize("make", [L0Encoder, LISTAEncoder])
def test_every_encoder(make, X_file, tmp_path):
    path, X = X_file
    enc = make(**FAST).fit(X[:200])
    codes = transform_batches(enc, np.load(path, mmap_mode="r"), tmp_path / "c.npy",
                              batch_size=1000)
    assert codes.shape == (len(X), enc.components_.shape[0])
    _close(codes, enc.transform(X))


def test_copy_on_write_maps_are_read_as_mapped(enc, X_file, tmp_path):
    path, X = X_file
    Xc = np.load(path, mmap_mode="c")
    Xc[:10] = 0.5  # in this process only, not in the file
    want = enc.transform(np.asarray(Xc))
    _close(transform_batches(enc, Xc, batch_size=700), want)
    np.save(tmp_path / "o.npy", np.zeros_like(want))
    out = np.load(tmp_path / "o.npy", mmap_mode="c")
    transform_batches(enc, Xc, out, batch_size=700)
    _close(out, want)
    assert not np.load(tmp_path / "o.npy").any()  # a private map: the file is untouched


def test_bad_arguments(enc, X_file):
    _, X = X_file
    with pytest.raises(ValueError, match="shape"):
        transform_batches(enc, X, np.empty((3, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="'batch_size' parameter of transform_batches"):
        transform_batches(enc, X, batch_size=0)
    with pytest.raises(ValueError, match="out must be None, a path or an array"):
        transform_batches(enc, X, [[0.0] * 12] * X.shape[0])
    with pytest.raises(ValueError, match="X must be 2-dimensional"):
        transform_batches(enc, np.zeros((2, 7, 1)))
    # any array-like X: a list is converted
    _close(transform_batches(enc, np.asarray(X[:5]).tolist()), enc.transform(np.asarray(X[:5])))
    read_only = np.zeros((X.shape[0], 12), dtype=np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        transform_batches(enc, X, read_only)


def test_memory_stays_bounded(tmp_path):
    """Encoding a 96 MiB file into a 96 MiB file raises the peak RSS by far less than
    either (the batches are 16 MiB of input and codes). The network alone (``route="network"``):
    the pursuit's own memory per batch is the encoder's, not the helper's."""
    code = textwrap.dedent(f"""
        import resource, numpy as np, torch
        torch.set_num_threads(1)
        from skl0 import L0Encoder
        from skl0.parallel import transform_batches
        n, f = 393216, 64
        X = np.lib.format.open_memmap({str(tmp_path / "X.npy")!r}, mode="w+",
                                      dtype=np.float32, shape=(n, f))
        rng = np.random.RandomState(0)
        for s in range(0, n, 32768):
            X[s:s + 32768] = rng.randn(32768, f)
        X.flush()
        del X
        enc = L0Encoder(n_components=64, max_epochs=0, route="network", device="cpu")
        enc.fit(rng.randn(100, f))
        X = np.load({str(tmp_path / "X.npy")!r}, mmap_mode="r")
        transform_batches(enc, X[:4096], batch_size=1024)  # warm up
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        codes = transform_batches(enc, X, {str(tmp_path / "codes.npy")!r})
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) / 1024)
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True)
    grown_mib = float(res.stdout.split()[-1])
    assert grown_mib < 48, f"peak RSS grew by {grown_mib:.0f} MiB for 96 + 96 MiB of data"
    codes = np.load(tmp_path / "codes.npy", mmap_mode="r")
    assert codes.shape == (393216, 64) and np.isfinite(codes[-1000:]).all()


def test_transform_dask_on_the_local_scheduler(enc, X_file):
    da = pytest.importorskip("dask.array")
    from skl0.parallel import transform_dask

    path, X = X_file
    codes = transform_dask(enc, da.from_array(np.load(path, mmap_mode="r"), chunks=(600, 3)))
    assert codes.chunks == ((600, 600, 600, 600, 100), (12,))
    _close(codes.compute(scheduler="threads"), enc.transform(X))
    # an ndarray is chunked by the helper
    _close(transform_dask(enc, X).compute(), enc.transform(X))
    with pytest.raises(ValueError, match="2-dimensional"):
        transform_dask(enc, da.zeros((2, 2, 2)))


def test_npy_files_as_dask_arrays(enc, X_file, tmp_path):
    da = pytest.importorskip("dask.array")
    from skl0.parallel import dask_from_npy, dask_to_npy, transform_dask

    path, X = X_file
    Xd = dask_from_npy(path, chunk_rows=1000)
    assert Xd.chunks == ((1000, 1000, 500), (7,)) and Xd.dtype == np.float32
    np.testing.assert_array_equal(Xd.compute(), X)
    np.testing.assert_array_equal(Xd[1500:2100, 2:5].compute(), X[1500:2100, 2:5])
    codes = dask_to_npy(transform_dask(enc, Xd), tmp_path / "codes.npy", scheduler="threads")
    _close(codes, enc.transform(X))
    # column chunks are merged before writing
    out = dask_to_npy(da.from_array(X, chunks=(300, 3)), tmp_path / "copy.npy")
    np.testing.assert_array_equal(out, X)
    np.save(tmp_path / "f.npy", np.asfortranarray(X))
    with pytest.raises(ValueError, match="C-ordered"):
        dask_from_npy(tmp_path / "f.npy")


def test_the_scaling_benchmark_runs_small(tmp_path):
    pytest.importorskip("psutil")
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "scaling.py"
    res = subprocess.run(
        [sys.executable, str(script), "--n-samples", "3000", "--n-features", "16",
         "--n-components", "16", "--no-cluster", "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=True)
    row = [line for line in res.stdout.splitlines() if line.startswith("| one process")]
    assert len(row) == 1 and float(row[0].split("|")[4].replace(",", "")) > 0
    assert not list(tmp_path.iterdir())  # its files are removed


@pytest.mark.parametrize(
    "name, kwargs, param",
    [
        ("transform_batches", {"encoder": "enc", "X": np.zeros((2, 7))}, "encoder"),
        ("transform_batches", {"X": 1.0}, "X"),
        ("transform_batches", {"X": np.zeros((2, 7)), "out": 3}, "out"),
        ("transform_batches", {"X": np.zeros((2, 7)), "batch_size": 0}, "batch_size"),
        ("transform_batches", {"X": np.zeros((2, 7)), "batch_size": 2.5}, "batch_size"),
        ("transform_dask", {"encoder": object(), "X": np.zeros((2, 7))}, "encoder"),
        ("transform_dask", {"X": "X.npy"}, "X"),
        ("transform_dask", {"X": np.zeros((2, 7)), "client": "tcp://x:8786"}, "client"),
        ("dask_from_npy", {"path": 3}, "path"),
        ("dask_from_npy", {"path": "X.npy", "chunk_rows": 0}, "chunk_rows"),
        ("dask_to_npy", {"X": None, "path": "codes.npy"}, "X"),
        ("dask_to_npy", {"X": np.zeros((2, 2)), "path": None}, "path"),
    ],
)
def test_public_functions_name_the_invalid_parameter(enc, name, kwargs, param):
    # checked before dask is imported or a file is touched; an InvalidParameterError is both
    # a ValueError and a TypeError
    func = getattr(parallel, name)
    if name.startswith("transform"):
        kwargs = {"encoder": enc, **kwargs}
    with pytest.raises(InvalidParameterError, match=f"'{param}' parameter of {name}"):
        func(**kwargs)
    with pytest.raises(TypeError, match=f"'{param}' parameter"):
        func(**kwargs)


def test_out_that_is_or_shares_the_input_is_refused(enc, X_file, tmp_path):
    path, X = X_file
    before = path.read_bytes()
    Xm = np.load(path, mmap_mode="r")
    for out in (path, str(path), tmp_path / "." / "X.npy"):
        with pytest.raises(ValueError, match="the file X is read from"):
            transform_batches(enc, Xm, out)
    del Xm
    assert path.read_bytes() == before  # X's file is intact
    # an array that overlaps X's memory (here X is its first 7 columns)
    both = np.zeros((len(X), 12), dtype=np.float32)
    both[:, :7] = X
    with pytest.raises(ValueError, match="shares memory with X"):
        transform_batches(enc, both[:, :7], both)
    # two maps of one file do not share memory, but writing one overwrites the other
    raw = tmp_path / "raw.bin"
    np.memmap(raw, mode="w+", dtype=np.float32, shape=(len(X), 12)).flush()
    Xr = np.memmap(raw, mode="r", dtype=np.float32, shape=(len(X), 7))
    out = np.memmap(raw, mode="r+", dtype=np.float32, shape=(len(X), 12))
    with pytest.raises(ValueError, match="maps the file X is read from"):
        transform_batches(enc, Xr, out)
    # an array of X's own values in other memory is fine
    _close(transform_batches(enc, both[:, :7].copy(), both), enc.transform(X))


def test_out_of_an_integer_dtype_is_refused(enc, X_file):
    _, X = X_file
    for dtype in (np.int64, np.int32, np.uint8, np.bool_, np.complex64):
        with pytest.raises(TypeError, match=f"dtype {np.dtype(dtype)}"):
            transform_batches(enc, X, np.zeros((len(X), 12), dtype=dtype))


def test_a_failure_halfway_leaves_no_partial_file(enc, X_file, tmp_path):
    path, X = X_file
    bad = X.copy()
    bad[1700, 3] = np.nan  # in the fourth batch of 500
    np.save(path, bad)
    old = tmp_path / "old.npy"
    np.save(old, np.arange(6.0))
    listing = sorted(p.name for p in tmp_path.iterdir())
    for out in (old, tmp_path / "new.npy"):
        with pytest.raises(ValueError, match="NaN"):
            transform_batches(enc, np.load(path, mmap_mode="r"), out, batch_size=500)
        # no temporary or partial file left, an existing file untouched
        assert sorted(p.name for p in tmp_path.iterdir()) == listing
    np.testing.assert_array_equal(np.load(old), np.arange(6.0))
    # the same call on good data replaces the old file whole
    codes = transform_batches(enc, X, old, batch_size=500)
    _close(codes, enc.transform(X))
    assert sorted(p.name for p in tmp_path.iterdir()) == listing
