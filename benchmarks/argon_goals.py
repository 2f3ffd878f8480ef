"""Issue 14's goals for one trained argon NequIP model, with the functions and settings of
`pgnfast argon`'s phonons and vacancy stages: the 0 K lattice constant, the X and L
frequencies at the model's own lattice constant and at the exact one (which separates the
equation of state from the force constants), and the vacancy formation (constant volume)
and migration (NEB, string) energies, each against the exact Lennard-Jones.

    python benchmarks/argon_goals.py MODEL_FILE [--config examples/argon.yaml]
        [--out benchmarks/results/argon_study] [--threads 1]
        [--hops WORK [--hop-temperatures 165] [--hop-chunks N]]

Writes goals.json (Angstrom, eV, THz; errors in %). Goals: frequencies within 2 %, vacancy
energies within 5 %. --hops WORK adds the model's vacancy hop runs (LAMMPS fix external, the
config's `hops` and `model_hops` settings, at the model's own 0 K lattice constant;
checkpointed in WORK, so a rerun resumes) beside its own and the exact potential's harmonic
(Vineyard) rates.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import time
from pathlib import Path

import torch
from provenance import git_commit

from pgnfast._atomic import write_json
from pgnfast.md.calculator import load_model_file
from pgnfast.systems.argon.config import ArgonRunConfig
from pgnfast.systems.argon.phonons import (
    Relaxation,
    compute_phonons,
    phonon_model,
    relax_lattice_constant,
)
from pgnfast.systems.argon.reference import argon_lj
from pgnfast.systems.argon.vacancy import vacancy_study

DEFAULT_OUT = Path(__file__).parent / "results" / "argon_study"
VACANCY_KEYS = ("formation_energy_constant_volume", "neb_barrier", "string_barrier")


def _percent(value, reference) -> float:
    return 100.0 * (value - reference) / abs(reference)


def _frequencies(model, name, settings, relaxation) -> dict:
    result = compute_phonons(
        phonon_model(model, name, step=settings.step),
        relaxation,
        settings.n_cells,
        settings.band_points,
        settings.mesh,
        settings.dos_sigma,
    )
    return {p: result.at_points[p] for p in ("X", "L")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a NequIP model file (Angstrom, eV)")
    parser.add_argument("--config", type=Path, help="an argon config YAML (its phonons, vacancy)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--hops", type=Path, metavar="WORK", help="also run the hop runs here")
    parser.add_argument("--hop-temperatures", type=float, nargs="+", help="K (default: config)")
    parser.add_argument("--hop-chunks", type=int, help="chunks per temperature (default: config)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = ArgonRunConfig.from_yaml(args.config) if args.config else ArgonRunConfig.default()
    phonons, vacancy = config.phonons, config.vacancy
    models = {"exact": argon_lj(), "NequIP": load_model_file(args.model, units="atomistic")}
    record: dict = {"models": {}, "seconds": {}}
    for name, model in models.items():
        started = time.perf_counter()
        relaxed = relax_lattice_constant(
            phonon_model(model, name, step=phonons.step), phonons.relax_n_cells, phonons.bounds
        )
        entry = {
            "lattice_constant": relaxed.lattice_constant,
            "frequencies_thz": _frequencies(model, name, phonons, relaxed),
        }
        if name != "exact":
            exact_a = record["models"]["exact"]["lattice_constant"]
            fixed = Relaxation(exact_a, "fixed")
            entry["frequencies_thz_at_exact_a"] = _frequencies(model, name, phonons, fixed)
        study = vacancy_study(
            model,
            vacancy.n_cells,
            relaxed.lattice_constant,
            neb_images=vacancy.neb_images,
            string_images=vacancy.string_images,
            fmax=vacancy.fmax,
            temperatures=vacancy.temperatures,
        )
        entry["vacancy"] = {key: study[key] for key in VACANCY_KEYS}
        entry["vacancy"]["saddle_negative_modes"] = study["vineyard"].get("saddle_negative_modes")
        entry["vacancy"]["vineyard_prefactor_per_ps"] = study["vineyard"].get("prefactor")
        for key in ("saddle_lowest_eigenvalues", "minimum_lowest_eigenvalues"):
            entry["vacancy"][key] = study["vineyard"].get(key)
        entry["vacancy"]["coordination"] = study["coordination"]
        record["models"][name] = entry
        record["seconds"][name] = time.perf_counter() - started
    exact, nequip = record["models"]["exact"], record["models"]["NequIP"]
    errors = {
        "lattice_constant": _percent(nequip["lattice_constant"], exact["lattice_constant"]),
        **{
            f"{key} {point}": [
                _percent(v, r) for v, r in zip(nequip[key][point], exact["frequencies_thz"][point])
            ]
            for key in ("frequencies_thz", "frequencies_thz_at_exact_a")
            for point in ("X", "L")
        },
        **{k: _percent(nequip["vacancy"][k], exact["vacancy"][k]) for k in VACANCY_KEYS},
    }
    worst_phonon = max(abs(e) for p in ("X", "L") for e in errors[f"frequencies_thz {p}"])
    worst_vacancy = max(abs(errors[k]) for k in ("formation_energy_constant_volume", "neb_barrier"))
    record.update(
        errors_percent=errors,
        goals={
            "phonon_worst_error_percent": worst_phonon,
            "phonons_met": worst_phonon <= 2.0,
            "vacancy_worst_error_percent": worst_vacancy,
            "vacancy_met": worst_vacancy <= 5.0,
        },
        units={"length": "Angstrom", "energy": "eV", "frequency": "THz", "errors": "%"},
        inputs={
            "model": Path(args.model).name,
            "config": args.config.name if args.config else None,
        },
        provenance={
            "commit": git_commit(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": platform.platform(),
            "threads": args.threads,
        },
    )
    if args.hops is not None:
        started = time.perf_counter()
        record["hops"] = _hop_runs(args, config, record["models"])
        record["seconds"]["hops"] = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "goals.json", record)
    print(
        f"NequIP a {errors['lattice_constant']:+.2f} %; worst X/L error {worst_phonon:.2f} % "
        f"(at the exact a: "
        f"{max(abs(e) for p in ('X', 'L') for e in errors[f'frequencies_thz_at_exact_a {p}']):.2f}"
        f" %); worst vacancy error {worst_vacancy:.2f} %; {args.out / 'goals.json'}"
    )
    return 0


def _hop_runs(args, config, models) -> dict:
    """The model's hop runs (fix external) at its own 0 K lattice constant, with the harmonic
    rates (per ps, all paths) of its own and the exact potential's barrier and prefactor."""
    import dataclasses

    from pgnfast.analysis.rates import harmonic_rate
    from pgnfast.systems.argon.hop_stages import RUN_KEYS
    from pgnfast.systems.argon.hops import HopRunConfig, hop_study

    settings = config.model_hops
    fields = {f.name: getattr(config.hops, f.name) for f in dataclasses.fields(HopRunConfig)}
    fields.update(
        temperatures=tuple(args.hop_temperatures or settings.temperatures),
        equilibration_steps=settings.equilibration_steps,
        chunk_steps=settings.chunk_steps,
        chunks=args.hop_chunks or settings.chunks,
        lattice_constant=models["NequIP"]["lattice_constant"],
    )
    hops = HopRunConfig(**fields)
    study = hop_study(hops, args.hops, progress=True, model=args.model, skin=settings.skin)
    runs = {t: {k: run.get(k) for k in RUN_KEYS} for t, run in study["runs"].items()}
    for t, run in runs.items():
        for name, key in (("NequIP", "harmonic_rate"), ("exact", "exact_harmonic_rate")):
            vacancy = models[name]["vacancy"]
            per_path = harmonic_rate(
                vacancy["vineyard_prefactor_per_ps"], vacancy["neb_barrier"], float(t)
            )
            run[key] = vacancy["coordination"] * per_path
    return {
        "lattice_constant": hops.lattice_constant,
        "n_atoms": 4 * hops.n_cells**3 - 1,
        "ensemble": hops.ensemble,
        "skin": settings.skin,
        "runs": runs,
        "arrhenius": study["arrhenius"],
    }


if __name__ == "__main__":
    raise SystemExit(main())
