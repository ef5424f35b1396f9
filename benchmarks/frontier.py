"""Section ``frontier``: every method's throughput against its objective, on held-out data.

``python benchmarks/run.py --section frontier [--frontier-data patches digits ...]``. Each
panel is one data set, p and problem. The encoders are fitted with their defaults (only p,
M or α, the seed and the device given; ``--frontier-epochs`` trims the training), every
method runs on the same learned dictionary, on held-out rows, and reports:

* its throughput (samples/s, median of repeats) in 500-row calls and in 20,000-row calls,
  the 500-row rate from the same 20,000 rows encoded 500 rows a call (one call's few
  milliseconds vary too much with the scheduler to be timed alone); the slow references —
  scikit-learn's OMP, the converged solver, IHT with 100 iterations — encode one 500-row
  call only;
* its objective over the reference's — the M-sparse residual ‖x − Da‖² over scikit-learn's
  OMP (``sklearn.decomposition.sparse_encode(algorithm="omp")``), the ℓ0 objective
  ½‖x − Da‖² + α‖a‖₀ over the converged solver's (:func:`skl0.sparse_encode`) — and its
  mean number of nonzeros;
* its throughput over SPAMS' ``spams.omp`` (orthogonal least squares, ``L=M`` as the M-sparse
  peer, ``lambda1=alpha`` as the ℓ0 peer, ``numThreads`` = torch's threads);
* its achieved flop rate (GFLOP/s in the largest calls) against a count per sample, with m
  features, p atoms, M̄ the codes' mean nonzeros, K stages:

  - orthogonal least squares over every atom (skl0's ``route="ols"``, SPAMS' and
    scikit-learn's OMP, the Gram-based batch OMP): 2mp + pM̄² + M̄³;
  - the network (``route="network"``, LISTA): 2mp + 2(K − 1)p², its dense products;
  - the network, then c candidates and r refresh rounds (``route="pursuit"``): the
    network's count + (r + 1)(cM̄² + 2pM̄);
  - IHT with k iterations: 2mp + 2kp²;
  - the route that ``route="auto"`` chose: that route's count.

Every route of skl0 is a row of its own (``route="auto"`` — the default —, ``"ols"``,
``"pursuit"``, ``"network"``), each a separately fitted encoder on the same dictionary
(``dictionary=``) and the same training targets. "faster and better" lists the methods both
more than 10 % faster (in the largest calls) and more than 0.005 lower in objective ratio
than a skl0 row ("none": on the frontier); a summary table gives it for the default of every
panel. A figure ``frontier_<data>.png`` plots each panel (log-log).

Data (``--frontier-data``): ``patches``, 12×12 grey patches of scikit-learn's sample
images — the encoders fitted on ``china.jpg``'s, every method encoding ``flower.jpg``'s
(:func:`sklearn.feature_extraction.image.extract_patches_2d`, seeded, then each patch
centred and scaled to variance 1 as the other data sets are,
:func:`skl0.datasets.preprocess_patches`) —, and the experiments' ``digits``, ``mnist5k``,
``fashion`` (:func:`skl0.experiments.codes.load_dataset`, their test parts held out).
"""

from __future__ import annotations

import copy
import os
import time

import numpy as np
import torch
from _common import ALPHA, fmt_rate, median_time, network_flops, table
from sklearn.decomposition import sparse_encode as sk_encode

from skl0 import L0Encoder, LISTAEncoder, MSparseEncoder, iht, sparse_encode
from skl0.metrics import sparse_coding_objective

#: (p, M) per data set; the ℓ0 panel of each p is computed once.
FRONTIER = {"patches": ((256, 16), (512, 16), (512, 32), (1024, 16), (1024, 32)),
            "digits": ((128, 10), (256, 16)),
            "mnist5k": ((128, 32), (256, 32), (512, 32)),
            "fashion": ((128, 32), (256, 32), (512, 32))}
ROUTES = ("auto", "ols", "pursuit", "network")
SMALL, LARGE = 500, 20000  # rows per call
PATCH = (12, 12)


# ---------------------------------------------------------------------------- data


def load_patches(n_train, n_test, seed=0):
    """12×12 patches of ``china.jpg`` (training) and ``flower.jpg`` (held out), prepared.

    Each image is turned grey (the mean of its channels, scaled to [0, 1]), then
    ``extract_patches_2d`` draws ``n`` patches with ``random_state=seed``; each patch is
    centred and scaled to variance 1 (low-contrast ones dropped, so slightly fewer come back).

    Returns
    -------
    X_train, X_test : ndarray of float32
    description : str
    """
    from sklearn.datasets import load_sample_image
    from sklearn.feature_extraction.image import extract_patches_2d

    from skl0.datasets import preprocess_patches

    out = []
    for name, n in (("china.jpg", n_train), ("flower.jpg", n_test)):
        grey = load_sample_image(name).mean(axis=2) / 255.0
        patches = extract_patches_2d(grey, PATCH, max_patches=n, random_state=seed)
        X = preprocess_patches(patches.reshape(len(patches), -1), image_shape=PATCH,
                               size=PATCH)
        out.append(np.ascontiguousarray(X, dtype=np.float32))
    return (*out, "12×12 patches of scikit-learn's china.jpg (fit) and flower.jpg (held "
            "out), each centred and scaled to variance 1")


def load(data, n_train, n_test, seed=0):
    """``(X_train, X_test, description)`` of one data set of the section."""
    if data == "patches":
        return load_patches(n_train or 10000, max(n_test, LARGE), seed)
    from skl0.experiments.codes import load_dataset

    return load_dataset(data, seed=seed, n_train=n_train, n_test=n_test)


# ------------------------------------------------------------------------- the peers


def _spams():
    try:
        import spams
    except ImportError:
        return None
    return spams


def _omp_gpu():
    """The batched OMP of the PyPI package ``orthogonal-matching-pursuit-gpu`` or None."""
    try:
        from orthogonal_matching_pursuit_gpu import run_omp
    except ImportError:
        return None
    return run_omp


def fit_routes(est_class, D, X_train, targets, params):
    """One fitted encoder per route of :data:`ROUTES`, all on the dictionary ``D``.

    ``route="auto"`` (the default) is fitted on ``X_train`` with the training targets
    ``targets`` as ``codes`` (what its own fit would solve for, solved once per panel), so its
    network is trained and it times every route; ``"pursuit"`` and ``"network"`` are copies
    of it with ``route`` set (the same trained network); ``"ols"`` is fitted on its own with
    ``route="ols"`` (no network).
    """
    auto = est_class(dictionary=D, **params).fit(X_train, codes=targets)
    fitted = {"auto": auto,
              "ols": est_class(dictionary=D, route="ols", **params).fit(X_train)}
    for route in ("pursuit", "network"):
        fitted[route] = copy.deepcopy(auto).set_params(route=route)
    return {route: fitted[route] for route in ROUTES}


def route_of(enc):
    """The route ``enc``'s ``transform`` runs: ``route`` if set, else the fitted ``route_``."""
    return enc.route_ if enc.route == "auto" else enc.route


def ols_flops(m, p, nnz):
    """Orthogonal least squares (batch OMP) over every atom: 2mp + pM̄² + M̄³ a sample."""
    return 2 * m * p + p * nnz**2 + nnz**3


def route_flops(enc, nnz):
    """The count of the route ``enc`` runs (module docstring), ``nnz`` its codes' mean."""
    p, m = enc.components_.shape
    route = route_of(enc)
    if route == "ols":
        return ols_flops(m, p, nnz)
    net = network_flops(m, p, enc.n_stages)
    if route == "network":
        return net
    c = enc.n_candidates or getattr(enc, "n_candidates_", None) or enc.components_.shape[0]
    return net + (enc.pursuit_rounds + 1) * (c * nnz**2 + 2 * p * nnz)


# ----------------------------------------------------------------------------- panels


class Method:
    """One row: ``encode(X)`` on float32 rows, whether it is slow, its flops a sample."""

    def __init__(self, encode, slow=False, flops=None):
        self.encode, self.slow, self.flops = encode, slow, flops


def peers(problem, D, m_or_alpha, *, device, lean, X_train, common):
    """The methods of one panel that are not skl0's encoders (reference first)."""
    spams, run_omp = _spams(), _omp_gpu()
    p, m = D.shape
    out = {}
    threads = torch.get_num_threads()
    Dsp = np.asfortranarray(D.T, dtype=np.float64)
    if problem == "msparse":
        M = m_or_alpha
        out["sklearn OMP"] = Method(lambda X: sk_encode(
            X.astype(np.float64), D, algorithm="omp", n_nonzero_coefs=M), slow=True,
            flops=lambda nnz: ols_flops(m, p, nnz))
        if spams is not None:
            out["SPAMS omp (L=M)"] = Method(lambda X: spams.omp(
                np.asfortranarray(X.T, dtype=np.float64), Dsp, L=M,
                numThreads=threads).T.toarray(), flops=lambda nnz: ols_flops(m, p, nnz))
        if run_omp is not None and not lean:
            Dg = torch.as_tensor(D.T, dtype=torch.float32)

            def gpu_omp(X):
                y = torch.as_tensor(X, dtype=torch.float32)
                return np.vstack([run_omp(Dg, y[s:s + 4096], M, normalize=False,
                                          fit_intercept=False).numpy()
                                  for s in range(0, len(X), 4096)])

            out["omp-gpu package, CPU"] = Method(gpu_omp, flops=lambda nnz: ols_flops(
                m, p, nnz))
        kw = {"n_nonzero_coefs": M}
    else:
        out["converged solver (sparse_encode)"] = Method(
            lambda X: sparse_encode(X, D, alpha=ALPHA, device=device), slow=True)
        if spams is not None:
            out["SPAMS omp (lambda1=alpha)"] = Method(lambda X: spams.omp(
                np.asfortranarray(X.T, dtype=np.float64), Dsp, lambda1=ALPHA,
                numThreads=threads).T.toarray(), flops=lambda nnz: ols_flops(m, p, nnz))
        if not lean:
            lista = LISTAEncoder(dictionary=D, **common).fit(X_train)
            out["LISTAEncoder"] = Method(lista.transform, flops=lambda nnz: network_flops(
                m, p, lista.n_stages))
        kw = {"alpha": ALPHA}
    for k in () if lean else (2, 10, 100):
        out[f"IHT ({k} it)"] = Method(
            lambda X, k=k: iht(X, D, n_iter=k, device=device, **kw), slow=k == 100,
            flops=lambda nnz, k=k: 2 * m * p + 2 * k * p * p)
    return out


def measure(methods, Xq, Xf, repeats, objective):
    """Rows ``[name, rate 500, rate 20,000 (None for slow ones), ratio later, nnz, GFLOP/s]``.

    ``Xq`` gives the objective, ``Xf`` the calls: all of it in 500-row calls, then in one
    call (a slow method: its first 500 rows, once).
    """
    rows = []
    chunks = [Xf[i:i + SMALL] for i in range(0, len(Xf), SMALL)]
    for name, method in methods.items():
        clock = time.perf_counter()
        if method.slow:
            rate_small = SMALL / median_time(lambda method=method: method.encode(chunks[0]),
                                             1, warmup=0)
        else:
            def stream(method=method):
                for chunk in chunks:
                    method.encode(chunk)
            method.encode(chunks[0])  # warm-up
            rate_small = len(Xf) / median_time(stream, repeats, warmup=0)
        rate_large = None
        if not method.slow:
            rate_large = len(Xf) / median_time(lambda method=method: method.encode(Xf),
                                               repeats, warmup=0)
        A = np.asarray(method.encode(Xq), dtype=np.float64)
        nnz = float(np.count_nonzero(A, axis=1).mean())
        rate = rate_large or rate_small
        gflops = None if method.flops is None else method.flops(nnz) * rate / 1e9
        rows.append({"method": name, "small": rate_small, "large": rate_large,
                     "objective": objective(A), "nnz": nnz, "gflops": gflops})
        print(f"    {name}: {time.perf_counter() - clock:.0f} s", flush=True)
    return rows


def dominated(rows, mine):
    """For each row named in ``mine``: the rows both faster (by more than 10 %, in the
    largest calls each ran) and better (objective ratio lower by more than 0.005)."""
    def rate(r):
        return r["large"] or r["small"]
    out = {}
    for r in rows:
        if r["method"] in mine:
            out[r["method"]] = [o["method"] for o in rows if o is not r
                                and rate(o) > 1.1 * rate(r) and o["ratio"] < r["ratio"] - 0.005]
    return out


def run_panel(problem, D, X_train, targets, Xq, Xf, *, m_or_alpha, device, repeats,
              common, lean=False):
    """One panel: its rows (dicts, reference first) and the default's route.

    Parameters
    ----------
    problem : {"msparse", "l0"}
    D : ndarray of shape (p, n_features)
        The dictionary every method uses.
    X_train, targets : ndarray
        The encoders' training rows and their optimal codes on ``D``.
    Xq, Xf : ndarray of float32
        Held-out rows: the objective's, and the calls' (500 first rows, then all).
    m_or_alpha : int or float
        M (``msparse``) or α (``l0``, only :data:`ALPHA` is measured).
    device : str
    repeats : int
    common : dict
        The encoders' other parameters (seed, device, epochs).
    lean : bool, default=False
        Leave out the peers that are far from the frontier in every panel measured (LISTA,
        IHT, the batched OMP package).
    """
    Est = MSparseEncoder if problem == "msparse" else L0Encoder
    kw = {"n_nonzero_coefs": m_or_alpha} if problem == "msparse" else {"alpha": ALPHA}
    methods = peers(problem, D, m_or_alpha, device=device, lean=lean, X_train=X_train,
                    common=common)
    clock = time.perf_counter()
    encoders = fit_routes(Est, D, X_train, targets, {**common, **kw})
    print(f"    the routes' encoders fitted: {time.perf_counter() - clock:.0f} s", flush=True)
    names = {}
    for route, enc in encoders.items():
        name = f"{Est.__name__}, route={route}" + (" (default)" if route == "auto" else "")
        names[route] = name
        methods[name] = Method(enc.transform, flops=lambda nnz, enc=enc: route_flops(
            enc, nnz))
    Xq64 = np.asarray(Xq, dtype=np.float64)

    def objective(A):
        return sparse_coding_objective(Xq64, A, D, alpha=kw.get("alpha"))

    rows = measure(methods, Xq, Xf, repeats, objective)
    ref = rows[0]["objective"]
    spams_rows = [r for r in rows if r["method"].startswith("SPAMS")]
    spams_rate = (spams_rows[0]["large"] or spams_rows[0]["small"]) if spams_rows else None
    for r in rows:
        r["ratio"] = r["objective"] / ref
        r["x_spams"] = None if spams_rate is None else (r["large"] or r["small"]) / spams_rate
    beaten = dominated(rows, set(names.values()))
    for r in rows:
        r["beaten"] = beaten.get(r["method"])
    return rows, route_of(encoders["auto"])


def _cell(value, fmt):
    return "–" if value is None else fmt(value)


def print_panel(title, rows):
    table(title, ["method", f"samples/s, {SMALL}-row calls", f"samples/s, {LARGE:,}-row calls",
                  "GFLOP/s", "objective ratio", "mean nnz", "× SPAMS", "faster and better"],
          [(r["method"], fmt_rate(r["small"]), _cell(r["large"], fmt_rate),
            _cell(r["gflops"], lambda v: f"{v:.1f}"), f"{r['ratio']:.3f}", f"{r['nnz']:.1f}",
            _cell(r["x_spams"], lambda v: f"{v:.2f}"),
            "" if r["beaten"] is None else ", ".join(r["beaten"]) or "none")
           for r in rows])


def bench_frontier(device, quick, datasets, sizes=None, n_train=None, n_test=2000,
                   out_dir=".", epochs=None, lean=False, seed=0, repeats=None):
    """Run the section on ``datasets``; print every panel and the summary, write figures.

    Returns
    -------
    summary : list of tuple
        ``(panel, default route, objective ratio, × SPAMS, faster and better)`` per panel.
    """
    if _spams() is None:
        print("\nSPAMS is not installed (pip install spams-bin): its omp is skipped.")
    repeats = repeats or (3 if quick else 5)
    n_large = 4000 if quick else LARGE
    common = {"random_state": seed, "device": device}
    if quick:
        common.update(max_epochs=20, dict_max_iter=3)
    if epochs is not None:
        common["max_epochs"] = epochs
    summary, figures = [], []
    for data in datasets:
        Xtr, Xte, desc = load(data, n_train, n_test, seed)
        n_q = min(n_test, len(Xte))
        Xq = Xte[:n_q]
        if len(Xte) >= n_large:  # enough distinct held-out rows for the large calls
            Xf = np.ascontiguousarray(Xte[:n_large])
        else:
            Xf = np.ascontiguousarray(np.tile(Xte, (-(-n_large // len(Xte)), 1))[:n_large])
        panels = []
        print(f"\n{data}: {desc}; {len(Xtr):,} training rows, {n_q:,} held-out rows for "
              f"the objective, calls of {SMALL} and {len(Xf):,} rows")
        for p in sorted({p for p, _ in FRONTIER[data] if not sizes or p in sizes}):
            print(f"  {data} p={p}: the dictionary ...", flush=True)
            clock = time.perf_counter()
            D = L0Encoder(p, max_epochs=0, **{k: v for k, v in common.items()
                                              if k != "max_epochs"}).fit(Xtr).components_
            D = np.asarray(D, dtype=np.float64)
            print(f"    dictionary: {time.perf_counter() - clock:.0f} s", flush=True)
            problems = [("msparse", m) for q, m in FRONTIER[data] if q == p] + [("l0", ALPHA)]
            for problem, value in problems:
                kw = ({"n_nonzero_coefs": value} if problem == "msparse" else {"alpha": ALPHA})
                print(f"  {data} p={p} {problem} {value}: targets and encoders ...",
                      flush=True)
                clock = time.perf_counter()
                targets = sparse_encode(Xtr, D, device=device, **kw)
                print(f"    training targets: {time.perf_counter() - clock:.0f} s", flush=True)
                rows, route = run_panel(problem, D, Xtr, targets, Xq, Xf, m_or_alpha=value,
                                        device=device, repeats=repeats, common=common,
                                        lean=lean)
                label = (f"{data} p={p} " + (f"M-sparse M={value}" if problem == "msparse"
                                             else f"ℓ0 α={ALPHA}"))
                ref = ("‖x − Da‖² over sklearn OMP's" if problem == "msparse"
                       else "objective over the converged solver's")
                print_panel(f"frontier: {label}, {ref} on {n_q:,} held-out rows; the "
                            f"default's route: {route}", rows)
                default = next(r for r in rows if r["method"].endswith("(default)"))
                summary.append((label, route, default["ratio"], default["x_spams"],
                                ", ".join(default["beaten"]) or "none"))
                panels.append((label, rows))
        figures.append(figure(data, desc, panels, out_dir))
    table("frontier summary: skl0's default in every panel",
          ["panel", "route chosen", "objective ratio", "× SPAMS", "faster and better"],
          [(label, route, f"{ratio:.3f}", _cell(x, lambda v: f"{v:.2f}"), beaten)
           for label, route, ratio, x, beaten in summary])
    for path in figures:
        if path is not None:
            print(f"\nfigure: {path}")
    return summary


def figure(data, desc, panels, out_dir):
    """``frontier_<data>.png`` in ``out_dir``: each panel's rows, throughput against
    objective ratio (log-log), three panels a row; None without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("matplotlib is not installed: no figure")
        return None
    if not panels:
        return None
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig = Figure(figsize=(5.5 * ncols, 4.8 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    for ax, (title, rows) in zip(axes, panels, strict=False):
        for i, r in enumerate(rows):
            ours = r["method"].startswith(("L0Encoder", "MSparseEncoder"))
            ax.scatter([r["large"] or r["small"]], [r["ratio"]], marker="*" if ours else "o",
                       s=90 if ours else 40, color=f"C{i % 10}", label=r["method"], zorder=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("samples / s (log scale)")
        ax.set_ylabel("objective / reference's (log scale; lower is better)")
        ax.set_title(title, fontsize="medium")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="x-small")
    fig.suptitle(f"accuracy–speed frontier: {desc.split(',')[0]}", fontsize="medium")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"frontier_{data}.png")
    fig.savefig(path, dpi=110)
    return path
