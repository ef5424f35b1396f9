"""
Error against the number of stages and of IHT iterations
========================================================

A deep ℓ0 encoder with K stages costs about as much as K iterations of iterative hard
thresholding (IHT): each stage is one IHT step whose weights were trained instead of being
fixed by the dictionary. This example draws the prediction error of the ℓ0 codes of
held-out digits against the optimal codes of :func:`skl0.sparse_encode`, for
:func:`skl0.iht` with 1 to 20 iterations and for :class:`~skl0.L0Encoder` networks with
K = 1, 2 and 3 stages trained on the same dictionary. ``route="network"`` shows the network
alone, the paper's encoder; ``max_epochs=0`` gives the untrained network, which is exactly
K IHT iterations from zero.
"""

# %%
# One dictionary, the optimal codes, and IHT
# ------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skl0 import L0Encoder, iht, sparse_encode
from skl0.metrics import code_prediction_error

X, y = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X, test_size=0.2, stratify=y, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

first = L0Encoder(n_components=64, n_stages=1, max_epochs=20, route="network", device="cpu",
                  random_state=0).fit(X_train)
dictionary, alpha = first.components_, first.alpha
target = sparse_encode(X_test, dictionary, alpha=alpha)

iht_iterations = np.arange(1, 21)
iht_error = np.array([code_prediction_error(target, iht(X_test, dictionary, alpha=alpha,
                                                        n_iter=n_iter))
                      for n_iter in iht_iterations])

# %%
# Networks of 1, 2 and 3 stages on that dictionary
# ------------------------------------------------
stages = [1, 2, 3]
trained_error, untrained_error = [], []
for n_stages in stages:
    encoder = first if n_stages == 1 else L0Encoder(
        dictionary=dictionary, n_stages=n_stages, max_epochs=20, route="network",
        device="cpu", random_state=0).fit(X_train)
    trained_error.append(code_prediction_error(target, encoder.transform(X_test)))
    untrained = L0Encoder(dictionary=dictionary, n_stages=n_stages, max_epochs=0,
                          route="network", device="cpu").fit(X_train)
    untrained_error.append(code_prediction_error(target, untrained.transform(X_test)))

print(f"{'K or iterations':>15s} {'IHT %':>7s} {'untrained net %':>16s} {'trained net %':>14s}")
for k, trained, untrained in zip(stages, trained_error, untrained_error, strict=True):
    print(f"{k:15d} {100 * iht_error[k - 1]:7.1f} {100 * untrained:16.1f} {100 * trained:14.1f}")

# %%
# The figure
# ----------
# The untrained networks lie on the IHT curve; training moves each network below it, to
# the error that IHT reaches only after many more iterations.
fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
ax.plot(iht_iterations, 100 * iht_error, "o-", ms=4, label="IHT (skl0.iht)")
ax.plot(stages, 100 * np.array(untrained_error), "s", ms=9, mfc="none",
        label="untrained network (max_epochs=0)")
ax.plot(stages, 100 * np.array(trained_error), "D-", ms=7, label="trained L0Encoder, 20 epochs")
ax.set_xlabel("IHT iterations, or network stages K")
ax.set_ylabel("prediction error against the optimal codes, %")
ax.set_xticks([1, 2, 3, 5, 10, 15, 20])
ax.legend()
ax.grid(alpha=0.3)
