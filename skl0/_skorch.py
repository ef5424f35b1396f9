"""The skorch glue: the NeuralNet every estimator trains, its callbacks, the optimiser, and
seeded training."""

from __future__ import annotations

import contextlib
import copy
import numbers
import re
import signal
import sys
import threading
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, LRScheduler, PrintLog
from skorch.dataset import ValidSplit
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

from ._threads import module_flops, work_threads
from ._utils import torch_seed

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
    Every module of the net that ``trains_sigma`` (an ℓ0 :class:`~skl0._layers.UnfoldedEncoder`)
    follows the schedule.
    """

    def __init__(self, sigma=0.2, decay=10.0):
        self.sigma = sigma
        self.decay = decay

    def _set(self, net, value):
        for m in net.module_.modules():
            if getattr(m, "trains_sigma", False):
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
    per-row Python calls.
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


def trains_sigma(module):
    """Whether ``module`` holds HELU_σ neurons, whose σ a :class:`SigmaSchedule` sets."""
    return any(getattr(m, "trains_sigma", False) for m in module.modules())


def estimator_net(estimator, module, criterion, device, *, stratified=False, wrap_split=None):
    """The :class:`~skorch.NeuralNet` of ``module`` under an estimator's training parameters.

    Every estimator of skl0 trains through this one builder: ``optimizer``, ``lr``,
    ``lr_decay``, ``max_epochs``, ``batch_size`` and ``verbose`` are read from
    ``estimator``, and where it has them ``train_split`` and ``patience``
    (:func:`split_and_callbacks`; ``stratified`` for classifiers, ``wrap_split`` applied
    to the split if given) and ``sigma`` / ``sigma_decay`` (when ``module`` trains HELU_σ).
    """
    callbacks, train_split = split_and_callbacks(
        getattr(estimator, "train_split", None), getattr(estimator, "patience", None),
        estimator.random_state, stratified=stratified)
    if train_split is not None and wrap_split is not None:
        train_split = wrap_split(train_split)
    sigma = {}
    if hasattr(estimator, "sigma") and trains_sigma(module):
        sigma = {"sigma": estimator.sigma, "sigma_decay": estimator.sigma_decay}
    return build_net(
        module,
        criterion,
        optimizer=estimator.optimizer,
        lr=estimator.lr,
        lr_decay=estimator.lr_decay,
        max_epochs=estimator.max_epochs,
        batch_size=estimator.batch_size,
        device=device,
        verbose=int(estimator.verbose),
        callbacks=callbacks,
        train_split=train_split,
        **sigma,
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
        # the forked generators only: torch.manual_seed would also queue a seed for CUDA
        # devices not initialised yet, outside the fork
        torch.random.default_generator.manual_seed(seed)
        for index in devices:
            torch.cuda.default_generators[index].manual_seed(seed)
        yield


@contextlib.contextmanager
def _interrupts_passed_on():
    """Let a Ctrl-C through skorch, which catches ``KeyboardInterrupt`` in ``fit``.

    skorch keeps a partly trained net on ``KeyboardInterrupt`` and its callbacks raise one
    to stop training (:class:`~skorch.callbacks.EarlyStopping`, :class:`DivergenceGuard`),
    so the exception alone cannot tell a user's interrupt from a stop. The ``SIGINT``
    handler is wrapped for the block instead: an interrupt it raises is recorded and raised
    again once skorch has returned. Python runs signal handlers in the main thread only;
    elsewhere (and where the handler is not Python's) no Ctrl-C can reach the block.
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield
        return
    caught = []

    def handler(signum, frame):
        try:
            previous(signum, frame)
        except KeyboardInterrupt as exc:
            caught.append(exc)
            raise

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise caught[0]


_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _plain_print(*args, file=None, **kwargs):
    """``print`` without terminal colour codes where the stream is not a terminal."""
    stream = sys.stdout if file is None else file
    isatty = getattr(stream, "isatty", None)
    if not (callable(isatty) and isatty()):
        args = [_ESCAPE.sub("", arg) if isinstance(arg, str) else arg for arg in args]
    print(*args, file=stream, **kwargs)


@contextlib.contextmanager
def _plain_log(net):
    """skorch's epoch table in plain text where stdout is not a terminal (a log file, a CI
    job), as the progress bars; its colours on a terminal. The print sink is swapped for
    the block only: the net keeps ``print``, which persistence trusts."""
    # PrintLog prints to a sink other than print even when the net is not verbose
    logs = [cb for _, cb in getattr(net, "callbacks_", ()) if isinstance(cb, PrintLog)
            and cb.sink is print] if net.verbose else []
    for cb in logs:
        cb.sink = _plain_print
    try:
        yield
    finally:
        for cb in logs:
            cb.sink = print


def fit_net(net, X, y, random_state):
    """``net.fit(X, y)`` with the shuffling and any dropout seeded from ``random_state``.

    The global torch RNG is forked, so the caller's random stream is left untouched. On
    the CPU the training runs under :func:`work_threads` sized by one mini-batch's forward
    products (:func:`module_flops`): one thread for the small matrices of the usual batch
    sizes, torch's count restored afterwards. A Ctrl-C during training raises
    ``KeyboardInterrupt`` here (skorch alone would return the partly trained net). With
    ``verbose``, the epoch table is plain text where stdout is not a terminal.
    """
    with _interrupts_passed_on(), _seeded_training(net, len(X), torch_seed(random_state)):
        # net.fit is initialize + partial_fit: split here to reach the callbacks it builds
        if not net.warm_start or not net.initialized_:
            net.initialize()
        with _plain_log(net):
            net.partial_fit(X, y)
    return net


def partial_fit_net(net, X, y, random_state):
    """One epoch of ``net.partial_fit(X, y)``, seeded, threaded and interruptible as
    :func:`fit_net`.

    The seed moves on with the epochs already trained, so successive calls shuffle their
    batches differently.
    """
    seed = torch_seed(random_state) + len(net.history)
    with _interrupts_passed_on(), _seeded_training(net, len(X), seed), _plain_log(net):
        net.partial_fit(X, y, epochs=1)
    return net

