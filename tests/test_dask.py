"""skl0 on a real dask cluster: a LocalCluster of 2 worker processes on the loopback.

Skipped where ``distributed`` is not installed. One cluster serves the module; its
teardown checks that no worker process is left running. Every wait is bounded.
"""

import os
import pickle
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
psutil = pytest.importorskip("psutil")
import dask  # noqa: E402
import joblib  # noqa: E402

from skl0 import L0Encoder, MSparseEncoder  # noqa: E402
from skl0.parallel import dask_from_npy, dask_to_npy, transform_dask  # noqa: E402

TIMEOUT = 180  # seconds, for any one search on the cluster
GRID = {"l0__alpha": [0.1, 0.25], "l0__n_components": [16, 32]}


def _threads(estimator, X, y):
    """A 'score': torch's intra-op threads where the search task runs."""
    return float(torch.get_num_threads())


def _pid(estimator, X, y):
    return float(os.getpid())


def _slow_accuracy(estimator, X, y):
    time.sleep(1.0)  # keeps the search running long enough to kill a worker during it
    return float(np.mean(estimator.predict(X) == y))


def _die(estimator, X, y):
    distributed.get_worker()  # a ValueError outside a worker: never this process
    os._exit(1)  # the worker process dies while running the task


def _pipeline():
    # a named route: "auto" chooses by timing, which differs between processes under load
    enc = L0Encoder(max_epochs=3, dict_max_iter=3, solver_max_iter=20, route="ols",
                    random_state=0, device="cpu")
    return Pipeline([("sc", StandardScaler()), ("l0", enc),
                     ("clf", LogisticRegression(max_iter=200))])


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300], y[:300]


@pytest.fixture(scope="module")
def serial_search(digits):
    X, y = digits
    scoring = {"acc": "accuracy", "threads": _threads, "pid": _pid}
    return GridSearchCV(_pipeline(), GRID, cv=2, scoring=scoring, refit="acc").fit(X, y)


def _worker_pids(client):
    return set(client.run(os.getpid).values())


@pytest.fixture(scope="module")
def client():
    # distributed's Nanny sets OMP_NUM_THREADS=1 (and MKL_..., MALLOC_TRIM_THRESHOLD_,
    # PYTHONHASHSEED) in this process's own environment before spawning each worker and
    # leaves them there; the processes other tests start would read them, so they are
    # restored afterwards
    environ = dict(os.environ)
    try:
        yield from _cluster()
    finally:
        os.environ.clear()
        os.environ.update(environ)


def _cluster():
    seen = set()
    # a task whose worker dies is retried once, then reported (KilledWorker)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster, timeout="60s") as client:
        client.wait_for_workers(2, timeout=60)
        seen |= _worker_pids(client)
        client.seen_pids = seen
        yield client
        seen |= _worker_pids(client)
    # nothing is left running: every worker process seen is gone
    deadline = time.monotonic() + 30
    while any(psutil.pid_exists(p) for p in seen) and time.monotonic() < deadline:
        time.sleep(0.2)
    alive = [p for p in seen if psutil.pid_exists(p)
             and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"worker processes still running after the cluster closed: {alive}"


def _search_on(client, X, y, scoring, refit, grid=GRID):
    search = GridSearchCV(_pipeline(), grid, cv=2, scoring=scoring, refit=refit, n_jobs=-1)

    def run():
        # X and y broadcast to every worker up front: a copy outlives any one worker
        with joblib.parallel_config(backend="dask", scatter=[X, y]):
            return search.fit(X, y)

    pool = ThreadPoolExecutor(1)
    future = pool.submit(run)
    pool.shutdown(wait=False)  # the thread ends with the search
    return future


def test_search_on_the_cluster_equals_the_serial_search(client, digits, serial_search):
    X, y = digits
    scoring = {"acc": "accuracy", "threads": _threads, "pid": _pid}
    with joblib.parallel_config(backend="dask"):
        search = GridSearchCV(_pipeline(), GRID, cv=2, scoring=scoring, refit="acc",
                              n_jobs=-1).fit(X, y)
    assert search.best_params_ == serial_search.best_params_
    for key in ("split0_test_acc", "split1_test_acc", "mean_test_acc", "rank_test_acc"):
        np.testing.assert_array_equal(search.cv_results_[key], serial_search.cv_results_[key])
    # the fits ran in the worker processes, not here
    pids = set(search.cv_results_["split0_test_pid"]) | set(search.cv_results_["split1_test_pid"])
    assert pids <= {float(p) for p in _worker_pids(client)} and float(os.getpid()) not in pids
    # torch in each worker used the worker's share of the cores: the nanny starts workers
    # with OMP_NUM_THREADS=1 (one thread per task thread), which torch and skl0 read
    for split in (0, 1):
        assert set(search.cv_results_[f"split{split}_test_threads"]) == {1.0}
    env = client.run(lambda: (os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads()))
    assert set(env.values()) == {("1", 1)}


def test_the_clusters_environment_does_not_cap_this_process(client):
    # the nanny left OMP_NUM_THREADS=1 in this process's os.environ; skl0 read its cap at
    # import, so its work here keeps the threads it had
    from skl0._threads import _threads_for, work_threads

    assert os.environ.get("OMP_NUM_THREADS") == "1"
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with work_threads(1 << 40):  # products large enough for every thread
            assert torch.get_num_threads() == 2
        assert _threads_for() == 2
    finally:
        torch.set_num_threads(before)


def test_chunked_transform_on_the_cluster(client, digits, tmp_path):
    X, _ = digits
    X = StandardScaler().fit_transform(X).astype(np.float32)
    enc = MSparseEncoder(n_components=16, max_epochs=2, dict_max_iter=3, solver_max_iter=20,
                         random_state=0, device="cpu").fit(X)
    np.save(tmp_path / "X.npy", np.tile(X, (4, 1)))
    # the workers read their chunks from the file: the graph holds its path, not its rows
    big = dask_from_npy(tmp_path / "X.npy", chunk_rows=250)
    assert len(pickle.dumps(dict(big.dask))) < 10_000
    codes = transform_dask(enc, big)
    assert codes.shape == (1200, 16) and codes.dtype == np.float32
    assert codes.chunks[0] == big.chunks[0]
    want = enc.transform(np.tile(X, (4, 1)))
    # up to float32 rounding: a chunk's rows may take other kernels than the whole array's
    np.testing.assert_allclose(codes.compute(), want, rtol=1e-5, atol=1e-5)
    # written into one .npy by the workers, each its own rows, never gathered here
    out = dask_to_npy(codes, tmp_path / "codes.npy")
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    # the same with an in-memory dask array
    np.testing.assert_allclose(transform_dask(enc, da.from_array(X, chunks=(100, 64))).compute(),
                               enc.transform(X), rtol=1e-5, atol=1e-5)


def test_a_worker_killed_mid_search_the_search_finishes(client, digits, serial_search):
    X, y = digits
    before = _worker_pids(client)
    future = _search_on(client, X, y, {"acc": _slow_accuracy}, "acc")
    # wait until the workers run the search's tasks, then kill one worker process
    deadline = time.monotonic() + 60
    victim = None
    while victim is None and time.monotonic() < deadline and not future.done():
        busy = [w for w, keys in client.processing().items() if keys]
        if busy:
            victim = client.run(os.getpid, workers=[busy[0]])[busy[0]]
        else:
            time.sleep(0.05)
    if victim is None and future.done():
        future.result()  # an error of the search itself, if that is what ended it
    assert victim is not None, "the search's tasks never reached the workers"
    os.kill(victim, signal.SIGKILL)
    search = future.result(timeout=TIMEOUT)
    # the task was retried on a live worker: the same results as without the kill
    assert search.best_params_ == serial_search.best_params_
    np.testing.assert_array_equal(search.cv_results_["mean_test_acc"],
                                  serial_search.cv_results_["mean_test_acc"])
    # the nanny restarted the killed worker
    client.wait_for_workers(2, timeout=60)
    after = _worker_pids(client)
    client.seen_pids |= before | after
    assert victim not in after


def test_a_task_that_kills_every_worker_fails_the_search_clearly(client, digits):
    X, y = digits
    # one candidate, two splits: two tasks, each killing at most two workers
    future = _search_on(client, X, y, {"acc": _die}, "acc", grid={"l0__alpha": [0.1]})
    # KilledWorker names the task and says that the workers died running it; when the
    # last copy of the data died first, the tasks waiting on it are cancelled instead
    with pytest.raises((distributed.KilledWorker, distributed.client.FutureCancelledError),
                       match="died|cancelled"):
        future.result(timeout=TIMEOUT)
    # the cluster recovers for whatever comes next, once the doomed tasks are gone
    deadline = time.monotonic() + 60
    while any(client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    client.wait_for_workers(2, timeout=120)
    client.seen_pids |= _worker_pids(client)
