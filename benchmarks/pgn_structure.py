"""Icosahedral order and S(q -> 0) of PGN glasses: parallel tempering with a many-body model
against a pair potential, with random and hard-sphere references (issue 17, part 3).

    python benchmarks/pgn_structure.py run NAME --potential FILE --design DESIGN.yaml \\
        --n 1000 --t-min 0.5 --t-max 4 --replicas 16 --sweeps 4000 --runs RUNS
    python benchmarks/pgn_structure.py analyze NAME [NAME ...] --runs RUNS

Units: nm, kT; temperatures in multiples of kT. `run`: hybrid-move parallel tempering
(pgnfast.mc, deterministic even/odd exchanges every sweep) of `--n` cores of the design on
a geometric ladder, from a random configuration of the design (random sequential placement
in its melt box), the potential wrapped in the DFT's core exclusion. --potential: a NequIP
model file (.pt, .pth; PGN units), `builtin:KIND[:key=value,...]` (a pgnfast.mc.cli pair
potential: lennard_jones, core_repulsion; for tests), or any other file, read by
pgnfast.potentials.TabulatedPair.load (a pair potential fitted to the same DFT forces).
RUNS/NAME gets checkpoint.npz (every --checkpoint-every sweeps, atomic), one extxyz per
temperature (a frame every --sample-every sweeps), log.jsonl (every sweep: energies,
permutation, acceptance) and run.json (settings, engine summary, CPU seconds). Rerunning
the same command resumes (raise --sweeps to extend); other settings are refused.
--tune-ladder moves the inner temperatures during equilibration toward equal swap
rejection (the ends stay); production and the analysis use the final ladder.

`analyze`: per run and temperature, over the frames after the equilibration sweeps less
the first --discard share of them, means with standard errors over --blocks consecutive
blocks (pgnfast.analysis.local_order): Voronoi <0,0,12,0> fraction, pentagonal face share,
W6 over the 12 nearest neighbours (mean and the share below --w6-threshold, -0.1; an
icosahedron has -0.170, fcc -0.013), Q6, W6 and bond-angle distributions, g(r), S(q) on the
box's wave vectors (binned) and on its smallest shells (S(q -> 0): the mean of the 3
smallest |q|, the smallest 2 pi / L). References with the same design, N and box:
--references random configurations and as many equilibrated hard-sphere fluids of the core
radii (pgnfast.analysis.hard_spheres: the same core volume fraction exactly), errors over
configurations. Per run: exchange acceptance per pair and round trips (all sweeps and
production only), sweeps, CPU seconds. Writes structure.json and PNGs to --out.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

if __name__ == "__main__":  # a script run only: importers (the tests) keep their threads
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from provenance import git_commit  # noqa: E402

from pgnfast.errors import InputError, PGNFastError  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "pgn_structure"
RUN_KEYS = ("design", "n", "t_min", "t_max", "replicas", "equilibration", "seed")
RUN_KEYS += ("sample_every", "type_fractions", "target_acceptance", "tune_ladder")
START_SEED_OFFSET = 1  # the random start's seed is --seed + 1


class StructureRunError(InputError):
    """A run's arguments or folder do not fit (another run's state, an unknown potential)."""


def load_potential(spec: str, design, device: str = "cpu"):
    """The potential of `spec` (see the module docstring) inside the design's core exclusion."""
    from pgnfast.dft.core_exclusion import CoreExclusion

    if spec.startswith("builtin:"):
        import yaml

        from pgnfast.mc.cli import build_potential

        kind, _, params = spec[len("builtin:") :].partition(":")
        try:
            values = dict(item.split("=", 1) for item in params.split(",") if item)
            parsed = {key: yaml.safe_load(value) for key, value in values.items()}
            return CoreExclusion(build_potential({"kind": kind, **parsed}), design)
        except (TypeError, ValueError) as error:
            raise StructureRunError(f"--potential {spec}: {error}") from error
    path = Path(spec)
    if not path.is_file():
        raise StructureRunError(f"--potential {spec}: no such file")
    if path.suffix in (".pt", ".pth"):
        from pgnfast.mc.cli import with_core_exclusion
        from pgnfast.nn.io import load_model
        from pgnfast.nn.potential import Potential

        model = load_model(path, units="pgn", map_location=device)
        return with_core_exclusion(Potential(model), design, True, source=f"the model {path}")
    from pgnfast.potentials.tabulated import TabulatedPair

    return CoreExclusion(TabulatedPair.load(path), design)


def set_threads(threads: int, torch_too: bool) -> None:
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    if torch_too:
        import torch

        torch.set_num_threads(threads)


def write_json(path: Path, value) -> None:
    from pgnfast._atomic import atomic_path
    from pgnfast.systems.pgn.stages.helpers import plain

    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(plain(value), indent=1))


class RunRecorder:
    """Engine writer: run.json (settings, summary, CPU seconds) at every checkpoint sweep."""

    def __init__(self, path: Path, record: dict, every: int):
        self.path, self.record, self.every = path, record, every

    def open(self, engine) -> None:
        self.cpu_start, self.wall_start = time.process_time(), time.perf_counter()
        self.cpu_before = self.record.get("cpu_s", 0.0)
        self.wall_before = self.record.get("wall_s", 0.0)

    def write(self, engine, force: bool = False) -> None:
        if engine.sweeps_done % self.every and not force:
            return
        summary = engine.summary(quench_lowest=False).as_dict()
        summary.pop("lowest_positions")
        self.record.update(
            sweeps_done=engine.sweeps_done,
            cpu_s=self.cpu_before + time.process_time() - self.cpu_start,
            wall_s=self.wall_before + time.perf_counter() - self.wall_start,
            summary=summary,
            box_nm=np.asarray(engine.cell).tolist(),
        )
        write_json(self.path, self.record)

    def close(self) -> None:
        pass


def run(args) -> int:
    from pgnfast.dft.design import PGNDesign
    from pgnfast.mc import JsonLinesLog, ParallelTempering, TrajectoryWriter
    from pgnfast.systems.pgn.configurations import random_configurations
    from pgnfast.systems.pgn.stages.helpers import geometric_ladder

    design = PGNDesign.from_yaml(args.design)
    folder = Path(args.runs) / args.name
    settings = {key: getattr(args, key) for key in RUN_KEYS} | {"design": design.to_dict()}
    settings["potential"] = portable(args.potential)
    record_path = folder / "run.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    if record:
        held = record["settings"]
        differ = [key for key in RUN_KEYS if held.get(key) != settings[key]]
        if differ:
            raise StructureRunError(
                f"{folder} holds another run: "
                + "; ".join(f"{k}: {held.get(k)!r} recorded, {settings[k]!r} now" for k in differ)
            )
    record.setdefault("settings", settings)
    record.setdefault("commands", []).append(args.command_line)
    potential = load_potential(args.potential, design, args.device)
    set_threads(args.threads, torch_too=Path(args.potential).suffix in (".pt", ".pth"))
    ladder = geometric_ladder(args.t_min, args.t_max, args.replicas)
    hybrid = {"target_acceptance": args.target_acceptance}
    checkpoint = folder / "checkpoint.npz"
    if checkpoint.exists() or checkpoint.with_name(checkpoint.name + ".prev").exists():
        engine = ParallelTempering.from_checkpoint(
            checkpoint, potential, num_particles=args.n, temperatures=ladder, moves="hybrid",
            hybrid=hybrid,
        )  # fmt: skip
    else:
        (melt,) = random_configurations(
            design, args.n, 1, seed=args.seed + START_SEED_OFFSET, kind="random",
            fractions=args.type_fractions,
        )  # fmt: skip
        engine = ParallelTempering(
            potential, melt.positions, np.asarray(melt.cell), ladder,
            types=melt.arrays["type"], seed=args.seed, equilibration_sweeps=args.equilibration,
            moves="hybrid", hybrid=hybrid, tune_temperatures=args.tune_ladder,
        )  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    recorder = RunRecorder(record_path, record, args.checkpoint_every)
    writers = [
        TrajectoryWriter(folder, every=args.sample_every),
        JsonLinesLog(folder / "log.jsonl", every=1),
        recorder,
    ]
    print(f"{args.name}: sweep {engine.sweeps_done} of {args.sweeps}, T = {ladder.round(4)}")
    engine.run(
        max(0, args.sweeps - engine.sweeps_done), checkpoint=checkpoint,
        checkpoint_every=args.checkpoint_every, writers=writers,
        progress=not args.no_progress, quench_lowest=False,
    )  # fmt: skip
    recorder.write(engine, force=True)
    summary = record["summary"]
    print(
        f"{args.name}: {engine.sweeps_done} sweeps, round trips {summary['round_trips']}, "
        f"swap acceptance {np.round(summary['swap_acceptance'], 2).tolist()}"
    )
    return 0


def run_statistics(folder: Path, record: dict) -> dict:
    """Exchange acceptance and round trips (all sweeps and production), energies per T."""
    from pgnfast.analysis.statistics import tempering_log_statistics

    lines = (folder / "log.jsonl").read_text().splitlines()
    equilibration, n = record["settings"]["equilibration"], record["settings"]["n"]
    out = tempering_log_statistics([json.loads(line) for line in lines], equilibration)
    out["energy_per_particle"] = [
        {key: value / n for key, value in entry.items()} for entry in out.pop("energy")
    ]
    summary = record["summary"]
    out.update(
        swap_acceptance_all=summary["swap_acceptance"],
        round_trips_all=summary["round_trips"],
        hybrid_acceptance=summary["acceptance"],
        hybrid_time_step=summary["timings"].get("hybrid_time_steps"),
        hybrid_steps=summary["timings"].get("hybrid_steps"),
    )
    return out


def production_frames(folder: Path, count: int, equilibration: int, discard: float, stride: int):
    """Per temperature index, the frames (ase.Atoms) after the equilibration sweeps less the
    first `discard` share of them, every `stride`-th; the last frame where none is left."""
    from pgnfast.systems.pgn.stages.helpers import read_trajectory

    frames = []
    for t in range(count):
        path = folder / f"trajectory_T{t:02d}.extxyz"
        kept = read_trajectory(path, equilibration)
        kept = kept[int(round(discard * len(kept))) :][::stride]
        if not kept:
            print(f"note: {path.name} has no production frame; the last frame stands in")
            kept = read_trajectory(path)[-1:]
        frames.append(kept)
    return frames


def references(design, n, fractions, args, settings) -> dict:
    """Structure of random configurations and of hard-sphere fluids of the core radii."""
    from pgnfast.analysis.hard_spheres import hard_sphere_packing
    from pgnfast.analysis.local_order import structure_axes, structure_with_errors
    from pgnfast.systems.pgn.configurations import random_configurations

    configs = random_configurations(
        design, n, args.references, seed=args.seed, kind="random", fractions=fractions
    )
    cell = np.asarray(configs[0].cell)
    progress = not args.no_progress
    out = {"box_nm": cell, "axes": structure_axes(cell, settings)}
    out["random"] = structure_with_errors(
        [a.positions for a in configs], cell, args.blocks, settings, progress
    )
    packings = [
        hard_sphere_packing(
            design.radii[a.arrays["type"]], cell, sweeps=args.hard_sphere_sweeps, seed=args.seed + i
        )
        for i, a in enumerate(configs)
    ]
    out["hard_spheres"] = structure_with_errors(
        [p.positions for p in packings], cell, args.blocks, settings, progress
    )
    out["hard_spheres"].update(
        volume_fraction=packings[0].volume_fraction,
        monte_carlo_sweeps=args.hard_sphere_sweeps,
        acceptance=float(np.mean([p.acceptance for p in packings])),
        min_gap_nm=float(min(p.min_gap for p in packings)),
    )
    return out


def analyze_run(folder: Path, args, settings) -> dict:
    from pgnfast.analysis.local_order import structure_axes, structure_with_errors

    record = json.loads((folder / "run.json").read_text())
    temperatures = np.asarray(record["summary"]["temperatures"])
    equilibration = record["settings"]["equilibration"]
    frames = production_frames(folder, len(temperatures), equilibration, args.discard, args.stride)
    cell = np.asarray(frames[0][0].cell)
    out = {"settings": record["settings"], "commands": record["commands"]}
    sweeps = record["sweeps_done"]
    out.update(sweeps=sweeps, cpu_s=record["cpu_s"], wall_s=record["wall_s"])
    out["cpu_s_per_sweep"] = record["cpu_s"] / max(sweeps, 1)
    out.update(run_statistics(folder, record), temperatures=temperatures, box_nm=cell)
    out["axes"] = structure_axes(cell, settings)
    out["per_temperature"] = [
        structure_with_errors(
            [a.positions for a in at_t], cell, args.blocks, settings, not args.no_progress
        )
        for at_t in frames
    ]
    return out


def analyze(args) -> int:
    from pgnfast.analysis.local_order import OrderSettings
    from pgnfast.dft.design import PGNDesign

    if not (0 <= args.discard < 1 and args.stride >= 1 and args.references >= 1):
        raise StructureRunError("need 0 <= --discard < 1, --stride >= 1 and --references >= 1")
    settings = OrderSettings(
        w6_threshold=args.w6_threshold, q_max=args.q_max, sq_bins=args.sq_bins,
        rdf_bins=args.rdf_bins, max_vectors=args.max_vectors,
    )  # fmt: skip
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": platform.platform(),
        "threads": args.threads,
        "command": args.command_line,
        "analysis": {
            "discard": args.discard, "blocks": args.blocks, "stride": args.stride,
            "w6_threshold": args.w6_threshold, "num_neighbors": settings.num_neighbors,
            "q_max_per_nm": args.q_max, "max_vectors": args.max_vectors,
            "low_q_shells": settings.low_q_shells,
        },
        "runs": {},
        "references": {},
    }  # fmt: skip
    set_threads(args.threads, torch_too=False)
    for name in args.names:
        folder = Path(args.runs) / name
        if not (folder / "run.json").exists():
            raise StructureRunError(f"{folder} holds no run (no run.json)")
        entry = analyze_run(folder, args, settings)
        run_settings = entry["settings"]
        system = {key: run_settings[key] for key in ("design", "n", "type_fractions")}
        key = next((k for k, v in results["references"].items() if v["system"] == system), None)
        if key is None:
            key = f"system_{len(results['references'])}"
            design = PGNDesign.from_dict(system["design"])
            reference = references(design, system["n"], system["type_fractions"], args, settings)
            results["references"][key] = {"system": system} | reference
        entry["references"] = key
        results["runs"][name] = entry
        print(
            f"{name}: {entry['sweeps']} sweeps, {entry['cpu_s_per_sweep']:.3g} CPU s/sweep, "
            f"round trips {entry['round_trips_production']} (production)"
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "structure.json", results)
    from pgnfast._atomic import atomic_path
    from pgnfast.analysis.order_plots import plot_order_vs_temperature, plot_structure_lowest_t
    from pgnfast.systems.pgn.stages.helpers import plain

    for plot, file in ((plot_order_vs_temperature, "order_vs_temperature.png"),
                       (plot_structure_lowest_t, "structure_lowest_T.png")):  # fmt: skip
        with atomic_path(out / file) as temporary:
            plot(plain(results), temporary)
    return 0


def portable(word: str) -> str:
    """A command-line word as recorded: an absolute path (this machine's) becomes its name."""
    return Path(word).name if os.path.isabs(word) else word


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    go = commands.add_parser("run", help="run or resume one parallel-tempering run")
    go.add_argument("name")
    go.add_argument("--potential", required=True, help="model .pt, builtin:KIND:k=v, or table")
    go.add_argument("--design", required=True, help="PGN design YAML (nm, chains/nm^2)")
    go.add_argument("--n", type=int, default=1000, help="cores")
    go.add_argument("--t-min", type=float, required=True, help="coldest T (kT)")
    go.add_argument("--t-max", type=float, required=True, help="hottest T (kT)")
    go.add_argument("--replicas", type=int, default=16)
    go.add_argument("--sweeps", type=int, required=True, help="total sweeps (incl. equilibration)")
    go.add_argument("--equilibration", type=int, default=200, help="time-step tuning sweeps")
    go.add_argument("--type-fractions", type=float, nargs="+", default=None)
    go.add_argument("--target-acceptance", type=float, default=0.7, help="hybrid moves")
    go.add_argument("--sample-every", type=int, default=10, help="sweeps between frames")
    go.add_argument("--checkpoint-every", type=int, default=10)
    go.add_argument("--device", default="cpu", help="torch device of a model")
    go.add_argument(
        "--tune-ladder", action="store_true", help="equalise swap rejection (equilibration)"
    )
    go.add_argument("--seed", type=int, default=0)
    look = commands.add_parser("analyze", help="structure of runs against references")
    look.add_argument("names", nargs="+")
    look.add_argument("--discard", type=float, default=0.2, help="share of production dropped")
    look.add_argument("--blocks", type=int, default=5)
    look.add_argument("--stride", type=int, default=1, help="use every stride-th frame")
    look.add_argument("--w6-threshold", type=float, default=-0.1)
    look.add_argument("--q-max", type=float, default=1.0, help="binned S(q) up to (1/nm)")
    look.add_argument("--sq-bins", type=int, default=50)
    look.add_argument("--rdf-bins", type=int, default=100)
    look.add_argument("--max-vectors", type=int, default=10_000, help="binned S(q) vectors")
    look.add_argument("--references", type=int, default=8, help="configurations of each kind")
    look.add_argument("--hard-sphere-sweeps", type=int, default=200)
    look.add_argument("--seed", type=int, default=100, help="references' seed")
    look.add_argument("--out", type=Path, default=RESULTS)
    for sub in (go, look):
        sub.add_argument("--runs", required=True, type=Path, help="folder of the runs")
        sub.add_argument("--threads", type=int, default=1)
        sub.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    words = [portable(word) for word in (sys.argv[1:] if argv is None else argv)]
    args.command_line = " ".join(["python", "benchmarks/pgn_structure.py", *words])
    try:
        return run(args) if args.command == "run" else analyze(args)
    except PGNFastError as error:  # bad input, another run's state, a damaged file
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
