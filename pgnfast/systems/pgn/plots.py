"""The PGN pipeline's figures (PNG, matplotlib's Agg backend). Units: r in nm, q in 1/nm,
temperatures in multiples of kT."""

from __future__ import annotations

import numpy as np

DPI = 110
_RUN_STYLES = {  # compare-stage run -> (line style, legend label)
    "dft": ("k-", "DFT-driven MC"),
    "model": ("C0--", "model-driven MC"),
    "model_other_seed": ("C1:", "model, other seed"),
}


def pyplot():
    """matplotlib.pyplot on a non-interactive backend unless one is chosen already."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> None:
    fig.savefig(path, dpi=DPI)
    pyplot().close(fig)


def plot_model_vs_dft(path, r, g_start, rdf: dict, title: str) -> None:
    """g(r) of the compare stage's runs (`rdf`: run name -> (r, g)) and of their start."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5), constrained_layout=True)
    ax.plot(r, g_start, color="0.7", lw=1, label="start")
    for name, (style, label) in _RUN_STYLES.items():
        ax.plot(*rdf[name], style, label=label)
    ax.set(xlabel="r (nm)", ylabel="g(r)", title=title)
    ax.legend(fontsize=7)
    _save(fig, path)


def plot_rdf_against_random(path, r, g, g_random, label: str) -> None:
    """g(r) of the Monte Carlo frames against random configurations."""
    from pgnfast.analysis import plot_rdf

    fig = plot_rdf(r, g, label=label)
    plot_rdf(r, g_random, ax=fig.axes[0], label="random configurations")
    fig.axes[0].legend(fontsize=7)
    _save(fig, path)


def plot_structure_factor_against_random(path, measured, random, label: str) -> None:
    """S(q) (`measured` and `random` are (q, S) pairs; bins without wave vectors, NaN in S,
    are left out)."""
    from pgnfast.analysis import plot_structure_factor

    (q, s), (q_ref, s_ref) = measured, random
    valid, ok = np.isfinite(s), np.isfinite(s_ref)
    fig = plot_structure_factor(q[valid], s[valid], label=label)
    plot_structure_factor(q_ref[ok], s_ref[ok], ax=fig.axes[0], label="random configurations")
    fig.axes[0].legend(fontsize=7)
    _save(fig, path)


def _error_bars(errors):
    """Block errors as matplotlib yerr (None, unknown, as 0), or None when there are none."""
    if errors is None or all(e is None for e in errors):
        return None
    return [0.0 if e is None else e for e in errors]


def plot_order_against_temperature(
    path, temperatures, icosahedral, pentagonal, *, pentagon_errors=None, pair=None
) -> None:
    """<0,0,12,0> fraction and pentagonal face share against T; each of `icosahedral` and
    `pentagonal` is (values per temperature, value of the random configurations);
    pentagon_errors: block errors of the shares (None entries: unknown); pair: (fractions,
    shares, share errors) per temperature of the pair-driven run, drawn open and dotted."""
    from pgnfast.analysis import plot_icosahedral_fraction

    (fractions, random_fraction), (pentagons, random_pentagons) = icosahedral, pentagonal
    fig = plot_icosahedral_fraction(temperatures, fractions)
    ax = fig.axes[0]
    ax.lines[0].set_label("<0,0,12,0> cells, model")
    ax.axhline(random_fraction, color="C0", ls="--", lw=0.8, label="<0,0,12,0>, random")
    ax.errorbar(
        temperatures,
        pentagons,
        yerr=_error_bars(pentagon_errors),
        fmt="s-",
        color="C1",
        capsize=2,
        label="pentagonal faces, model",
    )
    ax.axhline(random_pentagons, color="C1", ls="--", lw=0.8, label="pentagons, random")
    if pair is not None:
        pair_fractions, pair_pentagons, pair_errors = pair
        ax.plot(
            temperatures, pair_fractions, "o:", color="C0", mfc="none", label="<0,0,12,0>, pair"
        )
        ax.errorbar(
            temperatures,
            pair_pentagons,
            yerr=_error_bars(pair_errors),
            fmt="s:",
            color="C2",
            mfc="none",
            capsize=2,
            label="pentagonal faces, pair",
        )
    ax.set(xscale="log", ylabel="fraction", ylim=(0, None))
    ax.legend(fontsize=7)
    _save(fig, path)


def plot_acceptance(path, temperatures, swap_acceptance, acceptance) -> None:
    """Replica-exchange acceptance per neighbouring pair (at the pair's geometric mean T)
    and displacement acceptance per temperature."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 3.4), constrained_layout=True)
    temperatures = np.asarray(temperatures)
    middles = np.sqrt(temperatures[1:] * temperatures[:-1])
    if len(middles):
        ax.plot(middles, swap_acceptance, "o-", label="replica exchange (pair)")
    ax.plot(temperatures, acceptance, "s--", label="displacement moves")
    ax.set(xscale="log", xlabel="T (kT units)", ylabel="acceptance", ylim=(0, 1.02))
    ax.legend(fontsize=7)
    _save(fig, path)


def plot_designs(path, summaries: dict) -> None:
    """<0,0,12,0> fraction against T for each design of a study (name -> summary)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5), constrained_layout=True)
    for name, s in summaries.items():
        ax.plot(
            s["analysis"]["temperatures"], s["analysis"]["icosahedral_fraction"], "o-", label=name
        )
    ax.set(xscale="log", xlabel="T (kT units)", ylabel="<0,0,12,0> fraction")
    ax.legend(fontsize=7)
    _save(fig, path)
