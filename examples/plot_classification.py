"""
Task-driven classification with L0Classifier
============================================

Classifies scikit-learn's digits three ways and scores each on the same 540 held-out
digits (a stratified 70/30 split): the baseline, a plain
:class:`~sklearn.linear_model.LogisticRegression` on the standardised pixels; an
:class:`~skl0.L0Encoder` trained without the labels, followed by a logistic regression on
its frozen codes; and :class:`~skl0.L0Classifier` around the same encoder, whose softmax
layer and encoder are trained together end to end with the cross-entropy. The encoders are
kept small (64 atoms, 20 epochs) so that the example runs in seconds.

On the digits, 64 pixels are already a good input for a linear model and 1,257 digits are
few to learn a dictionary from, so skl0 is not expected to beat the baseline here; the
task-driven classifiers win with more data (the Results page, "Classification").
"""

# %%
# Fit the three models
# --------------------
# ``test accuracy`` is the fraction of the held-out digits classified right, ``fit s``
# the wall-clock seconds of ``fit``.
import time

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skl0 import L0Classifier, L0Encoder

start = time.perf_counter()
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                    random_state=0)


def encoder():
    """The unsupervised encoder each skl0 model starts from."""
    return L0Encoder(n_components=64, max_epochs=20, device="cpu", random_state=0)


models = {
    "LogisticRegression on the pixels (baseline)": make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000)),
    "L0Encoder codes + LogisticRegression": make_pipeline(
        StandardScaler(), encoder(), LogisticRegression(max_iter=2000)),
    "L0Classifier (end to end)": make_pipeline(
        StandardScaler(), L0Classifier(encoder(), max_epochs=20, device="cpu",
                                       random_state=0)),
}
accuracy, fit_seconds = {}, {}
for name, model in models.items():
    clock = time.perf_counter()
    model.fit(X_train, y_train)
    fit_seconds[name] = time.perf_counter() - clock
    accuracy[name] = model.score(X_test, y_test)

print(f"Digits: {len(X_train)} training / {len(X_test)} held-out test digits")
print(f"{'model':44s} {'test accuracy':>13s} {'error %':>8s} {'fit s':>6s}")
for name, acc in accuracy.items():
    print(f"{name:44s} {acc:13.3f} {100 * (1 - acc):8.1f} {fit_seconds[name]:6.1f}")

# %%
# Where L0Classifier errs
# -----------------------
# The confusion matrix of the end-to-end classifier on the held-out digits: rows are the
# true digits, columns the predicted ones; off-diagonal cells are the mistakes.
classifier = models["L0Classifier (end to end)"]
fig, ax = plt.subplots(figsize=(5.5, 5), layout="constrained")
ConfusionMatrixDisplay.from_estimator(classifier, X_test, y_test, ax=ax, colorbar=False)
ax.set_title(f"L0Classifier on held-out digits, accuracy "
             f"{accuracy['L0Classifier (end to end)']:.3f}")
print(f"time: {time.perf_counter() - start:.0f} s")
