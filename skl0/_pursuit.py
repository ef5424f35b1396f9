"""Greedy pursuit over the atoms an unfolded encoder proposes: the encoders' final stage.

The trained network ranks the atoms of each sample (the magnitudes of its last stage's
input); a batched greedy pursuit then chooses the support among the best-ranked ones and
fits the coefficients by least squares, as OMP does over all atoms:

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
Everything is batched torch code on the encoder's device.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def _span_eps(dtype):
    """An atom whose part orthogonal to the chosen ones has a squared norm below this
    fraction of its own is taken to be in their span and never chosen: √ε of the dtype, so
    that the rounding of ``‖P⊥ d‖²`` (a few ε) cannot pass for a new direction."""
    return torch.finfo(dtype).eps ** 0.5


def greedy_pursuit(X, dictionary, gram, candidates, correlations, *, n_nonzero_coefs=None,
                   alpha=None):
    """Orthogonal least squares over candidate atoms, batched.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
    dictionary : torch.Tensor of shape (n_components, n_features)
        Atoms as rows.
    gram : torch.Tensor of shape (n_components, n_components)
        ``dictionary @ dictionary.T``.
    candidates : torch.LongTensor of shape (n_samples, n_candidates)
        Distinct atom indices per sample.
    correlations : torch.Tensor of shape (n_samples, n_components)
        ``X @ dictionary.T``.
    n_nonzero_coefs : int, optional
        M: stop after M atoms (M-sparse problem).
    alpha : float, optional
        λ: stop when the next atom lowers ``½‖x − Da‖²`` by at most λ (ℓ0 problem).

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
    p = gram.shape[0]
    steps = n_cand if n_nonzero_coefs is None else min(int(n_nonzero_coefs), n_cand)
    least_gain = 0.0 if alpha is None else 2.0 * float(alpha)
    a = torch.gather(correlations, 1, candidates)        # ⟨d_j, r⟩ on the candidates
    pn = torch.take(torch.diagonal(gram).contiguous(), candidates)   # ‖P⊥ d_j‖²
    floor = _span_eps(pn.dtype) * pn
    U = X.new_empty(steps, n, n_cand)                     # ⟨q_s, d_j⟩
    y = X.new_empty(steps, n, 1)                          # ⟨q_s, x⟩
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
        return empty, X.new_zeros(n, 0), X.new_zeros(n)
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


def _objective(sq_norm, gain, support_size, alpha):
    residual = sq_norm - gain
    return residual if alpha is None else 0.5 * residual + alpha * support_size


def pursuit(X, dictionary, gram, scores, *, n_nonzero_coefs=None, alpha=None, n_candidates,
            n_rounds=1):
    """Sparse codes by greedy pursuit over the top-ranked atoms, with refresh rounds.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
    dictionary : torch.Tensor of shape (n_components, n_features)
    gram : torch.Tensor of shape (n_components, n_components)
    scores : torch.Tensor of shape (n_samples, n_components)
        The ranking of the atoms (e.g. the network's last pre-activation); the
        ``n_candidates`` of largest magnitude are the first candidates.
    n_nonzero_coefs, alpha : int or float
        Exactly one: the M-sparse or the ℓ0 problem (see :func:`greedy_pursuit`).
    n_candidates : int
        Candidates per sample in each round.
    n_rounds : int, default=1
        Refresh rounds after the first pass (0: one pass on the first candidates).

    Returns
    -------
    codes : torch.Tensor of shape (n_samples, n_components)
    """
    n, p = scores.shape
    n_cand = max(1, min(int(n_candidates), p))
    correlations = X @ dictionary.T
    candidates = _top(scores.abs(), n_cand) if n_cand < p else _all(scores)
    support, coefs, gain = greedy_pursuit(X, dictionary, gram, candidates, correlations,
                                          n_nonzero_coefs=n_nonzero_coefs, alpha=alpha)
    codes = X.new_zeros(n, p).scatter_add_(1, support, coefs)
    if n_rounds <= 0 or n_cand >= p:
        return codes
    sq_norm = X.square().sum(1)
    best = _objective(sq_norm, gain, (coefs != 0).sum(1), alpha)
    rows = torch.arange(n, device=X.device)        # the samples still improving
    for _ in range(int(n_rounds)):
        sub = codes[rows]
        # residual correlations Dᵀ(x − Da) = Dᵀx − DᵀD a; the support ranks first
        resid = torch.addmm(correlations[rows], sub, gram, alpha=-1.0).abs_()
        resid.masked_fill_(sub != 0, float("inf"))
        candidates = _top(resid, n_cand)
        support, coefs, gain = greedy_pursuit(X[rows], dictionary, gram, candidates,
                                              correlations[rows],
                                              n_nonzero_coefs=n_nonzero_coefs, alpha=alpha)
        value = _objective(sq_norm[rows], gain, (coefs != 0).sum(1), alpha)
        better = value < best[rows]
        if not bool(better.any()):
            break
        rows, support, coefs = rows[better], support[better], coefs[better]
        best[rows] = value[better]
        codes[rows] = X.new_zeros(len(rows), p).scatter_add_(1, support, coefs)
    return codes


class PursuitEncoder(nn.Module):
    """An unfolded encoder followed by :func:`pursuit` over the atoms it ranks first.

    Built by the encoders' ``transform`` (not trained, not stored): ``forward(x)`` is the
    pursuit's codes, with the network's last pre-activation as the ranking.

    Parameters
    ----------
    encoder : UnfoldedEncoder
        The trained network.
    dictionary : torch.Tensor of shape (n_components, n_features)
        Atoms as rows, on the network's device.
    n_nonzero_coefs, alpha : int or float
        Exactly one (the problem).
    n_candidates : int
    n_rounds : int

    Examples
    --------
    >>> import torch
    >>> from skl0._layers import UnfoldedEncoder
    >>> D = torch.eye(4)
    >>> net = UnfoldedEncoder(4, 4, kind="msparse", n_nonzero_coefs=2)
    >>> net.init_from_dictionary(D, step=1.0)
    >>> head = PursuitEncoder(net, D, n_nonzero_coefs=2, n_candidates=3, n_rounds=1)
    >>> head.eval()(torch.tensor([[3.0, 0.0, -2.0, 1.0]])).tolist()
    [[3.0, 0.0, -2.0, 0.0]]
    """

    def __init__(self, encoder, dictionary, *, n_nonzero_coefs=None, alpha=None,
                 n_candidates, n_rounds):
        super().__init__()
        if (n_nonzero_coefs is None) == (alpha is None):
            raise ValueError("exactly one of n_nonzero_coefs and alpha")
        self.encoder = encoder
        self.register_buffer("dictionary", dictionary)
        self.register_buffer("gram", dictionary @ dictionary.T)
        self.n_nonzero_coefs = n_nonzero_coefs
        self.alpha = alpha
        self.n_candidates = int(n_candidates)
        self.n_rounds = int(n_rounds)
        self.n_components = int(dictionary.shape[0])

    def forward(self, X):
        with torch.no_grad():
            scores = self.encoder.last_preactivation(X)
            return pursuit(X, self.dictionary, self.gram, scores,
                           n_nonzero_coefs=self.n_nonzero_coefs, alpha=self.alpha,
                           n_candidates=self.n_candidates, n_rounds=self.n_rounds)

    def inference_forward(self):
        """``fn(x, out)`` writing :meth:`forward`'s codes into ``out`` (for ``transform``).

        Its many small operations run best one batch per thread: ``batches_in_threads``.
        """

        def run(x, out):
            out.copy_(self.forward(x))

        run.batches_in_threads = True
        return run
