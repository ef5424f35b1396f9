"""torch building blocks of the deep ℓ0 encoders.

Everything here is a plain :class:`torch.nn.Module` (importable, so it pickles and
works under parallel ``GridSearchCV``):

* :class:`HELU` — the exact unit hard threshold ``h₁(v) = v·[|v| ≥ 1]`` (eq. 7 with θ = 1).
* :class:`HELUSigma` — its continuous, piecewise-linear relaxation HELU_σ (eq. 9),
  used while training; ``sigma = 0`` is the exact HELU.
* :class:`MaxMPool` — max-M pooling followed by unpooling (eq. 11): keep the M entries
  of largest magnitude, zero the rest; the backward pass sends the whole gradient
  through the kept positions.
* :class:`SoftThreshold` — the shrinkage of LISTA (eq. 5).
* :class:`UnfoldedEncoder` — K unfolded stages ``z₁ = h(Wx)``, ``z_{k+1} = h(Wx + S z_k)``
  with W, S (and θ) shared across stages (eq. 8, Fig. 3 and 4).
* :class:`FastEncode` — an :class:`UnfoldedEncoder`'s eval forward, the fast way:
  ``encode_into(x, out)`` writes the codes of ``x`` into ``out``.

The trainable thresholds θ enter as ``θ · h₁(u / θ)``: two diagonal scalings around a
unit hard threshold, as the paper decomposes the neuron.

Each activation of a stage (:class:`HELUSigma`, :class:`SoftThreshold`,
:class:`MaxMPool`) owns both its forms: ``stage(u, theta)``, the network's forward (with
autograd, HELU_σ while training), and ``eval_step(theta, ...)``, its part of
:class:`FastEncode`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._kernels import _keep_largest_csr, _quiet_csr, keep_largest, keep_largest_mask

_KINDS = ("l0", "msparse", "lista")
_MIN_THETA = 1e-12
# M-sparse eval forward on the CPU: the products by S take the kept entries as a sparse
# matrix when at most 1/_SPARSE_STAGES of each row is kept, where that was faster (the A/B is
# in docs/history.md).
_SPARSE_STAGES = 8


def helu_sigma(v, sigma):
    """HELU_σ of eq. 9 applied to ``v`` (in units of the threshold).

    ``0`` for ``|v| ≤ 1 − σ``, ``v`` for ``|v| ≥ 1`` and a straight ramp between; with
    ``sigma = 0`` this is the exact unit hard threshold.

    Parameters
    ----------
    v : torch.Tensor
        Pre-activations divided by their thresholds.
    sigma : float
        Width of the ramp, in ``[0, 1]``; a σ below the resolution of ``v``'s dtype (as
        after many epochs of the paper's divide-by-10 schedule) is the exact HELU.

    Returns
    -------
    torch.Tensor
        Same shape as ``v``.

    Examples
    --------
    >>> import torch
    >>> v = torch.tensor([0.5, 0.9, 1.0, -0.95, 2.0], dtype=torch.float64)
    >>> [round(x, 6) for x in helu_sigma(v, 0.2).tolist()]
    [0.0, 0.5, 1.0, -0.75, 2.0]
    """
    a = v.abs()
    if sigma <= torch.finfo(v.dtype).eps:
        # below the dtype's resolution the ramp is a step: dividing by σ would give inf/NaN
        return v * (a >= 1).to(v.dtype)
    ramp = torch.sign(v) * (a - (1.0 - sigma)) / sigma
    out = torch.where(a >= 1, v, ramp)
    return torch.where(a <= 1.0 - sigma, torch.zeros_like(v), out)


# ------------------------------------------------------------------------------------------
# The fast eval steps of the activations (the parts of FastEncode)


class _ScaledStep:
    """A threshold's eval step in units of its θ: ``unit(v)`` with ``v = u / θ``.

    The recursion of :class:`FastEncode` then runs in ``v``, so the threshold is one fused
    unit shrink instead of ``|u|``, a comparison and a masked fill; the last stage scales
    back by θ as it writes the codes.
    """

    def __init__(self, unit, theta):
        self.unit = unit
        self.scale = theta

    def apply(self, v):
        return self.unit(v, 1.0)

    def write(self, v, out):
        h = self.unit(v, 1.0)
        if out.device == h.device:
            torch.mul(h, self.scale, out=out)
        else:
            out.copy_(h.mul_(self.scale))


class _KeepStep:
    """max-M pooling's eval step: :func:`~skl0._kernels.keep_largest` of each row.

    On the CPU its route finds each row's threshold with numpy's sort and builds the mask
    with numpy (faster than ``topk`` and a torch mask; the same values). With ``sparse``
    the kept entries go to the next product as a sparse CSR matrix (``M p`` instead of
    ``p²`` multiply-adds per row; the same support, values to float rounding).
    """

    scale = None

    def __init__(self, n_nonzero_coefs, sparse):
        self.n_nonzero_coefs = n_nonzero_coefs
        self.sparse = sparse

    def apply(self, u):
        if self.sparse:
            return _keep_largest_csr(u, self.n_nonzero_coefs)
        return keep_largest(u, self.n_nonzero_coefs)

    def write(self, u, out):
        keep_largest(u, self.n_nonzero_coefs, out=out)


# ------------------------------------------------------------------------------------------
# Activations


class HELU(nn.Module):
    """Hard thrEsholding Linear Unit: the exact unit hard threshold (eq. 7, θ = 1).

    ``HELU(v) = v`` where ``|v| ≥ 1`` and ``0`` elsewhere. Its gradient is 1 on the kept
    entries and 0 elsewhere (almost everywhere exact); training uses :class:`HELUSigma`.

    Examples
    --------
    >>> import torch
    >>> HELU()(torch.tensor([0.5, -1.0, 3.0])).tolist()
    [0.0, -1.0, 3.0]
    """

    def forward(self, v):
        return helu_sigma(v, 0.0)


class HELUSigma(nn.Module):
    """HELU_σ (eq. 9): the continuous relaxation of :class:`HELU` used for training.

    As the activation of an ℓ0 stage, :meth:`stage` is ``θ · HELU_σ(u / θ)`` in training
    mode and the exact ``θ · HELU(u / θ)`` in eval mode; :meth:`eval_step` is the latter in
    :class:`FastEncode`.

    Parameters
    ----------
    sigma : float, default=0.2
        Ramp width; the skorch callback of the estimators divides it after each epoch.

    Examples
    --------
    >>> import torch
    >>> HELUSigma(0.5)(torch.tensor([0.4, 0.75, 1.5])).tolist()
    [0.0, 0.5, 1.5]
    >>> HELUSigma(0.5).eval().stage(torch.tensor([0.4, 0.75, 1.5]), 0.5).tolist()
    [0.0, 0.75, 1.5]
    """

    # a schedule sets σ in training; skl0._skorch looks for the networks' trains_sigma
    scheduled_sigma = True

    def __init__(self, sigma=0.2):
        super().__init__()
        self.sigma = float(sigma)

    def forward(self, v):
        return helu_sigma(v, self.sigma)

    def stage(self, u, theta, inplace=False):
        """``θ · HELU_σ(u / θ)`` (σ = 0 in eval mode); ``inplace`` may overwrite ``u`` then."""
        sigma = self.sigma if self.training else 0.0
        if sigma > torch.finfo(u.dtype).eps:
            # θ·HELU_σ(u/θ) in closed form, sign(u)·min(|u|, relu((|u| − (1−σ)θ)/σ)): the
            # same values and gradients as the composition (tested) in half the element-wise
            # passes, without dividing by θ
            a = u.abs()
            return torch.sign(u) * torch.minimum(a, torch.relu((a - (1.0 - sigma) * theta) / sigma))
        # exact HELU: θ·h₁(u/θ) = u·[|u| ≥ θ], without the two scalings
        if inplace:
            return u.masked_fill_(u.abs() < theta, 0.0)
        return u.masked_fill(u.abs() < theta, 0.0)

    def eval_step(self, theta, **context):
        """The exact HELU in units of ``theta``: ``hardshrink(v, 1)`` (see :class:`FastEncode`)."""
        return _ScaledStep(nn.functional.hardshrink, theta)

    def extra_repr(self):
        return f"sigma={self.sigma}"


class MaxMPool(nn.Module):
    """max-M pooling and unpooling (eq. 11) as one projection onto M-sparse vectors.

    The pooled values (the M entries of largest magnitude, whatever their sign) are put
    back at their positions (the switches) and every other entry is set to 0. In back
    propagation each kept position receives its whole error signal, the others none.

    Parameters
    ----------
    n_nonzero_coefs : int
        M, the number of entries kept per sample.

    Examples
    --------
    >>> import torch
    >>> MaxMPool(2)(torch.tensor([[0.1, -3.0, 2.0, 0.5]])).tolist()
    [[0.0, -3.0, 2.0, 0.0]]
    """

    scheduled_sigma = False

    def __init__(self, n_nonzero_coefs):
        super().__init__()
        self.n_nonzero_coefs = int(n_nonzero_coefs)

    def forward(self, u):
        if not (u.requires_grad and torch.is_grad_enabled()):
            return keep_largest(u, self.n_nonzero_coefs)  # the faster route off autograd
        mask = keep_largest_mask(u.detach(), self.n_nonzero_coefs)
        return u * mask.to(u.dtype)

    def stage(self, u, theta=None, inplace=False):
        """The stage's activation: :meth:`forward` (no threshold θ)."""
        return self(u)

    def eval_step(self, theta, *, n_components, device, products):
        """Keep the M largest of each row, the kept entries of the products by S as a sparse
        matrix on the CPU when M is at most 1/8 of the ``n_components`` (and ``products``)."""
        M = self.n_nonzero_coefs
        sparse = products and device.type == "cpu" and 0 < _SPARSE_STAGES * M <= n_components
        if sparse:
            _quiet_csr()  # here, before the caller's threads
        return _KeepStep(M, sparse)

    def extra_repr(self):
        return f"n_nonzero_coefs={self.n_nonzero_coefs}"


class SoftThreshold(nn.Module):
    """Soft shrinkage ``sign(u)·max(|u| − θ, 0)`` of LISTA (eq. 5).

    Examples
    --------
    >>> import torch
    >>> SoftThreshold()(torch.tensor([0.5, -2.0]), torch.tensor(1.0)).tolist()
    [0.0, -1.0]
    """

    scheduled_sigma = False

    def forward(self, u, theta):
        return torch.sign(u) * torch.relu(u.abs() - theta)

    def stage(self, u, theta, inplace=False):
        """The stage's activation: :meth:`forward` at ``theta``."""
        return self(u, theta)

    def eval_step(self, theta, **context):
        """The shrinkage in units of ``theta``: ``softshrink(v, 1)`` (see :class:`FastEncode`)."""
        return _ScaledStep(nn.functional.softshrink, theta)


# ------------------------------------------------------------------------------------------
# The unfolded network


class UnfoldedEncoder(nn.Module):
    """K-stage unfolded IHT (or ISTA) network, W, S and θ shared across stages or not.

    ``z₁ = h(Wx)``, ``z_{k+1} = h(Wx + S z_k)``, ``k = 1 … K−1``, where ``h`` is

    * ``kind="l0"``: ``θ · HELU_σ(u / θ)`` (HELU_σ while training, the exact HELU in
      ``eval()`` mode) — the Deep ℓ0-Regularized Encoder (Fig. 3);
    * ``kind="msparse"``: max-M pooling/unpooling — the Deep M-Sparse Encoder (Fig. 4);
    * ``kind="lista"``: soft threshold with θ — LISTA (Fig. 1).

    With ``kind="l0"`` and ``l1_stages = L > 0`` the first L stages use the soft threshold
    instead (ISTA stages for the ℓ1 problem) and the last K − L the hard one: the unfolded
    form of the paper's own route to ℓ0 codes, the ℓ1 solution refined by IHT. Every stage
    then has its own θ (initialised to ISTA's threshold in the first L stages).

    The activation of each stage is chosen once, at construction (``activations``, one
    per stage); the forward and the fast eval path (:meth:`inference_forward`,
    :class:`FastEncode`) both ask it.

    Parameters
    ----------
    n_features : int
        Input dimension m.
    n_components : int
        Code dimension p.
    n_stages : int, default=2
        K, the number of unfolded stages.
    kind : {"l0", "msparse", "lista"}, default="l0"
    n_nonzero_coefs : int or None
        M for ``kind="msparse"``.
    sigma : float, default=0.2
        Initial σ of HELU_σ (``kind="l0"`` only).
    tied : bool, default=True
        Share S and θ across the stages (the paper's networks). ``False`` gives every stage
        its own S (``S`` is then an ``nn.ModuleList`` of K − 1 layers) and its own θ
        (``theta`` of shape ``(K, p)``, one row per stage); all start from the same values,
        so the untrained net is the same K solver iterations.
    l1_stages : int, default=0
        L, the number of leading soft-threshold (ISTA) stages of ``kind="l0"``; ``0 ≤ L <
        K``. ``theta`` then has shape ``(K, p)`` even when the stages are tied (W and S
        stay shared).

    Examples
    --------
    >>> import torch
    >>> net = UnfoldedEncoder(4, 6, n_stages=2, kind="msparse", n_nonzero_coefs=2)
    >>> net.init_from_dictionary(torch.eye(6, 4), step=1.0)
    >>> net.eval()(torch.ones(3, 4)).count_nonzero(dim=1).tolist()
    [2, 2, 2]
    >>> out = torch.empty(3, 6)
    >>> net.inference_forward().encode_into(torch.ones(3, 4), out)
    >>> torch.equal(out, net(torch.ones(3, 4)))
    True
    """

    # modules pickled before the option existed have no attribute of their own
    l1_stages = 0

    def __init__(self, n_features, n_components, n_stages=2, kind="l0", n_nonzero_coefs=None,
                 sigma=0.2, tied=True, l1_stages=0):
        super().__init__()
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
        if kind == "msparse" and n_nonzero_coefs is None:
            raise ValueError("kind='msparse' needs n_nonzero_coefs")
        if l1_stages and kind != "l0":
            raise ValueError(f"l1_stages applies to kind='l0' only, got kind={kind!r}")
        if not 0 <= int(l1_stages) < int(n_stages):
            raise ValueError(
                f"l1_stages must be in [0, n_stages) = [0, {int(n_stages)}), got {l1_stages}")
        self.l1_stages = int(l1_stages)
        self.n_features = int(n_features)
        self.n_components = int(n_components)
        self.n_stages = int(n_stages)
        self.kind = kind
        self.tied = bool(tied)
        self.W = nn.Linear(n_features, n_components, bias=False)
        if self.tied:
            self.S = nn.Linear(n_components, n_components, bias=False)
        else:
            self.S = nn.ModuleList(
                nn.Linear(n_components, n_components, bias=False)
                for _ in range(max(self.n_stages - 1, 0))
            )
        if kind == "msparse":
            self.theta = None
            self.pool = MaxMPool(n_nonzero_coefs)
        else:
            shape = (self.n_stages, n_components) if self._theta_per_stage else (n_components,)
            self.theta = nn.Parameter(torch.ones(shape))
            self.helu = HELUSigma(sigma)
            self.shrink = SoftThreshold()
        self.activations = nn.ModuleList(self._choose_activations())

    def _choose_activations(self):
        """The activation of each stage, by ``kind`` and ``l1_stages``."""
        if self.kind == "msparse":
            return [self.pool] * self.n_stages
        if self.kind == "lista":
            return [self.shrink] * self.n_stages
        return [self.shrink] * self.l1_stages + [self.helu] * (self.n_stages - self.l1_stages)

    def __getattr__(self, name):
        modules = self.__dict__.get("_modules", {})
        if name == "activations" and name not in modules and "kind" in self.__dict__:
            # a module saved before the activations were its children: choose them now
            modules[name] = nn.ModuleList(self._choose_activations())
        return super().__getattr__(name)

    @property
    def _theta_per_stage(self):
        return not self.tied or self.l1_stages > 0

    @property
    def trains_sigma(self):
        """Whether training uses HELU_σ, whose σ a schedule sets (``kind="l0"``)."""
        return any(activation.scheduled_sigma for activation in self.activations)

    @property
    def sigma(self):
        """The current σ of HELU_σ (``None`` for the other kinds)."""
        return next((a.sigma for a in self.activations if a.scheduled_sigma), None)

    @sigma.setter
    def sigma(self, value):
        for activation in self.activations:
            if activation.scheduled_sigma:
                activation.sigma = float(value)

    @torch.no_grad()
    def init_from_dictionary(self, dictionary, step, threshold=1.0, l1_threshold=None):
        """Initialise from a dictionary so the net equals K solver iterations from zero.

        ``W = μ Dᵀ``, ``S = I − μ DᵀD`` and ``θ = threshold`` (eq. 8), where
        ``dictionary`` is ``(n_components, n_features)`` (rows are atoms) so that
        ``Dᵀ`` in the paper's notation is ``dictionary`` here. With ``l1_stages = L > 0``
        the first L stages get ``θ = l1_threshold`` (``μ λ₁`` for ISTA on
        ``½‖x − Da‖² + λ₁‖a‖₁``): the net is then L ISTA iterations from zero followed by
        K − L IHT iterations.

        Parameters
        ----------
        dictionary : torch.Tensor of shape (n_components, n_features)
        step : float
            The solver's step μ (``≤ 1/‖D‖₂²``).
        threshold : float or torch.Tensor, default=1.0
            θ: ``sqrt(2 α μ)`` for IHT on the ℓ0 problem, ``μ λ`` for ISTA.
        l1_threshold : float or torch.Tensor, optional
            θ of the ℓ1 stages; required when ``l1_stages > 0``.
        """
        if self.l1_stages and l1_threshold is None:
            raise ValueError("l1_stages > 0 needs l1_threshold")
        C = dictionary.to(self.W.weight)
        self.W.weight.copy_(step * C)
        eye = torch.eye(self.n_components, dtype=C.dtype, device=C.device)
        for S in self._stage_S():
            S.weight.copy_(eye - step * (C @ C.T))
        if self.theta is not None:
            self.theta.copy_(torch.as_tensor(threshold).to(self.theta).expand_as(self.theta))
            if self.l1_stages:
                head = self.theta[:self.l1_stages]
                head.copy_(torch.as_tensor(l1_threshold).to(head).expand_as(head))

    def _stage_S(self):
        return [self.S] if self.tied else list(self.S)

    def _stage_thetas(self, theta):
        """θ of each stage (``None`` each where the net has no θ), from ``theta``."""
        if theta is None:
            return [None] * self.n_stages
        theta = theta.clamp_min(_MIN_THETA)
        return [theta[k] if self._theta_per_stage else theta for k in range(self.n_stages)]

    def _activation(self, u, stage=0, inplace=False):
        theta = self.theta
        if theta is not None:
            theta = (theta[stage] if self._theta_per_stage else theta).clamp_min(_MIN_THETA)
        return self.activations[stage].stage(u, theta, inplace=inplace)

    def forward(self, X):
        return self._activation(self.last_preactivation(X), self.n_stages - 1, inplace=True)

    def last_preactivation(self, X):
        """``u_K``, the input of the last stage's threshold (``forward = h(u_K)``).

        Its magnitudes rank the atoms: the encoders' pursuit takes its candidates from it.
        """
        B = self.W(X)
        u = B
        for k in range(1, self.n_stages):
            S = self.S if self.tied else self.S[k - 1]
            # B + z Sᵀ in one GEMM call (the addition fused into it)
            u = torch.addmm(B, self._activation(u, k - 1, inplace=k > 1), S.weight.t())
        return u

    @torch.no_grad()
    def inference_forward(self):
        """The eval-mode forward as a :class:`FastEncode`, a callable ``fn(x, out)``.

        The same codes as ``self.eval()(x)`` (up to float rounding), computed the fast way
        for ``transform``; build it once per call, after training (it holds a snapshot of
        the parameters). ``x`` is a float32 tensor on the module's device and ``out`` a CPU
        tensor of shape ``(len(x), n_components)`` (any float dtype).
        """
        return FastEncode(self)

    def flops_per_sample(self):
        """Multiply-adds of one forward pass, counting 2 flops each (for benchmarks)."""
        m, p, k = self.n_features, self.n_components, self.n_stages
        return 2 * m * p + 2 * (k - 1) * p * p

    def extra_repr(self):
        extra = f", l1_stages={self.l1_stages}" if self.l1_stages else ""
        return f"kind={self.kind!r}, n_stages={self.n_stages}, tied={self.tied}{extra}"


class FastEncode:
    """An :class:`UnfoldedEncoder`'s eval forward, the fast way: :meth:`encode_into`.

    Each stage's activation gives its eval step (``eval_step``): the thresholds run the
    recursion in units of their θ, ``v = u / θ``, so each stage's threshold is one fused
    ``hardshrink(v, 1)`` (``softshrink`` for LISTA and the ℓ1 stages): ``W' = diag(1/θ₁) W``,
    ``S'ₖ = diag(θₖ₋₁) Sₖᵀ diag(1/θₖ)`` (transposed for the row layout) and the last
    scaling by θ writes the output. max-M pooling keeps the M largest of each row per stage
    (:func:`skl0._kernels.keep_largest`) and its last stage writes ``out`` directly. A
    snapshot of the parameters is taken at construction; the object is thread-safe: the
    caller may run batches on several threads at once.

    Parameters
    ----------
    net : UnfoldedEncoder

    Examples
    --------
    >>> import torch
    >>> net = UnfoldedEncoder(4, 6, n_stages=3, kind="l0")
    >>> net.init_from_dictionary(torch.eye(6, 4), step=0.5, threshold=0.3)
    >>> x, out = torch.randn(5, 4), torch.empty(5, 6)
    >>> FastEncode(net).encode_into(x, out)
    >>> torch.allclose(out, net.eval()(x))
    True
    """

    @torch.no_grad()
    def __init__(self, net):
        Wt = net.W.weight.detach().t()
        # Sᵀ of stages 2 … K (one matrix repeated when the stages are tied)
        Sts = [S.weight.detach().t() for S in net._stage_S()]
        Sts = [Sts[0 if net.tied else k] for k in range(net.n_stages - 1)]
        thetas = net._stage_thetas(None if net.theta is None else net.theta.detach())
        self.steps = [
            activation.eval_step(theta, n_components=net.n_components, device=Wt.device,
                                 products=bool(Sts))
            for activation, theta in zip(net.activations, thetas, strict=True)]
        scales = [step.scale for step in self.steps]
        self.W = (Wt if scales[0] is None else Wt / scales[0]).contiguous()
        self.S = [_rescaled(St, scales[k], scales[k + 1]).contiguous()
                  for k, St in enumerate(Sts)]
        # v₀ in the units of stage k + 1 where the stages have θs of their own
        per_stage = net._theta_per_stage and scales[0] is not None
        self.ratios = [scales[0] / scales[k + 1] if per_stage else None
                       for k in range(len(Sts))]

    def encode_into(self, x, out):
        """Write the codes of ``x`` into ``out`` (a tensor of shape ``(len(x), p)``)."""
        v0 = x @ self.W
        v = v0
        for step, St, ratio in zip(self.steps, self.S, self.ratios, strict=False):
            v = torch.addmm(v0 if ratio is None else v0 * ratio, step.apply(v), St)
        self.steps[-1].write(v, out)

    __call__ = encode_into


def _rescaled(St, scale_in, scale_out):
    """``diag(scale_in) Sᵀ diag(1/scale_out)``, a missing scale being 1."""
    if scale_in is not None:
        St = scale_in[:, None] * St
    if scale_out is not None:
        St = St / scale_out
    return St


# ------------------------------------------------------------------------------------------
# Task-driven nets (L0Classifier, L0Clusterer)


class ResidualLoss(nn.Module):
    """The M-sparse problem's objective as a training loss: the mean over the batch of
    ``‖x − z D‖²``, the squared residual of the network's codes ``z`` over a fixed
    dictionary (rows are atoms), the samples ``x`` being the targets.

    Parameters
    ----------
    dictionary : torch.Tensor of shape (n_components, n_features)

    Examples
    --------
    >>> import torch
    >>> loss = ResidualLoss(torch.eye(2))
    >>> float(loss(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 2.0]])))
    4.0
    """

    def __init__(self, dictionary):
        super().__init__()
        self.register_buffer("dictionary", dictionary)

    def forward(self, codes, X):
        residual = X - codes @ self.dictionary
        return residual.square().sum(dim=1).mean()


class EncoderHead(nn.Module):
    """A trunk (an encoder module) followed by one linear layer: ``ωᵀ trunk(x) + b``.

    The task-driven nets of :class:`~skl0.L0Classifier` (logits of the softmax loss) and
    :class:`~skl0.L0Clusterer` (the scores of eq. 12). The trunk is used as given (the
    very module object of the fitted encoder), so training this net fine-tunes it.

    Parameters
    ----------
    trunk : nn.Module
        Maps ``(n, n_features)`` to ``(n, trunk.n_components)``.
    n_outputs : int
        Number of classes or clusters.

    Examples
    --------
    >>> import torch
    >>> trunk = UnfoldedEncoder(4, 6, kind="msparse", n_nonzero_coefs=2)
    >>> EncoderHead(trunk, 3)(torch.ones(5, 4)).shape
    torch.Size([5, 3])
    """

    def __init__(self, trunk, n_outputs):
        super().__init__()
        self.trunk = trunk
        self.head = nn.Linear(int(trunk.n_components), int(n_outputs))

    @torch.no_grad()
    def init_head(self, weight, bias):
        """Set ``ω`` (``(n_outputs, n_components)``) and ``b`` (``(n_outputs,)``)."""
        self.head.weight.copy_(torch.as_tensor(weight).to(self.head.weight))
        self.head.bias.copy_(torch.as_tensor(bias).to(self.head.bias))

    def forward(self, X):
        return self.head(self.trunk(X))


class ClusteringLoss(nn.Module):
    """Cross-entropy to target assignments with a balance term, on the scores ``s = ωᵀa + b``.

    With ``p_ij = softmax(s_i)_j`` (eq. 12) over a batch of ``n`` samples,
    ``p̄_j = (1/n) Σ_i p_ij`` and target assignments ``q_i`` (rows summing to 1)::

        loss = −(1/n) Σ_i Σ_j q_ij log p_ij − balance · H(p̄),   H(q) = −Σ_j q_j log q_j.

    Without targets (``target`` None or not 2-D) ``q_i = p_i`` and the first term is the
    mean per-sample entropy (entropy minimisation: it makes each assignment confident).
    The second term keeps the clusters used evenly (with ``balance=1`` and no targets the
    loss is minus the mutual information between a sample and its cluster, as estimated
    on the batch). :class:`~skl0.L0Clusterer` passes the targets of its initial partition.

    Parameters
    ----------
    balance : float, default=1.0
        Weight of the balance term.

    Examples
    --------
    >>> import torch
    >>> loss = ClusteringLoss(balance=1.0)
    >>> confident_balanced = torch.tensor([[10.0, -10.0], [-10.0, 10.0]])
    >>> round(loss(confident_balanced, None).item(), 4)  # − log 2
    -0.6931
    >>> round(loss(torch.tensor([[10.0, -10.0], [10.0, -10.0]]), None).item(), 4)  # collapsed
    0.0
    >>> targets = torch.tensor([[0.0, 1.0], [1.0, 0.0]])  # both samples on the wrong side
    >>> round(loss(confident_balanced, targets).item(), 4)  # 20 − log 2
    19.3069
    """

    def __init__(self, balance=1.0):
        super().__init__()
        self.balance = float(balance)

    def forward(self, scores, target=None):
        logp = torch.log_softmax(scores, dim=1)
        p = logp.exp()
        if target is not None and target.dim() == 2:
            fit = -(target.to(logp.dtype) * logp).sum(dim=1).mean()
        else:
            fit = -(p * logp).sum(dim=1).mean()
        # log p̄ from the log-probabilities, not log(p̄): a cluster whose p̄ underflows to 0 in
        # float32 would otherwise give log 0 = −inf in the gradient, and NaN weights.
        log_mean_p = torch.logsumexp(logp, dim=0) - math.log(logp.shape[0])
        marginal = -(log_mean_p.exp() * log_mean_p).sum()
        return fit - self.balance * marginal

    def extra_repr(self):
        return f"balance={self.balance}"
