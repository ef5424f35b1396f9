"""skl0: deep ℓ0 encoders (Wang, Ling and Huang, AAAI 2016) for scikit-learn.

Fast ℓ0 sparse codes from a learned feed-forward encoder — :class:`L0Encoder` (ℓ0
regularised) and :class:`MSparseEncoder` (M-sparse) — the ℓ1 baseline
:class:`LISTAEncoder`, the task-driven :class:`L0Classifier` and :class:`L0Clusterer`,
and the reference solvers :func:`iht` and :func:`sparse_encode`.
"""

from .classification import L0Classifier
from .clustering import L0Clusterer
from .encoders import L0Encoder, LISTAEncoder, MSparseEncoder
from .sparse_coding import iht, sparse_encode

__version__ = "0.1.0"

__all__ = [
    "L0Encoder",
    "MSparseEncoder",
    "LISTAEncoder",
    "L0Classifier",
    "L0Clusterer",
    "iht",
    "sparse_encode",
    "__version__",
]
