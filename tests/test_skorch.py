import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _no_thread_cap_from_the_environment(monkeypatch):
    # the thread counts asserted here are torch's; a cap left in os.environ by another test
    # (e.g. a dask nanny's OMP_NUM_THREADS) would lower them
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)


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
