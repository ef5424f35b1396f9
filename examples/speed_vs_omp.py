"""
Encoding speed: MSparseEncoder against orthogonal matching pursuit
==================================================================

Once trained, :class:`~skl0.MSparseEncoder` computes M-sparse codes with a few matrix
products, where orthogonal matching pursuit (OMP) solves a small least-squares problem per
nonzero and per sample. This example times ``MSparseEncoder.transform`` against
:func:`sklearn.decomposition.sparse_encode` with ``algorithm="omp"`` on the same dictionary
(the encoder's ``components_``) and the same number of nonzeros, and prints the speed-up.
Speed is not the whole story, so it also prints the relative reconstruction error
``‖X − A D‖² / ‖X‖²`` of each: OMP's greedy codes fit the digits better than the two-stage
encoder's. Timings depend on the machine and are the median of a few runs.
"""

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import sparse_encode as sklearn_sparse_encode
from sklearn.preprocessing import StandardScaler

from skl0 import MSparseEncoder

N_NONZERO = 10

X, _ = load_digits(return_X_y=True)
X = StandardScaler().fit_transform(X)
encoder = MSparseEncoder(128, n_nonzero_coefs=N_NONZERO, max_epochs=10, random_state=0,
                         device="cpu").fit(X)
dictionary = encoder.components_


def median_time(func, repeat=3):
    """Median wall-clock seconds of ``repeat`` calls of ``func``, and its last result."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


time_omp, codes_omp = median_time(
    lambda: sklearn_sparse_encode(X, dictionary, algorithm="omp", n_nonzero_coefs=N_NONZERO))
time_encoder, codes_encoder = median_time(lambda: encoder.transform(X), repeat=5)
speedup = time_omp / time_encoder


def relative_error(codes):
    """Relative squared reconstruction error ``‖X − A D‖² / ‖X‖²``."""
    return float(np.sum((X - codes @ dictionary) ** 2) / np.sum(X**2))


print(f"{len(X)} digits, p = {dictionary.shape[0]} atoms, M = {N_NONZERO} nonzeros per code")
print(f"{'method':32s} {'seconds':>8s} {'samples/s':>10s} {'rel. error':>10s}")
for name, seconds, codes in (
    ("sklearn sparse_encode (omp)", time_omp, codes_omp),
    ("MSparseEncoder.transform", time_encoder, codes_encoder),
):
    print(f"{name:32s} {seconds:8.4f} {len(X) / seconds:10,.0f} {relative_error(codes):10.3f}")
print(f"MSparseEncoder.transform is {speedup:.0f}x faster than OMP here")
