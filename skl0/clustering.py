"""Task-driven clustering: softmax confidences on deep ℓ0 codes, trained end to end."""

from __future__ import annotations

import time
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.special import log_softmax, softmax
from sklearn.base import ClusterMixin, _fit_context
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.manifold import spectral_embedding
from sklearn.neighbors import NearestNeighbors
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._constraints import _FLOAT_DTYPES
from ._inference import batched_forward
from ._layers import ClusteringLoss
from ._skorch import resolve_optimizer
from ._task import _WRAPPER_CONSTRAINTS, _TaskDrivenBase
from ._utils import as_float32, fit_guard, resolve_device, torch_seed
from .encoders import L0Encoder

_SMOOTHING = 0.1  # label smoothing of the targets q


def _centroid_head(codes, labels, n_clusters):
    """``(ω, b)`` whose softmax ranks clusters as the nearest centroid of ``labels`` does.

    ``ω_j = 2 c_j / T``, ``b_j = −‖c_j‖² / T`` with ``c_j`` the mean code of cluster ``j``:
    then ``ωⱼᵀa + b_j = (‖a‖² − ‖a − c_j‖²) / T``, the same ordering as the distances.
    ``T`` is the mean squared distance of a code to its centroid (1 when that is 0), so
    the initial confidences are neither flat nor saturated. An empty cluster gets the
    mean code and a bias far below the others.
    """
    centers = np.tile(codes.mean(axis=0), (n_clusters, 1))
    counts = np.bincount(labels, minlength=n_clusters)
    for j in np.flatnonzero(counts):
        centers[j] = codes[labels == j].mean(axis=0)
    temperature = np.mean(np.sum((codes - centers[labels]) ** 2, axis=1))
    if not np.isfinite(temperature) or temperature <= 1e-12:
        temperature = 1.0
    bias = -np.sum(centers**2, axis=1) / temperature
    bias[counts == 0] -= 50.0
    return 2.0 * centers / temperature, bias


def _kmeans(Z, n_clusters, n_init, seed):
    km = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed)
    with warnings.catch_warnings():
        # fewer distinct points than clusters: duplicate centroids, reported by the caller
        warnings.simplefilter("ignore", ConvergenceWarning)
        return km.fit_predict(Z)


def _knn_graph(Z, n_neighbors):
    """Symmetric k-nearest-neighbour graph of the rows of ``Z``, Euclidean distances, weighted
    ``w_ij = exp(−d_ij² / (σ_i σ_j))`` with ``σ_i`` the distance of ``i`` to its 7th neighbour
    (the local scale of Zelnik-Manor and Perona, 2004); ``W = (G + Gᵀ)/2``."""
    n_samples = Z.shape[0]
    dist, ind = NearestNeighbors(n_neighbors=n_neighbors + 1).fit(Z).kneighbors(Z)
    dist, ind = dist[:, 1:], ind[:, 1:]  # drop each sample itself
    scale = dist[:, min(7, n_neighbors) - 1]
    positive = scale[scale > 0]
    scale = np.where(scale > 0, scale, positive.mean() if positive.size else 1.0)
    weights = np.exp(-(dist**2) / (scale[:, None] * scale[ind]))
    rows = np.repeat(np.arange(n_samples), n_neighbors)
    graph = sp.csr_matrix((np.maximum(weights, 1e-8).ravel(), (rows, ind.ravel())),
                          shape=(n_samples, n_samples))
    return 0.5 * (graph + graph.T)


def _spectral_partition(X, n_clusters, n_neighbors, n_init, seed):
    """Labels of the spectral clustering of the k-nearest-neighbour graph of ``X``.

    ``X`` is projected on its first ``min(50, n_features, n_samples)`` principal
    components, each sample linked to its ``n_neighbors`` nearest neighbours (Euclidean
    distance, :func:`_knn_graph`), the graph embedded by the ``n_clusters`` leading
    eigenvectors of its normalised Laplacian (:func:`~sklearn.manifold.spectral_embedding`),
    the embedding's rows scaled to unit norm, and clustered by k-means with ``n_init``
    starts (Ng, Jordan and Weiss, 2002).
    """
    n_samples = X.shape[0]
    if n_clusters == 1:
        return np.zeros(n_samples, dtype=np.intp)
    if n_clusters >= n_samples - 1:
        return _kmeans(X, n_clusters, n_init, seed)
    Z = PCA(min(50, X.shape[1], n_samples), random_state=seed).fit_transform(X)
    graph = _knn_graph(Z, min(n_neighbors, n_samples - 1))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Graph is not fully connected")
        embedding = spectral_embedding(
            graph, n_components=n_clusters, drop_first=False, random_state=seed,
            eigen_solver="arpack" if n_samples > 5 * n_clusters + 1 else "lobpcg")
    norms = np.linalg.norm(embedding, axis=1, keepdims=True)
    embedding = embedding / np.where(norms > 0, norms, 1.0)
    return _kmeans(embedding, n_clusters, n_init, seed)


class L0Clusterer(ClusterMixin, _TaskDrivenBase):
    """Task-driven clustering on a deep ℓ0 encoder, trained end to end.

    The clustering model of Wang, Ling and Huang (2016): the confidence that a sample
    ``x`` with code ``a = a(x)`` belongs to cluster ``j`` is the softmax (eq. 12)

    ``p_j(x) = exp(ω_jᵀa + b_j) / Σ_l exp(ω_lᵀa + b_l)``,

    and its label is ``argmax_j p_j``. The bias ``b`` is an addition to eq. 12. ``fit``
    runs four steps:

    1. fit a clone of ``encoder`` on ``X`` (its own unsupervised ``fit``), or take a copy
       of a fitted one given as ``FrozenEstimator(encoder)``;
    2. find an initial partition ``t`` of the training samples: with
       ``init="spectral"`` the spectral clustering of the k-nearest-neighbour graph of
       ``X``: ``X`` projected on its first ``min(50, n_features)`` principal components,
       each sample linked to its ``n_neighbors`` nearest neighbours at Euclidean distance
       ``d_ij`` with weight ``exp(−d_ij² / (σ_i σ_j))`` (``σ_i`` the distance of ``i`` to
       its 7th neighbour; Zelnik-Manor and Perona, 2004), the graph symmetrised, its
       ``n_clusters`` leading normalised-Laplacian eigenvectors, rows scaled to unit norm,
       k-means with ``n_init`` starts keeping the lowest inertia (Ng, Jordan and Weiss,
       2002); with ``init="kmeans"`` k-means (``n_init`` starts) on the encoder's frozen
       codes;
    3. set ``ω_j = 2 c_j / T``, ``b_j = −‖c_j‖² / T`` from the mean code ``c_j`` of each
       cluster of ``t`` (the initial ``argmax p_j`` is the nearest centroid; ``T`` is the
       mean squared distance of a code to its centroid);
    4. train the encoder and ``(ω, b)`` together on mini-batches ``B`` with the loss

       ``loss = −(1/|B|) Σ_{i∈B} Σ_j q_ij log p_j(x_i) − balance · H(p̄_B)``,

       ``q_i = 0.9 e_{t_i} + 0.1 / K`` (the initial partition as smoothed one-hot
       targets), ``p̄_B = (1/|B|) Σ_{i∈B} p(x_i)``, ``H(q) = −Σ_j q_j log q_j``: the
       cross-entropy carries the partition into the encoder's code space, and the entropy
       of the mean assignment keeps clusters from collapsing.

    ``labels_`` and ``predict`` are the trained net's ``argmax_j p_j``, so new samples
    are assigned by the same function as the training samples.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters K (at most the number of samples; ``1`` warns).
    encoder : estimator or None, default=None
        An unfitted skl0 encoder; ``None`` means
        ``L0Encoder(n_components=min(n_features, 128))``. It is cloned; its ``device``
        and ``random_state`` are overridden by the clusterer's. Tune it with nested
        names, e.g. ``encoder__n_components``. A fitted encoder wrapped in
        :class:`~sklearn.frozen.FrozenEstimator` is not fitted again: a copy of it starts
        the training, and the given encoder is left as it is.
    init : {"spectral", "kmeans"}, default="spectral"
        The initial partition (step 2 above).
    n_neighbors : int, default=10
        Neighbours of each sample in the graph of ``init="spectral"``.
    n_init : int, default=10
        Starts of the k-means of step 2; the one with the lowest inertia is kept.
    balance : float ≥ 0, default=1.0
        Weight of the balance term.
    max_epochs : int, default=20
        Epochs of end-to-end training (``0``: the nearest-centroid softmax of step 3).
    batch_size : int, default=256
        Mini-batch size; the balance term is estimated on each batch, so a batch should
        hold several samples of every cluster.
    lr : float, default=1e-3
        Learning rate.
    optimizer : {"adam", "sgd", "adamw", "rmsprop"} or torch.optim.Optimizer class, \
default="adam"
        The optimiser of the end-to-end phase.
    lr_decay : float in (0, 1], default=0.98
        Per-epoch multiplicative decay of the learning rate.
    sigma : float in [0, 1], default=0.2
        σ of HELU_σ at the start of training (ℓ0 trunks only).
    sigma_decay : float ≥ 1, default=1.0
        σ is divided by this after each epoch.
    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    random_state : int, RandomState instance or None, default=None
        Seeds the encoder's fit, the initial partition and the shuffling of batches.
    verbose : int, default=0
        ``1`` prints the encoder's progress, a line per step and skorch's epoch table.

    Attributes
    ----------
    encoder_ : estimator
        The fitted, fine-tuned encoder.
    labels_ : ndarray of shape (n_samples,)
        Cluster of each training sample after training (``argmax_j p_j``).
    n_clusters_used_ : int
        Number of distinct clusters in ``labels_`` (a ``ConvergenceWarning`` says when
        it is below ``n_clusters``).
    init_labels_ : ndarray of shape (n_samples,)
        The initial partition ``t`` (step 2).
    net_ : skorch.NeuralNet
        The end-to-end net; ``net_.module_`` is an :class:`~skl0._layers.EncoderHead`.
    history_ : skorch.History
        The history of the end-to-end training.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    Notes
    -----
    The spectral partition uses the input's neighbourhoods, not the codes': it is what
    makes the clusters follow the data's manifold where k-means on the pixels or on the
    codes cuts it with straight boundaries. ``init="kmeans"`` with ``max_epochs=0`` is
    k-means on the frozen codes, as a softmax. Measurements against k-means are in the
    documentation's Results page.

    See Also
    --------
    L0Classifier : The task-driven classifier.
    sklearn.cluster.SpectralClustering : Spectral clustering, without a model for new
        samples.
    sklearn.cluster.KMeans : k-means, e.g. on an encoder's frozen codes.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from skl0 import L0Clusterer, L0Encoder
    >>> from skl0.metrics import clustering_error
    >>> X, y = make_blobs(n_samples=300, centers=3, n_features=8, random_state=0)
    >>> enc = L0Encoder(16, alpha=0.05, max_epochs=0, dict_max_iter=2)  # K IHT steps
    >>> cl = L0Clusterer(3, enc, max_epochs=5, random_state=0).fit(X)
    >>> float(clustering_error(y, cl.labels_))
    0.0
    >>> cl.n_clusters_used_
    3
    >>> bool(0 < cl.score(X) <= np.log(3))  # mutual information, in nats
    True
    """

    _parameter_constraints: dict = {
        **_WRAPPER_CONSTRAINTS,
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"spectral", "kmeans"})],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "balance": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, n_clusters=8, encoder=None, *, init="spectral", n_neighbors=10,
                 n_init=10, balance=1.0, max_epochs=20, batch_size=256, lr=1e-3,
                 optimizer="adam", lr_decay=0.98, sigma=0.2, sigma_decay=1.0,
                 device="auto", random_state=None, verbose=0):
        self.n_clusters = n_clusters
        self.encoder = encoder
        self.init = init
        self.n_neighbors = n_neighbors
        self.n_init = n_init
        self.balance = balance
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.lr_decay = lr_decay
        self.sigma = sigma
        self.sigma_decay = sigma_decay
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _default_encoder(self, X):
        return L0Encoder(n_components=min(X.shape[1], 128))

    def _say(self, message, clock):
        if self.verbose:
            print(f"[L0Clusterer] {message} ({time.perf_counter() - clock:.1f} s)", flush=True)

    @fit_guard
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the encoder, find the initial partition, initialise ω, train end to end.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, dense, with at least ``n_clusters`` (and 2) samples.
        y : Ignored
            Present for API consistency.

        Returns
        -------
        self : object
            The fitted clusterer.
        """
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, ensure_min_samples=2)
        if self.n_clusters > X.shape[0]:
            raise ValueError(
                f"n_clusters={self.n_clusters} must not exceed n_samples={X.shape[0]}"
            )
        if self.n_clusters == 1:
            warnings.warn("n_clusters=1: every sample is put in the one cluster.",
                          UserWarning, stacklevel=2)
        resolve_device(self.device)
        resolve_optimizer(self.optimizer)
        seed = torch_seed(self.random_state) % (2**32)

        clock = time.perf_counter()
        self._start_encoder(X)
        self._say("encoder fitted", clock)
        X32 = as_float32(X)
        codes = self._trunk_codes(X32, check_finite=True)

        clock = time.perf_counter()
        if self.init == "spectral":
            targets = _spectral_partition(X, self.n_clusters, self.n_neighbors, self.n_init,
                                          seed)
        else:
            targets = _kmeans(codes, self.n_clusters, self.n_init, seed)
        self.init_labels_ = targets
        self._say(f"initial partition ({self.init})", clock)
        q = np.full((X32.shape[0], self.n_clusters), _SMOOTHING / self.n_clusters,
                    dtype=np.float32)
        q[np.arange(X32.shape[0]), targets] += 1.0 - _SMOOTHING
        self._train_end_to_end(_centroid_head(codes, targets, self.n_clusters),
                               ClusteringLoss(self.balance), X32, q, seed)
        self.labels_ = np.argmax(self._scores(X), axis=1)
        self.n_clusters_used_ = int(np.unique(self.labels_).size)
        if self.n_clusters_used_ < self.n_clusters:
            warnings.warn(
                f"Only {self.n_clusters_used_} of n_clusters={self.n_clusters} clusters "
                "hold training samples (see n_clusters_used_); the data may have fewer "
                "distinct groups.", ConvergenceWarning, stacklevel=2)
        return self

    def score(self, X, y=None):
        """Mutual information between a sample and its cluster, estimated on ``X``.

        ``score = H(p̄) − (1/n) Σ_i H(p(x_i))`` in nats, with ``p(x)`` the confidences of
        eq. 12, ``p̄`` their mean over ``X`` and ``H(q) = −Σ_j q_j log q_j``: between 0
        and ``log n_clusters``, higher when every sample is confidently assigned and the
        clusters are evenly used (minus the training loss without targets and with
        ``balance=1``). Higher is better, as for :meth:`sklearn.cluster.KMeans.score`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
            Present for API consistency.

        Returns
        -------
        score : float
        """
        logp = log_softmax(self._validated_scores(X), axis=1)
        p = np.exp(logp)
        conditional = -np.mean(np.sum(p * logp, axis=1))
        mean_p = p.mean(axis=0)
        marginal = -np.sum(mean_p * np.log(np.where(mean_p > 0, mean_p, 1.0)))
        return float(marginal - conditional)

    def _scores(self, X):
        return batched_forward(self.net_.module_, X, self.net_.device, np.float64,
                               check_finite=True)

    def _validated_scores(self, X):
        check_is_fitted(self, "net_")
        X = validate_data(self, X, reset=False, dtype=_FLOAT_DTYPES,
                          ensure_all_finite=False)  # checked per batch below
        return self._scores(X)

    def predict_proba(self, X):
        """Cluster confidences ``p_j`` of eq. 12 (softmax of ``ωᵀ a(x) + b``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_clusters)
            Rows sum to 1.
        """
        return softmax(self._validated_scores(X), axis=1)

    def predict(self, X):
        """The most confident cluster of each sample (``argmax_j p_j``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Integers in ``[0, n_clusters)``.
        """
        return np.argmax(self._validated_scores(X), axis=1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
