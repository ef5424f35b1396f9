"""
Deep ℓ0 encoders against iterative hard thresholding
====================================================

Fits an :class:`~skl0.L0Encoder` (ℓ0-regularised codes) and an
:class:`~skl0.MSparseEncoder` (at most M nonzeros per code) on scikit-learn's digits, both
on the same learned dictionary, and compares their codes on held-out digits with the
"optimal codes" of :func:`skl0.sparse_encode` — the targets the encoders were trained to
reproduce. The baseline is :func:`skl0.iht` with 2, 5 and 10 iterations on that dictionary:
an encoder with K = 2 stages costs about as much as 2 IHT iterations. The table prints the
code prediction error (:func:`skl0.metrics.code_prediction_error`, in percent) and the
support error (:func:`skl0.metrics.support_error`, mismatched nonzero positions per digit).

With 1,347 training digits the networks overfit (compare the training-set errors printed
at the end); more training data closes that gap.
"""

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skl0 import L0Encoder, MSparseEncoder, iht, sparse_encode
from skl0.metrics import code_prediction_error, support_error

N_COMPONENTS = 128  # p, the number of atoms
ALPHA = 0.25  # the ℓ0 weight (the paper's λ = 0.5)
N_NONZERO = 10  # M, nonzeros per M-sparse code

X, y = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X, test_size=0.25, stratify=y, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

# %%
# Fit both encoders; the M-sparse one reuses the dictionary the ℓ0 one learned
# (the small data trains best on the CPU; ``device="auto"`` would use a GPU)
l0 = L0Encoder(N_COMPONENTS, alpha=ALPHA, max_epochs=50, random_state=0, device="cpu")
l0.fit(X_train)
dictionary = l0.components_
msparse = MSparseEncoder(dictionary=dictionary, n_nonzero_coefs=N_NONZERO, max_epochs=50,
                         random_state=0, device="cpu").fit(X_train)

# %%
# The optimal codes of the test digits, then each method's errors against them
target_l0 = sparse_encode(X_test, dictionary, alpha=ALPHA, device="cpu")
target_ms = sparse_encode(X_test, dictionary, n_nonzero_coefs=N_NONZERO, device="cpu")

codes = {}
for n_iter in (2, 5, 10):
    codes[f"IHT, {n_iter} iterations"] = (
        iht(X_test, dictionary, alpha=ALPHA, n_iter=n_iter, device="cpu"),
        iht(X_test, dictionary, n_nonzero_coefs=N_NONZERO, n_iter=n_iter, device="cpu"),
    )
codes["deep encoder, K = 2"] = (l0.transform(X_test), msparse.transform(X_test))

errors = {}  # method -> (ℓ0 prediction error, M-sparse prediction error), as fractions
print(f"Digits: {len(X_train)} train / {len(X_test)} test, p = {N_COMPONENTS}, "
      f"alpha = {ALPHA}, M = {N_NONZERO}")
print(f"{'':22s} {'l0-regularised':>24s} {'M-sparse':>24s}")
print(f"{'method':22s} {'pred. error %':>13s} {'support':>10s} {'pred. error %':>13s} "
      f"{'support':>10s}")
for name, (a_l0, a_ms) in codes.items():
    errors[name] = (code_prediction_error(target_l0, a_l0),
                    code_prediction_error(target_ms, a_ms))
    print(f"{name:22s} {100 * errors[name][0]:13.1f} {support_error(target_l0, a_l0):10.2f} "
          f"{100 * errors[name][1]:13.1f} {support_error(target_ms, a_ms):10.2f}")

train_l0 = code_prediction_error(sparse_encode(X_train, dictionary, alpha=ALPHA, device="cpu"),
                                 l0.transform(X_train))
train_ms = code_prediction_error(
    sparse_encode(X_train, dictionary, n_nonzero_coefs=N_NONZERO, device="cpu"),
    msparse.transform(X_train))
print(f"Deep encoders on their training digits: l0 {100 * train_l0:.1f} %, "
      f"M-sparse {100 * train_ms:.1f} %")
