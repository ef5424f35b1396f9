"""Greedy orthogonal least squares: over every atom (the ``"ols"`` route) or over the
atoms an unfolded encoder ranks first, with refresh rounds (the ``"pursuit"`` route).

Over the network's candidates (:func:`pursuit`):

1. **Candidates**: the ``n_candidates`` atoms of largest ``|u_K|``, the pre-activation of
   the network's last stage.
2. **Greedy selection** (orthogonal least squares): repeatedly add the candidate whose
   addition lowers ``‖x − Da‖²`` the most, refitting all coefficients by least squares. The
   M-sparse problem stops at M atoms; the ℓ0 problem ``½‖x − Da‖² + α‖a‖₀`` stops when
   the next atom would lower ``½‖x − Da‖²`` by no more than α.
3. **Refresh rounds**: the candidates become the support found plus the atoms of largest
   residual correlation ``|Dᵀ(x − Da)|`` outside it; step 2 runs again from scratch and a
   sample keeps the new code only where its objective is lower, so a code never gets
   worse from one round to the next. The next round runs only on the samples that
   improved.

Step 2 keeps a Gram-Schmidt basis of the chosen atoms in correlation space (``⟨q_s, d_j⟩``
for every candidate j), so one step costs ``O(n_candidates × t)`` per sample with the Gram
matrix ``DᵀD`` computed once, and the coefficients come from one triangular solve at the end.
On the CPU step 2 runs one sample at a time in a loop compiled by numba (a few flops per
candidate and step; batched tensor operations would spend most of their time passing over
memory); on other devices it runs on whole batches with torch operations. Over every atom
(:func:`_ols_rows`) the compiled loop also computes each sample's correlations, so that a
sample's code does not depend on the rows beside it.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from ._problems import as_problem

# Fast-math flags that change no finite result: without "reassoc" and "contract" every
# build (fresh or cached, any CPU) rounds alike, so a code is the same bit for bit across
# processes and machines. numpy's error model: a division is not checked for a zero
# divisor (the loops guard them), so the compiler can vectorise it.
_FAST = {"nnan", "ninf", "nsz"}


def _numpy_dtype(dtype):
    return np.float64 if dtype == torch.float64 else np.float32


def _span_eps(dtype):
    """An atom whose part orthogonal to the chosen ones has a squared norm below this
    fraction of its own is taken to be in their span and never chosen: √ε of the dtype, so
    that the rounding of ``‖P⊥ d‖²`` (a few ε) cannot pass for a new direction."""
    return torch.finfo(dtype).eps ** 0.5



@numba.njit(nogil=True, cache=True, fastmath=_FAST, error_model="numpy")
def _scores_into(a, pn, floor, score):  # pragma: no cover - compiled
    """``score = a² / max(pn, floor)``; returns its largest value."""
    n = a.shape[0]
    for j in range(n):
        d = pn[j] if pn[j] > floor[j] else floor[j]
        score[j] = a[j] * a[j] / d
    # the maximum in 16 lanes, then across them: loops the compiler vectorises
    lanes = np.zeros(16, score.dtype)
    j = 0
    while j + 16 <= n:
        for lane in range(16):
            value = score[j + lane]
            lanes[lane] = value if value > lanes[lane] else lanes[lane]
        j += 16
    best = lanes[0]
    for lane in range(1, 16):
        best = lanes[lane] if lanes[lane] > best else best
    while j < n:
        best = score[j] if score[j] > best else best
        j += 1
    return best


@numba.njit(nogil=True, cache=True)
def _first_equal(values, target):  # pragma: no cover - compiled
    """The first index of ``target`` in ``values`` (``np.argmax`` once the max is known)."""
    for j in range(values.shape[0]):
        if values[j] == target:
            return j
    return 0


@numba.njit(nogil=True, cache=True, fastmath=_FAST, error_model="numpy")
def _greedy_one(corr, gram, cand, steps, least_gain, span_eps, a, pn, floor, q, score, U, y,
                sel, support, coefs):  # pragma: no cover - compiled; tested through its callers
    """Orthogonal least squares for one sample over the atoms ``cand``.

    ``corr`` is the sample's ``Dᵀx`` (all atoms); ``a``, ``pn``, ``floor``, ``q``,
    ``score``, ``U``, ``y``, ``sel`` are work buffers. Writes the chosen atoms and their
    least-squares coefficients into ``support[:used]`` and ``coefs[:used]``; returns
    ``(used, gain)``, ``gain = ‖x‖² − ‖x − Da‖²``.
    """
    n_cand = cand.shape[0]
    tiny = np.finfo(a.dtype).tiny
    # every atom, in order: rows of the Gram matrix are read whole instead of gathered
    whole = n_cand == gram.shape[0] and cand[0] == 0 and cand[n_cand - 1] == n_cand - 1
    for j in range(n_cand):
        a[j] = corr[cand[j]]
        pn[j] = gram[cand[j], cand[j]]
    for j in range(n_cand):
        floor[j] = span_eps * pn[j] + tiny  # a zero atom scores 0, never NaN
    # the drop of ‖r‖² when atom j joins is ⟨d_j, r⟩² / ‖P⊥ d_j‖²
    best = _scores_into(a, pn, floor, score)
    scale = score[:1].copy()  # a scalar of the arrays' dtype, so the loops below stay in it
    used = 0
    total = 0.0
    for t in range(steps):
        k = _first_equal(score, best)
        if best <= least_gain or pn[k] <= floor[k]:
            break
        scale[0] = 1.0 / np.sqrt(pn[k])
        inv = scale[0]
        scale[0] = a[k] * inv
        yk = scale[0]
        row = gram[cand[k]]
        if whole:
            for j in range(n_cand):
                q[j] = row[j]
        else:
            for j in range(n_cand):
                q[j] = row[cand[j]]
        # q −= Σ_s ⟨q_s, d_k⟩ q_s, two rows of U a pass (half the passes over q)
        s = 0
        while s + 1 < t:
            u0, u1 = U[s, k], U[s + 1, k]
            U0, U1 = U[s], U[s + 1]
            for j in range(n_cand):
                q[j] -= u0 * U0[j] + u1 * U1[j]
            s += 2
        if s < t:
            u0 = U[s, k]
            U0 = U[s]
            for j in range(n_cand):
                q[j] -= u0 * U0[j]
        # one array written per loop: simple loops the compiler vectorises
        Ut = U[t]
        for j in range(n_cand):
            Ut[j] = q[j] * inv
        for j in range(n_cand):
            a[j] -= Ut[j] * yk
        for j in range(n_cand):
            pn[j] -= Ut[j] * Ut[j]
        a[k] = 0.0
        best = _scores_into(a, pn, floor, score)
        y[t] = yk
        sel[t] = k
        total += yk * yk
        used = t + 1
    # back substitution: R c = y with R[s, j] = U[s, sel_j], upper triangular
    for s in range(used - 1, -1, -1):
        acc = y[s]
        for j in range(s + 1, used):
            acc -= U[s, sel[j]] * coefs[j]
        coefs[s] = acc / U[s, sel[s]]
        support[s] = cand[sel[s]]
    return used, total


@numba.njit(nogil=True, cache=True)
def _sift_down(heap, idx, i, k):  # pragma: no cover - compiled
    """Restore the min-heap order of ``heap[:k]`` (with ``idx`` alongside) below ``i``."""
    while True:
        child = 2 * i + 1
        if child >= k:
            return
        if child + 1 < k and heap[child + 1] < heap[child]:
            child += 1
        if heap[child] >= heap[i]:
            return
        heap[i], heap[child] = heap[child], heap[i]
        idx[i], idx[child] = idx[child], idx[i]
        i = child


@numba.njit(nogil=True, cache=True)
def _top_into(values, k, out, heap):  # pragma: no cover - compiled
    """The indices of the ``k`` largest ``values`` into ``out[:k]``, in no order.

    One pass with a min-heap of the k best so far (``heap``: a work array of at least k
    values): most entries lose one comparison against its root. Ties keep the lower index.
    """
    p = values.shape[0]
    if k >= p:
        for j in range(p):
            out[j] = j
        return
    for j in range(k):
        heap[j] = values[j]
        out[j] = j
    for i in range(k // 2 - 1, -1, -1):
        _sift_down(heap, out, i, k)
    for j in range(k, p):
        if values[j] > heap[0]:
            heap[0] = values[j]
            out[0] = j
            _sift_down(heap, out, 0, k)


@numba.njit(nogil=True, cache=True)
def _work_buffers(n_cand, steps, dtype):  # pragma: no cover - compiled
    """The work buffers of :func:`_greedy_one`: ``a, pn, floor, q, score, U, y, sel``."""
    return (np.empty(n_cand, dtype), np.empty(n_cand, dtype), np.empty(n_cand, dtype),
            np.empty(n_cand, dtype), np.empty(n_cand, dtype), np.empty((steps, n_cand), dtype),
            np.empty(steps, dtype), np.empty(steps, np.int64))


@numba.njit(nogil=True, cache=True)
def _greedy_rows(correlations, gram, candidates, steps, least_gain, span_eps, support, coefs,
                 gain):  # pragma: no cover - compiled; tested through greedy_pursuit
    """:func:`greedy_pursuit` one sample at a time (the CPU route); unused slots get 0."""
    n, n_cand = candidates.shape
    dtype = correlations.dtype
    a, pn, floor, q, score, U, y, sel = _work_buffers(n_cand, steps, dtype)
    for i in range(n):
        used, gain[i] = _greedy_one(correlations[i], gram, candidates[i], steps, least_gain,
                                    span_eps, a, pn, floor, q, score, U, y, sel, support[i],
                                    coefs[i])
        for s in range(used, steps):
            coefs[i, s] = 0.0
            support[i, s] = candidates[i, 0]


@numba.njit(nogil=True, cache=True)
def _pursuit_rows(scores, correlations, gram, n_cand, steps, least_gain, penalised, alpha,
                  n_rounds, span_eps, out):  # pragma: no cover - compiled; tested through pursuit
    """:func:`pursuit` one sample at a time (the CPU route), the codes written to ``out``.

    ``penalised`` is the ℓ0 problem with weight ``alpha`` (objective ``½‖x − Da‖² + α‖a‖₀``),
    else the M-sparse one (``‖x − Da‖²``).
    """
    n, p = correlations.shape
    dtype = correlations.dtype
    a, pn, floor, q, score, U, y, sel = _work_buffers(n_cand, steps, dtype)
    cand = np.empty(n_cand, dtype=np.int64)
    support, best_support = np.empty(steps, np.int64), np.empty(steps, np.int64)
    coefs, best_coefs = np.empty(steps, dtype), np.empty(steps, dtype)
    values, buf = np.empty(p, dtype), np.empty(p, dtype)
    for i in range(n):
        corr = correlations[i]
        for j in range(p):
            values[j] = abs(scores[i, j])
        _top_into(values, n_cand, cand, buf)
        used, gain = _greedy_one(corr, gram, cand, steps, least_gain, span_eps, a, pn, floor,
                                 q, score, U, y, sel, best_support, best_coefs)
        best = alpha * used - 0.5 * gain if penalised else -gain   # ‖x‖² dropped: constant
        for _ in range(n_rounds):
            # residual correlations Dᵀx − DᵀD a; the support ranks first
            for j in range(p):
                values[j] = corr[j]
            for s in range(used):
                row = gram[best_support[s]]
                c = best_coefs[s]
                for j in range(p):
                    values[j] -= c * row[j]
            for j in range(p):
                values[j] = abs(values[j])
            for s in range(used):
                values[best_support[s]] = np.inf
            _top_into(values, n_cand, cand, buf)
            new_used, gain = _greedy_one(corr, gram, cand, steps, least_gain, span_eps, a, pn,
                                         floor, q, score, U, y, sel, support, coefs)
            value = alpha * new_used - 0.5 * gain if penalised else -gain
            if not value < best:
                break
            best, used = value, new_used
            best_support[:used] = support[:used]
            best_coefs[:used] = coefs[:used]
        for j in range(p):
            out[i, j] = 0.0
        for s in range(used):
            out[i, best_support[s]] = best_coefs[s]


@numba.njit(nogil=True, cache=True, fastmath=_FAST, error_model="numpy")
def _ols_rows(X, atoms_t, gram, steps, least_gain, span_eps, out):  # pragma: no cover
    """Orthogonal least squares over every atom, one sample at a time, codes into ``out``.

    ``atoms_t`` is the dictionary transposed, ``(n_features, n_components)``, C-contiguous.
    Each sample's correlations ``Dᵀx`` are computed here as a sum over the features in
    their order (one multiply-add per atom and feature), so a sample's code is the same
    bit for bit whatever other rows share the call (a batched matrix product rounds a row
    differently by its position and the batch's size, which can flip a greedy near-tie).
    """
    n, m = X.shape
    p = atoms_t.shape[1]
    dtype = X.dtype
    a, pn, floor, q, score, U, y, sel = _work_buffers(p, steps, dtype)
    corr = np.empty(p, dtype)
    cand = np.arange(p)
    support = np.empty(steps, np.int64)
    coefs = np.empty(steps, dtype)
    for i in range(n):
        x = X[i]
        first = atoms_t[0]
        x0 = x[0]
        for j in range(p):
            corr[j] = x0 * first[j]
        for f in range(1, m):
            xf = x[f]
            row = atoms_t[f]
            for j in range(p):
                corr[j] += xf * row[j]
        used, _ = _greedy_one(corr, gram, cand, steps, least_gain, span_eps, a, pn, floor, q,
                              score, U, y, sel, support, coefs)
        code = out[i]
        for j in range(p):
            code[j] = 0.0
        for s in range(used):
            code[support[s]] = coefs[s]


def greedy_pursuit(gram, candidates, correlations, problem=None, *, n_nonzero_coefs=None,
                   alpha=None):
    """Orthogonal least squares over candidate atoms, batched.

    The samples enter through their correlations with the atoms alone; the codes are in
    their dtype and on their device.

    Parameters
    ----------
    gram : torch.Tensor of shape (n_components, n_components)
        ``dictionary @ dictionary.T`` (atoms as the dictionary's rows).
    candidates : torch.LongTensor of shape (n_samples, n_candidates)
        Distinct atom indices per sample.
    correlations : torch.Tensor of shape (n_samples, n_components)
        ``X @ dictionary.T``.
    problem : L0Problem or MSparseProblem, optional
        The problem (:mod:`skl0._problems`): the M-sparse one stops after M atoms, the ℓ0
        one when the next atom lowers ``½‖x − Da‖²`` by at most α. Or, instead:
    n_nonzero_coefs, alpha : int or float, optional
        Exactly one, the problem's parameter.

    Returns
    -------
    support : torch.LongTensor of shape (n_samples, T)
        Chosen atoms (entries whose coefficient is 0 are unused slots).
    coefs : torch.Tensor of shape (n_samples, T)
        Their least-squares coefficients.
    gain : torch.Tensor of shape (n_samples,)
        ``‖x‖² − ‖x − Da‖²``, the decrease of the squared residual.
    """
    n, n_cand = candidates.shape
    problem = as_problem(problem, alpha, n_nonzero_coefs)
    steps, least_gain = problem.greedy_steps(n_cand), problem.least_gain
    if correlations.device.type == "cpu":
        support = np.empty((n, steps), dtype=np.int64)
        coefs = np.empty((n, steps), dtype=_numpy_dtype(correlations.dtype))
        gain = np.empty(n, dtype=coefs.dtype)
        _greedy_rows(correlations.contiguous().numpy(), gram.contiguous().numpy(),
                     candidates.contiguous().numpy(), steps, least_gain,
                     _span_eps(correlations.dtype), support, coefs, gain)
        return torch.from_numpy(support), torch.from_numpy(coefs), torch.from_numpy(gain)
    return _greedy_batched(gram, candidates, correlations, steps, least_gain)


def _greedy_batched(gram, candidates, correlations, steps, least_gain):
    """:func:`greedy_pursuit` on whole batches with torch operations (GPUs)."""
    n, n_cand = candidates.shape
    p = gram.shape[0]
    a = torch.gather(correlations, 1, candidates)        # ⟨d_j, r⟩ on the candidates
    pn = torch.take(torch.diagonal(gram).contiguous(), candidates)   # ‖P⊥ d_j‖²
    floor = _span_eps(pn.dtype) * pn + torch.finfo(pn.dtype).tiny  # a zero atom scores 0
    U = correlations.new_empty(steps, n, n_cand)                     # ⟨q_s, d_j⟩
    y = correlations.new_empty(steps, n, 1)                          # ⟨q_s, x⟩
    sel = candidates.new_empty(steps, n, 1)               # position in ``candidates``
    score = torch.empty_like(a)
    live = None                                           # None: every sample still runs
    flat = gram.reshape(-1)
    used = 0
    for t in range(steps):
        # the drop of ‖r‖² when atom j joins is ⟨d_j, r⟩² / ‖P⊥ d_j‖²; chosen atoms have
        # a = 0, and atoms in the span of the chosen ones a ≈ 0 over the floor: score ≈ 0
        torch.maximum(pn, floor, out=score)
        torch.div(a.square(), score, out=score)
        best, k = score.max(1, keepdim=True)
        pk = pn.gather(1, k)
        ok = (best > least_gain) & (pk > floor.gather(1, k))
        if live is not None or not bool(ok.all()):
            live = ok if live is None else live & ok
            if not bool(live.any()):
                break
        norm = pk.clamp_min_(torch.finfo(a.dtype).tiny).sqrt_()
        yk = a.gather(1, k).div_(norm)
        q = U[t]
        torch.take(flat, torch.add(candidates, candidates.gather(1, k), alpha=p), out=q)
        if t:
            uk = U[:t].gather(2, k[None].expand(t, n, 1))     # ⟨q_s, d_k⟩, (t, n, 1)
            for s in range(t):
                q.addcmul_(U[s], uk[s], value=-1.0)
        q.div_(norm)
        if live is not None:
            # a stopped sample's step may divide by a vanishing norm: zeroed, not multiplied
            q.masked_fill_(~live, 0.0)
            yk.masked_fill_(~live, 0.0)
        a.addcmul_(q, yk, value=-1.0)
        pn.addcmul_(q, q, value=-1.0)
        a.scatter_(1, k, 0.0)
        y[t] = yk
        sel[t] = k
        used = t + 1
    if used == 0:
        empty = candidates.new_zeros(n, 0)
        return empty, correlations.new_zeros(n, 0), correlations.new_zeros(n)
    sel = sel[:used, :, 0].T.contiguous()                 # (n, T)
    # R[i, s, j] = ⟨q_s, d_{sel_j}⟩: upper triangular; Rc = y gives the coefficients
    R = torch.gather(U[:used], 2, sel[None].expand(used, n, used)).permute(1, 0, 2)
    diag = torch.diagonal(R, dim1=1, dim2=2)
    unused = diag == 0
    R = R + torch.diag_embed(unused.to(R.dtype))
    coefs = torch.linalg.solve_triangular(R, y[:used, :, 0].T[:, :, None], upper=True)[:, :, 0]
    coefs = coefs.masked_fill_(unused, 0.0)
    gain = y[:used, :, 0].square().sum(0)
    return torch.gather(candidates, 1, sel), coefs, gain


def _top(values, k):
    """Indices of the ``k`` largest entries of each row (in no order); ``k`` < the width."""
    if values.device.type == "cpu":
        # numpy's introselect: about twice as fast as topk on the CPU
        part = np.argpartition(values.numpy(), -k, axis=1)[:, -k:]
        return torch.from_numpy(part)
    return values.topk(k, 1, sorted=False).indices


def _all(scores):
    n, p = scores.shape
    return torch.arange(p, device=scores.device).expand(n, p).contiguous()


def pursuit(X, dictionary, gram, scores, problem=None, *, n_nonzero_coefs=None, alpha=None,
            n_candidates, n_rounds=1, out=None):
    """Sparse codes by greedy pursuit over the top-ranked atoms, with refresh rounds.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
    dictionary : torch.Tensor of shape (n_components, n_features)
    gram : torch.Tensor of shape (n_components, n_components)
    scores : torch.Tensor of shape (n_samples, n_components)
        The ranking of the atoms (e.g. the network's last pre-activation); the
        ``n_candidates`` of largest magnitude are the first candidates.
    problem : L0Problem or MSparseProblem, optional
        The problem (see :func:`greedy_pursuit`); or, instead:
    n_nonzero_coefs, alpha : int or float, optional
        Exactly one, the problem's parameter.
    n_candidates : int
        Candidates per sample in each round.
    n_rounds : int, default=1
        Refresh rounds after the first pass (0: one pass on the first candidates).
    out : torch.Tensor of shape (n_samples, n_components), optional
        Receives the codes (a CPU tensor whose memory numpy can see, on the CPU route).

    Returns
    -------
    codes : torch.Tensor of shape (n_samples, n_components)
        ``out`` when given.
    """
    problem = as_problem(problem, alpha, n_nonzero_coefs)
    n, p = scores.shape
    n_cand = max(1, min(int(n_candidates), p))
    steps, least_gain = problem.greedy_steps(n_cand), problem.least_gain
    correlations = X @ dictionary.T
    if X.device.type == "cpu":
        codes = out if out is not None else X.new_empty(n, p)
        _pursuit_rows(scores.detach().contiguous().numpy(), correlations.numpy(),
                      gram.contiguous().numpy(), n_cand, steps, least_gain,
                      problem.penalised, float(getattr(problem, "alpha", 0.0)),
                      int(n_rounds) if n_cand < p else 0, _span_eps(X.dtype), codes.numpy())
        return codes
    codes = _pursuit_batched(X, gram, scores, correlations, n_cand, steps, least_gain, problem,
                             n_rounds)
    return codes if out is None else out.copy_(codes)


def _pursuit_batched(X, gram, scores, correlations, n_cand, steps, least_gain, problem,
                     n_rounds):
    """:func:`pursuit` on whole batches with torch operations (GPUs)."""
    n, p = scores.shape
    candidates = _top(scores.abs(), n_cand) if n_cand < p else _all(scores)
    support, coefs, gain = _greedy_batched(gram, candidates, correlations, steps, least_gain)
    codes = X.new_zeros(n, p).scatter_add_(1, support, coefs)
    if n_rounds <= 0 or n_cand >= p:
        return codes
    sq_norm = X.square().sum(1)
    best = problem.value_from_gain(sq_norm, gain, (coefs != 0).sum(1))
    rows = torch.arange(n, device=X.device)        # the samples still improving
    for _ in range(int(n_rounds)):
        sub = codes[rows]
        # residual correlations Dᵀ(x − Da) = Dᵀx − DᵀD a; the support ranks first
        resid = torch.addmm(correlations[rows], sub, gram, alpha=-1.0).abs_()
        resid.masked_fill_(sub != 0, float("inf"))
        candidates = _top(resid, n_cand)
        support, coefs, gain = _greedy_batched(gram, candidates, correlations[rows], steps,
                                               least_gain)
        value = problem.value_from_gain(sq_norm[rows], gain, (coefs != 0).sum(1))
        better = value < best[rows]
        if not bool(better.any()):
            break
        rows, support, coefs = rows[better], support[better], coefs[better]
        best[rows] = value[better]
        codes[rows] = X.new_zeros(len(rows), p).scatter_add_(1, support, coefs)
    return codes
