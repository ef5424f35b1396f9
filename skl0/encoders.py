"""The deep ℓ0 encoders (and the ℓ1 LISTA baseline) as scikit-learn transformers."""

from __future__ import annotations

import time
import weakref
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._constraints import _COMMON_CONSTRAINTS, _FLOAT_DTYPES
from ._dictionary import learn_dictionary
from ._layers import ResidualLoss, UnfoldedEncoder
from ._problems import L0Problem, L1Problem, MSparseProblem, l0_threshold, l1_start_weight
from ._routes import (
    MARGIN,
    NetworkRoute,
    OLSRoute,
    PursuitRoute,
    _time_route,
    fastest_within,
    measure_route,
)
from ._skorch import (
    estimator_net,
    fit_net,
    partial_fit_net,
    resolve_optimizer,
)
from ._solvers import fista, spectral_norm_sq
from ._state import _PlainState
from ._targets import optimal_codes
from ._threads import scoped_fit_threads
from ._utils import as_float32, check_float32_scale, resolve_device, torch_seed

# The route objects transform built, per encoder: kept out of the encoder's own state, so
# that transform changes nothing in it (and no pickle carries them).
_ROUTES = weakref.WeakKeyDictionary()

# From this many samples on, the rows that time the routes are held out of the network's
# training; below, the network needs every row more than the choice needs unseen ones.
_HOLD_OUT_FROM = 5000

_ROUTE_CONSTRAINTS = {
    "route": [StrOptions({"auto", "ols", "pursuit", "network"})],
    "route_tol": [Interval(Real, 0, None, closed="left")],
    "n_candidates": [Interval(Integral, 1, None, closed="left"), None],
    "pursuit_rounds": [Interval(Integral, 0, None, closed="left")],
}


class _BaseUnfoldedEncoder(_PlainState, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                           BaseEstimator):
    """Shared machinery: dictionary, then the route ``transform`` runs (and the network,
    trained through skorch, where that route or a wrapper needs it).

    Subclasses set ``_kind`` and implement ``_dictionary_l1_alpha()`` (the l1 weight of
    dictionary learning), ``_init_kwargs(step)`` (the thresholds of the initialised net),
    ``_targets(X, C)`` (the training codes) and ``_problem()`` (the problem the routes
    solve, an object of :mod:`skl0._problems`); where they need to,
    ``_module_kwargs()``, ``_check_params_vs_data(X)`` and, with a pursuit route,
    ``_default_candidates(ols)`` (its candidates per sample when ``n_candidates=None``,
    before training from the ``"ols"`` entry of the route report).
    """

    _kind = None
    _parameter_constraints: dict = dict(_COMMON_CONSTRAINTS)

    # ------------------------------------------------------------------ fit
    @scoped_fit_threads
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, codes=None):
        """Learn (or take) the dictionary and choose the route ``transform`` runs.

        With ``route="auto"`` the routes are timed on held-out training rows and the
        fastest whose mean objective is within ``route_tol`` of the best is kept
        (``route_``, ``route_report_``); the network is trained only when a route that
        runs it is chosen, asked for, or could be the fastest.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, dense (sparse matrices are rejected with a ``TypeError``;
            call ``.toarray()``). At least 2 samples, on a scale float32 carries (a
            ``ValueError`` says when to rescale: squares that underflow, or a sample's
            squared norm that overflows).
        y : None
            Ignored, as scikit-learn's transformers ignore it (a ``Pipeline`` passes the
            task's targets to every step).
        codes : array-like of shape (n_samples, n_components), default=None
            Target codes to train the network on, in place of the ones ``fit`` computes
            (e.g. codes computed once and reused across fits); the network is then
            trained whatever the route. In a ``Pipeline``, route them with scikit-learn's
            metadata routing (``set_fit_request(codes=True)``).

        Returns
        -------
        self : object
            The fitted encoder.
        """
        return self._fit(X, codes, network=False)

    def _fit(self, X, codes=None, *, network=False, partial=False):
        """:meth:`fit`; ``network=True`` trains the network whatever the route (wrappers),
        ``partial=True`` for one epoch (the first :meth:`partial_fit`)."""
        X, targets = self._validate_fit_data(X, codes, reset=True)
        X32 = as_float32(X)
        for name in ("net_", "history_", "n_candidates_", "route_report_"):
            self.__dict__.pop(name, None)
        _ROUTES.pop(self, None)
        phases = self._learn_dictionary(X32, X.dtype)
        route = self._route_name()
        train = network or targets is not None or route in ("pursuit", "network")
        probe, rest = self._probe_rows(X32, route)
        report = {}
        clock = time.perf_counter()
        if route == "auto":
            report["ols"] = self._measure("ols", probe)
            if not train:
                train = self._network_could_win(probe, report["ols"])
        phases["routes"] = time.perf_counter() - clock
        if train:
            # given codes are the whole X's; computed ones leave the held-out rows out
            rows = X32 if targets is not None else X32[rest]
            phases.update(self._train_network(rows, targets, partial=partial))
        else:
            phases.update(targets=0.0, training=0.0)
        if route == "auto":
            clock = time.perf_counter()
            if train:
                for name in ("pursuit", "network"):
                    report[name] = self._measure(name, probe)
            self.route_report_ = report
            route = fastest_within(report, self.route_tol)
            phases["routes"] += time.perf_counter() - clock
        self.route_ = route
        self.fit_times_ = phases
        return self

    @scoped_fit_threads
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, *, codes=None):
        """One pass of training of the network over a batch, for data that arrive in chunks.

        The first call learns the dictionary on its batch (or takes ``dictionary``), builds
        the network and chooses the route as :meth:`fit` does (on that batch); every call
        then computes the batch's target codes (or takes ``codes``) and trains the network
        for one epoch over them, continuing the learning-rate and σ schedules. The
        dictionary is kept once learned; ``n_components`` and the problem cannot change
        between calls (a ``ValueError`` says so).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A batch of training data (at least 2 samples in the first call).
        y : None
            Ignored.
        codes : array-like of shape (n_samples, n_components), default=None
            The batch's target codes, as in :meth:`fit`.

        Returns
        -------
        self : object
            The encoder, trained one more epoch.
        """
        if not hasattr(self, "components_"):
            return self._fit(X, codes, network=True, partial=True)
        self._check_unchanged("partial_fit")
        self._problem(route="network")  # the network trains on the problem fit set
        X, targets = self._validate_fit_data(X, codes, reset=False)
        X32 = as_float32(X)
        if not hasattr(self, "net_"):  # fit's route ran no network: it starts here
            self.fit_times_ = {"dictionary": 0.0,
                               **self._train_network(X32, targets, partial=True)}
            return self
        net = self.net_
        phases = {"dictionary": 0.0}
        y, phases["targets"] = self._training_pairs(X32, net, targets)
        clock = time.perf_counter()
        partial_fit_net(net, X32, y, self.random_state)
        phases["training"] = time.perf_counter() - clock
        self.fit_times_ = phases
        self.history_ = net.history
        _ROUTES.pop(self, None)
        return self

    def _validate_fit_data(self, X, codes, reset):
        """``X`` validated (and the parameters against it when ``reset``), and the target
        ``codes`` validated, or ``None``."""
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, reset=reset,
                          ensure_min_samples=2 if reset else 1)
        check_float32_scale(X)
        if reset:
            self._check_params_vs_data(X)
        if codes is None:
            return X, None
        p = self._n_components if reset else self.components_.shape[0]
        codes = check_array(codes, dtype=_FLOAT_DTYPES, input_name="codes")
        if codes.shape != (X.shape[0], p):
            raise ValueError(
                f"codes has shape {codes.shape}, but target codes must have shape "
                f"(n_samples, n_components) = {(X.shape[0], p)}"
            )
        check_float32_scale(codes, "codes", "to the scale of the codes")
        return X, codes

    def _learn_dictionary(self, X32, dtype):
        """``components_`` (in ``dtype``) and ``step_``; the phases' seconds so far."""
        resolve_optimizer(self.optimizer)
        device = resolve_device(self.device)
        clock = time.perf_counter()
        C = self._get_dictionary(torch.as_tensor(X32, device=device))
        self.components_ = C.astype(dtype, copy=False)
        phases = {"dictionary": time.perf_counter() - clock}
        Ct = torch.as_tensor(C, dtype=torch.float32, device=device)
        self.step_ = float(1.0 / max(spectral_norm_sq(Ct), np.finfo(np.float32).tiny))
        return phases

    def _initial_net(self, residual=False):
        """The skorch net around the network initialised from ``components_``, its loss
        the mean squared error to target codes, or with ``residual`` the problem's
        squared residual (:class:`~skl0._layers.ResidualLoss`)."""
        device = resolve_device(self.device)
        C = self._dictionary_tensor("cpu")
        criterion = ResidualLoss(C) if residual else torch.nn.MSELoss()
        net = estimator_net(self, self._make_module(C, self.step_), criterion, device)
        net.initialize()
        return net

    def _trains_on_residual(self, targets):
        """Whether the network trains on the problem's residual instead of target codes
        (``MSparseEncoder(network_loss="residual")`` without given ``codes``)."""
        return targets is None and getattr(self, "network_loss", "codes") == "residual"

    def _training_pairs(self, X32, net, targets):
        """What the network trains towards: ``X32`` itself (the residual loss) or the target
        codes (given, or computed), as float32 numpy, and the seconds spent on them."""
        if isinstance(net.criterion_, ResidualLoss):
            if targets is not None:
                raise ValueError(
                    "codes were given, but this network trains on the residual "
                    "(network_loss='residual'): fit it again to train on codes"
                )
            return X32, 0.0
        Xt = torch.as_tensor(X32, device=net.device)
        return self._training_targets(Xt, self._dictionary_tensor(net.device), targets)

    def _train_network(self, X32, targets=None, partial=False):
        """Build and train the network on ``X32`` (``net_``, ``history_``); the phases'
        seconds. ``max_epochs=0`` keeps the initialisation: ``n_stages`` solver iterations."""
        net = self._initial_net(residual=self._trains_on_residual(targets))
        phases = {"targets": 0.0, "training": 0.0}
        codes = None
        if self.max_epochs > 0:
            y, phases["targets"] = self._training_pairs(X32, net, targets)
            clock = time.perf_counter()
            train = partial_fit_net if partial else fit_net
            train(net, X32, y, self.random_state)
            phases["training"] = time.perf_counter() - clock
            codes = None if y is X32 else y
        self.net_ = net
        self.history_ = net.history
        self._set_candidates(X32, codes)
        _ROUTES.pop(self, None)
        return phases

    def _network_on(self, device=None, X=None):
        """The trained network, moved to ``device`` (``None``: where it is), trained on ``X``
        first if ``fit`` did not train it: what the task-driven wrappers fine-tune and run."""
        if not hasattr(self, "net_"):
            if X is None:
                raise ValueError(
                    f"route_={self.route_!r} trained no network: the wrapper's data train one")
            self._train_network(as_float32(np.asarray(X)))
        net = self.net_
        if device is not None and str(net.device) != device:  # a frozen encoder fitted elsewhere
            net.module_.to(device)
            net.device = device
            self.set_params(device=device)
            _ROUTES.pop(self, None)
        return net.module_

    def _training_targets(self, Xt, Ct, given):
        """The target codes (given, or computed) as float32 numpy, and the seconds spent."""
        if given is not None:
            return as_float32(given), 0.0
        clock = time.perf_counter()
        codes = self._targets(Xt, Ct).cpu().numpy()
        return codes, time.perf_counter() - clock

    def _set_candidates(self, X32, codes):
        """``n_candidates_`` of the pursuit route (encoders that have one), from the
        training targets ``codes`` (``None``: not computed)."""

    # --------------------------------------------------------------- routes
    def _route_name(self):
        """The route asked for: ``route`` (``"network"`` for encoders without a pursuit)."""
        return getattr(self, "route", "network")

    def _probe_rows(self, X32, route):
        """The rows the routes are timed on, and those the network trains on: with
        ``route="auto"``, a seeded tenth of the samples (at most 1,000), held out of the
        network's training from 5,000 samples on (below, the network needs them all)."""
        n = X32.shape[0]
        if route != "auto" or n < 20:
            return X32, slice(None)
        size = min(1000, n // 10)
        order = np.random.default_rng(torch_seed(self.random_state)).permutation(n)
        probe = X32[np.sort(order[:size])]
        return probe, (np.sort(order[size:]) if n >= _HOLD_OUT_FROM else slice(None))

    def _measure(self, name, probe):
        return measure_route(self._build_route(name), probe, self.components_,
                             self._problem())

    def _network_could_win(self, probe, ols):
        """Whether a route that runs the network could be faster than ``ols`` on ``probe``:
        the untrained network and one candidate pass (its least work) are timed."""
        net = self._initial_net()
        module = net.module_
        floor = NetworkRoute(module)
        if self._kind != "lista":
            floor = PursuitRoute(module, self._dictionary_tensor(net.device),
                                 self._problem(), n_candidates=self._default_candidates(ols),
                                 n_rounds=0)
        seconds, _ = _time_route(floor, probe)
        return seconds * MARGIN < ols["seconds_per_row"]

    def _dictionary_tensor(self, device):
        return torch.as_tensor(self.components_, dtype=torch.float32, device=device)

    def _build_route(self, name):
        """The route object ``name`` on the fitted state (and the current parameters that
        a route reads: the problem, ``n_candidates``, ``pursuit_rounds``)."""
        if name == "ols":
            device = resolve_device(self.device)
            return OLSRoute(self._dictionary_tensor(device), self._problem())
        module = self.net_.module_
        if name == "network":
            return NetworkRoute(module)
        candidates = self.n_candidates if self.n_candidates is not None else \
            self._default_candidates()
        return PursuitRoute(module, self._dictionary_tensor(self.net_.device),
                            self._problem(), n_candidates=candidates,
                            n_rounds=self.pursuit_rounds)

    def _check_unchanged(self, method):
        """Raise if a parameter that needs a refit changed since ``fit``."""
        p = self.components_.shape[0]
        if self.dictionary is None and self.n_components not in (None, p):
            raise ValueError(
                f"n_components={self.n_components} was set after fit, which learned {p} "
                f"atoms; {method} cannot change the dictionary: call fit again"
            )

    def _transform_route(self):
        """The route :meth:`transform` runs: ``route`` if set, else the fitted ``route_``;
        built once and kept until a parameter it reads changes."""
        self._validate_params()
        self._check_unchanged("transform")
        name = self._route_name()
        if name == "auto":
            name = self.route_
        if name != "ols" and not hasattr(self, "net_"):
            raise ValueError(
                f"route={name!r} runs the network, which this fit did not train (route_="
                f"{self.route_!r}); fit again with route={name!r}"
            )
        problem = self._problem(route=name)
        key = (name, repr(problem), self.__dict__.get("n_candidates"),
               self.__dict__.get("pursuit_rounds"), resolve_device(self.device),
               id(self.components_), id(self.__dict__.get("net_")))
        cached = _ROUTES.get(self)
        if cached is not None and cached[0] == key:
            return cached[1]
        route = self._build_route(name)
        _ROUTES[self] = (key, route)
        return route

    def _problem(self, route=None):
        """The problem the encoder solves (:mod:`skl0._problems`), from its parameters.
        With ``route`` (the one :meth:`transform` runs), a change since ``fit`` that the
        network cannot follow is a ``ValueError``."""
        raise NotImplementedError

    def _check_params_vs_data(self, X):
        if self.dictionary is not None:
            D = self._validated_dictionary()
            check_float32_scale(D, "dictionary", "to unit-norm atoms")
            if D.shape[1] != X.shape[1]:
                raise ValueError(
                    f"dictionary has {D.shape[1]} features per atom but X has {X.shape[1]} "
                    "features; `dictionary` must have shape (n_components, n_features)"
                )
            if self.n_components is not None and self.n_components != D.shape[0]:
                raise ValueError(
                    f"n_components={self.n_components} does not match the {D.shape[0]} rows "
                    "(atoms) of `dictionary`; leave n_components=None or make them agree"
                )

    def _validated_dictionary(self):
        return check_array(self.dictionary, dtype=_FLOAT_DTYPES, input_name="dictionary")

    @property
    def _n_components(self):
        if self.dictionary is not None:
            return len(self._validated_dictionary())
        return self.n_components if self.n_components is not None else self.n_features_in_

    def _get_dictionary(self, Xt):
        """The given dictionary, or one learned from ``Xt`` (float32 on the device)."""
        if self.dictionary is not None:
            return np.array(self._validated_dictionary(), dtype=np.float64)
        C, _ = learn_dictionary(
            Xt,
            self._n_components,
            alpha=self._dictionary_l1_alpha(),
            max_iter=self.dict_max_iter,
            batch_size=min(256, Xt.shape[0]),
            seed=torch_seed(self.random_state),
            progress=self._progress(),
        )
        C = C.cpu().double().numpy()
        return _unit_norm_atoms(C, torch_seed(self.random_state))

    def _make_module(self, C, step):
        p, m = C.shape
        module = UnfoldedEncoder(m, p, n_stages=self.n_stages, kind=self._kind,
                                 tied=self.tied_stages,
                                 **self._module_kwargs())
        module.init_from_dictionary(C, step, **self._init_kwargs(step))
        return module

    def _module_kwargs(self):
        return {}

    # ------------------------------------------------------------ transform
    def transform(self, X):
        """Encode ``X`` by the route the encoder runs (``route_``, or ``route`` if set).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
            Sparse codes, in X's float dtype (float32 or float64; others → float64).
        """
        check_is_fitted(self, "components_")
        X = validate_data(self, X, reset=False, dtype=_FLOAT_DTYPES,
                          ensure_all_finite=False)  # each route checks as it reads
        return self._transform_route().encode(X, X.dtype)

    def inverse_transform(self, X):
        """Map codes back to data space: ``codes @ components_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. the output of :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self, "components_")
        codes = check_array(X, dtype=_FLOAT_DTYPES, input_name="codes")
        if codes.shape[1] != self.components_.shape[0]:
            raise ValueError(
                f"codes have {codes.shape[1]} columns but the encoder has "
                f"{self.components_.shape[0]} components"
            )
        return codes @ self.components_.astype(codes.dtype, copy=False)

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = False
        return tags

    def _progress(self):
        return bool(self.verbose)


def _thresholds(encoder):
    """θ of the fitted net, in the dtype of ``components_`` (``thresholds_``)."""
    check_is_fitted(encoder, "components_")
    if not hasattr(encoder, "net_"):
        raise AttributeError(
            f"thresholds_: route_={encoder.route_!r} runs no network, so none was trained; "
            "fit with route='pursuit' or 'network' to have one"
        )
    theta = encoder.net_.module_.theta.detach().clamp_min(0).cpu().numpy()
    return theta.astype(encoder.components_.dtype)


def _unit_norm_atoms(C, seed):
    """Rows scaled to unit norm; a zero row becomes a random unit atom."""
    C = np.array(C, dtype=np.float64)
    norms = np.linalg.norm(C, axis=1)
    dead = norms < 1e-12
    if dead.any():
        rng = np.random.default_rng(seed)
        C[dead] = rng.standard_normal((int(dead.sum()), C.shape[1]))
        norms[dead] = np.linalg.norm(C[dead], axis=1)
    return C / norms[:, None]



class L0Encoder(_BaseUnfoldedEncoder):
    """Deep ℓ0-Regularized Encoder: a learned feed-forward approximation of ℓ0 codes.

    Approximates the solution of ``min_a ½‖x − Da‖² + α‖a‖₀`` (eq. 1 of Wang, Ling and
    Huang, 2016) with ``n_stages`` unfolded IHT iterations ``z₁ = h_θ(Wx)``,
    ``z_{k+1} = h_θ(Wx + S z_k)``, where ``h_θ(u) = θ·HELU(u/θ)`` is a hard threshold with
    a learned threshold per component. ``fit`` learns a unit-norm dictionary (or takes
    ``dictionary``), computes the "optimal codes" (FISTA on the ℓ1 problem, then IHT
    to convergence), initialises ``W = μDᵀ``, ``S = I − μDᵀD``, ``θ = √(2αμ)`` and trains
    the net as a regressor to those codes (mean squared error) with HELU_σ in place of
    HELU. ``transform`` runs the net (a few matrix products) and then, by default, a greedy
    pursuit over the atoms the net ranks first (``pursuit``), whose codes reach those of
    the converged solver.

    Thresholds: skl0's objective has the ½, so an IHT step μ thresholds at ``√(2αμ)``;
    the paper's ``λ^0.5`` is that rule without the ½ and with μ = 1, so the paper's
    "λ = 0.5" is ``alpha=0.25`` here.

    Parameters
    ----------
    n_components : int or None, default=None
        p, the number of atoms. ``None``: the rows of ``dictionary`` if given, else
        ``n_features``.
    alpha : float, default=0.25
        λ, the ℓ0 weight (assumes standardised data, as in the paper).
    n_stages : int, default=2
        K, the number of unfolded stages.
    tied_stages : bool, default=True
        Share S and the thresholds across the stages, as in the paper. ``False`` learns one
        S per stage (and one θ per stage where there is one); the untrained net is the same.
    l1_stages : int, default=0
        L, how many of the first stages use the soft threshold ``sign(u)·max(|u| − θ, 0)``
        (ISTA stages for the ℓ1 problem with weight ``√(2α)/2``, the start of the optimal
        codes) instead of the hard one; the last ``n_stages − L`` stages stay hard
        thresholds, so ``0 ≤ L < n_stages``. ``0`` is the paper's network. With ``L > 0``
        the net unfolds the paper's own route to the optimal codes — the ℓ1 solution,
        refined by IHT — and the untrained net (``max_epochs=0``) is L ISTA iterations
        from zero followed by ``n_stages − L`` IHT iterations; every stage has its own θ.
        Not in the paper: it fits those targets better at large ``n_components`` (see
        the documentation's Results page).
    dictionary : array-like of shape (n_components, n_features) or None, default=None
        A fixed dictionary (rows are atoms), used as given.
    sigma : float in [0, 1], default=0.2
        Initial σ of HELU_σ during training.
    sigma_decay : float ≥ 1, default=1.0
        σ is divided by this after every epoch. The paper divides by 10; holding σ (1.0)
        trained better (the History page of the documentation).
    route : {"auto", "ols", "pursuit", "network"}, default="auto"
        What ``transform`` runs. ``"ols"``: greedy orthogonal least squares over every
        atom (SPAMS' ``omp`` with ``lambda1=alpha``: adds the atom that lowers the
        objective most while one lowers ``½‖x − Da‖²`` by more than α; least-squares
        coefficients), no network. ``"pursuit"``: the trained network ranks the atoms
        (its last stage's input ``u_K``), the same least squares runs over its
        ``n_candidates`` best-ranked atoms, then ``pursuit_rounds`` rounds that swap in the
        atoms most correlated with the residual, a sample keeping its new code only where
        its objective is lower. ``"network"``: the network's own codes, the paper's
        encoder (``max_epochs=0`` then gives exactly ``n_stages`` IHT iterations).
        ``"auto"``: ``fit`` times the routes on held-out training rows (a tenth, at most
        1,000) and keeps the fastest whose mean objective is within ``route_tol`` of the
        best (``route_``); the network is trained only if its candidates could be the
        fastest (the untrained network and one candidate pass beat ``"ols"``), and the
        network alone, far from the solvers' quality, is weighed only then. The
        network is always trained when it is asked for, when a wrapper
        (:class:`~skl0.L0Classifier`, :class:`~skl0.L0Clusterer`) fine-tunes it, or in
        :meth:`partial_fit`. The documentation's user guide says when each route wins.
    route_tol : float ≥ 0, default=0.02
        The relative excess of mean objective over the best route's that ``"auto"``
        accepts for a faster route.
    n_candidates : int or None, default=None
        Atoms per sample the ``"pursuit"`` route chooses from in each round (at most
        ``n_components``), and so the most nonzeros a code has on that route. ``None``:
        four times the 95th percentile of the number of nonzeros of the training targets
        (of the network's codes of the training samples when ``max_epochs=0``), at least
        8.
    pursuit_rounds : int, default=3
        Refresh rounds of the ``"pursuit"`` route after its first pass (``0``: one pass
        over the network's candidates). Each round runs only on the samples the previous
        one improved.

    max_epochs : int, default=100
        Training epochs of the unfolded net. ``0`` gives the untrained net initialised
        from the dictionary, which is exactly ``n_stages`` solver iterations from zero.
    batch_size : int, default=128
        Mini-batch size of training.
    lr : float, default=1e-3
        Learning rate.
    optimizer : {"adam", "sgd", "adamw", "rmsprop"} or torch.optim.Optimizer class, \
default="adam"
        The paper used plain SGD at 0.01, which can diverge on MNIST for the ℓ0 encoder
        (the History page of the documentation); Adam is the default.
    lr_decay : float in (0, 1], default=0.98
        Per-epoch multiplicative decay of the learning rate (``ExponentialLR``).
    solver_max_iter : int, default=1000
        Iteration cap of the solver that computes the training targets.
    dict_max_iter : int, default=10
        Maximum epochs of online dictionary learning when no ``dictionary`` is given
        (the algorithm of :class:`~sklearn.decomposition.MiniBatchDictionaryLearning`, with
        its early stopping, run on ``device`` with batched FISTA codes; atoms then scaled to
        unit norm).
    train_split : float in (0, 1), callable or None, default=None
        Validation split of the training samples, as skorch's ``train_split``: a fraction
        holds out that share of the samples at random (a ``skorch.dataset.ValidSplit``
        seeded by ``random_state``); a callable (e.g. a ``ValidSplit``) is used as is;
        ``None`` trains on everything. The held-out samples still shape the dictionary
        and get their optimal codes; the net does not train on them, and
        ``history_[:, "valid_loss"]`` is the mean squared error of its codes to theirs,
        computed as the net computes codes in ``transform`` (exact HELU / max-M; before
        any pursuit).
    patience : int or None, default=None
        Early stopping (skorch's ``EarlyStopping``): stop when the monitored loss —
        ``valid_loss`` with a ``train_split``, else ``train_loss`` — has not improved for
        ``patience`` epochs, and keep the weights of its best epoch (also when
        ``max_epochs`` ends the training first). ``None``: off.
    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    random_state : int, RandomState instance or None, default=None
        Seeds dictionary learning, the validation split (``train_split``) and the
        shuffling of training batches.
    verbose : int, default=0
        ``1`` prints skorch's epoch table and a progress bar for the solver.

    Attributes
    ----------
    thresholds_ : ndarray of shape (n_components,) or (n_stages, n_components)
        θ, the learned thresholds (``√(2αμ)`` before training, ``μ√(2α)/2`` in ℓ1 stages);
        one row per stage when untied or ``l1_stages > 0``.
    route_ : {"ols", "pursuit", "network"}
        The route ``transform`` runs (unless ``route`` is set to another one after fit).
    route_report_ : dict
        With ``route="auto"``: for each route timed at fit, ``{"seconds_per_row",
        "objective", "nonzeros_p95"}`` on the held-out training rows (the routes that run
        the network only when it was trained).
    n_candidates_ : int
        The ``"pursuit"`` route's candidates per sample (where the network was trained).
    components_ : ndarray of shape (n_components, n_features)
        The dictionary (rows are atoms): the given one, or the learned unit-norm atoms.
    step_ : float
        The solver step ``μ = 1/‖D‖₂²`` used for the targets and the initialisation.
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_`` is the :class:`~skl0._layers.UnfoldedEncoder`.
        Absent when the route runs no network (see ``route``).
    history_ : skorch.History
        The training history of the last fit (empty when ``max_epochs=0``; absent with
        ``net_``).
    fit_times_ : dict
        Wall-clock seconds of the phases of the last fit: ``"dictionary"`` (learning it;
        ~0 when given), ``"targets"`` (the optimal / lasso codes), ``"training"`` (0 when
        no network was trained) and, with ``route``, ``"routes"`` (timing them).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    MSparseEncoder : The M-sparse form.
    LISTAEncoder : The ℓ1 baseline (LISTA).
    skl0.sparse_encode : The converged solver whose codes this encoder learns.
    sklearn.decomposition.SparseCoder : Sparse coding by OMP, LARS or Lasso on a fixed
        dictionary.

    Examples
    --------
    >>> import numpy as np
    >>> from skl0 import L0Encoder
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 16))
    >>> enc = L0Encoder(n_components=32, alpha=0.1, max_epochs=5, random_state=0).fit(X)
    >>> enc.transform(X).shape
    (200, 32)
    """

    _kind = "l0"
    _parameter_constraints: dict = {
        **_COMMON_CONSTRAINTS,
        "alpha": [Interval(Real, 0, None, closed="left")],
        "sigma": [Interval(Real, 0, 1, closed="both")],
        "sigma_decay": [Interval(Real, 1, None, closed="left")],
        "l1_stages": [Interval(Integral, 0, None, closed="left")],
        **_ROUTE_CONSTRAINTS,
    }

    def __init__(self, n_components=None, *, alpha=0.25, n_stages=2, tied_stages=True,
                 l1_stages=0, dictionary=None, route="auto", route_tol=0.02,
                 n_candidates=None, pursuit_rounds=3,
                 max_epochs=100, batch_size=128, lr=1e-3, optimizer="adam", lr_decay=0.98,
                 sigma=0.2, sigma_decay=1.0, solver_max_iter=1000, dict_max_iter=10,
                 train_split=None, patience=None, device="auto", random_state=None, verbose=0):
        self.n_components = n_components
        self.alpha = alpha
        self.n_stages = n_stages
        self.tied_stages = tied_stages
        self.l1_stages = l1_stages
        self.dictionary = dictionary
        self.route = route
        self.route_tol = route_tol
        self.n_candidates = n_candidates
        self.pursuit_rounds = pursuit_rounds
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.lr_decay = lr_decay
        self.sigma = sigma
        self.sigma_decay = sigma_decay
        self.solver_max_iter = solver_max_iter
        self.dict_max_iter = dict_max_iter
        self.train_split = train_split
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_params_vs_data(self, X):
        super()._check_params_vs_data(X)
        self._fit_alpha = self.alpha
        if self.l1_stages >= self.n_stages:
            raise ValueError(
                f"l1_stages={self.l1_stages} must be less than n_stages={self.n_stages}: "
                "the last stage is the hard threshold"
            )
        if self.alpha == 0:
            import warnings

            warnings.warn(
                "alpha=0 puts no weight on the number of nonzero coefficients: the codes "
                "are dense (least squares on the whole dictionary). Use alpha > 0 for sparse "
                "codes, or MSparseEncoder for a fixed number of nonzeros.",
                UserWarning,
                stacklevel=3,
            )

    @property
    def thresholds_(self):
        """θ of the trained net (read from it, so fine-tuning by a wrapper shows)."""
        return _thresholds(self)

    def _dictionary_l1_alpha(self):
        return l1_start_weight(self.alpha)

    def _module_kwargs(self):
        return {"l1_stages": self.l1_stages}

    def _init_kwargs(self, step):
        kwargs = {"threshold": l0_threshold(self.alpha, step)}
        if self.l1_stages:
            # ISTA's threshold μλ₁ for λ₁ the l1 weight of the optimal codes' start
            kwargs["l1_threshold"] = step * l1_start_weight(self.alpha)
        return kwargs

    def _targets(self, X, C):
        return optimal_codes(X, C, self._problem(), max_iter=self.solver_max_iter,
                             progress=self._progress())

    def _set_candidates(self, X32, codes):
        p = self.components_.shape[0]
        if self.n_candidates is not None:
            self.n_candidates_ = min(int(self.n_candidates), p)
            return
        if codes is None:
            codes = NetworkRoute(self.net_.module_).encode(X32, np.float32)
        support = np.count_nonzero(codes, axis=1)
        typical = int(np.ceil(np.quantile(support, 0.95))) if len(support) else 1
        self.n_candidates_ = int(min(p, max(4 * typical, 8)))

    def _default_candidates(self, ols=None):
        if hasattr(self, "n_candidates_"):
            return self.n_candidates_
        typical = 1 if ols is None else int(np.ceil(ols["nonzeros_p95"]))
        return int(min(self.components_.shape[0], max(4 * typical, 8)))

    def _problem(self, route=None):
        if route not in (None, "ols") and self._fit_alpha != self.alpha:
            raise ValueError(
                f"alpha={self.alpha} was set after fit, whose network was trained for "
                f"alpha={self._fit_alpha}; the network's thresholds need a refit (or use "
                "route='ols', which reads alpha as it runs)"
            )
        return L0Problem(float(self.alpha))


class MSparseEncoder(_BaseUnfoldedEncoder):
    """Deep M-Sparse Encoder: a learned feed-forward approximation of M-sparse codes.

    Approximates ``min_a ‖x − Da‖²  s.t. ‖a‖₀ ≤ M`` (eq. 2 of Wang, Ling and Huang, 2016)
    with ``n_stages`` unfolded IHT iterations whose nonlinearity is max-M pooling and
    unpooling (keep the M entries of largest magnitude). ``fit`` learns a unit-norm
    dictionary (or takes ``dictionary``), computes the optimal M-sparse codes (FISTA,
    then IHT to convergence), initialises ``W = μDᵀ``, ``S = I − μDᵀD`` and trains the
    net as a regressor to those codes. ``transform`` runs the net and then, by default, a
    greedy pursuit over the atoms the net ranks first (``pursuit``), whose codes reach
    OMP's. Every code has at most M nonzeros.

    Parameters
    ----------
    n_components : int or None, default=None
        p, the number of atoms. ``None``: the rows of ``dictionary`` if given, else
        ``n_features``.
    n_nonzero_coefs : int or None, default=None
        M. ``None`` means 10 % of ``n_components`` (at least 1), as sklearn's OMP does
        with features. Must not exceed ``n_components``.
    n_stages : int, default=2
        K, the number of unfolded stages.
    tied_stages : bool, default=True
        Share S and the thresholds across the stages, as in the paper. ``False`` learns one
        S per stage (and one θ per stage where there is one); the untrained net is the same.
    dictionary : array-like of shape (n_components, n_features) or None, default=None
        A fixed dictionary (rows are atoms), used as given.
    route : {"auto", "ols", "pursuit", "network"}, default="auto"
        What ``transform`` runs. ``"ols"``: greedy orthogonal least squares over every
        atom (SPAMS' ``omp`` with ``L=M``: adds, M times, the atom that lowers
        ``‖x − Da‖²`` the most; least-squares coefficients), no network.
        ``"pursuit"``: the trained network ranks the atoms (its last stage's input
        ``u_K``), the same least squares runs over its
        ``n_candidates`` best-ranked atoms, then ``pursuit_rounds`` rounds that swap in the
        atoms most correlated with the residual, a sample keeping its new code only where
        its objective is lower. ``"network"``: the network's own codes, the paper's
        encoder (``max_epochs=0`` then gives exactly ``n_stages`` IHT iterations).
        ``"auto"``: ``fit`` times the routes on held-out training rows (a tenth, at most
        1,000) and keeps the fastest whose mean objective is within ``route_tol`` of the
        best (``route_``); the network is trained only if its candidates could be the
        fastest (the untrained network and one candidate pass beat ``"ols"``), and the
        network alone, far from the solvers' quality, is weighed only then. The
        network is always trained when it is asked for, when a wrapper
        (:class:`~skl0.L0Classifier`, :class:`~skl0.L0Clusterer`) fine-tunes it, or in
        :meth:`partial_fit`. The documentation's user guide says when each route wins.
    route_tol : float ≥ 0, default=0.02
        The relative excess of mean objective over the best route's that ``"auto"``
        accepts for a faster route.
    n_candidates : int or None, default=None
        Atoms per sample the ``"pursuit"`` route chooses from in each round (at most
        ``n_components``; at least M). ``None``: 2M.
    pursuit_rounds : int, default=3
        Refresh rounds of the ``"pursuit"`` route after its first pass (``0``: one pass
        over the network's candidates). Each round runs only on the samples the previous
        one improved.

    network_loss : {"codes", "residual"}, default="codes"
        What the network trains on. ``"codes"``: the mean squared error to the optimal
        M-sparse codes ``fit`` computes (the paper's regression). ``"residual"``: the
        problem's own objective, the mean squared residual ``‖x − z D‖²`` of the network's
        codes ``z`` through max-M pooling (the dictionary fixed): no optimal codes are
        computed, and the network alone comes closer to the solvers' residual, but its
        ranking serves the ``"pursuit"`` route less well and a classifier fine-tuned from
        it scored a little lower (the documentation's History page). Given ``codes``
        are trained on whatever this says.

    max_epochs : int, default=100
        Training epochs of the unfolded net. ``0`` gives the untrained net initialised
        from the dictionary, which is exactly ``n_stages`` solver iterations from zero.
    batch_size : int, default=128
        Mini-batch size of training.
    lr : float, default=1e-3
        Learning rate.
    optimizer : {"adam", "sgd", "adamw", "rmsprop"} or torch.optim.Optimizer class, \
default="adam"
        The paper used plain SGD at 0.01, which can diverge on MNIST for the ℓ0 encoder
        (the History page of the documentation); Adam is the default.
    lr_decay : float in (0, 1], default=0.98
        Per-epoch multiplicative decay of the learning rate (``ExponentialLR``).
    solver_max_iter : int, default=1000
        Iteration cap of the solver that computes the training targets.
    dict_max_iter : int, default=10
        Maximum epochs of online dictionary learning when no ``dictionary`` is given
        (the algorithm of :class:`~sklearn.decomposition.MiniBatchDictionaryLearning`, with
        its early stopping, run on ``device`` with batched FISTA codes; atoms then scaled to
        unit norm).
    train_split : float in (0, 1), callable or None, default=None
        Validation split of the training samples, as skorch's ``train_split``: a fraction
        holds out that share of the samples at random (a ``skorch.dataset.ValidSplit``
        seeded by ``random_state``); a callable (e.g. a ``ValidSplit``) is used as is;
        ``None`` trains on everything. The held-out samples still shape the dictionary
        and get their optimal codes; the net does not train on them, and
        ``history_[:, "valid_loss"]`` is the mean squared error of its codes to theirs,
        computed as the net computes codes in ``transform`` (exact HELU / max-M; before
        any pursuit).
    patience : int or None, default=None
        Early stopping (skorch's ``EarlyStopping``): stop when the monitored loss —
        ``valid_loss`` with a ``train_split``, else ``train_loss`` — has not improved for
        ``patience`` epochs, and keep the weights of its best epoch (also when
        ``max_epochs`` ends the training first). ``None``: off.
    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    random_state : int, RandomState instance or None, default=None
        Seeds dictionary learning, the validation split (``train_split``) and the
        shuffling of training batches.
    verbose : int, default=0
        ``1`` prints skorch's epoch table and a progress bar for the solver.

    Attributes
    ----------
    n_nonzero_coefs_ : int
        The M in use.
    route_ : {"ols", "pursuit", "network"}
        The route ``transform`` runs (unless ``route`` is set to another one after fit).
    route_report_ : dict
        With ``route="auto"``: for each route timed at fit, ``{"seconds_per_row",
        "objective", "nonzeros_p95"}`` on the held-out training rows (the routes that run
        the network only when it was trained).
    n_candidates_ : int
        The ``"pursuit"`` route's candidates per sample (where the network was trained).
    components_ : ndarray of shape (n_components, n_features)
        The dictionary (rows are atoms): the given one, or the learned unit-norm atoms.
    step_ : float
        The solver step ``μ = 1/‖D‖₂²`` used for the targets and the initialisation.
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_`` is the :class:`~skl0._layers.UnfoldedEncoder`.
        Absent when the route runs no network (see ``route``).
    history_ : skorch.History
        The training history of the last fit (empty when ``max_epochs=0``; absent with
        ``net_``).
    fit_times_ : dict
        Wall-clock seconds of the phases of the last fit: ``"dictionary"`` (learning it;
        ~0 when given), ``"targets"`` (the optimal / lasso codes), ``"training"`` (0 when
        no network was trained) and, with ``route``, ``"routes"`` (timing them).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    L0Encoder : The ℓ0-regularised form.
    LISTAEncoder : The ℓ1 baseline (LISTA).
    sklearn.linear_model.OrthogonalMatchingPursuit : OMP, the greedy solver of the same
        problem.
    sklearn.decomposition.SparseCoder : Sparse coding by OMP on a fixed dictionary.

    Examples
    --------
    >>> import numpy as np
    >>> from skl0 import MSparseEncoder
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 16))
    >>> enc = MSparseEncoder(32, n_nonzero_coefs=4, max_epochs=5, random_state=0).fit(X)
    >>> int(np.count_nonzero(enc.transform(X), axis=1).max())
    4
    """

    _kind = "msparse"
    _parameter_constraints: dict = {
        **_COMMON_CONSTRAINTS,
        "n_nonzero_coefs": [Interval(Integral, 1, None, closed="left"), None],
        **_ROUTE_CONSTRAINTS,
        "network_loss": [StrOptions({"residual", "codes"})],
    }

    def __init__(self, n_components=None, *, n_nonzero_coefs=None, n_stages=2, tied_stages=True,
                 dictionary=None, route="auto", route_tol=0.02, n_candidates=None,
                 pursuit_rounds=3, network_loss="codes",
                 max_epochs=100, batch_size=128, lr=1e-3, optimizer="adam", lr_decay=0.98,
                 solver_max_iter=1000, dict_max_iter=10, train_split=None, patience=None,
                 device="auto", random_state=None, verbose=0):
        self.n_components = n_components
        self.n_nonzero_coefs = n_nonzero_coefs
        self.n_stages = n_stages
        self.tied_stages = tied_stages
        self.dictionary = dictionary
        self.route = route
        self.route_tol = route_tol
        self.n_candidates = n_candidates
        self.pursuit_rounds = pursuit_rounds
        self.network_loss = network_loss
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.lr_decay = lr_decay
        self.solver_max_iter = solver_max_iter
        self.dict_max_iter = dict_max_iter
        self.train_split = train_split
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_params_vs_data(self, X):
        super()._check_params_vs_data(X)
        p = self._n_components
        if self.n_nonzero_coefs is None:
            self.n_nonzero_coefs_ = max(int(0.1 * p), 1)
        elif self.n_nonzero_coefs > p:
            raise ValueError(
                f"n_nonzero_coefs={self.n_nonzero_coefs} must not exceed n_components={p}"
            )
        else:
            self.n_nonzero_coefs_ = int(self.n_nonzero_coefs)

    def _dictionary_l1_alpha(self):
        return l1_start_weight(0.25)  # that of L0Encoder's default alpha

    def _init_kwargs(self, step):
        return {}  # max-M pooling has no threshold

    def _module_kwargs(self):
        return {"n_nonzero_coefs": self.n_nonzero_coefs_}

    def _targets(self, X, C):
        return optimal_codes(X, C, self._problem(), max_iter=self.solver_max_iter,
                             progress=self._progress())

    def _set_candidates(self, X32, codes):
        self.n_candidates_ = self._default_candidates()

    def _default_candidates(self, ols=None):
        M, p = self.n_nonzero_coefs_, self.components_.shape[0]
        wanted = 2 * M if self.n_candidates is None else self.n_candidates
        return int(min(max(wanted, M), p))

    def _problem(self, route=None):
        p = self.components_.shape[0]
        M = self.n_nonzero_coefs_ if self.n_nonzero_coefs is None else self.n_nonzero_coefs
        if M > p:
            raise ValueError(f"n_nonzero_coefs={M} must not exceed n_components={p}")
        if route not in (None, "ols") and M != self.n_nonzero_coefs_:
            raise ValueError(
                f"n_nonzero_coefs={M} was set after fit, whose network pools "
                f"{self.n_nonzero_coefs_} entries; the network needs a refit (or use "
                "route='ols', which reads n_nonzero_coefs as it runs)"
            )
        return MSparseProblem(int(M))


class LISTAEncoder(_BaseUnfoldedEncoder):
    """LISTA (Gregor and LeCun, 2010): the ℓ1 baseline of the paper, as a transformer.

    Approximates the lasso codes ``min_a ½‖x − Da‖² + α‖a‖₁`` (eq. 3) with ``n_stages``
    unfolded ISTA iterations ``z_{k+1} = s_θ(Wx + S z_k)`` with soft thresholds θ.
    ``fit`` learns a unit-norm dictionary (or takes ``dictionary``), computes the lasso
    codes with FISTA, initialises ``W = μDᵀ``, ``S = I − μDᵀD``, ``θ = μα`` and trains the
    net as a regressor to those codes. The paper's "tuned LISTA" classifier is
    ``L0Classifier(LISTAEncoder())``.

    Parameters
    ----------
    n_components : int or None, default=None
        p, the number of atoms. ``None``: the rows of ``dictionary`` if given, else
        ``n_features``.
    alpha : float, default=0.35
        The ℓ1 weight (≈ half the unit-step hard threshold of ``L0Encoder(alpha=0.25)``).
    n_stages : int, default=2
        K, the number of unfolded stages.
    tied_stages : bool, default=True
        Share S and the thresholds across the stages, as in the paper. ``False`` learns one
        S per stage (and one θ per stage where there is one); the untrained net is the same.
    dictionary : array-like of shape (n_components, n_features) or None, default=None
        A fixed dictionary (rows are atoms), used as given.

    max_epochs : int, default=100
        Training epochs of the unfolded net. ``0`` gives the untrained net initialised
        from the dictionary, which is exactly ``n_stages`` solver iterations from zero.
    batch_size : int, default=128
        Mini-batch size of training.
    lr : float, default=1e-3
        Learning rate.
    optimizer : {"adam", "sgd", "adamw", "rmsprop"} or torch.optim.Optimizer class, \
default="adam"
        The paper used plain SGD at 0.01, which can diverge on MNIST for the ℓ0 encoder
        (the History page of the documentation); Adam is the default.
    lr_decay : float in (0, 1], default=0.98
        Per-epoch multiplicative decay of the learning rate (``ExponentialLR``).
    solver_max_iter : int, default=1000
        Iteration cap of the solver that computes the training targets.
    dict_max_iter : int, default=10
        Maximum epochs of online dictionary learning when no ``dictionary`` is given
        (the algorithm of :class:`~sklearn.decomposition.MiniBatchDictionaryLearning`, with
        its early stopping, run on ``device`` with batched FISTA codes; atoms then scaled to
        unit norm).
    train_split : float in (0, 1), callable or None, default=None
        Validation split of the training samples, as skorch's ``train_split``: a fraction
        holds out that share of the samples at random (a ``skorch.dataset.ValidSplit``
        seeded by ``random_state``); a callable (e.g. a ``ValidSplit``) is used as is;
        ``None`` trains on everything. The held-out samples still shape the dictionary
        and get their optimal codes; the net does not train on them, and
        ``history_[:, "valid_loss"]`` is the mean squared error of its codes to theirs,
        computed as the net computes codes in ``transform`` (exact HELU / max-M; before
        any pursuit).
    patience : int or None, default=None
        Early stopping (skorch's ``EarlyStopping``): stop when the monitored loss —
        ``valid_loss`` with a ``train_split``, else ``train_loss`` — has not improved for
        ``patience`` epochs, and keep the weights of its best epoch (also when
        ``max_epochs`` ends the training first). ``None``: off.
    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    random_state : int, RandomState instance or None, default=None
        Seeds dictionary learning, the validation split (``train_split``) and the
        shuffling of training batches.
    verbose : int, default=0
        ``1`` prints skorch's epoch table and a progress bar for the solver.

    Attributes
    ----------
    thresholds_ : ndarray of shape (n_components,) or (n_stages, n_components)
        θ, the learned soft thresholds (``μα`` before training); one row per stage when
        ``tied_stages=False``.
    components_ : ndarray of shape (n_components, n_features)
        The dictionary (rows are atoms): the given one, or the learned unit-norm atoms.
    step_ : float
        The solver step ``μ = 1/‖D‖₂²`` used for the targets and the initialisation.
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_`` is the :class:`~skl0._layers.UnfoldedEncoder`.
        Absent when the route runs no network (see ``route``).
    history_ : skorch.History
        The training history of the last fit (empty when ``max_epochs=0``; absent with
        ``net_``).
    fit_times_ : dict
        Wall-clock seconds of the phases of the last fit: ``"dictionary"`` (learning it;
        ~0 when given), ``"targets"`` (the optimal / lasso codes), ``"training"`` (0 when
        no network was trained) and, with ``route``, ``"routes"`` (timing them).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    L0Encoder : The ℓ0-regularised deep encoder.
    MSparseEncoder : The M-sparse deep encoder.
    sklearn.decomposition.SparseCoder : Lasso codes by coordinate descent or LARS.

    Examples
    --------
    >>> import numpy as np
    >>> from skl0 import LISTAEncoder
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 16))
    >>> LISTAEncoder(32, max_epochs=5, random_state=0).fit_transform(X).shape
    (200, 32)
    """

    _kind = "lista"
    _parameter_constraints: dict = {
        **_COMMON_CONSTRAINTS,
        "alpha": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, n_components=None, *, alpha=0.35, n_stages=2, tied_stages=True,
                 dictionary=None,
                 max_epochs=100, batch_size=128, lr=1e-3, optimizer="adam", lr_decay=0.98,
                 solver_max_iter=1000, dict_max_iter=10, train_split=None, patience=None,
                 device="auto", random_state=None, verbose=0):
        self.n_components = n_components
        self.alpha = alpha
        self.n_stages = n_stages
        self.tied_stages = tied_stages
        self.dictionary = dictionary
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.lr_decay = lr_decay
        self.solver_max_iter = solver_max_iter
        self.dict_max_iter = dict_max_iter
        self.train_split = train_split
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    @property
    def thresholds_(self):
        """θ of the trained net (read from it, so fine-tuning by a wrapper shows)."""
        return _thresholds(self)

    def _dictionary_l1_alpha(self):
        return float(self.alpha)

    def _problem(self, route=None):
        return L1Problem(float(self.alpha))

    def _init_kwargs(self, step):
        return {"threshold": step * self.alpha}  # ISTA's μα

    def _targets(self, X, C):
        return fista(X, C, self._problem(), n_iter=self.solver_max_iter)[0]
