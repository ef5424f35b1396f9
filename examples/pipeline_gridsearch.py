"""
Tuning an ℓ0 encoder inside a scikit-learn pipeline
===================================================

:class:`~skl0.L0Encoder` is a scikit-learn transformer, so it sits in a
:class:`~sklearn.pipeline.Pipeline` between a scaler and a classifier, and
:class:`~sklearn.model_selection.GridSearchCV` tunes its parameters by their nested names
(``l0__alpha``, ``l0__n_components``) like those of any other step. Here the sparse codes of
the digits feed a logistic regression; a small grid over the ℓ0 weight α and the number of
atoms p is cross-validated on the training digits, and the refitted best pipeline is scored
on held-out digits. The encoders train for a few epochs only, to keep the search fast.
"""

from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skl0 import L0Encoder

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                    random_state=0)

pipe = Pipeline([
    ("scale", StandardScaler()),
    ("l0", L0Encoder(max_epochs=5, dict_max_iter=3, random_state=0, device="cpu")),
    ("clf", LogisticRegression(max_iter=2000)),
])
param_grid = {"l0__alpha": [0.1, 0.5], "l0__n_components": [64, 128]}
search = GridSearchCV(pipe, param_grid, cv=3).fit(X_train, y_train)

# %%
# Cross-validated accuracy of every candidate, then the best one on the test digits
results = search.cv_results_
print(f"{'alpha':>6s} {'p':>5s} {'CV accuracy':>12s} {'fit time (s)':>13s}")
for params, mean, std, fit_time in zip(results["params"], results["mean_test_score"],
                                       results["std_test_score"], results["mean_fit_time"],
                                       strict=True):
    print(f"{params['l0__alpha']:6.2f} {params['l0__n_components']:5d} "
          f"{mean:8.3f} ± {std:.3f} {fit_time:13.2f}")
print(f"Best parameters: {search.best_params_}")
test_accuracy = search.score(X_test, y_test)
print(f"Test accuracy of the best pipeline: {test_accuracy:.3f}")
