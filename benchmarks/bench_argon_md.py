"""Argon MD speed: steps per second of LAMMPS's native ``lj/cut`` against LAMMPS ``fix
external`` and ASE's velocity Verlet driven by pgnfast's exact Lennard-Jones, a NequIP
model and the direct-force baseline (issue 14).

    python benchmarks/bench_argon_md.py --sizes 256 4000 32000 --steps 20 --threads 1

fcc argon (4 n^3 atoms, a = 5.26 Angstrom) at 10 K, NVE, 5 fs steps. The models are small
and untrained (timing only), with the architecture of the defaults of
``pgnfast.systems.argon.models.ArgonModelsConfig``, float32, with a 1 Angstrom Verlet skin
on their neighbor lists. LAMMPS's native lj/cut runs 50 times as many steps. A step's cost
is the runners' "dynamics_seconds" / steps: set-up (box, atoms, the first force call) is
left out. The machine's load average is recorded beside the numbers. Writes
results/argon_md/argon_md.json and argon_md.png.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
from pathlib import Path

import torch
from provenance import git_commit

RESULTS = Path(__file__).parent / "results" / "argon_md"
NATIVE_STEPS_FACTOR = 50


def crystal(num_atoms: int, temperature: float = 10.0, seed: int = 0):
    from pgnfast.md.ase_md import thermalize
    from pgnfast.systems.argon import fcc_lattice

    n_cells = round((num_atoms / 4) ** (1 / 3))
    if 4 * n_cells**3 != num_atoms:
        raise SystemExit(f"N must be 4 n^3 (fcc cells), got {num_atoms}")
    atoms = fcc_lattice(n_cells, 5.26)
    thermalize(atoms, temperature, seed)
    return atoms


def models():
    """Untrained NequIP and direct-force models of the default argon sizes, float32."""
    from pgnfast.nn.direct_force import DirectForceModel
    from pgnfast.nn.model import NequIP
    from pgnfast.systems.argon.models import ArgonModelsConfig
    from pgnfast.units import ATOMISTIC

    sizes = ArgonModelsConfig()
    torch.manual_seed(0)
    nequip = NequIP(
        r_max=sizes.nequip_r_max,
        num_layers=sizes.nequip_num_layers,
        l_max=sizes.nequip_l_max,
        num_features=sizes.nequip_num_features,
        num_bessel=sizes.nequip_num_bessel,
        radial_mlp_width=sizes.nequip_radial_mlp_width,
        avg_num_neighbors=40.0,
    ).float()
    nequip.set_energy_scale_shift([1e-3], [-0.08])
    direct = DirectForceModel(
        r_max=sizes.direct_r_max,
        num_layers=sizes.direct_num_layers,
        num_features=sizes.direct_num_features,
        num_bessel=sizes.direct_num_bessel,
    ).float()
    direct.set_avg_num_neighbors(40.0)
    direct.set_force_scale(1e-3)
    for model in (nequip, direct):
        model.units = dict(ATOMISTIC)
    return {"NequIP": nequip.eval(), "direct-force": direct.eval()}


def seconds_per_step(run, steps: int) -> float:
    """Wall time per step of the steps themselves (the runner's "dynamics_seconds")."""
    return run(steps)["dynamics_seconds"] / steps


def measure(num_atoms: int, steps: int, engines: list[str]) -> list[dict]:
    from pgnfast.md.ase_md import run_md
    from pgnfast.md.calculator import as_force_field
    from pgnfast.md.fix_external import run_fix_external, run_lammps_native
    from pgnfast.systems.argon import argon_lj, lammps_pair_commands

    atoms = crystal(num_atoms)
    fields = {"exact LJ": as_force_field(argon_lj())}
    for name, model in models().items():
        fields[name] = model
    options = dict(timestep=5.0, record_every=max(steps, 1))
    rows = []

    def record(engine, source, run, count=steps):
        per_step = seconds_per_step(run, count)
        row = {
            "engine": engine,
            "forces": source,
            "num_atoms": num_atoms,
            "steps": count,
            "ms_per_step": 1e3 * per_step,
            "steps_per_second": 1.0 / per_step,
        }
        print(json.dumps(row), flush=True)
        rows.append(row)

    if "lammps-native" in engines:
        record(
            "LAMMPS lj/cut",
            "exact LJ",
            lambda k: run_lammps_native(
                atoms, lammps_pair_commands(), steps=k, timestep=5.0, record_every=max(k, 1)
            ),
            NATIVE_STEPS_FACTOR * steps,  # native steps are fast: time more of them
        )
    for source, forces in fields.items():
        skin = 0.0 if source == "exact LJ" else 1.0
        if "lammps-external" in engines:
            record(
                "LAMMPS fix external",
                source,
                lambda k, f=forces, s=skin: run_fix_external(atoms, f, steps=k, skin=s, **options),
            )
        if "ase" in engines:
            record(
                "ASE velocity Verlet",
                source,
                lambda k, f=forces, s=skin: run_md(atoms, f, steps=k, skin=s, **options),
            )
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for engine, source in sorted({(r["engine"], r["forces"]) for r in rows}):
        mine = sorted(
            (r for r in rows if (r["engine"], r["forces"]) == (engine, source)),
            key=lambda r: r["num_atoms"],
        )
        style = "-" if engine.startswith("LAMMPS") else "--"
        ax.loglog(
            [r["num_atoms"] for r in mine],
            [r["steps_per_second"] for r in mine],
            style,
            marker="o",
            label=f"{engine}, {source}",
        )
    ax.set_xlabel("atoms")
    ax.set_ylabel("MD steps per second (1 thread)")
    ax.set_title("argon NVE, 5 fs steps")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 4000, 32000])
    parser.add_argument(
        "--steps",
        type=int,
        nargs="+",
        default=[20],
        help="timed steps per size (one value, or one per size)",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--engines",
        nargs="+",
        default=["lammps-native", "lammps-external", "ase"],
        choices=["lammps-native", "lammps-external", "ase"],
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    steps = args.steps * len(args.sizes) if len(args.steps) == 1 else args.steps
    if len(steps) != len(args.sizes):
        raise SystemExit("--steps: give one value or one per size")
    rows = []
    for num_atoms, count in zip(args.sizes, steps):
        rows += measure(num_atoms, count, args.engines)
    result = {
        "benchmark": "argon MD steps per second",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_1min_at_end": os.getloadavg()[0],
        "threads": args.threads,
        "torch": torch.__version__,
        "timestep_fs": 5.0,
        "temperature_k": 10.0,
        "model_dtype": "float32",
        "model_skin_angstrom": 1.0,
        "rows": rows,
    }
    from pgnfast._atomic import write_json

    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "argon_md.json", result)
    plot(rows, args.out / "argon_md.png")
    return result


if __name__ == "__main__":
    main()
