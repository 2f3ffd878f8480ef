"""`pgnfast mc config.yaml`: parallel tempering from a YAML file, resumable.

Keys (lengths nm, energies kT): potential ({kind: lennard_jones | core_repulsion | model |
dft, plus that potential's arguments; model: {kind: model, path: model.pt, design: {...},
core_exclusion: true}; dft: {kind: dft, design: {...}} or the default design}),
num_particles, box (nm, cubic) or density (1/nm^3), temperatures (a list, or {min, max,
count} for a geometric ladder), sweeps, output (folder), seed, checkpoint_every,
trajectory_every, log_every, step_size, equilibration_sweeps, tune_temperatures, backend
(serial, the default, or mpi: launch with ``mpiexec -n R pgnfast mc mc.yaml``, R <= number
of temperatures; see pgnfast.mc.mpi), design / core_exclusion (the same as inside
``potential:``, for a model), moves (single, the default, or hybrid) and hybrid (the hybrid
moves' settings, a mapping: see :func:`pgnfast.mc.hybrid.check_hybrid`).

A PGN model (units nm and kT) runs with the DFT's core exclusion
(:class:`pgnfast.dft.core_exclusion.CoreExclusion`) of the design it was trained for: the
model file's ``metadata["pgn_design"]``, or ``design:`` in the config; without either the
run is refused, unless the config says ``core_exclusion: false``.

A run whose output folder holds a checkpoint continues from it; a checkpoint of another
potential, number of particles, box, ladder, seed, move kind or hybrid settings is refused
(ResumeMismatchError).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..geometry import minimum_image
from ..validation import check_positive, check_seed

KEYS = {
    "potential",
    "num_particles",
    "box",
    "density",
    "temperatures",
    "sweeps",
    "output",
    "seed",
    "checkpoint_every",
    "trajectory_every",
    "log_every",
    "step_size",
    "equilibration_sweeps",
    "tune_temperatures",
    "backend",
    "design",
    "core_exclusion",
    "moves",
    "hybrid",
}


def add_arguments(parser) -> None:
    parser.add_argument("config", help="YAML file (see `pgnfast mc --help` and docs/mc.md)")
    parser.add_argument("--sweeps", type=int, default=None, help="override the total sweeps")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def is_pgn_model(model) -> bool:
    """Whether a model works in the PGN units (nm, kT): its `units`, or those its metadata
    records, or the model default (PGN) when neither says."""
    from pgnfast.nn.model import UNITS

    metadata = getattr(model, "metadata", {}) or {}
    units = getattr(model, "units", None) or metadata.get("units") or UNITS
    return units.get("length") == "nm" and units.get("energy") == "kT"


def with_core_exclusion(potential, design=None, core_exclusion=None, source: str = "the model"):
    """A model potential wrapped in the DFT's core exclusion of its design.

    design: a PGNDesign or its dict (default: the model's ``metadata["pgn_design"]``).
    core_exclusion: False returns the potential as it is; True requires a design; None (the
    default) adds the exclusion to every PGN model, refusing one whose design is unknown.
    """
    from pgnfast.dft.design import PGNDesign

    if core_exclusion is False:
        return potential
    if core_exclusion not in (None, True):
        raise InputError(f"core_exclusion must be true or false, got {core_exclusion!r}")
    model = potential.model
    metadata = getattr(model, "metadata", {}) or {}
    if design is None:
        design = metadata.get("pgn_design")
    if design is None:
        if core_exclusion is None and not is_pgn_model(model):
            return potential
        raise InputError(
            f"{source} is a PGN model but records no design (metadata 'pgn_design'), so the "
            "DFT's core exclusion cannot be added and hot replicas could walk into overlapping "
            "cores the model never saw: add `design: {core_radius: ..., grafting_density: "
            "..., chain_length: ..., kuhn_length: ..., segment_volume: ...}` under "
            "`potential:` in the config, or `core_exclusion: false` to run without it"
        )
    if not isinstance(design, PGNDesign):
        try:
            design = PGNDesign.from_dict(design)
        except (TypeError, ValueError, AttributeError) as error:
            raise InputError(f"design for {source}: {error}") from error
    num_types = getattr(model, "num_types", None)
    if num_types is not None and design.n_types != num_types:
        raise InputError(
            f"the design has {design.n_types} particle types but {source} has {num_types}"
        )
    from pgnfast.dft.core_exclusion import CoreExclusion

    try:
        return CoreExclusion(potential, design)
    except ValueError as error:
        raise InputError(f"core exclusion for {source}: {error}") from error


def build_potential(spec: dict):
    """Potential from its YAML description."""
    if not isinstance(spec, dict) or "kind" not in spec:
        raise InputError(f"potential must be a mapping with a 'kind', got {spec!r}")
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

        if "path" not in spec:
            raise InputError("potential of kind 'model' needs a 'path' to the model file")
        design, exclusion = spec.pop("design", None), spec.pop("core_exclusion", None)
        path = spec.pop("path")
        potential = Potential(path, **spec)
        return with_core_exclusion(potential, design, exclusion, source=f"the model {path}")
    if kind == "dft":
        from pgnfast.dft.design import PGNDesign, default_design
        from pgnfast.dft.functional import Functional

        design = spec.pop("design", None)
        return Functional(PGNDesign(**design) if design else default_design(), **spec)
    raise InputError(
        f"unknown potential kind {kind!r}; expected lennard_jones, core_repulsion, model or dft"
    )


def _temperatures(spec) -> np.ndarray:
    if isinstance(spec, dict):
        return np.geomspace(float(spec["min"]), float(spec["max"]), int(spec["count"]))
    return np.asarray(spec, dtype=np.float64)


def _start(n: int, box: float, min_distance: float, seed: int) -> np.ndarray:
    """Random positions (n, 3) nm with no pair closer than min_distance (sequential addition,
    falling back to a jittered lattice when the box is crowded)."""
    rng = np.random.default_rng(seed)
    cell = np.eye(3) * box
    inverse = np.eye(3) / box
    points = np.empty((n, 3))
    placed, tries = 0, 0
    while placed < n and tries < 200 * n:
        p = rng.random(3) * box
        d = minimum_image(points[:placed] - p, cell, inverse)
        if placed == 0 or np.min(np.einsum("ij,ij->i", d, d)) > min_distance**2:
            points[placed] = p
            placed += 1
        tries += 1
    if placed == n:
        return points
    side = int(np.ceil(n ** (1 / 3)))
    grid = np.stack(np.meshgrid(*[np.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3)
    return (grid[:n] + 0.5) * box / side


def _required(config: dict, key: str):
    if key not in config:
        raise InputError(f"the mc config has no {key!r}")
    return config[key]


def _box(config: dict, n: int) -> float:
    if "box" in config:
        return check_positive(config["box"], "box (nm)")
    density = check_positive(_required(config, "density"), "density (1/nm^3)")
    return (n / density) ** (1 / 3)


def run(args) -> int:
    from pgnfast._config import check_keys, read_yaml

    from . import JsonLinesLog, ParallelTempering, TrajectoryWriter

    config = check_keys(read_yaml(args.config), KEYS, "mc config")
    output = Path(config.get("output", "mc_output"))
    output.mkdir(parents=True, exist_ok=True)
    spec = dict(_required(config, "potential"))
    if spec.get("kind") == "model":
        for key in ("design", "core_exclusion"):
            if key in config and key not in spec:
                spec[key] = config[key]
    potential = build_potential(spec)
    checkpoint = output / "checkpoint.npz"
    total = int(args.sweeps if args.sweeps is not None else _required(config, "sweeps"))
    seed = check_seed(config.get("seed", 0), "seed")
    temperatures = _temperatures(_required(config, "temperatures"))
    backend = config.get("backend", "serial")
    if backend not in ("serial", "mpi"):
        raise InputError(f"backend must be 'serial' or 'mpi', got {backend!r}")
    engine_class, extra = ParallelTempering, {}
    resume = checkpoint.exists() or checkpoint.with_name(checkpoint.name + ".prev").exists()
    if backend == "mpi":
        from .mpi import MPIParallelTempering, _world

        engine_class, extra = MPIParallelTempering, {"comm": _world()}
        resume = extra["comm"].bcast(resume, root=0)  # rank 0's file system decides
    n = int(_required(config, "num_particles"))
    box = _box(config, n)
    moves = config.get("moves", "single")
    hybrid = config.get("hybrid")
    if hybrid is not None and not isinstance(hybrid, dict):
        raise InputError(f"hybrid must be a mapping of hybrid-move settings, got {hybrid!r}")
    if hybrid is not None and moves != "hybrid":
        raise InputError(f"the config has hybrid settings but moves: {moves!r}; add moves: hybrid")
    if resume:
        engine = engine_class.from_checkpoint(
            checkpoint,
            potential,
            num_particles=n,
            temperatures=temperatures,
            moves=moves,
            hybrid=({} if hybrid is None else hybrid) if moves == "hybrid" else None,
            **extra,
        )
        _check_same_run(engine, checkpoint, box, seed)
        if engine.is_root:
            print(f"resuming from sweep {engine.sweeps_done}")
    else:
        core = getattr(potential, "core_diameter", None)
        spacing = (box**3 / n) ** (1 / 3)
        positions = _start(n, box, 1.05 * core if core else 0.8 * spacing, seed)
        engine = engine_class(
            potential,
            positions,
            np.eye(3) * box,
            temperatures,
            seed=seed,
            step_size=config.get("step_size", "auto"),
            equilibration_sweeps=int(config.get("equilibration_sweeps", 100)),
            tune_temperatures=bool(config.get("tune_temperatures", False)),
            moves=moves,
            hybrid=hybrid,
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
        f"{summary.timings['moves_per_s']:.0f} "
        f"{'trajectories' if engine.mode == 'hybrid' else 'moves'}/s"
    )
    return 0


def _check_same_run(engine, checkpoint: Path, box: float, seed: int) -> None:
    """Refuse a checkpoint whose box or seed differ from the config's."""
    from ..errors import ResumeMismatchError

    if not np.allclose(engine.cell, np.eye(3) * box, rtol=1e-9, atol=0.0):
        raise ResumeMismatchError(
            f"checkpoint {checkpoint} was run in the box {engine.cell.tolist()} nm, but the "
            f"config gives a cubic box of {box:g} nm"
        )
    if engine.seed != seed:
        raise ResumeMismatchError(
            f"checkpoint {checkpoint} was run with seed {engine.seed}, but the config gives "
            f"seed {seed}"
        )
