"""
Deep ℓ0 encoders against iterative hard thresholding and OMP
============================================================

Fits an :class:`~skl0.L0Encoder` (ℓ0-regularised codes) and an
:class:`~skl0.MSparseEncoder` (at most M nonzeros per code) on 80 % of scikit-learn's
digits, both on the dictionary the first one learns, and compares their codes of the
held-out digits with the "optimal codes" of :func:`skl0.sparse_encode` on that dictionary
— the targets the encoders were trained to reproduce. The baselines, on the same
dictionary and the same digits, are :func:`skl0.iht` with 2, 5 and 10 iterations (an
encoder with K = 2 stages costs about as much as 2 IHT iterations) and, for the M-sparse
problem, scikit-learn's orthogonal matching pursuit (OMP).

The encoders are fitted with ``route="pursuit"`` (their network is trained) and then run
each of their routes on the same rows: the network alone (``deep encoder, K = 2``, the
paper's encoder), the network's candidates finished by greedy least squares (``deep encoder
+ pursuit``) and greedy least squares over every atom, no network (``least squares, all
atoms``). The training is shortened (64 atoms, 30 epochs) so that the example runs in
seconds.
"""

# %%
# Data and encoders
# -----------------
# The pixels are standardised on the training digits. ``alpha=0.25`` (the default) is the
# paper's λ = 0.5; the M-sparse encoder reuses the dictionary the ℓ0 one learned.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import sparse_encode as sklearn_sparse_encode
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skl0 import L0Encoder, MSparseEncoder, iht, sparse_encode
from skl0.metrics import code_prediction_error, support_error

N_COMPONENTS = 64  # p, the number of atoms
N_NONZERO = 10  # M, nonzeros per M-sparse code

start = time.perf_counter()
X, y = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X, test_size=0.2, stratify=y, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

l0 = L0Encoder(N_COMPONENTS, max_epochs=30, route="pursuit", device="cpu",
               random_state=0).fit(X_train)
alpha, dictionary = l0.alpha, l0.components_
msparse = MSparseEncoder(dictionary=dictionary, n_nonzero_coefs=N_NONZERO, max_epochs=30,
                         route="pursuit",
                         device="cpu", random_state=0).fit(X_train)

# %%
# Every method's codes of the held-out digits
# -------------------------------------------
# Each entry holds the ℓ0-regularised codes and the M-sparse codes (OMP solves only the
# second problem).
target_l0 = sparse_encode(X_test, dictionary, alpha=alpha)
target_ms = sparse_encode(X_test, dictionary, n_nonzero_coefs=N_NONZERO)

codes = {}
for n_iter in (2, 5, 10):
    codes[f"IHT, {n_iter} iterations"] = (
        iht(X_test, dictionary, alpha=alpha, n_iter=n_iter),
        iht(X_test, dictionary, n_nonzero_coefs=N_NONZERO, n_iter=n_iter),
    )
codes["OMP (sklearn)"] = (None, sklearn_sparse_encode(X_test, dictionary, algorithm="omp",
                                                      n_nonzero_coefs=N_NONZERO))
for enc in (l0, msparse):
    enc.set_params(route="network")  # the network alone, the paper's encoder
codes["deep encoder, K = 2"] = (l0.transform(X_test), msparse.transform(X_test))
for enc in (l0, msparse):
    enc.set_params(route="pursuit")  # the network's candidates, then least squares
codes["deep encoder + pursuit"] = (l0.transform(X_test), msparse.transform(X_test))
for enc in (l0, msparse):
    enc.set_params(route="ols")  # least squares over every atom, no network
codes["least squares, all atoms"] = (l0.transform(X_test), msparse.transform(X_test))

# %%
# Errors against the optimal codes
# --------------------------------
# ``pred. error %`` is :func:`skl0.metrics.code_prediction_error` in percent,
# ``100 ‖A − A*‖²_F / ‖A*‖²_F`` (0: the optimal codes A*; 100: all zeros); ``support``
# is :func:`skl0.metrics.support_error`, the mean number of atoms per digit that are
# nonzero in one of ``a``, ``a*`` but not in both.
errors = {}  # method -> (ℓ0 prediction error, M-sparse prediction error), as fractions
print(f"Digits: {len(X_train)} training / {len(X_test)} held-out test digits, "
      f"p = {N_COMPONENTS}, alpha = {alpha}, M = {N_NONZERO}")
print(f"{'':22s} {'l0-regularised':>24s} {'M-sparse':>24s}")
print(f"{'method':22s} {'pred. error %':>13s} {'support':>10s} {'pred. error %':>13s} "
      f"{'support':>10s}")
for name, (a_l0, a_ms) in codes.items():
    errors[name] = (None if a_l0 is None else code_prediction_error(target_l0, a_l0),
                    code_prediction_error(target_ms, a_ms))
    left = (f"{'':>13s} {'':>10s}" if a_l0 is None else
            f"{100 * errors[name][0]:13.1f} {support_error(target_l0, a_l0):10.2f}")
    print(f"{name:22s} {left} {100 * errors[name][1]:13.1f} "
          f"{support_error(target_ms, a_ms):10.2f}")

# %%
# One digit, its codes and its reconstructions
# --------------------------------------------
# The first held-out digit, its M-sparse codes by each method (one stem per atom) and the
# digit each code rebuilds, ``a @ D`` mapped back to pixels.
shown = {"optimal codes": target_ms[0], "OMP (sklearn)": codes["OMP (sklearn)"][1][0],
         "IHT, 10 iterations": codes["IHT, 10 iterations"][1][0],
         "deep encoder, K = 2": codes["deep encoder, K = 2"][1][0],
         "deep encoder + pursuit": codes["deep encoder + pursuit"][1][0]}
fig, axes = plt.subplots(2, len(shown) + 1, figsize=(13, 4.4), layout="constrained",
                         gridspec_kw={"height_ratios": [1, 1.3]})
digit = scaler.inverse_transform(X_test[:1])[0].reshape(8, 8)
axes[0, 0].imshow(digit, cmap="gray_r")
axes[0, 0].set_title("held-out digit")
axes[1, 0].axis("off")
for column, (name, code) in enumerate(shown.items(), start=1):
    rebuilt = scaler.inverse_transform((code @ dictionary)[None, :])[0].reshape(8, 8)
    axes[0, column].imshow(rebuilt, cmap="gray_r", vmin=digit.min(), vmax=digit.max())
    axes[0, column].set_title(name, fontsize=9)
    nonzero = np.flatnonzero(code)
    axes[1, column].stem(nonzero, code[nonzero], basefmt=" ")
    axes[1, column].set_xlim(-1, N_COMPONENTS)
    axes[1, column].set_xlabel(f"atom ({len(nonzero)} nonzero)")
for ax in axes[0]:
    ax.set_xticks([])
    ax.set_yticks([])
axes[1, 1].set_ylabel("coefficient")
fig.suptitle("M-sparse codes (M = 10) of one digit and the digits they rebuild")

# %%
# Prediction error of each method
# -------------------------------
fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
names = list(errors)
for offset, (problem, label) in enumerate(((0, "ℓ0-regularised"), (1, "M-sparse"))):
    values = [100 * (errors[name][problem] or 0) for name in names]
    ax.barh(np.arange(len(names)) + 0.4 * offset, values, height=0.4, label=label)
ax.set_yticks(np.arange(len(names)) + 0.2, names)
ax.invert_yaxis()
ax.set_xlabel("prediction error against the optimal codes, %")
ax.legend()
print(f"time: {time.perf_counter() - start:.0f} s")
