import numpy as np
import pytest
import torch

from skl0._inference import batched_forward
from skl0._layers import UnfoldedEncoder
from skl0._solvers import spectral_norm_sq


@pytest.fixture(autouse=True)
def _no_thread_cap_from_the_environment(monkeypatch):
    # the thread counts asserted here are torch's; the cap that skl0 read from the
    # environment at import (OMP_NUM_THREADS=1 in a run of the suite) would lower them
    import skl0._threads

    monkeypatch.setattr(skl0._threads, "_CAP", None)


def _small_net(kind="l0"):
    g = torch.Generator().manual_seed(5)
    C = torch.randn(12, 6, generator=g)
    net = UnfoldedEncoder(6, 12, n_stages=2, kind=kind, n_nonzero_coefs=3)
    net.init_from_dictionary(C, 1.0 / spectral_norm_sq(C), 0.05)
    return net


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
    with pytest.raises(ValueError, match="too large for float32"):
        batched_forward(_small_net(), X, "cpu", np.float64, check_finite=True)
    ok = np.random.RandomState(1).randn(30, 6)
    np.testing.assert_array_equal(
        batched_forward(_small_net(), ok, "cpu", np.float64, check_finite=True),
        batched_forward(_small_net(), ok, "cpu", np.float64))
    zeros = np.zeros((30, 6))  # all zeros pass, as in fit
    assert not batched_forward(_small_net(), zeros, "cpu", np.float64, check_finite=True).any()


def _fit_message(X):
    from skl0._utils import check_float32_scale

    with pytest.raises(ValueError) as info:
        check_float32_scale(X)
    return str(info.value)


@pytest.mark.parametrize("scale", [1e19, 1e30, 1e37, 1e-22, 1e-30, 1e-50, 1e300])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["msparse", "l0"])
def test_batched_forward_refuses_the_scales_fit_refuses(kind, dtype, scale):
    X = np.random.RandomState(0).randn(3000, 6)
    if dtype == np.float32 and not 1e-37 < scale < 1e37:
        pytest.skip("not a float32 array")
    X = (X * scale).astype(dtype)
    message = _fit_message(X)
    for batch_size, rows in ((None, slice(None)), (7, slice(None)), (7, slice(29, 30))):
        with pytest.raises(ValueError) as info:
            batched_forward(_small_net(kind), X[rows], "cpu", dtype, batch_size=batch_size,
                            check_finite=True)
        assert str(info.value) == _fit_message(X[rows])
    assert message.startswith("Input X is too")
    # the same bounds as fit: a scale just inside them passes
    inside = 1e17 if scale > 1 else 1e-18
    X = (np.random.RandomState(0).randn(300, 6) * inside).astype(dtype)
    batched_forward(_small_net(kind), X, "cpu", dtype, batch_size=7, check_finite=True)


@pytest.mark.parametrize("scale", [1e19, 1e-22])
def test_transform_and_predict_refuse_what_fit_refuses(scale):
    from skl0 import L0Classifier, L0Encoder, MSparseEncoder
    from skl0.parallel import transform_batches

    rng = np.random.RandomState(0)
    X, y = rng.randn(60, 5), rng.randint(0, 2, 60)
    fast = {"max_epochs": 1, "dict_max_iter": 1, "random_state": 0, "device": "cpu"}
    bad = X * scale
    with pytest.raises(ValueError) as info:
        MSparseEncoder(n_components=6, **fast).fit(bad)
    message = str(info.value)
    for est in (MSparseEncoder(n_components=6, **fast).fit(X),
                L0Encoder(n_components=6, **fast).fit(X)):
        with pytest.raises(ValueError) as info:
            est.transform(bad)
        assert str(info.value) == message
        # batch by batch: the first batch is refused, as fit refuses that batch
        with pytest.raises(ValueError) as info:
            transform_batches(est, bad, batch_size=16)
        assert str(info.value) == _fit_message(bad[:16])
    clf = L0Classifier(encoder=L0Encoder(n_components=6, **fast), max_epochs=1,
                       random_state=0, device="cpu").fit(X, y)
    for call in (clf.predict, clf.predict_proba):
        with pytest.raises(ValueError) as info:
            call(bad)
        assert str(info.value) == message


def test_batched_forward_msparse_batches_in_threads(monkeypatch):
    # the M-sparse fast path runs whole batches on torch's threads, one each: the same codes
    # as one batch after the other, torch's thread count restored, errors passed on
    import warnings

    import skl0._inference as training

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
        # the finiteness check and fit's float32-scale message in the worker threads
        bad = X.copy()
        bad[20, 1] = 1e300
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the overflowing cast is quiet in every thread
            with pytest.raises(ValueError, match="too large for float32"):
                batched_forward(_small_net("msparse"), bad, "cpu", np.float64, batch_size=7,
                                check_finite=True)
        assert torch.get_num_threads() == 2
        # an error inside a worker reaches the caller, and the thread count is restored
        net = _small_net("msparse")

        def failing():
            def broken(x, out):
                if torch.get_num_threads() != 1:
                    raise AssertionError("torch should run one thread per worker")
                raise RuntimeError("boom")

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
    import skl0._inference as training

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
