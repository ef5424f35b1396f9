"""
Tuning an ℓ0 encoder inside a scikit-learn pipeline
===================================================

:class:`~skl0.L0Encoder` is a scikit-learn transformer, so it sits in a
:class:`~sklearn.pipeline.Pipeline` between a scaler and a classifier, and
:class:`~sklearn.model_selection.GridSearchCV` tunes its parameters by their nested names
(``l0__alpha``, ``l0__n_components``) like those of any other step. Here the sparse codes of
the digits feed a logistic regression; a grid over the ℓ0 weight α and the number of atoms
p is cross-validated (3 folds) on the 1,257 training digits, and the refitted best pipeline
is scored on the 540 held-out digits. The baseline is the same pipeline without the
encoder. The encoders train 5 epochs instead of their default 100, on a dictionary learned
in at most 3 epochs instead of 10, which keeps the search short.
"""

# %%
# The baseline and the search
# ---------------------------
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skl0 import L0Encoder

start = time.perf_counter()
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                    random_state=0)

baseline = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=2000))])
baseline_cv = cross_val_score(baseline, X_train, y_train, cv=3)
baseline_test = baseline.fit(X_train, y_train).score(X_test, y_test)

pipe = Pipeline([
    ("scale", StandardScaler()),
    ("l0", L0Encoder(max_epochs=5, dict_max_iter=3, device="cpu", random_state=0)),
    ("clf", LogisticRegression(max_iter=2000)),
])
alphas, sizes = [0.1, 0.25], [32, 64]
param_grid = {"l0__alpha": alphas, "l0__n_components": sizes}
search = GridSearchCV(pipe, param_grid, cv=3).fit(X_train, y_train)

# %%
# Cross-validated accuracy of every candidate
# -------------------------------------------
# ``CV accuracy`` is the mean ± standard deviation over the folds of the fraction of
# validation digits classified right; ``fit time`` the mean seconds of one fit.
results = search.cv_results_
print(f"{'alpha':>6s} {'p':>5s} {'CV accuracy':>15s} {'fit time (s)':>13s}")
for params, mean, std, fit_time in zip(results["params"], results["mean_test_score"],
                                       results["std_test_score"], results["mean_fit_time"],
                                       strict=True):
    print(f"{params['l0__alpha']:6.2f} {params['l0__n_components']:5d} "
          f"{mean:8.3f} ± {std:.3f} {fit_time:13.2f}")
print(f"baseline (LogisticRegression on the pixels): CV {baseline_cv.mean():.3f} ± "
      f"{baseline_cv.std():.3f}")
print(f"Best parameters: {search.best_params_}")
test_accuracy = search.score(X_test, y_test)
print(f"Held-out accuracy: best pipeline {test_accuracy:.3f}, baseline {baseline_test:.3f}")

# %%
# The grid as a figure
# --------------------
# One bar per candidate (its CV accuracy, with the spread over the folds), and the
# baseline's CV accuracy as a line.
fig, ax = plt.subplots(figsize=(6.5, 3.6), layout="constrained")
width = 0.35
for offset, size in enumerate(sizes):
    rows = [i for i, params in enumerate(results["params"])
            if params["l0__n_components"] == size]
    ax.bar(np.arange(len(alphas)) + offset * width, results["mean_test_score"][rows], width,
           yerr=results["std_test_score"][rows], capsize=4, label=f"p = {size}")
ax.axhline(baseline_cv.mean(), color="k", ls="--", label="baseline (pixels)")
ax.set_xticks(np.arange(len(alphas)) + width / 2, [f"α = {a}" for a in alphas])
ax.set_ylim(0.8, 1)
ax.set_ylabel("CV accuracy")
ax.legend(loc="lower right")
print(f"time: {time.perf_counter() - start:.0f} s")
