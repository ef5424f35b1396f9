"""The skorch glue: device resolution, seeding, callbacks and the NeuralNet builder; torch's
threads sized by the work; batched inference; progress bars."""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import numbers
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import assert_all_finite
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, LRScheduler
from skorch.dataset import ValidSplit
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

from ._progress import progress_bar  # noqa: F401 - used here and imported from here


def resolve_device(device):
    """Turn the ``device`` parameter into a concrete torch device string.

    ``"auto"`` means CUDA when it is available, else the CPU; ``"cpu"``, ``"cuda"``
    and ``"cuda:N"`` (or a :class:`torch.device`) are accepted as they are.

    Raises
    ------
    ValueError
        If the string is not a device torch knows, or CUDA is asked for but absent.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f"device must be a string such as 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device; use 'auto', 'cpu', 'cuda' or 'cuda:N'"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available here")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device={device!r}: only 'cpu' and 'cuda' devices are supported")
    return str(dev)


def torch_seed(random_state):
    """A 63-bit torch seed drawn from a ``random_state`` (None, int or RandomState)."""
    from sklearn.utils import check_random_state

    if isinstance(random_state, numbers.Integral):
        return int(random_state) % (2**63)
    rng = check_random_state(random_state)
    return int(rng.randint(np.iinfo(np.int32).max))


_OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}


def resolve_optimizer(optimizer):
    """Map the ``optimizer`` parameter (a name or a torch optimizer class) to a class."""
    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key not in _OPTIMIZERS:
            raise ValueError(
                f"optimizer={optimizer!r} is unknown; use one of {sorted(_OPTIMIZERS)} "
                "or a torch.optim.Optimizer subclass"
            )
        return getattr(torch.optim, _OPTIMIZERS[key])
    if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
        return optimizer
    raise TypeError(
        f"optimizer must be a name such as 'adam' or a torch.optim.Optimizer subclass, "
        f"got {optimizer!r}"
    )


class SigmaSchedule(Callback):
    """Set HELU_σ's σ at the start of training and divide it by ``decay`` after each epoch.

    The paper starts at σ = 0.2 and divides by 10 after every epoch; ``decay=1`` holds σ.
    Every module of the net that has a ``sigma`` attribute (an :class:`UnfoldedEncoder`
    of kind ``"l0"``, or a wrapper exposing one) follows the schedule.
    """

    def __init__(self, sigma=0.2, decay=10.0):
        self.sigma = sigma
        self.decay = decay

    def _set(self, net, value):
        for m in net.module_.modules():
            if getattr(m, "kind", None) == "l0":
                m.sigma = value

    def on_train_begin(self, net, **kwargs):
        # continued from the epochs already trained (``partial_fit``); σ itself on a new fit
        self.sigma_ = float(self.sigma) / float(self.decay) ** len(net.history)
        self._set(net, self.sigma_)

    def on_epoch_end(self, net, **kwargs):
        net.history.record("sigma", self.sigma_)
        self.sigma_ /= float(self.decay)
        self._set(net, self.sigma_)


class DivergenceGuard(Callback):
    """Stop training when the loss is no longer finite and restore the last good weights.

    A :class:`~sklearn.exceptions.ConvergenceWarning` says at which epoch and what to
    change (a smaller ``lr``, another ``optimizer``); codes are never NaN.
    """

    def on_train_begin(self, net, **kwargs):
        self.best_state_ = copy.deepcopy(net.module_.state_dict())
        self.diverged_ = False

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1, "train_loss"]
        params_ok = all(torch.isfinite(p).all() for p in net.module_.parameters())
        if np.isfinite(loss) and params_ok:
            self.best_state_ = copy.deepcopy(net.module_.state_dict())
            return
        self.diverged_ = True
        net.module_.load_state_dict(self.best_state_)
        epoch = len(net.history)
        what = f"loss {loss}" if not np.isfinite(loss) else f"non-finite weights, loss {loss}"
        advice = "Lower `lr`"
        if not isinstance(net.optimizer_, torch.optim.Adam | torch.optim.AdamW):
            advice += " or use optimizer='adam'"
        warnings.warn(
            f"Training diverged at epoch {epoch} ({what}); the weights of the last finite "
            f"epoch were restored and training stopped. {advice}.",
            ConvergenceWarning,
            stacklevel=2,
        )
        raise KeyboardInterrupt  # skorch's way to stop the epoch loop (cf. EarlyStopping)


def _batch_loader(dataset, batch_size=128, shuffle=False, **kwargs):
    """A DataLoader that indexes the dataset once per mini-batch, not once per sample.

    skorch's :class:`~skorch.dataset.Dataset` accepts an array of indices; the default
    DataLoader instead calls it for every row and collates the rows. Same batches, same order
    (the same :class:`~torch.utils.data.RandomSampler` under the same torch seed), without the
    per-row Python calls: ~1 ms per 128-row batch on this project's CPU.
    """
    sampler = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
    batches = BatchSampler(sampler, int(batch_size), drop_last=False)
    return DataLoader(dataset, batch_size=None, sampler=batches, **kwargs)


def split_and_callbacks(train_split, patience, random_state, *, stratified):
    """skorch's ``train_split`` and an early-stopping callback from the estimator parameters.

    ``train_split``: a fraction in (0, 1) becomes a :class:`~skorch.dataset.ValidSplit`
    seeded by ``random_state`` (``stratified`` for classifiers); a callable is used as is;
    ``None`` trains on everything. ``patience``: skorch's :class:`~skorch.callbacks.EarlyStopping`
    on ``valid_loss`` (``train_loss`` without a split), restoring the best epoch's weights
    at the end of training; ``None`` adds no callback.
    """
    if isinstance(train_split, numbers.Real):
        seed = torch_seed(random_state) % (2**32) if random_state is not None else None
        train_split = ValidSplit(float(train_split), stratified=stratified, random_state=seed)
    callbacks = []
    if patience is not None:
        monitor = "valid_loss" if train_split is not None else "train_loss"
        callbacks.append(("early_stopping", EarlyStopping(
            monitor=monitor, patience=int(patience), load_best=True)))
    return callbacks, train_split


def build_net(module, criterion, *, optimizer="adam", lr=1e-3, lr_decay=1.0, max_epochs=10,
              batch_size=128, device="cpu", verbose=0, sigma=None, sigma_decay=1.0,
              callbacks=(), train_split=None, **kwargs):
    """Build a skorch :class:`~skorch.NeuralNet` around an initialised ``module``.

    The net trains ``module`` as given (it is not re-created), shuffles the training
    batches, applies the learning-rate decay (``ExponentialLR``), the σ schedule when
    ``sigma`` is not None, and the :class:`DivergenceGuard`.
    """
    cbs = [("divergence_guard", DivergenceGuard())]
    if sigma is not None:
        cbs.append(("sigma_schedule", SigmaSchedule(sigma, sigma_decay)))
    if lr_decay != 1.0:
        cbs.append(("lr_decay", LRScheduler(policy="ExponentialLR", gamma=lr_decay)))
    cbs.extend(callbacks)
    opt = resolve_optimizer(optimizer)
    if opt in (torch.optim.Adam, torch.optim.AdamW) and "optimizer__fused" not in kwargs:
        # one fused kernel per parameter instead of a dozen element-wise passes: the Adam
        # step was a quarter of a training step at p = 512 on CPU
        kwargs["optimizer__fused"] = True
    return NeuralNet(
        module=module,
        criterion=criterion,
        optimizer=opt,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        train_split=train_split,
        callbacks=cbs,
        iterator_train=_batch_loader,
        iterator_valid=_batch_loader,
        iterator_train__shuffle=True,
        predict_nonlinearity=None,
        device=device,
        verbose=verbose,
        torch_load_kwargs={"weights_only": False},
        **kwargs,
    )


@contextlib.contextmanager
def _seeded_training(net, n_rows, seed):
    """Threads sized by one mini-batch's forward products, and the torch RNG forked and
    seeded with ``seed`` (the caller's random stream is left untouched)."""
    devices = []
    if str(net.device).startswith("cuda") and torch.cuda.is_available():
        devices = [torch.device(net.device).index or 0]
    module = getattr(net, "module_", None)
    module = net.module if module is None else module
    flops = None
    if isinstance(module, torch.nn.Module):
        flops = module_flops(module, net.batch_size if net.batch_size > 0 else n_rows)
    with work_threads(flops), torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def fit_net(net, X, y, random_state):
    """``net.fit(X, y)`` with the shuffling and any dropout seeded from ``random_state``.

    The global torch RNG is forked, so the caller's random stream is left untouched. On
    the CPU the training runs under :func:`work_threads` sized by one mini-batch's forward
    products (:func:`module_flops`): one thread for the small matrices of the usual batch
    sizes, torch's count restored afterwards.
    """
    with _seeded_training(net, len(X), torch_seed(random_state)):
        net.fit(X, y)
    return net


def partial_fit_net(net, X, y, random_state):
    """One epoch of ``net.partial_fit(X, y)``, seeded and threaded as :func:`fit_net`.

    The seed moves on with the epochs already trained, so successive calls shuffle their
    batches differently.
    """
    with _seeded_training(net, len(X), torch_seed(random_state) + len(net.history)):
        net.partial_fit(X, y, epochs=1)
    return net


def as_float32(X):
    """``X`` as a C-contiguous, writable float32 array (copied only when needed).

    torch warns on (and must not write into) read-only buffers such as memory maps.
    """
    if X.dtype == np.float32 and X.flags.writeable and X.flags.c_contiguous:
        return X
    return np.array(X, dtype=np.float32, order="C")


def check_float32_scale(X, name="X", hint="with StandardScaler"):
    """Raise a ``ValueError`` if ``X``'s scale is out of reach of the float32 computations.

    ``fit`` and the solvers compute in float32: a row's squared norm must not overflow it
    (beyond, the training loss is infinite and a dictionary's step ``1 / ||D||^2`` is 0) and
    the squares of the largest values must not underflow it (below, that step overflows).
    An all-zero array passes. ``name`` names the array in the message, ``hint`` how to
    rescale it.
    """
    # two reductions instead of np.abs(X).max(): no temporary of X's size
    big = max(abs(float(X.max())), abs(float(X.min()))) if X.size else 0.0
    info = np.finfo(np.float32)
    if big > 0.0 and big * big < float(info.tiny):
        raise ValueError(
            f"Input {name} is too small for float32 (max |x| = {big:.3g}: its squares "
            f"underflow); skl0 computes in float32: rescale it, e.g. {hint}"
        )
    if big * big * X.shape[1] > float(info.max):
        raise ValueError(
            f"Input {name} is too large for float32 (max |x| = {big:.3g}: a row's squared "
            f"norm overflows); skl0 computes in float32: rescale it, e.g. {hint}"
        )


def _thread_cap():
    """The thread count the environment asks for (``OMP_NUM_THREADS`` & co.), or ``None``.

    joblib's loky backend (``GridSearchCV(n_jobs=k)``, ``cross_validate(n_jobs=k)``) starts
    its workers with ``OMP_NUM_THREADS`` (and MKL/OpenBLAS siblings) set to
    ``cpu_count // k``; torch reads that when it starts, so the intra-op pool of a worker is
    already capped. The cap is read here again for processes where torch was initialised
    before the variable was set (e.g. a fork of a parent that already used torch).
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


# Floating-point operations that one more intra-op thread needs in each operation of a
# phase before it can pay. Below, the split work is done before the threads meet, and a
# thread that the OS has given to another process stalls every operation (torch's OpenMP
# pool waits for it at the end of each one); docs/performance.md, "Under load".
_FLOPS_PER_THREAD = 1 << 30


def _threads_for(flops=None):
    """Intra-op threads for operations of ``flops`` floating-point operations each.

    torch's current count, capped by :func:`_thread_cap` and by one thread per
    ``_FLOPS_PER_THREAD`` (at least one); ``flops=None`` applies the cap alone.
    """
    threads = torch.get_num_threads()
    cap = _thread_cap()
    if cap is not None:
        threads = min(threads, cap)
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
    :func:`torch.set_num_threads` is left as it was.

    Examples
    --------
    >>> import torch
    >>> from skl0._training import work_threads
    >>> before = torch.get_num_threads()
    >>> with work_threads(flops=2 * 128 * 64 * 64):  # one training batch on digits
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    before = torch.get_num_threads()
    threads = _threads_for(flops)
    if threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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
    """Decorate an encoder's ``fit(self, X, ...)`` to run under :func:`work_threads`.

    The size is :func:`fit_flops` of ``X``'s shape and the encoder's ``n_components``
    (``n_features`` when ``None``); an ``X`` without a 2-D shape only gets the cap.
    """
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


# Elements of one (batch x n_components) float32 buffer of batched_forward: 1 Mi floats
# (4 MiB), so that a transform's extra peak memory stays small whatever its size while the
# batches stay large enough for the matrix products (docs/performance.md, memory).
_BATCH_ELEMENTS = 1 << 20

# The same for the fast path on the CPU when it runs one batch at a time: 1 MiB of codes
# (1,024 rows at least), which stays in a core's cache (faster; docs/performance.md); batches
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
    by fewer than the number of batches (20,000 rows in 4,096-row shares were 3 shares for
    one thread and 2 for the other: 1.14x slower at p = 128). Returns
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


def _batches(X, starts, batch_size, device, total=None):
    """``(start, batch)`` for each start: ``X``'s rows as a float32 tensor on ``device``; the
    float64 tensor ``total``, if given, gets each batch's sum (the finiteness check).

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
        if total is not None:
            total += xb.sum()
        yield start, xb


def _run_batches(run, X, out, batch_size, device, workers, check_finite, flops=None):
    """``run(x_batch, out_batch)`` over the batches of ``X``, on ``workers`` threads.

    With several workers each takes the next batch when it is done with one, and torch's
    intra-op threads are set to 1 meanwhile (restored after); with one, the batches run
    under :func:`work_threads` sized by ``flops``, those of one batch. Returns the float64
    sum of the float32 batches when ``check_finite`` (for :func:`batched_forward`'s
    finiteness check), else ``None``.
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
        total = torch.zeros((), dtype=torch.float64, device=device) if check_finite else None
        # with the check, a float32 overflow of the cast to inf is reported after the loop
        quiet = np.errstate(over="ignore") if check_finite else contextlib.nullcontext()
        with torch.inference_mode(), quiet:
            for start, xb in _batches(X, next_starts(), batch_size, device, total):
                run(xb, torch.from_numpy(out[start:start + batch_size]))
        return total

    if workers == 1:
        with work_threads(flops):
            totals = [work(0)]
    else:
        # the pool's new threads take the count set here; threads of the caller's that
        # already ran torch keep their own (OpenMP's per-thread setting)
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(workers) as pool:
                totals = list(pool.map(work, range(workers)))
        finally:
            torch.set_num_threads(before)
    return sum(totals) if check_finite else None


def _raise_unless_finite(X):
    """Raise scikit-learn's ``ValueError`` if ``X`` holds NaN or infinity, or ours if a value
    overflows float32 (the encoders compute in float32); return if every value is finite
    there (a finite ``X`` whose float32 sum overflowed)."""
    with np.errstate(over="ignore", invalid="ignore"):  # its fast sum may overflow
        assert_all_finite(X, input_name="X")
    if X.dtype != np.float32:
        big = float(np.max(np.abs(X)))
        if big > float(np.finfo(np.float32).max):
            raise ValueError(
                f"Input X has values beyond float32's range (max |x| = {big:.3g}); the "
                "encoders compute in float32: rescale X"
            )


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

    ``check_finite=True`` replaces scikit-learn's finiteness check of ``X`` (a single-threaded
    pass over all of ``X``, 3 ms of a 20 ms transform at p = 128) by the sum of each float32
    batch while it is in cache, on torch's threads. Only when the total is not finite is ``X``
    checked element-wise (:func:`_raise_unless_finite`), with scikit-learn's error messages.
    """
    n = X.shape[0]
    default_batch = batch_size is None
    if default_batch:
        batch_size = _default_batch_size(module)
    was_training = module.training
    module.eval()
    out = None
    total = torch.zeros((), dtype=torch.float64, device=device) if check_finite else None
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
                total = _run_batches(run, X, out, batch_size, device, workers, check_finite,
                                     flops)
            else:
                with work_threads(module_flops(module, min(n, batch_size))):
                    for start, xb in _batches(X, range(0, n, batch_size), batch_size, device,
                                              total):
                        zb = module(xb)
                        if out is None:
                            out = np.empty((n, zb.shape[1]), dtype=out_dtype)
                        out[start:start + batch_size] = zb.cpu().numpy()
    finally:
        module.train(was_training)
    if total is not None and not math.isfinite(total.item()):
        _raise_unless_finite(X)
    if out is None:  # no samples: ask the module for the width
        with torch.inference_mode():
            p = module.eval()(torch.zeros(1, X.shape[1], device=device)).shape[1]
        module.train(was_training)
        out = np.empty((0, p), dtype=out_dtype)
    return out
