"""
Clustering the digits with L0Clusterer
======================================

:class:`~skl0.L0Clusterer` is the paper's clustering model: a deep ℓ0 encoder followed by
softmax cluster confidences (eq. 12), initialised by k-means on the encoder's codes and
then trained end to end to make every assignment confident while keeping the clusters
balanced. Here it groups the digits into 10 clusters without the labels; the clustering
error (:func:`skl0.metrics.clustering_error`: one minus the accuracy after the best
matching of clusters to classes) is compared with :class:`~sklearn.cluster.KMeans` on the
pixels and with k-means on the frozen codes (``max_epochs=0``).

Each digit is standardised on its own (zero mean and unit variance over its 64 pixels), as
in the measurements behind the clusterer's defaults.
"""

from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.preprocessing import scale

from skl0 import L0Clusterer, L0Encoder
from skl0.metrics import clustering_error

X, y = load_digits(return_X_y=True)
X = scale(X, axis=1)  # per-sample standardisation

encoder = L0Encoder(128, alpha=0.25, max_epochs=20, random_state=0, device="cpu")

labels = {
    "KMeans on the pixels": KMeans(10, n_init=10, random_state=0).fit_predict(X),
    "L0Clusterer, max_epochs=0 (k-means)": L0Clusterer(
        10, encoder, max_epochs=0, random_state=0, device="cpu").fit_predict(X),
    "L0Clusterer, 20 epochs end to end": L0Clusterer(
        10, encoder, max_epochs=20, random_state=0, device="cpu").fit_predict(X),
}
errors = {name: clustering_error(y, pred) for name, pred in labels.items()}
print(f"Digits, {len(X)} samples, 10 clusters, L0Encoder(p=128, alpha=0.25)")
for name, error in errors.items():
    print(f"{name:38s} clustering error {100 * error:5.1f} %")
