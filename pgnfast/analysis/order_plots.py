"""Plots of a glass-structure study (the dict benchmarks/pgn_structure.py writes as
structure.json): order against temperature per run with reference bands, and the structure
at each run's lowest temperature against the references. Temperatures in kT, q in 1/nm,
r in nm, angles in degrees."""

from __future__ import annotations

import numpy as np

SCALARS = (
    ("icosahedral_fraction", "Voronoi <0,0,12,0> fraction"),
    ("pentagonal_face_fraction", "pentagonal face share"),
    ("w6_mean", "mean W6 (12 neighbours)"),
    ("w6_icosahedral_share", "share with W6 < threshold"),
    ("s_q_to_zero", "S(q -> 0) (smallest |q| shells)"),
)
REFERENCE_STYLE = {"random": ("gray", "random"), "hard_spheres": ("black", "hard spheres")}
RUN_COLORS = ("tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown")


def _figure(panels: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, panels, figsize=(4.3 * panels, 3.6))
    return plt, fig, np.atleast_1d(axes)


def _runs(results: dict):
    """(colour, name, run) per run."""
    colors = RUN_COLORS * (1 + len(results["runs"]) // len(RUN_COLORS))
    return [(c, name, run) for c, (name, run) in zip(colors, results["runs"].items())]


def plot_order_vs_temperature(results: dict, path) -> None:
    """One panel per scalar of SCALARS: mean +- standard error against T (log axis) per run;
    references as horizontal bands (mean +- standard error)."""
    plt, fig, axes = _figure(len(SCALARS))
    for ax, (key, label) in zip(axes, SCALARS):
        for color, name, run in _runs(results):
            values = [entry[key] for entry in run["per_temperature"]]
            means = [v["mean"] for v in values]
            errors = [v["stderr"] if v["stderr"] is not None else np.nan for v in values]
            ax.errorbar(
                run["temperatures"], means, errors, marker="o", ms=3, capsize=2, label=name,
                color=color,
            )  # fmt: skip
        for reference in results["references"].values():
            for kind, (color, text) in REFERENCE_STYLE.items():
                mean, error = reference[kind][key]["mean"], reference[kind][key]["stderr"]
                error = error if error is not None and np.isfinite(error) else 0.0
                ax.axhspan(mean - error, mean + error, color=color, alpha=0.25)
                ax.axhline(mean, color=color, lw=1, label=text)
        ax.set_xscale("log")
        ax.set_xlabel("T (kT)")
        ax.set_ylabel(label)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def plot_structure_lowest_t(results: dict, path) -> None:
    """S(q) (binned; the smallest |q| shells as points with error bars), g(r), bond-angle
    and W6 distributions at each run's lowest temperature and of the references."""
    panels = (
        ("q_per_nm", "s", "q (1/nm)", "S(q)"),
        ("r_nm", "g", "r (nm)", "g(r)"),
        ("bond_angle_deg", "bond_angle_histogram", "bond angle (deg)", "density (1/deg)"),
        ("w6", "w6_histogram", "W6", "density"),
    )
    curves = [
        (f"{name}, T = {run['temperatures'][0]:.3g}", run["axes"], run["per_temperature"][0], c)
        for c, name, run in _runs(results)
    ]
    for reference in results["references"].values():
        for kind, (color, text) in REFERENCE_STYLE.items():
            curves.append((text, reference["axes"], reference[kind], color))
    plt, fig, axes = _figure(len(panels))
    for ax, (x_key, y_key, x_label, y_label) in zip(axes, panels):
        for label, x_axes, values, color in curves:
            y = np.asarray(values[y_key]["mean"], dtype=float)
            ax.plot(x_axes[x_key], y, label=label, color=color, lw=1)
            if y_key == "s":
                low = values["s_low_q"]
                errors = np.asarray(low["stderr"], dtype=float)
                ax.errorbar(
                    x_axes["q_low_per_nm"], low["mean"], np.nan_to_num(errors), color=color,
                    ls="none", marker="s", ms=3, capsize=2,
                )  # fmt: skip
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
    axes[0].set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
