"""Matplotlib figures of the structure analysis (each returns the Figure)."""

from __future__ import annotations

import numpy as np


def _axes(ax):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(4.5, 3.4), constrained_layout=True)
    return ax.figure, ax


def plot_rdf(r, g, ax=None, label=None):
    """g(r) against r (nm)."""
    fig, ax = _axes(ax)
    ax.plot(r, g, label=label)
    ax.axhline(1.0, color="0.6", lw=0.8)
    ax.set(xlabel="r (nm)", ylabel="g(r)")
    return fig


def plot_structure_factor(q, s, ax=None, label=None):
    """S(q) against q (1/nm), log scale in S to show the low-q suppression."""
    fig, ax = _axes(ax)
    ax.plot(q, s, "o-", ms=3, label=label)
    ax.set(xlabel="q (1/nm)", ylabel="S(q)", yscale="log")
    return fig


def plot_q6_w6(q6, w6, ax=None):
    """Per-particle Q6-W6 scatter with ideal fcc, hcp, bcc and icosahedron references."""
    fig, ax = _axes(ax)
    ax.scatter(q6, w6, s=4, alpha=0.4)
    references = {
        "fcc": (0.5745, -0.0132),
        "hcp": (0.4848, -0.0124),
        "bcc": (0.5106, 0.0132),
        "ico": (0.6633, -0.1698),
    }
    for name, (q, w) in references.items():
        ax.scatter([q], [w], marker="*", s=80, color="k")
        ax.annotate(name, (q, w), textcoords="offset points", xytext=(4, 4))
    ax.set(xlabel="$Q_6$", ylabel=r"$\hat W_6$")
    return fig


def plot_voronoi_histogram(voronoi, count: int = 10, ax=None):
    """Bar chart of the `count` most common Voronoi indices."""
    fig, ax = _axes(ax)
    common = voronoi.most_common(count)
    ax.bar(range(len(common)), [f for _, f in common])
    ax.set_xticks(
        range(len(common)),
        ["<" + ",".join(map(str, i)) + ">" for i, _ in common],
        rotation=60,
        fontsize=7,
    )
    ax.set(ylabel="fraction")
    return fig


def plot_icosahedral_fraction(temperatures, fractions, ax=None):
    """<0,0,12,0> fraction against temperature (kT units)."""
    fig, ax = _axes(ax)
    ax.plot(np.asarray(temperatures), np.asarray(fractions), "o-")
    ax.set(xlabel="T (kT units)", ylabel="<0,0,12,0> fraction")
    return fig
