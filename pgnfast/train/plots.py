"""Learning-curve and parity PNGs (matplotlib, Agg backend)."""

from __future__ import annotations

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def learning_curve(
    history: list[dict], path, *, ylabel: str = "loss (kT$^2$, (kT/nm)$^2$ weighted)"
) -> None:
    """Training loss and validation errors per epoch (log scale)."""
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.semilogy(epochs, [h["train_loss"] for h in history], label="train loss")
    ax.semilogy(epochs, [h["validation_loss"] for h in history], label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parity(true, predicted, path, *, label: str, unit: str) -> None:
    """Predicted against reference values with the y = x line."""
    plt = _pyplot()
    true, predicted = np.ravel(true), np.ravel(predicted)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(true, predicted, s=4, alpha=0.6)
    if len(true):
        low, high = float(min(true.min(), predicted.min())), float(max(true.max(), predicted.max()))
        ax.plot([low, high], [low, high], "k--", lw=1)
    ax.set_xlabel(f"reference {label} ({unit})")
    ax.set_ylabel(f"model {label} ({unit})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
