"""The batched forward pass of ``transform``: a module over an array in batches, in place,
on the threads the work pays for."""

from __future__ import annotations

import contextlib
import math
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from sklearn.utils import assert_all_finite

from ._threads import _LOCK, _threads_for, capped_threads, module_flops, work_threads
from ._utils import check_float32_scale

# Elements of one (batch x n_components) float32 buffer of batched_forward: 1 Mi floats
# (4 MiB), so that a transform's extra peak memory stays small whatever its size.
_BATCH_ELEMENTS = 1 << 20

# The same for the fast path on the CPU when it runs one batch at a time: 1 MiB of codes
# (1,024 rows at least), which stays in a core's cache (faster; docs/history.md); batches
# side by side on the threads keep their shares of the 4 MiB batch, and a GPU wants large ones.
_SERIAL_CPU_BATCH_ELEMENTS = 1 << 18


_MIN_BATCH = 1024


def _default_batch_size(module, elements=_BATCH_ELEMENTS):
    width = getattr(module, "n_components", None)
    if not isinstance(width, int) or width < 1:
        return 8192
    return max(_MIN_BATCH, elements // width)


def _batch_workers(device, n, batch_size, share=False):
    """Threads and batch size for the fast path of :func:`batched_forward`.

    On the CPU, one thread per torch thread (:func:`_threads_for`: the environment's cap
    applies), at most one per batch; 1 elsewhere. Each batch
    is then run whole by one thread, with torch's intra-op pool set to one thread, instead
    of every operation being split over the pool: the M-sparse encoder's numpy sort
    (single-threaded) then runs on all cores. With ``share=True`` (``batch_size`` is the
    default one) the threads split that batch, each share at least ``_MIN_BATCH`` rows, so
    that the memory in flight stays that of one batch. When that leaves fewer batches than
    torch has threads, one batch at a time with the whole intra-op pool is kept (no core
    idle). The batches are then evened out: as many as before, rounded up to a multiple of
    the workers, all of one size but a shorter last one, so that the threads' rows differ
    by fewer than the number of batches (uneven shares leave a thread idle at the end). Returns
    ``(workers, batch_size)``.
    """
    threads = _threads_for()
    if torch.device(device).type != "cpu" or threads < 2:
        return 1, batch_size
    workers, size = threads, batch_size
    if share:
        workers = min(workers, size // _MIN_BATCH)
        size //= max(workers, 1)
    workers = min(workers, -(-n // size))
    if workers < threads:
        # fewer batches than threads would leave cores idle that the intra-op pool uses
        return 1, batch_size
    batches = workers * -(-n // (workers * size))
    return workers, -(-n // batches)


_ALIGNMENT = 64  # bytes: torch's own CPU buffers are aligned so


def _batches(X, starts, batch_size, device, extent=None):
    """``(start, batch)`` for each start: ``X``'s rows as a float32 tensor on ``device``; the
    float32 tensor ``extent``, if given, becomes the largest ``|x|`` seen so far, NaN once a
    batch holds one (the finiteness and scale check of :func:`batched_forward`).

    A batch is ``X``'s own memory when that is float32, C-contiguous, writable (torch warns
    on read-only memory) and 64-byte aligned, else a copy in a buffer of torch's (aligned):
    the rounding of the matrix products, which can depend on the alignment of their
    operands, is then the same wherever the caller's array lies in memory.
    """
    for start in starts:
        rows = X[start:start + batch_size]
        if (rows.dtype == np.float32 and rows.flags.c_contiguous and rows.flags.writeable
                and rows.ctypes.data % _ALIGNMENT == 0):
            xb = torch.from_numpy(rows)
        else:
            xb = torch.empty(rows.shape, dtype=torch.float32)
            np.copyto(xb.numpy(), rows, casting="same_kind")
        xb = xb.to(device)
        if extent is not None:
            low, high = torch.aminmax(xb)  # one pass; NaN propagates, infinity is the max
            torch.maximum(extent, torch.maximum(high, -low), out=extent)
        yield start, xb


def _run_batches(run, X, out, batch_size, device, workers, check_finite, flops=None):
    """``run(x_batch, out_batch)`` over the batches of ``X``, on ``workers`` threads.

    With several workers each takes the next batch when it is done with one, and torch's
    intra-op threads are set to 1 meanwhile (restored after; under
    :data:`~skl0._threads._LOCK`, as :func:`work_threads`); with one, the batches run
    under :func:`work_threads` sized by ``flops``, those of one batch. Returns the largest
    ``|x|`` of the float32 batches when ``check_finite`` (NaN if one holds NaN; for
    :func:`batched_forward`'s finiteness and scale check), else ``None``.
    """
    starts = range(0, X.shape[0], batch_size)
    # the workers take the next batch when they are done with one: a worker whose core is
    # shared with another process takes fewer
    queue, lock = iter(starts), threading.Lock()

    def next_starts():
        while True:
            with lock:
                start = next(queue, None)
            if start is None:
                return
            yield start

    def work(k):
        # inference mode and numpy's error state are per thread: entered here
        extent = _new_extent(device) if check_finite else None
        # with the check, a float32 overflow of the cast to inf is reported after the loop
        quiet = np.errstate(over="ignore") if check_finite else contextlib.nullcontext()
        with torch.inference_mode(), quiet:
            for start, xb in _batches(X, next_starts(), batch_size, device, extent):
                run(xb, torch.from_numpy(out[start:start + batch_size]))
        return extent

    if workers == 1:
        with work_threads(flops):
            extents = [work(0)]
    else:
        # the pool's new threads take the count set here; threads of the caller's that
        # already ran torch keep their own (OpenMP's per-thread setting)
        with _LOCK:
            before = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                with ThreadPoolExecutor(workers) as pool:
                    extents = list(pool.map(work, range(workers)))
            finally:
                torch.set_num_threads(before)
    return torch.stack(extents).max() if check_finite else None


def _new_extent(device):
    return torch.zeros((), dtype=torch.float32, device=device)


def _check_extent(X, extent):
    """The check of ``fit`` on ``X``, from the largest ``|x|`` of its float32 batches.

    ``fit`` refuses NaN and infinity (scikit-learn's messages) and a scale out of float32's
    reach (:func:`~skl0._utils.check_float32_scale`); so does this, in the same words.
    ``extent`` decides alone when it is finite and clear of both limits of that scale
    check by a factor of 2 (beyond the rounding of the cast to float32); otherwise
    (NaN, infinity, a limit near, all zeros) ``X`` itself is checked, element-wise.
    """
    info = np.finfo(np.float32)
    square = extent * extent
    if (math.isfinite(extent) and square >= 2.0 * float(info.tiny)
            and 2.0 * square * X.shape[1] <= float(info.max)):
        return
    with np.errstate(over="ignore", invalid="ignore"):  # its fast sum may overflow
        assert_all_finite(X, input_name="X")
    check_float32_scale(X)


def batched_forward(module, X, device, out_dtype, batch_size=None, check_finite=False):
    """Run ``module`` in eval/inference mode over ``X`` in batches into a numpy array.

    No temporary of the full output size is made besides the returned array; the default
    ``batch_size`` (None) holds one batch's codes within 4 MiB (1 MiB for the fast path on
    the CPU when it runs one batch at a time; at least 1,024 rows either way). Threads: on
    the CPU the batches of a module with a fast path (``inference_forward``) run side by
    side, one per torch thread, each on one intra-op thread, when there are batches enough
    for every thread; otherwise one batch at a time under :func:`work_threads` sized by one
    batch's products (one thread for small ones). The environment's cap (loky's
    ``OMP_NUM_THREADS`` under ``n_jobs``) applies; torch's count is restored after.

    ``check_finite=True`` applies ``fit``'s check of ``X`` (finite, and on a scale float32
    carries: :func:`~skl0._utils.check_float32_scale`) with its messages, without a pass of
    its own over ``X``: the largest ``|x|`` of each float32 batch is taken while the batch
    is in cache, on torch's threads, and ``X`` is checked element-wise only when that
    value is not clearly fine (:func:`_check_extent`).
    """
    n = X.shape[0]
    default_batch = batch_size is None
    if default_batch:
        batch_size = _default_batch_size(module)
    was_training = module.training
    module.eval()
    out = None
    extent = _new_extent(device) if check_finite else None
    try:
        # with the check, a float32 overflow of the cast to inf is reported after the loop
        quiet = np.errstate(over="ignore") if check_finite else contextlib.nullcontext()
        with capped_threads(), torch.inference_mode(), quiet:
            # modules with a fast eval path (UnfoldedEncoder) write each batch in place
            fast = getattr(module, "inference_forward", None)
            run = fast() if fast is not None and n else None
            if run is not None:
                out = np.empty((n, module.n_components), dtype=out_dtype)
                # on the CPU whole batches side by side, one per thread (every fast path
                # is thread-safe): no thread waits for another until the end
                workers, batch_size = _batch_workers(device, n, batch_size,
                                                     share=default_batch)
                if workers == 1 and default_batch and torch.device(device).type == "cpu":
                    batch_size = _default_batch_size(module, _SERIAL_CPU_BATCH_ELEMENTS)
                flops = module_flops(module, min(n, batch_size))
                extent = _run_batches(run, X, out, batch_size, device, workers,
                                      check_finite, flops)
            else:
                with work_threads(module_flops(module, min(n, batch_size))):
                    for start, xb in _batches(X, range(0, n, batch_size), batch_size, device,
                                              extent):
                        zb = module(xb)
                        if out is None:
                            out = np.empty((n, zb.shape[1]), dtype=out_dtype)
                        out[start:start + batch_size] = zb.cpu().numpy()
    finally:
        module.train(was_training)
    if extent is not None:
        _check_extent(X, float(extent.item()))
    if out is None:  # no samples: ask the module for the width
        with torch.inference_mode():
            p = module.eval()(torch.zeros(1, X.shape[1], device=device)).shape[1]
        module.train(was_training)
        out = np.empty((0, p), dtype=out_dtype)
    return out
