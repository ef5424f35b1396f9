"""The paper's "Baseline Encoder" (Tables 1 and 2): a fully-connected network trained with
skorch to regress the optimal codes, beside the deep encoders."""

from __future__ import annotations

import numpy as np
import torch
from skorch import NeuralNetRegressor
from skorch.callbacks import LRScheduler
from torch import nn


class BaselineEncoder(nn.Module):
    """The paper's fully-connected baseline: 3 hidden ReLU layers of width p, with dropout.

    ``x → [Linear(m, p) → ReLU → Dropout] → [Linear(p, p) → ReLU → Dropout]
    → [Linear(p, p) → ReLU → Dropout] → Linear(p, p)``: three hidden layers of
    dimension p with ReLU neurons, the units retained with probabilities
    ``keep_probs`` (0.9, 0.9, 0.5 in the paper) while training, and a linear output of
    dimension p (codes can be negative), trained as a regressor to the optimal codes.

    Parameters
    ----------
    n_features : int
        Input dimension m.
    n_components : int
        p, the width of the hidden layers and of the output.
    keep_probs : tuple of 3 floats in (0, 1], default=(0.9, 0.9, 0.5)
        Probabilities of retaining the units of the three hidden layers.

    Examples
    --------
    >>> import torch
    >>> from skl0.experiments.baseline import BaselineEncoder
    >>> net = BaselineEncoder(4, 8).eval()
    >>> net(torch.ones(2, 4)).shape
    torch.Size([2, 8])
    """

    def __init__(self, n_features, n_components, keep_probs=(0.9, 0.9, 0.5)):
        super().__init__()
        keep_probs = tuple(float(k) for k in keep_probs)
        if len(keep_probs) != 3 or not all(0 < k <= 1 for k in keep_probs):
            raise ValueError(f"keep_probs must be 3 numbers in (0, 1], got {keep_probs!r}")
        self.n_features = int(n_features)
        self.n_components = int(n_components)
        self.keep_probs = keep_probs
        layers = []
        width_in = self.n_features
        for keep in keep_probs:
            layers += [nn.Linear(width_in, self.n_components), nn.ReLU(),
                       nn.Dropout(p=1.0 - keep)]
            width_in = self.n_components
        self.hidden = nn.Sequential(*layers)
        self.output = nn.Linear(self.n_components, self.n_components)

    def forward(self, X):
        return self.output(self.hidden(X))

    def extra_repr(self):
        return f"keep_probs={self.keep_probs}"


def fit_baseline(X, codes, *, max_epochs, seed, device="cpu", lr=1e-3, lr_decay=0.98,
                 batch_size=128):
    """Train :class:`BaselineEncoder` to map ``X`` to ``codes`` (MSE, Adam, skorch).

    The learning rate decays by ``lr_decay`` per epoch; the initial weights, the dropout and
    the shuffling of the batches are seeded by ``seed`` (the caller's torch random stream is
    left as it was). Returns the fitted :class:`skorch.NeuralNetRegressor`.

    Examples
    --------
    >>> import numpy as np
    >>> from skl0.experiments.baseline import fit_baseline
    >>> rng = np.random.default_rng(0)
    >>> X, codes = rng.standard_normal((64, 5)), rng.standard_normal((64, 8))
    >>> net = fit_baseline(X, codes, max_epochs=2, seed=0)
    >>> net.predict(X.astype(np.float32)).shape
    (64, 8)
    """
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        module = BaselineEncoder(X.shape[1], codes.shape[1])
        net = NeuralNetRegressor(
            module,
            criterion=nn.MSELoss,
            optimizer=torch.optim.Adam,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=None,
            iterator_train__shuffle=True,
            callbacks=[("lr_decay", LRScheduler(policy="ExponentialLR", gamma=lr_decay))],
            device=device,
            verbose=0,
        )
        torch.manual_seed(seed)
        net.fit(np.asarray(X, dtype=np.float32), np.asarray(codes, dtype=np.float32))
    return net
