"""
Clustering the digits with L0Clusterer
======================================

:class:`~skl0.L0Clusterer` is the paper's clustering model: a deep ℓ0 encoder followed by
softmax cluster confidences (eq. 12). It starts from the spectral clustering of the
digits' nearest-neighbour graph, moves that partition into the encoder's code space by
training the encoder and the softmax end to end, and then assigns new digits with the
trained net. Here it groups scikit-learn's digits (pixels scaled to [0, 1]) into 10
clusters without the labels, fitted on 70 % of them; the held-out 30 % are assigned with
``predict``. The baseline is :class:`~sklearn.cluster.KMeans` (``n_init=10``) on the same
pixels. The encoder is kept small (64 atoms, 20 epochs) so that the example runs in
seconds.
"""

# %%
# Fit both and score them against the labels
# ------------------------------------------
# ``clustering error`` is one minus the accuracy after the best one-to-one matching of
# clusters to classes (:func:`skl0.metrics.clustering_error`), on the training and on the
# held-out digits; ``NMI`` and ``ARI`` (:func:`skl0.metrics.clustering_scores`) are the
# normalised mutual information and the adjusted Rand index on the training digits (1 is
# perfect, ARI 0 is chance).
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from skl0 import L0Clusterer, L0Encoder
from skl0.metrics import clustering_error, clustering_scores

start = time.perf_counter()
X, y = load_digits(return_X_y=True)
X = X / 16.0  # pixels in [0, 1]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                    random_state=0)

models = {
    "KMeans on the pixels": KMeans(n_clusters=10, n_init=10, random_state=0),
    "L0Clusterer, 20 epochs end to end": L0Clusterer(
        n_clusters=10, encoder=L0Encoder(n_components=64, max_epochs=20, device="cpu"),
        device="cpu", random_state=0),
}
errors, held_out, scores, labels = {}, {}, {}, {}
for name, model in models.items():
    labels[name] = model.fit(X_train).labels_
    errors[name] = clustering_error(y_train, labels[name])
    held_out[name] = clustering_error(y_test, model.predict(X_test))
    scores[name] = clustering_scores(y_train, labels[name])

print(f"Digits in [0, 1]: {len(X_train)} to cluster, {len(X_test)} held out; 10 clusters")
print(f"{'':36s} {'clustering error %':>18s} {'held-out %':>10s} {'NMI':>5s} {'ARI':>5s}")
for name in models:
    print(f"{name:36s} {100 * errors[name]:18.1f} {100 * held_out[name]:10.1f} "
          f"{scores[name]['nmi']:5.2f} {scores[name]['ari']:5.2f}")

# %%
# The clusters in two dimensions
# ------------------------------
# The training digits projected on their first two principal components, coloured by the
# true digit and, for each model, by the most frequent true digit of their cluster (so the
# colours compare across panels; a digit split between clusters, or two digits merged in
# one, shows as a colour in the wrong place). The projection is only for the eye: both
# models cluster the 64 pixels (L0Clusterer their codes), not these two coordinates.
points = PCA(n_components=2, random_state=0).fit_transform(X_train)


def majority_digit(cluster_labels):
    """Each sample's cluster, named by the most frequent true digit in it."""
    named = np.empty_like(cluster_labels)
    for cluster in np.unique(cluster_labels):
        members = cluster_labels == cluster
        named[members] = np.bincount(y_train[members]).argmax()
    return named


panels = {"true digits": y_train, **{name: majority_digit(lab) for name, lab in labels.items()}}
fig, axes = plt.subplots(1, 3, figsize=(13, 4.3), sharex=True, sharey=True,
                         layout="constrained")
for ax, (title, colours) in zip(axes, panels.items(), strict=True):
    ax.scatter(points[:, 0], points[:, 1], c=colours, cmap="tab10", vmin=0, vmax=9, s=6)
    if title in errors:
        title = f"{title}\nclustering error {100 * errors[title]:.1f} %"
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("first principal component")
axes[0].set_ylabel("second principal component")
print(f"time: {time.perf_counter() - start:.0f} s")
