"""
Accuracy against speed: MSparseEncoder, OMP and IHT
===================================================

:class:`~skl0.MSparseEncoder` computes M-sparse codes by the route its ``fit`` found
fastest at the quality of the best (``route_``: here, greedy least squares over every atom);
the paper's network alone (``route="network"``) is faster and less accurate.
Orthogonal matching pursuit (OMP, scikit-learn's ``sparse_encode(algorithm="omp")``) and
:func:`skl0.iht` solve the same problem on the same dictionary. This example times each on
held-out digits (repeated to 1,800 rows for steadier timings) and draws every method as a
point of seconds per 1,000 samples against the relative reconstruction error
``‖X − A D‖² / ‖X‖²``: the lower left corner is best. Timings depend on the machine and its
load; they are measured here, never asserted.
"""

# %%
# Fit the encoder; every method encodes the same rows on the same dictionary
# ---------------------------------------------------------------------------
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import sparse_encode as sklearn_sparse_encode
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skl0 import MSparseEncoder, iht

N_NONZERO = 10

start = time.perf_counter()
X, y = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X, test_size=0.2, stratify=y, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
encoder = MSparseEncoder(128, n_nonzero_coefs=N_NONZERO, max_epochs=20, device="cpu",
                         random_state=0).fit(X_train)
dictionary = encoder.components_
network = MSparseEncoder(dictionary=dictionary, n_nonzero_coefs=N_NONZERO, max_epochs=20,
                         route="network", device="cpu", random_state=0).fit(X_train)
X_held_out = np.tile(X_test, (5, 1))
encoder.transform(X_held_out[:10])  # a first call warms the caches


def median_time(func, repeat=3):
    """Median wall-clock seconds of ``repeat`` calls of ``func``, and its last result."""
    times = []
    for _ in range(repeat):
        clock = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - clock)
    return float(np.median(times)), result


def relative_error(codes):
    """Relative squared reconstruction error ``‖X − A D‖² / ‖X‖²`` of the held-out rows."""
    return float(np.sum((X_held_out - codes @ dictionary) ** 2) / np.sum(X_held_out**2))


time_omp, codes_omp = median_time(lambda: sklearn_sparse_encode(
    X_held_out, dictionary, algorithm="omp", n_nonzero_coefs=N_NONZERO), repeat=1)
time_encoder, codes_encoder = median_time(lambda: encoder.transform(X_held_out), repeat=5)
speedup = time_omp / time_encoder
network.transform(X_held_out[:10])
time_network, codes_network = median_time(lambda: network.transform(X_held_out), repeat=5)
iht_points = {n_iter: median_time(lambda n_iter=n_iter: iht(
    X_held_out, dictionary, n_nonzero_coefs=N_NONZERO, n_iter=n_iter)) for n_iter in (2, 5, 20)}

# %%
# The table
# ---------
rows = [("sklearn sparse_encode (omp)", time_omp, codes_omp),
        (f"MSparseEncoder, route_={encoder.route_!r}", time_encoder, codes_encoder),
        ("MSparseEncoder, the network alone", time_network, codes_network)]
rows += [(f"skl0.iht, {n} iterations", seconds, codes)
         for n, (seconds, codes) in iht_points.items()]
print(f"{len(X_held_out)} held-out samples, p = {dictionary.shape[0]} atoms, "
      f"M = {N_NONZERO} nonzeros per code")
print(f"{'method':32s} {'seconds':>8s} {'samples/s':>10s} {'rel. error':>10s}")
for name, seconds, codes in rows:
    print(f"{name:32s} {seconds:8.4f} {len(X_held_out) / seconds:10,.0f} "
          f"{relative_error(codes):10.3f}")
print(f"MSparseEncoder.transform is {speedup:.0f}x faster than OMP here")

# %%
# The frontier
# ------------
fig, ax = plt.subplots(figsize=(6.5, 4.2), layout="constrained")
for (name, seconds, codes), marker in zip(rows, "o*sv^<", strict=True):
    ax.plot(1000 * seconds / len(X_held_out), relative_error(codes), marker, ms=10,
            label=name.strip())
ax.set_xscale("log")
ax.set_xlabel("seconds per 1,000 samples (log scale)")
ax.set_ylabel("relative reconstruction error")
ax.set_title(f"M-sparse codes of held-out digits, p = {dictionary.shape[0]}, M = {N_NONZERO}")
ax.grid(alpha=0.3, which="both")
ax.legend(fontsize=8)
print(f"time: {time.perf_counter() - start:.0f} s")
