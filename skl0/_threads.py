"""torch's intra-op threads sized by the work: one thread where operations are too small for
a second to pay, and never more than the environment (``OMP_NUM_THREADS``) allows.

torch's thread count is one per thread (OpenMP's setting) plus a process-wide value that
:func:`torch.set_num_threads` also writes and that a thread takes at its first torch
operation. The windows where skl0 changes the count hold one process-wide lock
(:data:`_LOCK`), and a thread reads its count under it, so that skl0 running in several
Python threads at once computes as it does serially and leaves every thread's count, and
the process-wide one, as the caller set them.
"""

from __future__ import annotations

import contextlib
import functools
import numbers
import os
import threading

import numpy as np
import torch

from ._utils import fit_guard


def _thread_cap():
    """The thread count the environment asks for (``OMP_NUM_THREADS`` & co.), or ``None``.

    joblib's loky backend (``GridSearchCV(n_jobs=k)``, ``cross_validate(n_jobs=k)``) starts
    its workers with ``OMP_NUM_THREADS`` (and MKL/OpenBLAS siblings) set to
    ``cpu_count // k``; torch reads that when it starts, so the intra-op pool of a worker is
    already capped. skl0 reads it once, when it is imported (:data:`_CAP`), for processes
    where torch was initialised before the variable was set.
    """
    caps = []
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        try:
            value = int(os.environ.get(var, ""))
        except ValueError:
            continue
        if value >= 1:
            caps.append(value)
    return min(caps) if caps else None


# The environment's cap as this process started with it: distributed's LocalCluster sets
# OMP_NUM_THREADS=1 in its parent's os.environ for the workers it spawns, which must not
# resize the parent's own work later.
_CAP = _thread_cap()

# Held while skl0 has changed a thread's torch count, and while a thread reads its count:
# a thread's first torch call takes the process-wide count that such a window lowers.
_LOCK = threading.RLock()

# Floating-point operations that one more intra-op thread needs in each operation of a
# phase before it can pay. Below, the split work is done before the threads meet, and a
# thread that the OS has given to another process stalls every operation (torch's OpenMP
# pool waits for it at the end of each one); docs/performance.md, "Under load".
_FLOPS_PER_THREAD = 1 << 30


def _threads_for(flops=None):
    """Intra-op threads for operations of ``flops`` floating-point operations each.

    torch's current count, capped by the environment's (:data:`_CAP`) and by one thread
    per ``_FLOPS_PER_THREAD`` (at least one); ``flops=None`` applies the cap alone.
    """
    threads = torch.get_num_threads()
    if _CAP is not None:
        threads = min(threads, _CAP)
    if flops is not None:
        threads = min(threads, max(1, int(flops // _FLOPS_PER_THREAD)))
    return threads


@contextlib.contextmanager
def work_threads(flops=None):
    """Run a block with torch's intra-op threads sized for operations of ``flops`` each.

    The count is :func:`_threads_for` ``(flops)``: never more than torch's current count
    or the environment's cap (``OMP_NUM_THREADS``, which loky sets in the workers of
    ``GridSearchCV(n_jobs=k)``), and one thread where the operations are too small for a
    second one to pay. It is restored when the block ends, also on error, so the caller's
    :func:`torch.set_num_threads` is left as it was. A block that changes the count holds
    :data:`_LOCK` (other threads' windows wait for it); one that does not runs beside them.

    Examples
    --------
    >>> import torch
    >>> from skl0._threads import work_threads
    >>> before = torch.get_num_threads()
    >>> with work_threads(flops=2 * 128 * 64 * 64):  # one training batch on digits
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    _LOCK.acquire()
    try:
        before = torch.get_num_threads()
        threads = _threads_for(flops)
    except BaseException:
        _LOCK.release()
        raise
    if threads == before:
        _LOCK.release()
        yield
        return
    try:
        torch.set_num_threads(threads)
        yield
    finally:
        torch.set_num_threads(before)
        _LOCK.release()


def capped_threads():
    """:func:`work_threads` without a size: only the environment's cap applies."""
    return work_threads(None)


def module_flops(module, n_rows):
    """Floating-point operations of a forward pass of ``module`` over ``n_rows`` rows.

    Two per weight and row (a multiply and an add): the size of the matrix products of
    the unfolded encoders and their heads.
    """
    weights = sum(p.numel() for p in module.parameters() if p.ndim >= 2)
    return 2 * int(n_rows) * weights


def fit_flops(n_samples, n_features, n_components, batch_size=256):
    """Floating-point operations of the typical product of an encoder's ``fit``.

    That of a mini-batch of dictionary learning: ``batch_size`` rows (at most
    ``n_samples``) times a ``max(n_components, n_features) x n_components`` matrix.
    """
    rows = min(int(n_samples), int(batch_size))
    return 2 * rows * int(n_components) * max(int(n_components), int(n_features))


def scoped_fit_threads(fit):
    """Decorate an encoder's ``fit(self, X, ...)`` to run under :func:`work_threads`, and
    under :func:`~skl0._utils.fit_guard` (torch's global random state kept; on Ctrl-C the
    encoder as before the call, the interrupt passed on).

    The size is :func:`fit_flops` of ``X``'s shape and the encoder's ``n_components``
    (``n_features`` when ``None``); an ``X`` without a 2-D shape only gets the cap.
    """
    @fit_guard
    @functools.wraps(fit)
    def wrapper(self, X, *args, **kwargs):
        flops = None
        try:  # validation proper is fit's; a shape it will refuse only gets the cap here
            shape = getattr(X, "shape", None) or np.shape(X)
            p = getattr(self, "n_components", None)
            dictionary = getattr(self, "dictionary", None)
            if dictionary is not None:
                p = np.shape(dictionary)[0]
        except (TypeError, ValueError, IndexError):
            shape = ()
        if len(shape) == 2:
            p = p if isinstance(p, numbers.Integral) else shape[1]
            flops = fit_flops(shape[0], shape[1], p)
        with work_threads(flops):
            return fit(self, X, *args, **kwargs)

    return wrapper

