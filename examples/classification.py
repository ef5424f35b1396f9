"""
Task-driven classification with L0Classifier
============================================

Two ways to classify the digits with deep ℓ0 codes. The first is a plain pipeline: an
:class:`~skl0.MSparseEncoder` trained without the labels to reproduce M-sparse codes,
followed by a :class:`~sklearn.linear_model.LogisticRegression` on the frozen codes. The
second is :class:`~skl0.L0Classifier`, the paper's task-driven model: it fits the same
encoder, initialises a softmax layer by logistic regression on its codes (with
``max_epochs=0`` it is exactly that), then trains encoder and softmax together, end to end,
with the cross-entropy loss. Fine-tuning usually removes a fair part of the errors that the
frozen codes leave. Accuracies are measured on held-out digits.
"""

from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skl0 import L0Classifier, MSparseEncoder

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                    random_state=0)

encoder = MSparseEncoder(128, n_nonzero_coefs=16, max_epochs=20, random_state=0, device="cpu")

# %%
# Frozen codes + logistic regression (the encoder never sees the labels)
frozen = make_pipeline(StandardScaler(), encoder, LogisticRegression(max_iter=2000))
frozen.fit(X_train, y_train)

# %%
# The same encoder fine-tuned end to end with a softmax layer (20 epochs)
tuned = make_pipeline(StandardScaler(),
                      L0Classifier(encoder, max_epochs=20, random_state=0, device="cpu"))
tuned.fit(X_train, y_train)

accuracy = {
    "encoder + LogisticRegression": frozen.score(X_test, y_test),
    "L0Classifier (end to end)": tuned.score(X_test, y_test),
}
print(f"Digits, {len(X_train)} train / {len(X_test)} test, MSparseEncoder(p=128, M=16)")
for name, acc in accuracy.items():
    print(f"{name:30s} test accuracy {acc:.3f} (error {100 * (1 - acc):.1f} %)")
