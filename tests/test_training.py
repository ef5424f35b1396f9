import numpy as np
import pytest
import torch

from skl0._layers import UnfoldedEncoder
from skl0._solvers import spectral_norm_sq
from skl0._training import (
    _thread_cap,
    batched_forward,
    capped_threads,
    fit_flops,
    module_flops,
    scoped_fit_threads,
    work_threads,
)


@pytest.fixture(autouse=True)
def _no_thread_cap_from_the_environment(monkeypatch):
    # the thread counts asserted here are torch's; a cap left in os.environ by another test
    # (e.g. a dask nanny's OMP_NUM_THREADS) would lower them
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)


@pytest.mark.parametrize("kind", ["msparse", "l0", "lista"])
def test_batched_forward_matches_module_in_any_batch_size(kind):
    # the unfolded encoders go through their fast inference_forward, written in place
    g = torch.Generator().manual_seed(4)
    X, C = torch.randn(50, 10, generator=g), torch.randn(24, 10, generator=g)
    step = 1.0 / spectral_norm_sq(C)
    net = UnfoldedEncoder(10, 24, n_stages=2, kind=kind, n_nonzero_coefs=4)
    net.init_from_dictionary(C, step, 0.05)
    with torch.no_grad():
        ref = net.eval()(X).numpy()
    assert (ref != 0).any() and (ref == 0).any()
    net.train()
    for dtype in (np.float32, np.float64):
        got = batched_forward(net, X.numpy().astype(dtype), "cpu", dtype, batch_size=7)
        assert got.dtype == dtype and got.shape == (50, 24)
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    assert net.training  # mode restored
    empty = batched_forward(net, np.zeros((0, 10), np.float32), "cpu", np.float32)
    assert empty.shape == (0, 24)


def test_capped_threads_respects_omp_num_threads(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert _thread_cap() == 1
    with capped_threads():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert _thread_cap() is None
    monkeypatch.delenv("OMP_NUM_THREADS")
    with capped_threads():
        assert torch.get_num_threads() == before


def test_batch_loader_gives_the_dataloaders_batches():
    from skorch.dataset import Dataset

    from skl0._training import _batch_loader

    X = np.arange(50, dtype=np.float32).reshape(25, 2)
    y = np.arange(25, dtype=np.float32)
    ds = Dataset(X, y)
    for shuffle in (False, True):
        torch.manual_seed(3)
        ours = [(xb.clone(), yb.clone()) for xb, yb in _batch_loader(ds, 8, shuffle=shuffle)]
        torch.manual_seed(3)
        ref = list(torch.utils.data.DataLoader(ds, batch_size=8, shuffle=shuffle))
        assert [len(b[0]) for b in ours] == [8, 8, 8, 1]
        for (xa, ya), (xb, yb) in zip(ours, ref, strict=True):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_build_net_fuses_adam_only():
    from skl0._training import build_net

    net = build_net(torch.nn.Linear(2, 2), torch.nn.MSELoss(), optimizer="adam")
    assert net.optimizer__fused is True
    net = build_net(torch.nn.Linear(2, 2), torch.nn.MSELoss(), optimizer="sgd")
    assert not hasattr(net, "optimizer__fused")
    net.initialize()  # and the fused Adam builds on this device
    build_net(torch.nn.Linear(2, 2), torch.nn.MSELoss()).initialize()


def _small_net(kind="l0"):
    g = torch.Generator().manual_seed(5)
    C = torch.randn(12, 6, generator=g)
    net = UnfoldedEncoder(6, 12, n_stages=2, kind=kind, n_nonzero_coefs=3)
    net.init_from_dictionary(C, 1.0 / spectral_norm_sq(C), 0.05)
    return net


@pytest.mark.parametrize("kind", ["msparse", "l0", "lista"])
@pytest.mark.parametrize("row", [0, 13, 29])  # first, middle and last batch of 7 rows
@pytest.mark.parametrize("bad, message", [(np.nan, "contains NaN"),
                                          (np.inf, "contains infinity"),
                                          (-np.inf, "contains infinity")])
def test_batched_forward_check_finite_raises_sklearn_errors(kind, row, bad, message):
    X = np.random.RandomState(0).randn(30, 6)
    X[row, 2] = bad
    for dtype in (np.float32, np.float64):
        Xd = X.astype(dtype)
        with pytest.raises(ValueError, match=message):
            batched_forward(_small_net(kind), Xd, "cpu", dtype, batch_size=7,
                            check_finite=True)
    # without the check, the non-finite value reaches the codes (what the check prevents)
    codes = batched_forward(_small_net(kind), X, "cpu", np.float64, batch_size=7)
    assert not np.isfinite(codes[row]).all()


def test_batched_forward_check_finite_float32_overflow():
    X = np.random.RandomState(0).randn(30, 6)
    X[4, 1] = 1e300  # finite in float64, infinite once cast to float32
    with pytest.raises(ValueError, match="beyond float32's range"):
        batched_forward(_small_net(), X, "cpu", np.float64, check_finite=True)
    # finite float32 values whose sum overflows are accepted, with the codes unchanged
    big = np.full((30, 6), 3e38, dtype=np.float32)
    big[:, ::2] *= -0.5
    got = batched_forward(_small_net(), big, "cpu", np.float32, batch_size=7, check_finite=True)
    ref = batched_forward(_small_net(), big, "cpu", np.float32, batch_size=7)
    np.testing.assert_array_equal(got, ref)
    ok = np.random.RandomState(1).randn(30, 6)
    np.testing.assert_array_equal(
        batched_forward(_small_net(), ok, "cpu", np.float64, check_finite=True),
        batched_forward(_small_net(), ok, "cpu", np.float64))


def test_batched_forward_msparse_batches_in_threads(monkeypatch):
    # the M-sparse fast path runs whole batches on torch's threads, one each: the same codes
    # as one batch after the other, torch's thread count restored, errors passed on
    import warnings

    import skl0._training as training

    X = np.random.RandomState(2).randn(40, 6)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert training._batch_workers("cpu", 40, 7) == (2, 7)
        assert training._batch_workers("cpu", 5, 7) == (1, 7)  # one batch
        assert training._batch_workers("meta", 40, 7) == (1, 7)  # not the CPU
        # sharing the default batch: the memory in flight stays one batch's, shares are at
        # least _MIN_BATCH rows; too few shares or batches for every thread: one at a time
        rows = training._MIN_BATCH
        assert training._batch_workers("cpu", 100 * rows, 4 * rows, share=True) == (2, 2 * rows)
        assert training._batch_workers("cpu", 100 * rows, rows, share=True) == (1, rows)
        assert training._batch_workers("cpu", rows, 4 * rows, share=True) == (1, 4 * rows)
        # evened out: none above the size asked, and the rows that each worker gets (batches
        # dealt round-robin) differ by fewer than the batches when these are larger than
        # their number (the case of the default batches), else by one batch at most
        for n in (41, 40, 43, 29, 20000, 10 * rows + 1):
            for size, share in ((7, False), (4 * rows, True)):
                workers, even = training._batch_workers("cpu", n, size, share=share)
                if workers == 1:
                    continue
                assert even <= (size // workers if share else size)
                sizes = [len(range(n)[s:s + even]) for s in range(0, n, even)]
                loads = [sum(sizes[k::workers]) for k in range(workers)]
                spread = max(loads) - min(loads)
                assert spread < len(sizes) if even >= len(sizes) else spread <= even, (n, size)
        assert training._batch_workers("cpu", 20000, 8192, share=True) == (2, 3334)  # 6 x 3334
        torch.set_num_threads(1)
        assert training._batch_workers("cpu", 40, 7) == (1, 7)
        torch.set_num_threads(2)
        threaded = batched_forward(_small_net("msparse"), X, "cpu", np.float64, batch_size=7,
                                   check_finite=True)
        assert torch.get_num_threads() == 2
        with monkeypatch.context() as m:
            m.setattr(training, "_batch_workers", lambda device, n, size, share: (1, size))
            serial = batched_forward(_small_net("msparse"), X, "cpu", np.float64, batch_size=7)
        np.testing.assert_array_equal(threaded, serial)
        assert (np.count_nonzero(threaded, axis=1) == 3).all()
        # the finiteness check and its float32-overflow message in the worker threads
        bad = X.copy()
        bad[20, 1] = 1e300
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the overflowing cast is quiet in every thread
            with pytest.raises(ValueError, match="beyond float32's range"):
                batched_forward(_small_net("msparse"), bad, "cpu", np.float64, batch_size=7,
                                check_finite=True)
        assert torch.get_num_threads() == 2
        # an error inside a worker reaches the caller, and the thread count is restored
        net = _small_net("msparse")
        fast = net.inference_forward

        def failing():
            run = fast()

            def broken(x, out):
                if torch.get_num_threads() != 1:
                    raise AssertionError("torch should run one thread per worker")
                raise RuntimeError("boom")

            broken.batches_in_threads = run.batches_in_threads
            return broken

        net.inference_forward = failing
        with pytest.raises(RuntimeError, match="boom"):
            batched_forward(net, X, "cpu", np.float64, batch_size=7)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("kind, threads, rows", [
    ("l0", 1, 1 << 18), ("lista", 1, 1 << 18), ("msparse", 1, 1 << 18),
    # side by side: two shares of the 4 MiB batch
    ("msparse", 2, 1 << 19), ("l0", 2, 1 << 19), ("lista", 2, 1 << 19),
])
def test_batched_forward_default_batches_on_the_cpu(monkeypatch, kind, threads, rows):
    # one batch at a time on the CPU: 1 MiB of codes a batch; M-sparse batches side by side
    # on the threads: each a share of the 4 MiB one (in floats of 4 bytes, at p = 256 here)
    import skl0._training as training

    monkeypatch.setattr(training, "_MIN_BATCH", 16)
    p = 256
    net = UnfoldedEncoder(6, p, n_stages=2, kind=kind, n_nonzero_coefs=3)
    seen = []
    fast = net.inference_forward

    def recording():
        run = fast()

        def wrapped(x, out):
            seen.append(len(x))
            run(x, out)

        wrapped.batches_in_threads = getattr(run, "batches_in_threads", False)
        return wrapped

    net.inference_forward = recording
    # four 4 MiB batches of codes, less 3 rows
    X = np.random.RandomState(0).randn(4 * (1 << 20) // p - 3, 6)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        Z = batched_forward(net, X, "cpu", np.float32)
    finally:
        torch.set_num_threads(before)
    assert sum(seen) == len(X) and Z.shape == (len(X), p)
    # (the threads' evened-out shares are then whole ones)
    assert max(seen) == rows // p, seen


def test_work_threads_sizes_the_pool_and_restores_it(monkeypatch):
    import skl0._training as training

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        big = 4 * training._FLOPS_PER_THREAD
        with work_threads(2 * 128 * 64 * 64):  # a training batch on digits: one thread
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with work_threads(big):  # never more than the caller's count
            assert torch.get_num_threads() == 2
        with work_threads(None):
            assert torch.get_num_threads() == 2
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        with work_threads(big):  # the environment's cap (loky's workers)
            assert torch.get_num_threads() == 1
        monkeypatch.delenv("OMP_NUM_THREADS")
        with pytest.raises(RuntimeError, match="boom"), work_threads(1):
            assert torch.get_num_threads() == 1
            raise RuntimeError("boom")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_flop_estimates():
    net = UnfoldedEncoder(10, 24, n_stages=2, kind="l0")
    assert module_flops(net, 5) == 2 * 5 * (10 * 24 + 24 * 24)
    assert fit_flops(1000, 64, 128) == 2 * 256 * 128 * 128
    assert fit_flops(100, 300, 128) == 2 * 100 * 128 * 300


def test_scoped_fit_threads_and_fit_net_leave_the_count_as_they_found_it(monkeypatch):
    from skl0 import L0Encoder

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    seen = []

    class Probe:
        n_components = 8

        @scoped_fit_threads
        def fit(self, X, y=None):
            seen.append(torch.get_num_threads())
            return self

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        Probe().fit(np.zeros((50, 4)))
        Probe().fit([[0.0], [1.0]])
        assert seen == [1, 1] and torch.get_num_threads() == 2
        # training (fit_net) and transform (batched_forward) of an encoder: small matrices,
        # one thread inside, the caller's two after
        X = np.random.RandomState(0).randn(60, 5)
        enc = L0Encoder(8, alpha=0.05, max_epochs=2, dict_max_iter=1, random_state=0,
                        device="cpu").fit(X)
        assert torch.get_num_threads() == 2
        enc.transform(X)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_progress_bar_prints_plain_lines_in_a_file():
    import io

    from skl0._training import progress_bar

    log = io.StringIO()
    with progress_bar(total=2, desc="outer", file=log) as outer:
        for _ in range(2):
            for _ in progress_bar(range(3), desc="inner", position=1, leave=False, file=log,
                                  plain_interval=0):
                pass
            outer.update()
    text = log.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert lines[0].startswith("outer:") and lines[-1].startswith("outer: 100%")
    assert any(line.startswith("inner: 100%") for line in lines)

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    for _ in progress_bar(range(2), desc="bar", file=term):
        pass
    assert "\r" in term.getvalue()  # tqdm's own redraws on a terminal


@pytest.mark.parametrize("kind", ["l0", "msparse"])
def test_batched_forward_does_not_depend_on_where_x_lies_in_memory(kind):
    # batches not 64-byte aligned are copied into torch's aligned buffers: the same codes,
    # bit for bit, at every offset (the products' rounding may depend on alignment)
    X = np.random.RandomState(3).randn(37, 6).astype(np.float32)
    net = _small_net(kind)
    ref = batched_forward(net, X, "cpu", np.float32)
    for offset in range(1, 16):
        buf = np.empty(X.size + offset, dtype=np.float32)
        moved = buf[offset:].reshape(X.shape)
        moved[...] = X
        np.testing.assert_array_equal(batched_forward(net, moved, "cpu", np.float32), ref)
    np.testing.assert_array_equal(batched_forward(net, X.astype(np.float64), "cpu",
                                                  np.float32), ref)


def test_verbose_shows_every_phase_of_fit(capfd):
    # the estimators' own phases: dictionary learning, optimal codes, training (skorch)
    from skl0 import L0Encoder

    X = np.random.RandomState(0).randn(60, 5)
    L0Encoder(8, alpha=0.05, max_epochs=2, dict_max_iter=1, random_state=0, device="cpu",
              verbose=1).fit(X)
    out, err = capfd.readouterr()
    assert "dictionary" in err and "optimal codes" in err
    assert "train_loss" in out


def test_l0encoder_alpha_0_warns_that_codes_are_dense():
    from skl0 import L0Encoder

    X = np.random.RandomState(0).randn(40, 5)
    with pytest.warns(UserWarning, match="alpha=0 .* dense"):
        L0Encoder(8, alpha=0, max_epochs=0, dict_max_iter=1, random_state=0,
                  device="cpu").fit(X)


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
