"""Encoding data larger than memory: one process against a dask LocalCluster.

Usage::

    python benchmarks/scaling.py [--n-samples 1000000] [--n-features 256]
        [--n-components 256] [--encoder l0|msparse|lista] [--route network|pursuit|ols|auto]
        [--chunk-rows 65536] [--workers 2] [--threads-per-worker 1] [--no-cluster]

Writes ``n_samples x n_features`` float32 Gaussian rows into an ``.npy`` file (1 GiB at
the defaults) in 65,536-row blocks, fits the encoder on its first 2,000 rows (one epoch),
then encodes
the whole file twice, writing the codes into another ``.npy`` each time:

1. one process: :func:`skl0.parallel.transform_batches` (the memory map read, the codes
   written, one 16 MiB batch at a time), torch on all the cores it sees;
2. a ``distributed.LocalCluster`` of ``--workers`` processes on the loopback:
   :func:`skl0.parallel.dask_from_npy` (each task reads its chunk from the file),
   :func:`skl0.parallel.transform_dask` (the encoder scattered once),
   :func:`skl0.parallel.dask_to_npy` (each task writes its rows); torch in each worker on
   one thread per worker thread (the nanny's ``OMP_NUM_THREADS=1``).

Prints the throughput (samples/s, the file read and the codes written included), the
peak resident memory of each process over its value at the start of the phase (sampled
every 10 ms with psutil), the cluster's start-up time apart, and the largest difference
between the two runs' codes. The encoder runs its network alone (``route="network"``,
the paper's encoder) unless ``--route`` names another route (``--pursuit`` is
``--route pursuit``). The rows are Gaussian noise, on which ℓ0 codes are
dense (every atom pays its α), so the pursuit there is its worst case, tens of times slower
than the network; on image patches see the frontier section of ``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import threading
import time

import numpy as np
import psutil
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from skl0 import L0Encoder, LISTAEncoder, MSparseEncoder  # noqa: E402
from skl0.parallel import (  # noqa: E402
    dask_from_npy,
    dask_to_npy,
    transform_batches,
    transform_dask,
)

ENCODERS = {"l0": L0Encoder, "msparse": MSparseEncoder, "lista": LISTAEncoder}
BLOCK = 65536
FIT_ROWS = 2000  # the speed of transform does not depend on how well the net is trained
MiB = 1 << 20


class PeakRSS:
    """The peak resident set size of some processes, sampled in a thread."""

    def __init__(self, pids, interval=0.01):
        self.procs = [psutil.Process(p) for p in pids]
        self.start = [p.memory_info().rss for p in self.procs]
        self.peak = list(self.start)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for i, p in enumerate(self.procs):
                try:
                    self.peak[i] = max(self.peak[i], p.memory_info().rss)
                except psutil.Error:
                    pass
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False

    def rows(self):
        return [(s / MiB, p / MiB, (p - s) / MiB) for s, p in zip(self.start, self.peak,
                                                                   strict=True)]


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_data(path, n, f, seed=0):
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, f))
    rng = np.random.default_rng(seed)
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        X[start:stop] = rng.standard_normal((stop - start, f), dtype=np.float32)
        X.flush()  # the dirty pages go to the file block by block
    del X


def one_process(enc, x_path, out_path):
    X = np.load(x_path, mmap_mode="r")
    with PeakRSS([os.getpid()]) as mem:
        clock = time.perf_counter()
        transform_batches(enc, X, out_path)
        seconds = time.perf_counter() - clock
    return seconds, mem.rows()


def on_cluster(enc, x_path, out_path, args):
    import distributed

    clock = time.perf_counter()
    with distributed.LocalCluster(n_workers=args.workers,
                                  threads_per_worker=args.threads_per_worker,
                                  processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.wait_for_workers(args.workers, timeout=120)
        startup = time.perf_counter() - clock
        pids = client.run(os.getpid)
        threads = client.run(torch.get_num_threads)
        with PeakRSS(list(pids.values())) as mem:
            clock = time.perf_counter()
            codes = transform_dask(enc, dask_from_npy(x_path, chunk_rows=args.chunk_rows))
            dask_to_npy(codes, out_path)
            seconds = time.perf_counter() - clock
    return startup, seconds, mem.rows(), sorted(set(threads.values()))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--n-features", type=int, default=256)
    parser.add_argument("--n-components", type=int, default=256)
    parser.add_argument("--encoder", choices=sorted(ENCODERS), default="l0")
    parser.add_argument("--route", choices=["network", "pursuit", "ols", "auto"],
                        default="network",
                        help="the route of L0Encoder / MSparseEncoder (default: the network "
                        "alone; LISTA has only its network)")
    parser.add_argument("--pursuit", dest="route", action="store_const", const="pursuit",
                        help="the same as --route pursuit")
    parser.add_argument("--chunk-rows", type=int, default=BLOCK,
                        help="rows per dask chunk (default 65536)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads-per-worker", type=int, default=1)
    parser.add_argument("--no-cluster", action="store_true", help="one process only")
    parser.add_argument("--dir", default=None, help="where the .npy files go (a temp dir)")
    args = parser.parse_args(argv)

    n, f, p = args.n_samples, args.n_features, args.n_components
    work = tempfile.mkdtemp(dir=args.dir, prefix="skl0-scaling-")
    try:
        x_path = os.path.join(work, "X.npy")
        print(f"# skl0 scaling: {n:,} x {f} float32 ({n * f * 4 / MiB:,.0f} MiB) -> "
              f"{args.encoder} p = {p}, route {args.route}")
        print(f"# {_cpu_name()}, {os.cpu_count()} cores, "
              f"torch {torch.__version__}, {torch.get_num_threads()} torch threads here")
        clock = time.perf_counter()
        write_data(x_path, n, f)
        print(f"data written in {time.perf_counter() - clock:.1f} s")

        clock = time.perf_counter()
        X = np.load(x_path, mmap_mode="r")
        route = {} if args.encoder == "lista" else {"route": args.route}
        enc = ENCODERS[args.encoder](n_components=p, max_epochs=1, dict_max_iter=3,
                                     solver_max_iter=30, random_state=0, device="cpu",
                                     **route)
        enc.fit(np.asarray(X[:FIT_ROWS]))
        del X
        print(f"fit on {FIT_ROWS:,} rows in {time.perf_counter() - clock:.1f} s")

        rows = []
        out1 = os.path.join(work, "codes_one.npy")
        seconds, mem = one_process(enc, x_path, out1)
        rows.append(("one process", f"{torch.get_num_threads()} torch threads", seconds,
                     mem))
        if not args.no_cluster:
            out2 = os.path.join(work, "codes_cluster.npy")
            startup, seconds, mem, threads = on_cluster(enc, x_path, out2, args)
            desc = (f"{args.workers} workers x {args.threads_per_worker} thread, torch "
                    f"{'/'.join(map(str, threads))} thread(s) each")
            rows.append(("LocalCluster", desc, seconds, mem))
            print(f"cluster started in {startup:.1f} s (not counted below)")

        print()
        print("| run | setting | time (s) | samples/s | peak RSS per process (MiB) "
              "| over its start (MiB) |")
        print("|---|---|---:|---:|---|---|")
        for name, desc, seconds, mem in rows:
            peaks = ", ".join(f"{pk:,.0f}" for _, pk, _ in mem)
            grown = ", ".join(f"+{g:,.0f}" for _, _, g in mem)
            print(f"| {name} | {desc} | {seconds:.2f} | {n / seconds:,.0f} | {peaks} "
                  f"| {grown} |")
        if not args.no_cluster:
            a, b = np.load(out1, mmap_mode="r"), np.load(out2, mmap_mode="r")
            diff = max(float(np.abs(a[s:s + BLOCK] - b[s:s + BLOCK]).max())
                       for s in range(0, n, BLOCK))
            print(f"\nlargest |difference| between the two runs' codes: {diff:.3g}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
