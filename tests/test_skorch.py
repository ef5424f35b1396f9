import numpy as np
import pytest
import torch
from _helpers import network_encoder


@pytest.fixture(autouse=True)
def _no_thread_cap_from_the_environment(monkeypatch):
    # the thread counts asserted here are torch's; the cap that skl0 read from the
    # environment at import (OMP_NUM_THREADS=1 in a run of the suite) would lower them
    import skl0._threads

    monkeypatch.setattr(skl0._threads, "_CAP", None)


def test_batch_loader_gives_the_dataloaders_batches():
    from skorch.dataset import Dataset

    from skl0._skorch import _batch_loader

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
    from skl0._skorch import build_net

    net = build_net(torch.nn.Linear(2, 2), torch.nn.MSELoss(), optimizer="adam")
    assert net.optimizer__fused is True
    net = build_net(torch.nn.Linear(2, 2), torch.nn.MSELoss(), optimizer="sgd")
    assert not hasattr(net, "optimizer__fused")
    net.initialize()  # and the fused Adam builds on this device
    build_net(torch.nn.Linear(2, 2), torch.nn.MSELoss()).initialize()


def _ctrl_c_at_epoch(monkeypatch, epoch, seen=None):
    """Send this process a SIGINT (a Ctrl-C) at the end of the given training epoch."""
    import signal

    from skl0._skorch import DivergenceGuard

    original = DivergenceGuard.on_epoch_end

    def on_epoch_end(self, net, **kwargs):
        original(self, net, **kwargs)
        if len(net.history) == epoch:
            if seen is not None:
                seen.append(epoch)
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(DivergenceGuard, "on_epoch_end", on_epoch_end)


FAST = {"max_epochs": 20, "dict_max_iter": 1, "solver_max_iter": 20, "random_state": 0,
        "device": "cpu"}


@pytest.mark.parametrize("name", ["L0Encoder", "MSparseEncoder", "LISTAEncoder"])
def test_ctrl_c_in_fit_raises_and_leaves_the_encoder_as_it_was(monkeypatch, name):
    import signal

    from sklearn.base import clone

    import skl0

    X = np.random.RandomState(0).randn(60, 5)
    enc = network_encoder(getattr(skl0, name), n_components=6, **FAST)
    params = dict(enc.__dict__)
    handler = signal.getsignal(signal.SIGINT)
    with monkeypatch.context() as m:
        _ctrl_c_at_epoch(m, 2)
        with pytest.raises(KeyboardInterrupt):
            enc.fit(X)
    assert enc.__dict__ == params  # nothing fitted
    assert signal.getsignal(signal.SIGINT) is handler
    enc.set_params(max_epochs=3).fit(X)
    fitted = dict(enc.__dict__)
    weights = {k: v.clone() for k, v in enc.net_.module_.state_dict().items()}
    with monkeypatch.context() as m:
        _ctrl_c_at_epoch(m, 2)
        with pytest.raises(KeyboardInterrupt):
            enc.fit(X[::-1])
        assert enc.__dict__ == fitted  # the same fitted objects
    enc.fit(X)
    for key, value in enc.net_.module_.state_dict().items():
        assert torch.equal(value, weights[key])  # the same training as before
    # partial_fit trains one more epoch per call, in place: interrupted in it, the encoder
    # keeps the network it had, not half an epoch more
    fresh = clone(enc).partial_fit(X)
    before = dict(fresh.__dict__)
    trained = {k: v.clone() for k, v in fresh.net_.module_.state_dict().items()}
    epochs = len(fresh.history_)
    with monkeypatch.context() as m:
        _ctrl_c_at_epoch(m, epochs + 1)
        with pytest.raises(KeyboardInterrupt):
            fresh.partial_fit(X)
    assert fresh.__dict__.keys() == before.keys() and len(fresh.history_) == epochs
    assert all(fresh.__dict__[key] is value for key, value in fresh.get_params().items())
    assert fresh.history_ is fresh.net_.history
    np.testing.assert_array_equal(fresh.components_, before["components_"])
    for key, value in fresh.net_.module_.state_dict().items():
        assert torch.equal(value, trained[key])
    fresh.partial_fit(X)  # and it goes on from there
    assert len(fresh.history_) == epochs + 1


@pytest.mark.parametrize("name, kwargs", [("L0Classifier", {}), ("L0Clusterer", {"n_clusters": 2})])
def test_ctrl_c_in_a_wrappers_fit_raises_and_stops_a_search(monkeypatch, name, kwargs):
    from sklearn.model_selection import GridSearchCV

    import skl0
    from skl0 import L0Encoder

    rng = np.random.RandomState(0)
    X, y = rng.randn(60, 5), np.repeat([0, 1], 30)
    enc = network_encoder(L0Encoder, n_components=6, **{**FAST, "max_epochs": 1})
    est = getattr(skl0, name)(encoder=enc, max_epochs=20, random_state=0, device="cpu",
                              **kwargs)
    params = dict(est.__dict__)
    seen = []
    with monkeypatch.context() as m:
        _ctrl_c_at_epoch(m, 2, seen)
        with pytest.raises(KeyboardInterrupt):
            est.fit(X, y)
        assert est.__dict__ == params
        search = GridSearchCV(est, {"lr": [1e-3, 1e-2, 1e-1]}, cv=2)
        with pytest.raises(KeyboardInterrupt):
            search.fit(X, y)
    assert seen == [2, 2]  # the search stopped in its first fit
    assert not hasattr(search, "cv_results_")


def test_a_callbacks_stop_is_not_an_interrupt(monkeypatch):
    # skorch's callbacks (EarlyStopping, DivergenceGuard) raise KeyboardInterrupt to stop
    # training: that still ends fit normally
    from skl0 import L0Encoder
    from skl0._skorch import DivergenceGuard

    def stop(self, net, **kwargs):
        if len(net.history) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(DivergenceGuard, "on_epoch_end", stop)
    X = np.random.RandomState(0).randn(60, 5)
    enc = network_encoder(L0Encoder, n_components=6, **FAST).fit(X)
    assert len(enc.history_) == 2


def test_verbose_training_log_is_plain_text_outside_a_terminal(capsys, monkeypatch):
    import io
    import sys

    from skl0 import L0Encoder

    X = np.random.RandomState(0).randn(60, 5)
    enc = network_encoder(L0Encoder, n_components=6, **{**FAST, "max_epochs": 3}, verbose=1)
    enc.fit(X)
    out = capsys.readouterr().out
    assert "train_loss" in out and "\x1b" not in out
    enc.partial_fit(X)
    assert "\x1b" not in capsys.readouterr().out
    # the net keeps print as its sink (what persistence trusts)
    sinks = [cb.sink for _, cb in enc.net_.callbacks_ if hasattr(cb, "sink")]
    assert sinks == [print]

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stdout", term)
    enc.fit(X)
    assert "\x1b[" in term.getvalue()  # skorch's colours on a terminal


def test_quiet_training_prints_nothing(capsys):
    from skl0 import L0Encoder

    X = np.random.RandomState(0).randn(60, 5)
    network_encoder(L0Encoder, n_components=6, **{**FAST, "max_epochs": 2}).fit(X).partial_fit(X)
    assert capsys.readouterr().out == ""
