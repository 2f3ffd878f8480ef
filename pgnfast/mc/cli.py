"""`pgnfast mc config.yaml`: parallel tempering from a YAML file, resumable.

Keys (lengths nm, energies kT): potential ({kind: lennard_jones | core_repulsion | model |
dft, plus that potential's arguments; model: {kind: model, path: model.pt}; dft: {kind: dft,
design: {...}} or the default design}), num_particles, box (nm, cubic) or density (1/nm^3),
temperatures (a list, or {min, max, count} for a geometric ladder), sweeps, output (folder),
seed, checkpoint_every, trajectory_every, log_every, step_size, equilibration_sweeps,
tune_temperatures, backend (serial, the default, or mpi: launch with ``mpiexec -n R pgnfast mc
mc.yaml``, R <= number of temperatures; see pgnfast.mc.mpi). A run whose output folder holds
a checkpoint continues from it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def add_arguments(parser) -> None:
    parser.add_argument("config", help="YAML file (see `pgnfast mc --help` and docs/mc.md)")
    parser.add_argument("--sweeps", type=int, default=None, help="override the total sweeps")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def build_potential(spec: dict):
    """Potential from its YAML description."""
    spec = dict(spec)
    kind = spec.pop("kind")
    if kind == "lennard_jones":
        from pgnfast.potentials import LennardJones

        return LennardJones(**spec)
    if kind == "core_repulsion":
        from pgnfast.potentials import CoreRepulsion

        return CoreRepulsion(**spec)
    if kind == "model":
        from pgnfast.nn.potential import Potential

        return Potential(spec.pop("path"), **spec)
    if kind == "dft":
        from pgnfast.dft.design import PGNDesign, default_design
        from pgnfast.dft.functional import Functional

        design = spec.pop("design", None)
        return Functional(PGNDesign(**design) if design else default_design(), **spec)
    raise ValueError(f"unknown potential kind {kind!r}")


def _temperatures(spec) -> np.ndarray:
    if isinstance(spec, dict):
        return np.geomspace(float(spec["min"]), float(spec["max"]), int(spec["count"]))
    return np.asarray(spec, dtype=np.float64)


def _start(n: int, box: float, min_distance: float, seed: int) -> np.ndarray:
    """Random positions (n, 3) nm with no pair closer than min_distance (sequential addition,
    falling back to a jittered lattice when the box is crowded)."""
    rng = np.random.default_rng(seed)
    points = np.empty((n, 3))
    placed, tries = 0, 0
    while placed < n and tries < 200 * n:
        p = rng.random(3) * box
        d = points[:placed] - p
        d -= np.round(d / box) * box
        if placed == 0 or np.min(np.einsum("ij,ij->i", d, d)) > min_distance**2:
            points[placed] = p
            placed += 1
        tries += 1
    if placed == n:
        return points
    side = int(np.ceil(n ** (1 / 3)))
    grid = np.stack(np.meshgrid(*[np.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3)
    return (grid[:n] + 0.5) * box / side


def run(args) -> int:
    import yaml

    from . import JsonLinesLog, ParallelTempering, TrajectoryWriter

    config = yaml.safe_load(Path(args.config).read_text())
    output = Path(config.get("output", "mc_output"))
    output.mkdir(parents=True, exist_ok=True)
    potential = build_potential(config["potential"])
    checkpoint = output / "checkpoint.npz"
    total = int(args.sweeps if args.sweeps is not None else config["sweeps"])
    backend = config.get("backend", "serial")
    if backend not in ("serial", "mpi"):
        raise ValueError(f"backend must be 'serial' or 'mpi', got {backend!r}")
    engine_class, extra = ParallelTempering, {}
    resume = checkpoint.exists() or checkpoint.with_name(checkpoint.name + ".prev").exists()
    if backend == "mpi":
        from .mpi import MPIParallelTempering, _world

        engine_class, extra = MPIParallelTempering, {"comm": _world()}
        resume = extra["comm"].bcast(resume, root=0)  # rank 0's file system decides
    if resume:
        engine = engine_class.from_checkpoint(checkpoint, potential, **extra)
        if engine.is_root:
            print(f"resuming from sweep {engine.sweeps_done}")
    else:
        n = int(config["num_particles"])
        box = float(config["box"]) if "box" in config else (n / float(config["density"])) ** (1 / 3)
        core = getattr(potential, "core_diameter", None)
        spacing = (box**3 / n) ** (1 / 3)
        positions = _start(n, box, 1.05 * core if core else 0.8 * spacing, config.get("seed", 0))
        engine = engine_class(
            potential,
            positions,
            np.eye(3) * box,
            _temperatures(config["temperatures"]),
            seed=int(config.get("seed", 0)),
            step_size=config.get("step_size", "auto"),
            equilibration_sweeps=int(config.get("equilibration_sweeps", 100)),
            tune_temperatures=bool(config.get("tune_temperatures", False)),
            **extra,
        )
    writers = [
        TrajectoryWriter(output, every=int(config.get("trajectory_every", 100))),
        JsonLinesLog(output / "log.jsonl", every=int(config.get("log_every", 1))),
    ]
    summary = engine.run(
        max(0, total - engine.sweeps_done),
        checkpoint=checkpoint,
        checkpoint_every=int(config.get("checkpoint_every", 100)),
        writers=writers,
        progress=False if args.no_progress else None,
    )
    if not engine.is_root:
        return 0
    result = summary.as_dict()
    np.save(output / "lowest_positions.npy", summary.lowest_positions)
    result.pop("lowest_positions")
    (output / "summary.json").write_text(json.dumps(result, indent=2, default=float))
    print(
        f"{summary.sweeps} sweeps; lowest energy {summary.lowest_energy:.6f} kT; "
        f"mean energies {np.round(summary.mean_energy, 3).tolist()}; "
        f"{summary.timings['moves_per_s']:.0f} moves/s"
    )
    return 0
