"""The stages of `pgnfast argon`, one function each: ``run(config, folder, inputs) -> dict``
with `config` a read-only view showing only the fields the stage reads (its key) and
`inputs` {stage name: (folder, results)} of the stages it depends on.

1. data      crystal and liquid frames labeled by the exact Lennard-Jones
2. models    NequIP (energies and forces) and the direct-force baseline (forces)
3. phonons   0 K lattice constant, X and L frequencies, dispersion and DOS, Hessian asymmetry
4. spectra   finite-T current spectra at X and L, peak frequencies and widths
5. vacancy   formation and migration (NEB, string) energies, saddle check, Vineyard rates
6. drift     NVE energy drift per ns
7. hops      the exact potential's LAMMPS hop runs (:mod:`.hop_stages`)
8. model_hops the models' hop runs through LAMMPS fix external, the Arrhenius plot
Units Angstrom, eV, fs, amu, K; frequencies THz; rates per ps.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from ..._atomic import write_json
from ...errors import InputError
from .data import ArgonDataConfig, fcc_lattice
from .hop_stages import MODEL_RUN_FIELDS, run_hops_stage, run_model_hops_stage
from .hops import HopRunConfig
from .models import ArgonModelsConfig

EXACT, NEQUIP, DIRECT = "exact", "NequIP", "direct force"
MODEL_NAMES = (EXACT, NEQUIP, DIRECT)
MODEL_FILES = {NEQUIP: "nequip/best_model.pt", DIRECT: "direct_force/best_model.pt"}
HOW_RUN = ("progress", "num_threads")  # ArgonModelsConfig fields that change no result


def _fields(cls, exclude=()) -> tuple:
    return tuple(f.name for f in dataclasses.fields(cls) if f.name not in exclude)


def _section(view, cls, exclude=(), **extra):
    """The dataclass `cls` rebuilt from a config view's section (fields outside `exclude`)."""
    return cls(**{name: getattr(view, name) for name in _fields(cls, exclude)}, **extra)


def _models(inputs, names=MODEL_NAMES) -> dict:
    """{name: the exact Lennard-Jones or the loaded model} of the trained models."""
    from ...md.calculator import load_model_file
    from .reference import argon_lj

    folder = inputs["models"][0]
    return {
        name: argon_lj()
        if name == EXACT
        else load_model_file(folder / MODEL_FILES[name], units="atomistic")
        for name in names
    }


def _bar(items, desc, progress):
    from tqdm.auto import tqdm

    return tqdm(list(items), desc=desc, disable=not progress, leave=False)


def _save_figure(figure, path) -> None:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# -- 1. data ---------------------------------------------------------------------------------
def run_data(config, folder: Path, inputs: dict) -> dict:
    from .data import generate_dataset

    data = _section(config.data, ArgonDataConfig)
    generate_dataset(data, folder / "dataset", progress=config.progress)
    manifest = json.loads((folder / "dataset" / "manifest.json").read_text())
    return {
        "engine": manifest["engine"],
        "frames": sum(shard["frames"] for shard in manifest["shards"]),
        "atoms_per_frame": 4 * data.n_cells**3,
        "trajectories": len(manifest["shards"]),
    }


# -- 2. models -------------------------------------------------------------------------------
def run_models(config, folder: Path, inputs: dict) -> dict:
    from .models import train_models

    models = _section(
        config.models,
        ArgonModelsConfig,
        HOW_RUN,
        progress=config.progress,
        num_threads=config.threads,
    )
    # the folder holds only this stage key's runs: each model resumes from its own checkpoint
    summary = train_models(inputs["data"][0] / "dataset", folder, models, resume=True)
    nequip = summary["nequip"]["test"] or {}
    return {
        NEQUIP: {"test": nequip, "file": MODEL_FILES[NEQUIP]},
        DIRECT: {"test": summary["direct_force"]["test"], "file": MODEL_FILES[DIRECT]},
    }


# -- 3. phonons at 0 K -----------------------------------------------------------------------
def run_phonons(config, folder: Path, inputs: dict) -> dict:
    from .phonons import (
        Relaxation,
        compute_phonons,
        phonon_model,
        plot_phonons,
        relax_lattice_constant,
    )

    settings = config.phonons
    loaded = _models(inputs)
    results, entries, failures = [], {}, {}
    for name in _bar(MODEL_NAMES, "phonons", config.progress):
        model = phonon_model(loaded[name], name, step=settings.step)
        exact_a = entries[EXACT]["lattice_constant"] if entries else None
        try:
            relaxed = relax_lattice_constant(
                model, settings.relax_n_cells, settings.bounds, lattice_constant=exact_a
            )
        except InputError as error:  # e.g. a barely trained model's minimum outside bounds
            if exact_a is None:
                raise
            relaxed = Relaxation(exact_a, "fixed")
            failures[name] = f"relaxation failed ({error}); phonons at the exact a"
        result = compute_phonons(
            model,
            relaxed,
            settings.n_cells,
            settings.band_points,
            settings.mesh,
            settings.dos_sigma,
        )
        results.append(result)
        entries[name] = result.summary()
        if name in failures:
            entries[name]["note"] = failures[name]
        elif relaxed.method == "fixed":
            entries[name]["note"] = (
                "forces only: no energy or stress defines its equilibrium volume; phonons at "
                "the exact potential's 0 K lattice constant"
            )
    plot_phonons(results, folder / "dispersion_dos.png")
    _plot_asymmetry(entries, folder / "asymmetry.png")
    return {"models": entries}


def _plot_asymmetry(entries, path) -> None:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5, 3.5))
    names = list(entries)
    values = [max(entries[n]["asymmetry"], 1e-17) for n in names]
    axis.bar(names, values, color=[f"C{k}" for k in range(len(names))])
    for k, name in enumerate(names):
        axis.text(k, values[k], entries[name]["hessian_method"], ha="center", va="bottom")
    axis.set(yscale="log", ylabel="||H - H^T|| / ||H||", title="Hessian asymmetry (floor 1e-17)")
    _save_figure(figure, path)


def _lattice_constants(inputs) -> dict:
    return {n: e["lattice_constant"] for n, e in inputs["phonons"][1]["models"].items()}


# -- 4. spectra at finite temperature --------------------------------------------------------
def run_spectra_stage(config, folder: Path, inputs: dict) -> dict:
    from ...md.calculator import ModelCalculator
    from .spectra import SpectraConfig, plot_spectra, run_spectra

    spectra = _section(config.spectra, SpectraConfig)
    constants = _lattice_constants(inputs)
    zero_kelvin = {n: e["frequencies_thz"] for n, e in inputs["phonons"][1]["models"].items()}
    merged, curves = {"config": dataclasses.asdict(spectra), "models": {}}, {}
    for name, model in _models(inputs).items():
        safe = name.replace(" ", "_")
        calculator = ModelCalculator(model, skin=0.0 if name == EXACT else 0.5)
        try:
            summary, found = run_spectra(
                {name: (calculator, constants[name])},
                spectra,
                folder / safe,
                zero_kelvin,
                progress=config.progress,
            )
        except (InputError, ValueError, RuntimeError) as error:  # e.g. a model's MD blew up
            merged["models"][name] = {"error": f"{type(error).__name__}: {error}"}
            continue
        merged["models"].update(summary["models"])
        curves.update(found)
    write_json(folder / "spectra.json", merged)
    if curves:
        plot_spectra(merged, curves, zero_kelvin, folder)
    return {"models": merged["models"]}


# -- 5. the vacancy --------------------------------------------------------------------------
def run_vacancy(config, folder: Path, inputs: dict) -> dict:
    from .vacancy import vacancy_study

    settings = config.vacancy
    constants = _lattice_constants(inputs)
    entries, bands = {}, {}
    models = _models(inputs, settings.models)
    if NEQUIP not in models:
        entries[NEQUIP] = {"error": "not run (left out of vacancy.models)"}
    for name in _bar(models, "vacancy", config.progress):
        try:
            study = vacancy_study(
                models[name],
                settings.n_cells,
                constants[name],
                neb_images=settings.neb_images,
                string_images=settings.string_images,
                fmax=settings.fmax,
                temperatures=settings.temperatures,
            )
        except (RuntimeError, InputError) as error:  # a model's relaxation or saddle failed
            entries[name] = {"error": f"{type(error).__name__}: {error}"}
            continue
        bands[name] = (study.pop("_neb"), study.pop("_string"))
        entries[name] = study
    entries[DIRECT] = {
        "error": "not available: the direct-force model has no energy (formation energies, "
        "NEB barriers and Hessians at the saddle need one)"
    }
    _plot_mep(bands, folder / "mep.png")
    return {"models": entries}


def _plot_mep(bands, path) -> None:
    from ...analysis.paths import path_profile

    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    for k, (name, (neb, string)) in enumerate(bands.items()):
        for result, style, method in ((neb, "-", "NEB"), (string, "--", "string")):
            arc, energy = path_profile(result)
            axis.plot(arc, energy - energy[0], style, color=f"C{k}", label=f"{name} {method}")
    axis.set(
        xlabel="path length (Angstrom)", ylabel="E - E(initial) (eV)", title="vacancy migration"
    )
    axis.legend(fontsize=8)
    _save_figure(figure, path)


# -- 6. NVE drift ----------------------------------------------------------------------------
def run_drift(config, folder: Path, inputs: dict) -> dict:
    from .drift import nve_drift

    settings = config.drift
    constants = _lattice_constants(inputs)
    entries, series = {}, {}
    models = _models(inputs)
    for name in _bar(models, "NVE drift", config.progress):
        atoms = fcc_lattice(settings.n_cells, constants[name])
        try:
            result = nve_drift(
                atoms,
                models[name],
                timestep=settings.timestep,
                steps=settings.steps,
                initial_temperature=settings.temperature,
                record_every=settings.record_every,
                seed=settings.seed,
                skin=0.0 if name == EXACT else 0.5,
            )
        except InputError as error:  # the energy went non-finite: the MD blew up
            entries[name] = {"error": str(error)}
            continue
        series[name] = (result.pop("time_fs"), result.pop("total_energy_ev"))
        entries[name] = result
    write_json(folder / "series.json", series)
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    for name, (time_fs, total) in series.items():
        per_atom = (np.asarray(total) - total[0]) / entries[name]["num_atoms"]
        label = f"{name} ({entries[name]['energy_source']} energy)"
        axis.plot(np.asarray(time_fs) / 1000, per_atom, label=label)
    axis.set(xlabel="time (ps)", ylabel="E(t) - E(0) (eV/atom)", title="NVE energy drift")
    axis.legend(fontsize=8)
    _save_figure(figure, folder / "drift.png")
    return {"models": entries}


# name -> (function, READS, INPUTS, OUTPUTS, PLOTS); SETTINGS (threads, progress) in every view
STAGES = {
    "data": (run_data, ("data",), (), ("dataset/manifest.json",), ()),
    "models": (
        run_models,
        tuple(f"models.{f}" for f in _fields(ArgonModelsConfig, HOW_RUN)),
        ("data",),
        tuple(MODEL_FILES.values()),
        (),
    ),
    "phonons": (
        run_phonons,
        ("phonons",),
        ("models",),
        ("dispersion_dos.png",),
        ("dispersion_dos.png", "asymmetry.png"),
    ),
    "spectra": (
        run_spectra_stage,
        ("spectra",),
        ("models", "phonons"),
        ("spectra.json",),
        ("spectra.png", "peaks.png", "vdos.png"),
    ),
    "vacancy": (run_vacancy, ("vacancy",), ("models", "phonons"), (), ("mep.png",)),
    "drift": (run_drift, ("drift",), ("models", "phonons"), ("series.json",), ("drift.png",)),
    "hops": (
        run_hops_stage,
        tuple(f"hops.{f}" for f in _fields(HopRunConfig, ("lattice_constant",))),
        ("phonons", "vacancy"),
        (),
        ("arrhenius.png",),
    ),
    "model_hops": (
        run_model_hops_stage,
        (
            "model_hops",
            *(f"hops.{f}" for f in _fields(HopRunConfig, ("lattice_constant", *MODEL_RUN_FIELDS))),
        ),
        ("models", "phonons", "vacancy", "hops"),
        (),
        ("arrhenius.png",),
    ),
}
SETTINGS = ("threads", "progress")

__all__ = ["DIRECT", "EXACT", "MODEL_NAMES", "NEQUIP", "SETTINGS", "STAGES"]
