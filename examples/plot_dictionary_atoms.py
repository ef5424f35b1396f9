"""
The dictionary an encoder learns
================================

``fit`` of every skl0 encoder starts by learning a dictionary of unit-norm atoms on the ℓ1
problem (``dictionary=None``), kept as ``components_`` in scikit-learn's layout: one atom
per row, so that ``X ≈ codes @ components_``. On the 8 × 8 digits each atom is itself a
small image. This example learns 64 atoms from standardised digits, shows them as image
tiles ordered by how often the ℓ0 codes of held-out digits use them, and rebuilds a few
digits from their codes.
"""

# %%
# Learn the dictionary and encode held-out digits
# -----------------------------------------------
# The network is not needed to look at the dictionary: ``max_epochs=5`` keeps the example
# short, and the default pursuit of ``transform`` finishes the codes.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skl0 import L0Encoder

X, y = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X, test_size=0.2, stratify=y, random_state=0)
scaler = StandardScaler().fit(X_train)
encoder = L0Encoder(n_components=64, max_epochs=5, device="cpu", random_state=0)
encoder.fit(scaler.transform(X_train))
codes = encoder.transform(scaler.transform(X_test))
atoms = encoder.components_
usage = np.count_nonzero(codes, axis=0) / len(codes)  # fraction of digits using each atom
print(f"{atoms.shape[0]} atoms of {atoms.shape[1]} pixels, unit norm: "
      f"{np.allclose(np.linalg.norm(atoms, axis=1), 1, atol=1e-5)}")
print(f"nonzeros per held-out code: {np.count_nonzero(codes, axis=1).mean():.1f} on average")

# %%
# The atoms as image tiles
# ------------------------
# Atoms live in the standardised pixel space; each tile is scaled to its own largest
# magnitude (red positive, blue negative). The title is the fraction of held-out digits
# whose code uses the atom.
order = np.argsort(-usage, kind="stable")
fig, axes = plt.subplots(8, 8, figsize=(7, 7.6), layout="constrained")
for ax, index in zip(axes.ravel(), order, strict=True):
    atom = atoms[index].reshape(8, 8)
    limit = np.abs(atom).max()
    ax.imshow(atom, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(f"{usage[index]:.0%}", fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("64 learned atoms, most used first")

# %%
# Digits rebuilt from their codes
# -------------------------------
# Top row: held-out digits; bottom row: ``codes @ components_`` mapped back to pixels.
rebuilt = scaler.inverse_transform(codes @ atoms)
fig, axes = plt.subplots(2, 8, figsize=(8, 2.4), layout="constrained")
for column in range(8):
    for row, image in enumerate((X_test[column], rebuilt[column])):
        axes[row, column].imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
        axes[row, column].set_xticks([])
        axes[row, column].set_yticks([])
    axes[1, column].set_xlabel(f"{np.count_nonzero(codes[column])} atoms", fontsize=8)
axes[0, 0].set_ylabel("digit")
axes[1, 0].set_ylabel("rebuilt")
