"""The routes of ``transform``: what the encoders run to turn samples into codes.

An encoder's ``fit`` chooses one route (``route_``) and ``transform`` calls its
:meth:`~_Route.encode`:

* :class:`OLSRoute` (``"ols"``): greedy orthogonal least squares over every atom — SPAMS'
  ``omp`` — no network. On the CPU a compiled loop codes one sample at a time (its
  correlations with the atoms included, so a sample's code does not depend on the other
  rows of the call), the rows split over the threads.
* :class:`PursuitRoute` (``"pursuit"``): the trained network ranks the atoms; the same
  least squares runs over its ``n_candidates`` best-ranked atoms, then refresh rounds.
* :class:`NetworkRoute` (``"network"``): the network alone, the paper's encoder.

:func:`choose_route` times the routes on held-out training rows and keeps the fastest whose
mean objective (the problem's, :mod:`skl0._problems`) is within a tolerance of the best
one's.
"""

from __future__ import annotations

import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import nn

from ._inference import _check_extent, batched_forward
from ._problems import as_problem
from ._pursuit import _greedy_batched, _ols_rows, _span_eps, pursuit
from ._threads import _threads_for

ROUTES = ("ols", "pursuit", "network")

# Rows a thread takes at least: below, a thread's start costs more than its share saves.
_MIN_ROWS_PER_THREAD = 16

_pool = None
_pool_lock = threading.Lock()


def _executor():
    """One pool of worker threads for the compiled loops (they release the GIL)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max(os.cpu_count() or 1, 1),
                                       thread_name_prefix="skl0-ols")
        return _pool


def _forget_pool():
    """A forked child has none of its parent's threads: it starts a pool of its own."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


class _Route(nn.Module):
    """What a route shares: a name, a width and ``encode(X, dtype) → codes``."""

    name = None
    needs_network = False

    def __init__(self, dictionary, problem=None, *, n_nonzero_coefs=None, alpha=None):
        super().__init__()
        self.problem = as_problem(problem, alpha, n_nonzero_coefs)
        self.register_buffer("dictionary", dictionary)
        self.n_components = int(dictionary.shape[0])

    @property
    def device(self):
        return self.dictionary.device

    def encode(self, X, out_dtype):
        """The codes of ``X`` (a 2-D float numpy array) as a numpy array of ``out_dtype``."""
        return batched_forward(self, X, self.device, out_dtype, check_finite=True)


class OLSRoute(_Route):
    """Greedy orthogonal least squares over every atom (SPAMS' ``omp``; no network).

    Adds, one at a time, the atom whose addition lowers ``‖x − Da‖²`` the most, refitting
    every coefficient by least squares; stops at M atoms (M-sparse problem) or when the next
    atom lowers ``½‖x − Da‖²`` by no more than α (ℓ0 problem). Per sample about
    ``2mp + pM² + 8pM`` flops (m features, p atoms, M chosen atoms), with the Gram matrix
    computed once.

    Parameters
    ----------
    dictionary : torch.Tensor of shape (n_components, n_features)
        Atoms as rows (float32), on the device the route runs on.
    problem : L0Problem or MSparseProblem, optional
        The problem (:mod:`skl0._problems`); or, instead:
    n_nonzero_coefs, alpha : int or float, optional
        Exactly one, the problem's parameter.

    Examples
    --------
    >>> import numpy as np, torch
    >>> route = OLSRoute(torch.eye(4), n_nonzero_coefs=2)
    >>> route.encode(np.array([[3.0, 0.0, -2.0, 1.0]]), np.float64).tolist()
    [[3.0, 0.0, -2.0, 0.0]]
    """

    name = "ols"

    def __init__(self, dictionary, problem=None, *, n_nonzero_coefs=None, alpha=None):
        super().__init__(dictionary, problem, n_nonzero_coefs=n_nonzero_coefs, alpha=alpha)
        D64 = dictionary.double()  # accumulated in float64, then rounded once
        self.register_buffer("gram", (D64 @ D64.T).to(dictionary.dtype))
        self.register_buffer("atoms_t", dictionary.T.contiguous())
        p, m = dictionary.shape
        # m atoms span every sample: a greedy step beyond them finds nothing to add
        self.steps = min(self.problem.greedy_steps(p), m)
        self.least_gain = self.problem.least_gain

    def encode(self, X, out_dtype):
        if self.device.type != "cpu":
            return super().encode(X, out_dtype)
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        n = X32.shape[0]
        out = np.empty((n, self.n_components), dtype=out_dtype)
        if n == 0:
            return out
        # the largest |x| from two reductions, no temporary of X's size (NaN propagates)
        with np.errstate(over="ignore", invalid="ignore"):
            extent = float(np.maximum(np.abs(X32.max()), np.abs(X32.min())))
        _check_extent(X, extent)  # fit's checks: NaN, infinity, float32's scale
        D = self.atoms_t.numpy()
        G = self.gram.numpy()
        eps = _span_eps(torch.float32)
        threads = max(1, min(_threads_for(), n // _MIN_ROWS_PER_THREAD))
        if threads == 1:
            _ols_rows(X32, D, G, self.steps, self.least_gain, eps, out)
            return out
        bounds = np.linspace(0, n, threads + 1).astype(int)
        jobs = [_executor().submit(_ols_rows, X32[lo:hi], D, G, self.steps, self.least_gain,
                                   eps, out[lo:hi])
                for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
        for job in jobs:
            job.result()
        return out

    def forward(self, X):
        """The codes of a batch by batched torch operations (the route off the CPU)."""
        n, p = X.shape[0], self.n_components
        with torch.no_grad():
            candidates = torch.arange(p, device=X.device).expand(n, p).contiguous()
            support, coefs, _ = _greedy_batched(self.gram, candidates, X @ self.dictionary.T,
                                                self.steps, self.least_gain)
            return X.new_zeros(n, p).scatter_add_(1, support, coefs)


class PursuitRoute(_Route):
    """The network's best-ranked atoms, then least squares over them and refresh rounds.

    The ``n_candidates`` atoms of largest ``|u_K|`` (the network's last pre-activation)
    are the candidates of the greedy least squares of :class:`OLSRoute`; each of
    ``n_rounds`` rounds then takes the support found plus the atoms of largest residual
    correlation and runs it again, a sample keeping the new code only where its objective
    is lower.

    Parameters
    ----------
    network : UnfoldedEncoder
        The trained network.
    dictionary : torch.Tensor of shape (n_components, n_features)
    problem : L0Problem or MSparseProblem, optional
        The problem; or, instead, exactly one of ``n_nonzero_coefs`` and ``alpha``.
    n_candidates : int
    n_rounds : int

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skl0._layers import UnfoldedEncoder
    >>> D = torch.eye(4)
    >>> net = UnfoldedEncoder(4, 4, kind="msparse", n_nonzero_coefs=2)
    >>> net.init_from_dictionary(D, step=1.0)
    >>> route = PursuitRoute(net, D, n_nonzero_coefs=2, n_candidates=3, n_rounds=1)
    >>> route.encode(np.array([[3.0, 0.0, -2.0, 1.0]]), np.float64).tolist()
    [[3.0, 0.0, -2.0, 0.0]]
    """

    name = "pursuit"
    needs_network = True

    def __init__(self, network, dictionary, problem=None, *, n_nonzero_coefs=None, alpha=None,
                 n_candidates, n_rounds):
        super().__init__(dictionary, problem, n_nonzero_coefs=n_nonzero_coefs, alpha=alpha)
        self.network = network
        # in the dictionary's dtype, as saved models' outputs were computed
        self.register_buffer("gram", dictionary @ dictionary.T)
        self.n_rounds = int(n_rounds)
        self.n_candidates = max(1, min(int(n_candidates), self.n_components))

    def forward(self, X, out=None):
        with torch.no_grad():
            scores = self.network.last_preactivation(X)
            return pursuit(X, self.dictionary, self.gram, scores, self.problem,
                           n_candidates=self.n_candidates, n_rounds=self.n_rounds, out=out)

    def inference_forward(self):
        """``fn(x, out)`` writing :meth:`forward`'s codes into ``out`` (batched transform)."""

        def run(x, out):
            if x.device.type == "cpu" and out.device.type == "cpu" and out.dtype == x.dtype:
                self.forward(x, out=out)  # the compiled loop writes the codes in place
            else:
                out.copy_(self.forward(x))

        return run


class NetworkRoute(nn.Module):
    """The network alone: the paper's encoder (exact HELU, max-M pooling or soft
    threshold in its last stage).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skl0._layers import UnfoldedEncoder
    >>> net = UnfoldedEncoder(4, 4, kind="msparse", n_nonzero_coefs=2)
    >>> net.init_from_dictionary(torch.eye(4), step=1.0)
    >>> NetworkRoute(net).encode(np.array([[3.0, 0.0, -2.0, 1.0]]), np.float64).tolist()
    [[3.0, 0.0, -2.0, 0.0]]
    """

    name = "network"
    needs_network = True

    def __init__(self, network):
        super().__init__()
        self.network = network
        self.n_components = network.n_components

    @property
    def device(self):
        return self.network.W.weight.device

    def encode(self, X, out_dtype):
        return batched_forward(self.network, X, self.device, out_dtype, check_finite=True)


def _time_route(route, X, repeats=3):
    """Best-of-``repeats`` seconds per row of ``route.encode(X)``, and its codes."""
    codes = route.encode(X, np.float32)  # first call: compiles, warms the caches
    best = math.inf
    for _ in range(repeats):
        clock = time.perf_counter()
        route.encode(X, np.float32)
        best = min(best, time.perf_counter() - clock)
    return best / max(len(X), 1), codes


def measure_route(route, X, dictionary, problem):
    """``{"seconds_per_row", "objective", "nonzeros_p95"}`` of ``route`` on the rows ``X``
    (numpy): best-of-three time, the problem's mean objective (float64), 95th percentile of
    the nonzeros a row."""
    seconds, codes = _time_route(route, X)
    value = problem.objective(torch.as_tensor(X, dtype=torch.float64),
                              torch.as_tensor(codes, dtype=torch.float64),
                              torch.as_tensor(dictionary, dtype=torch.float64))
    nonzeros = np.count_nonzero(codes, axis=1)
    return {"seconds_per_row": float(seconds), "objective": float(value.mean()),
            "nonzeros_p95": float(np.quantile(nonzeros, 0.95)) if len(nonzeros) else 0.0}


# A route through the network replaces "ols" only when it is this much faster: timings
# near a tie flip with the machine's load, and "ols" needs no network.
MARGIN = 1.2


def fastest_within(report, tol):
    """The fastest route of ``report`` whose objective is at most ``(1 + tol)`` times the
    lowest; ``"ols"``, when good enough, unless another is :data:`MARGIN` times faster."""
    lowest = min(entry["objective"] for entry in report.values())
    bar = lowest * (1.0 + tol) + 1e-12 * abs(lowest)
    good = [name for name in ROUTES if name in report and report[name]["objective"] <= bar]
    best = min(good, key=lambda name: report[name]["seconds_per_row"])
    if "ols" in good and (report[best]["seconds_per_row"] * MARGIN
                          > report["ols"]["seconds_per_row"]):
        return "ols"
    return best
