"""The user guide's figures of the two new neurons, drawn at each docs build.

``draw(folder)`` writes ``helu.png`` (HELU and its training relaxation HELU_σ, eq. 7 and
9 of the paper) and ``max_m_pooling.png`` (max-M pooling and unpooling, eq. 11) into
``folder``; ``docs/conf.py`` calls it so that no generated image is committed.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def helu(u, theta, sigma=0.0):
    """HELU_σ with threshold θ: 0 below (1 − σ)θ, u above θ, a straight ramp between."""
    v = np.abs(u) / theta
    if sigma == 0:
        return np.where(v >= 1, u, 0.0)
    ramp = np.sign(u) * theta * (v - (1 - sigma)) / sigma
    return np.where(v >= 1, u, np.where(v <= 1 - sigma, 0.0, ramp))


def max_m_pool(u, m):
    """Keep the ``m`` entries of largest magnitude, zero the others."""
    out = np.zeros_like(u)
    keep = np.argsort(-np.abs(u), kind="stable")[:m]
    out[keep] = u[keep]
    return out


def draw(folder):
    """Write both figures as PNG files into ``folder`` (created if missing)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    u = np.linspace(-2.5, 2.5, 2001)
    theta = 1.0
    fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
    ax.plot(u, u, color="0.8", lw=1, label="identity")
    ax.plot(u, helu(u, theta), lw=2.2, label="HELU, θ = 1 (transform)")
    for sigma, style in ((0.2, "--"), (0.6, ":")):
        ax.plot(u, helu(u, theta, sigma), style, lw=1.6,
                label=f"HELU$_\\sigma$, σ = {sigma} (training)")
    ax.axvline(theta, color="0.6", lw=0.8)
    ax.axvline(-theta, color="0.6", lw=0.8)
    ax.set_xlabel("pre-activation u")
    ax.set_ylabel("output")
    ax.set_title("HELU: hard threshold at θ = √(2αμ)")
    ax.legend(loc="upper left", fontsize=8)
    fig.savefig(folder / "helu.png", dpi=110)
    plt.close(fig)

    rng = np.random.RandomState(3)
    u = rng.randn(16)
    pooled = max_m_pool(u, 4)
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3), sharey=True, layout="constrained")
    index = np.arange(len(u))
    axes[0].bar(index, u, color="0.55")
    axes[0].set_title("input u (16 entries)")
    axes[1].bar(index, pooled, color=np.where(pooled != 0, "C0", "0.55"))
    axes[1].set_title("max-M pooling + unpooling, M = 4")
    for ax in axes:
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xlabel("entry")
    axes[0].set_ylabel("value")
    fig.savefig(folder / "max_m_pooling.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    draw(Path(__file__).resolve().parent / "_generated")
