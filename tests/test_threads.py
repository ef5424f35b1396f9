import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
import torch

import skl0._threads
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
    # the thread counts asserted here are torch's; the cap that skl0 read from the
    # environment at import (OMP_NUM_THREADS=1 in a run of the suite) would lower them
    monkeypatch.setattr(skl0._threads, "_CAP", None)


def test_capped_threads_respects_omp_num_threads(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert _thread_cap() == 1
    monkeypatch.setattr(skl0._threads, "_CAP", 1)
    with capped_threads():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert _thread_cap() is None
    monkeypatch.setattr(skl0._threads, "_CAP", None)
    with capped_threads():
        assert torch.get_num_threads() == before


def test_the_cap_is_read_once_at_import():
    # a cap that appears in os.environ later (distributed's LocalCluster sets
    # OMP_NUM_THREADS=1 in its parent process) does not resize skl0's work
    code = textwrap.dedent("""
        import os, torch
        from skl0._threads import _threads_for, work_threads
        torch.set_num_threads(2)
        os.environ["OMP_NUM_THREADS"] = "1"
        with work_threads(1 << 40):
            print(_threads_for(), torch.get_num_threads())
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    assert out == ["2", "2"]
    # and one the process started with is the cap
    out = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_NUM_THREADS": "1"},
                         capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert out == ["1", "1"]


def test_work_threads_sizes_the_pool_and_restores_it(monkeypatch):
    import skl0._threads as training

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
        monkeypatch.setattr(training, "_CAP", 1)
        with work_threads(big):  # the environment's cap (loky's workers)
            assert torch.get_num_threads() == 1
        monkeypatch.setattr(training, "_CAP", None)
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


def test_a_thread_reads_its_count_outside_another_threads_window():
    # torch.set_num_threads also sets the count a thread takes at its first torch call: a
    # thread starting while another one runs with one thread must not take that one
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    entered, release, seen = threading.Event(), threading.Event(), []

    def narrow():
        with work_threads(1):  # one thread, for tiny products
            entered.set()
            release.wait(30)

    def fresh():  # its first torch call is skl0's
        with capped_threads():
            seen.append(torch.get_num_threads())
        seen.append(torch.get_num_threads())

    try:
        first = threading.Thread(target=narrow)
        first.start()
        assert entered.wait(30)
        second = threading.Thread(target=fresh)
        second.start()
        second.join(0.2)
        assert not seen  # it waits for the window to close
        release.set()
        first.join(30)
        second.join(30)
        assert seen == [2, 2]
        probe = []
        third = threading.Thread(target=lambda: probe.append(torch.get_num_threads()))
        third.start()
        third.join(30)
        assert probe == [2] and torch.get_num_threads() == 2
    finally:
        release.set()
        torch.set_num_threads(before)


def test_two_threads_transforming_at_once_match_a_serial_run():
    from skl0 import L0Encoder, MSparseEncoder

    rng = np.random.RandomState(0)
    X = rng.randn(200, 16).astype(np.float32)
    fast = {"n_components": 32, "max_epochs": 1, "dict_max_iter": 1, "random_state": 0,
            "device": "cpu"}
    encoders = [L0Encoder(**fast).fit(X), MSparseEncoder(**fast).fit(X)]
    data = [rng.randn(n, 16).astype(np.float32) for n in (30, 5000)]
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        want = [[enc.transform(Z) for Z in data] for enc in encoders]
        got, counts, errors = {}, {}, []
        start = threading.Barrier(2)

        def work(k):
            try:
                # each caller its own count (after a first torch call: torch sets a new
                # thread's count from the process-wide one at its first operation)
                torch.get_num_threads()
                torch.set_num_threads(1 + k)
                start.wait(30)
                for _ in range(5):
                    got[k] = [encoders[k].transform(Z) for Z in data]
                    if k == 0:
                        encoders[k].fit(X)  # and a fit beside the other's transforms
                counts[k] = torch.get_num_threads()
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert not errors, errors
        for k in range(2):
            for a, b in zip(got[k], want[k], strict=True):
                np.testing.assert_array_equal(a, b)
        assert counts == {0: 1, 1: 2} and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
