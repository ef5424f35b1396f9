import numpy as np
import pytest
import torch

from skl0._layers import UnfoldedEncoder
from skl0._threads import (
    _thread_cap,
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


def test_work_threads_sizes_the_pool_and_restores_it(monkeypatch):
    import skl0._threads as training

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
