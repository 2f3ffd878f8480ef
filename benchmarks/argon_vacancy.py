"""The argon vacancy for the exact Lennard-Jones potential (issue 14): formation energy at
constant volume and at zero pressure, NEB and string barriers, the saddle's Hessian, the
Vineyard prefactor and harmonic hop rates; optionally LAMMPS hop runs (Wigner-Seitz tracking).

    python benchmarks/argon_vacancy.py [--n-cells 4] [--model MODEL_FILE]
        [--hops] [--hop-temperatures 80] [--hop-chunks 4] [--hop-chunk-steps 5000]
        [--hop-ensemble nvt] [--out benchmarks/results/argon_vacancy]

Writes argon_vacancy.json (eV, Angstrom, per ps, K), mep.png (energy along the NEB and
string paths) and, with --hops, arrhenius.png and the resumable run folders under hops/
(rerun the same command to extend or resume them).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from provenance import git_commit  # noqa: E402

from pgnfast._atomic import write_json  # noqa: E402
from pgnfast.analysis.paths import path_profile  # noqa: E402
from pgnfast.analysis.rates import BOLTZMANN_EV_PER_K, arrhenius_fit  # noqa: E402
from pgnfast.systems.argon import argon_lj  # noqa: E402
from pgnfast.systems.argon.hops import HopRunConfig, hop_study  # noqa: E402
from pgnfast.systems.argon.vacancy import vacancy_study  # noqa: E402

DEFAULT_OUT = Path(__file__).parent / "results" / "argon_vacancy"


def plot_paths(study, path):
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for key, label, marker in (("_neb", "NEB (climbing image)", "o"), ("_string", "string", "s")):
        result = study[key]
        arc, energy = path_profile(result)
        (line,) = ax.plot(arc, 1e3 * (energy - result.energies[0]), label=label)
        steps = np.linalg.norm(
            np.diff(result.images, axis=0).reshape(len(result.images) - 1, -1), axis=1
        )
        ax.plot(
            np.concatenate([[0.0], np.cumsum(steps)]),
            1e3 * (result.energies - result.energies[0]),
            marker,
            color=line.get_color(),
            ms=4,
        )
    ax.set_xlabel("path length (Angstrom, all atoms)")
    ax.set_ylabel("energy (meV)")
    ax.set_title(f"vacancy migration, LJ argon, {study['n_atoms']} atoms")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_arrhenius(hops, study, path):
    fig, ax = plt.subplots(figsize=(5, 3.5))
    inverse, rates, errors = [], [], []
    for t, run in hops.get("all_runs", hops["runs"]).items():
        if run["hops"] > 0:
            inverse.append(1.0 / float(t))
            rates.append(run["rate"])
            errors.append(run["rate_error"])
    if rates:
        ax.errorbar(inverse, rates, yerr=errors, fmt="o", label="LAMMPS hops (all 12 paths)")
    grid = np.linspace(1 / 180, 1 / 55, 50)
    prefactor = study["vineyard"]["prefactor"] * study["coordination"]
    harmonic = prefactor * np.exp(-study["neb_barrier"] * grid / BOLTZMANN_EV_PER_K)
    ax.plot(grid, harmonic, label="harmonic TST (0 K NEB, Vineyard)")
    fit = hops.get("arrhenius_all_runs") or hops["arrhenius"]
    if fit:
        ax.plot(
            grid,
            fit["prefactor"] * np.exp(-fit["barrier"] * grid / BOLTZMANN_EV_PER_K),
            "--",
            label=f"Arrhenius fit, E = {fit['barrier']:.4f} eV",
        )
    ax.set_yscale("log")
    ax.set_xlabel("1 / T (1/K)")
    ax.set_ylabel("vacancy hop rate (1/ps)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def all_runs(folder):
    """Every run folder T_<K> under `folder` as it stands (also temperatures this call did
    not extend), and the Arrhenius fit of the crystalline ones with hops (None below two)."""
    runs = {}
    for path in sorted(Path(folder).glob("T_*/state.json")):
        state = json.loads(path.read_text())
        runs[path.parent.name[2:]] = {k: state[k] for k in ("hops", "time_ps", "rate",
                                      "rate_error", "melted", "chunks_done")}  # fmt: skip
    usable = {t: r for t, r in runs.items() if r["hops"] > 0 and not r["melted"]}
    fit = None
    if len(usable) >= 2:
        fit = arrhenius_fit([float(t) for t in usable], [r["hops"] for r in usable.values()],
                            [r["time_ps"] for r in usable.values()]).to_dict()  # fmt: skip
    return runs, fit


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-cells", type=int, default=4)
    parser.add_argument("--model", help="a pgnfast model file (Angstrom, eV) instead of exact LJ")
    parser.add_argument("--hops", action="store_true", help="run LAMMPS hop runs too")
    parser.add_argument("--hop-temperatures", type=float, nargs="+", default=[80.0])
    parser.add_argument("--hop-chunks", type=int, default=4)
    parser.add_argument("--hop-chunk-steps", type=int, default=5000)
    parser.add_argument("--hop-ensemble", default="nvt", choices=("nvt", "npt"))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    model, name = argon_lj(), "exact Lennard-Jones"
    if args.model:
        from pgnfast.nn.potential import Potential

        model, name = Potential(args.model), args.model
    start = time.perf_counter()
    study = vacancy_study(model, n_cells=args.n_cells)
    seconds = time.perf_counter() - start
    plot_paths(study, args.out / "mep.png")
    record = {k: v for k, v in study.items() if not k.startswith("_")}
    record.update(model=name, seconds=seconds)
    if args.hops:
        config = HopRunConfig(
            n_cells=args.n_cells,
            lattice_constant=study["lattice_constant"],
            temperatures=tuple(args.hop_temperatures),
            chunks=args.hop_chunks,
            chunk_steps=args.hop_chunk_steps,
            ensemble=args.hop_ensemble,
        )
        start = time.perf_counter()
        hops = hop_study(config, args.out / "hops" / args.hop_ensemble, progress=True)
        record["hops"] = {
            "seconds_this_call": time.perf_counter() - start,
            "arrhenius": hops["arrhenius"],
            "config": hops["config"],
            "runs": {
                t: {
                    k: run[k]
                    for k in (
                        "hops",
                        "time_ps",
                        "rate",
                        "rate_error",
                        "melted",
                        "lowest_crystalline",
                        "chunks_done",
                    )
                }
                for t, run in hops["runs"].items()
            },
        }
        record["hops"]["all_runs"], record["hops"]["arrhenius_all_runs"] = all_runs(
            args.out / "hops" / args.hop_ensemble
        )
        harmonic = study["vineyard"]["prefactor"] * study["coordination"]
        for runs in (record["hops"]["runs"], record["hops"]["all_runs"]):
            for t, run in runs.items():
                run["harmonic_total_rate"] = harmonic * np.exp(
                    -study["neb_barrier"] / (BOLTZMANN_EV_PER_K * float(t))
                )
        plot_arrhenius(record["hops"], study, args.out / "arrhenius.png")
    record["provenance"] = {
        "commit": git_commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "machine": platform.platform(),
        "units": "Angstrom, eV, K; rates and prefactors per ps (THz)",
    }
    write_json(args.out / "argon_vacancy.json", record)
    for key in (
        "lattice_constant",
        "formation_energy_constant_volume",
        "formation_energy_zero_pressure",
        "neb_barrier",
        "string_barrier",
    ):
        print(f"{key}: {record[key]:.6f}")
    print(f"Vineyard prefactor: {study['vineyard']['prefactor']:.4f} per ps (per path)")
    for t, rates in record["harmonic_rates_per_ps"].items():
        print(
            f"harmonic rate at {t} K: {rates['per_path']:.3e} per path, {rates['total']:.3e} total"
        )
    if args.hops:
        for t, run in record["hops"]["all_runs"].items():
            print(
                f"hops at {t} K: {run['hops']} in {run['time_ps']:.0f} ps, rate {run['rate']:.2e}"
                f" +- {run['rate_error']:.1e} per ps (harmonic {run['harmonic_total_rate']:.2e})"
            )
    return record


if __name__ == "__main__":
    main()
