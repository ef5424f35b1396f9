"""
Encoding speed: MSparseEncoder against orthogonal matching pursuit
==================================================================

Once trained, the network of :class:`~skl0.MSparseEncoder` computes M-sparse codes with
a few matrix products, where orthogonal matching pursuit (OMP), the baseline here, solves
a small least-squares problem per nonzero and per sample. The encoder is fitted with its default
training settings on 80 % of scikit-learn's digits; both then encode the 360 held-out
digits, repeated to 3,600 samples for steadier timings, on the same dictionary (the
encoder's ``components_``) with the same number of nonzeros.

``MSparseEncoder.transform`` runs the trained network and then, by default, a greedy
pursuit over the atoms the network ranks first (least squares on the chosen support, as
OMP's coefficients are); ``the network alone`` is ``transform`` with ``pursuit=False``, the
paper's encoder.

Columns: ``seconds`` is the median wall-clock time of a few calls, ``samples/s`` the
samples encoded per second, ``rel. error`` the relative squared reconstruction error
``‖X − A D‖² / ‖X‖²`` of the held-out digits (lower is better).

What it shows (measured on a two-core CPU shared with other jobs; timings depend on the
machine and its load): the network alone is two orders of magnitude faster than OMP
(100–140x) with a worse fit (0.22 against 0.12 relative error); with the pursuit, the
default, the encoder fits as well as OMP (0.11–0.12) and is still 15–20x faster.

Took 6–13 s on that CPU (it prints its own time).
"""

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import sparse_encode as sklearn_sparse_encode
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skl0 import MSparseEncoder

N_NONZERO = 10

start = time.perf_counter()
X, y = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X, test_size=0.2, stratify=y, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
encoder = MSparseEncoder(128, n_nonzero_coefs=N_NONZERO, random_state=0).fit(X_train)
dictionary = encoder.components_
X_held_out = np.tile(X_test, (10, 1))


def median_time(func, repeat=3):
    """Median wall-clock seconds of ``repeat`` calls of ``func``, and its last result."""
    times = []
    for _ in range(repeat):
        clock = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - clock)
    return float(np.median(times)), result


time_omp, codes_omp = median_time(lambda: sklearn_sparse_encode(
    X_held_out, dictionary, algorithm="omp", n_nonzero_coefs=N_NONZERO))
time_encoder, codes_encoder = median_time(lambda: encoder.transform(X_held_out), repeat=7)
speedup = time_omp / time_encoder
encoder.set_params(pursuit=False)  # the network alone, the paper's encoder
time_network, codes_network = median_time(lambda: encoder.transform(X_held_out), repeat=7)
encoder.set_params(pursuit=True)


def relative_error(codes):
    """Relative squared reconstruction error ``‖X − A D‖² / ‖X‖²`` of the held-out digits."""
    return float(np.sum((X_held_out - codes @ dictionary) ** 2) / np.sum(X_held_out**2))


print(f"{len(X_held_out)} held-out samples, p = {dictionary.shape[0]} atoms, "
      f"M = {N_NONZERO} nonzeros per code")
print(f"{'method':32s} {'seconds':>8s} {'samples/s':>10s} {'rel. error':>10s}")
for name, seconds, codes in (
    ("sklearn sparse_encode (omp)", time_omp, codes_omp),
    ("MSparseEncoder.transform", time_encoder, codes_encoder),
    ("  the network alone", time_network, codes_network),
):
    print(f"{name:32s} {seconds:8.4f} {len(X_held_out) / seconds:10,.0f} "
          f"{relative_error(codes):10.3f}")
print(f"MSparseEncoder.transform is {speedup:.0f}x faster than OMP here")
print(f"time: {time.perf_counter() - start:.0f} s")
