"""`run_pipeline(config, out_dir)`: one PGN design from DFT labels to glass structure.

Stages (each a folder of `out_dir`, resumable, reused when its configuration is unchanged;
see pgnfast.pipeline.stages):

1. labels   configurations of the design at the DFT's N, labeled by the PGN DFT (local
            process pool or a Dask cluster); content-hashed shards.
2. train    a NequIP model (pgnfast.train.fit): metrics, learning curve, parity plots.
3. cost     DFT and model cost per configuration at the same N, and their ratio.
4. mc       parallel tempering driven by the model at a larger N (checkpointed).
5. compare  model-driven against DFT-driven Monte Carlo at the DFT's N: g(r) difference.
6. analysis g(r) and S(q) at the lowest temperature, icosahedral (Voronoi <0,0,12,0>)
            fraction against temperature and against random configurations, plots.

Then `report.md`, `summary.json` (every number in the report) and the PNGs are written to
`out_dir`. Units: nm, kT; temperatures in multiples of kT.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np

from .config import PipelineConfig
from .stages import StageRunner, cpu_seconds, process_rank

STAGES = ("labels", "train", "cost", "mc", "compare", "analysis")
PLOTS = {  # report name -> (stage, file in the stage folder)
    "parity_energy.png": ("train", "parity_energy.png"),
    "parity_forces.png": ("train", "parity_forces.png"),
    "learning_curve.png": ("train", "learning_curve.png"),
    "rdf_lowest_T.png": ("analysis", "rdf_lowest_T.png"),
    "structure_factor_lowest_T.png": ("analysis", "structure_factor_lowest_T.png"),
    "icosahedral_fraction.png": ("analysis", "icosahedral_fraction.png"),
    "exchange_acceptance.png": ("analysis", "exchange_acceptance.png"),
    "rdf_model_vs_dft.png": ("compare", "rdf_model_vs_dft.png"),
}


def plain(value):
    """JSON-able copy of nested results (numpy scalars and arrays to Python)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _set_threads(threads: int) -> None:
    import numba
    import torch

    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def _say(config: PipelineConfig, text: str) -> None:
    if config.progress:
        print(text, flush=True)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def read_trajectory(path, after_sweep: int = -1) -> list:
    """Frames of a TrajectoryWriter file with sweep > after_sweep, one per sweep (the last
    written, so records repeated by a run resumed from an older checkpoint count once)."""
    import ase.io

    path = Path(path)
    if not path.exists():
        return []
    by_sweep = {}
    for atoms in ase.io.read(path, index=":", format="extxyz"):
        by_sweep[int(atoms.info["sweep"])] = atoms
    return [by_sweep[s] for s in sorted(by_sweep) if s > after_sweep]


def pentagonal_face_fraction(voronoi) -> float:
    """Share of Voronoi faces that are pentagons (n5 / (n3 + n4 + n5 + n6)): fivefold local
    symmetry, 1 for an icosahedron; continuous where exact <0,0,12,0> cells are rare."""
    faces = voronoi.indices.sum()
    return float(voronoi.indices[:, 2].sum() / faces) if faces else 0.0


def _frame_energy(atoms) -> float:
    """Energy (kT) of a trajectory frame (ASE moves info["energy"] into a calculator)."""
    if "energy" in atoms.info:
        return float(atoms.info["energy"])
    return float(atoms.get_potential_energy())


def _geometric_ladder(t_min: float, t_max: float, count: int) -> np.ndarray:
    if count == 1:
        return np.array([float(t_min)])
    return np.geomspace(float(t_min), float(t_max), int(count))


def mean_abs_difference(a, b) -> float:
    """Mean |a - b| over bins (g(r) differences: dimensionless)."""
    return float(np.mean(np.abs(np.asarray(a) - np.asarray(b))))


class Pipeline:
    """The stages of one design in `out_dir` (see the module docstring)."""

    def __init__(self, config: PipelineConfig, out_dir):
        self.config = config
        self.out = Path(out_dir)
        self.runner = StageRunner(self.out)
        self.design = config.pgn_design()
        self.threads = int(config.threads or _cores())
        self._model = None

    # -- stage keys: a stage's identity is its configuration and its inputs' ---------------
    def keys(self) -> dict:
        c = self.config.to_dict()
        labels_identity = {
            k: v for k, v in c["labels"].items() if k not in ("workers", "scheduler")
        }  # executor-independent
        keys = {"labels": self.config.section_hash("seed", "design", extra=labels_identity)}
        keys["train"] = self.config.section_hash("train", extra=keys["labels"])
        keys["cost"] = self.config.section_hash("cost", extra=keys["train"])
        keys["mc"] = self.config.section_hash("mc", extra=keys["train"])
        keys["compare"] = self.config.section_hash("compare", extra=keys["train"])
        keys["analysis"] = self.config.section_hash("analysis", extra=keys["mc"])
        return keys

    # -- the whole run -----------------------------------------------------------------------
    def run(self, stages=None) -> dict | None:
        """Run (or reuse) every stage and write the report; returns the summary dict.

        stages: names to run (default all); the others are taken from earlier runs when
        recorded with the current configuration. Returns None (and writes no report) while
        some stage has no results. Under torchrun, ranks other than 0 only train."""
        from tqdm.auto import tqdm  # noqa: F401  (progress bars of every stage)

        wall, cpu = time.perf_counter(), cpu_seconds()
        _set_threads(self.threads)
        keys = self.keys()
        self.out.mkdir(parents=True, exist_ok=True)
        import yaml

        (self.out / "config.yaml").write_text(
            yaml.safe_dump(self.config.to_dict(), sort_keys=False)
        )
        steps = [
            (
                "labels",
                "labeling configurations with the PGN DFT",
                self._labels,
                ["dataset/manifest.json"],
            ),
            ("train", "training NequIP", self._train, ["best_model.pt", "metrics.json"]),
            ("cost", "timing DFT against the model", self._cost, []),
            (
                "mc",
                "parallel tempering with the model",
                self._mc,
                ["checkpoint.npz", "trajectory_T00.extxyz"],
            ),
            (
                "compare",
                "model- against DFT-driven Monte Carlo",
                self._compare,
                ["rdf_model_vs_dft.png"],
            ),
            (
                "analysis",
                "structure analysis",
                self._analysis,
                ["rdf_lowest_T.png", "icosahedral_fraction.png"],
            ),
        ]
        selected = set(STAGES if stages is None else stages)
        unknown = selected - set(STAGES)
        if unknown:
            raise ValueError(f"unknown stages {sorted(unknown)}; choose from {STAGES}")
        if process_rank() > 0:
            selected &= {"train"}
        results = {}
        for index, (name, title, function, outputs) in enumerate(steps, 1):
            if name not in selected:
                found = self.runner.recorded(name, keys[name])
                if found is not None:
                    results[name] = found
                continue
            _say(self.config, f"[{index}/{len(steps)}] {title} ({self.out / name})")
            results[name] = self.runner.run(name, keys[name], function, outputs)
            if process_rank() > 0:
                continue
            outcome = self.runner.outcomes[name]
            _say(
                self.config,
                f"      {outcome.status}: {outcome.wall_s:.1f} s wall, {outcome.cpu_s:.1f} s CPU",
            )
        missing = [name for name in STAGES if name not in results]
        if missing or process_rank() > 0:
            _say(self.config, f"stages not done yet: {missing}; no report written")
            return None
        summary = self._summary(results, time.perf_counter() - wall, cpu_seconds() - cpu)
        from .report import write_report

        for target, (stage, name) in PLOTS.items():
            source = self.out / stage / name
            if source.exists():
                shutil.copyfile(source, self.out / target)
        write_report(summary, self.out)
        _say(self.config, f"report: {self.out / 'report.md'}")
        return summary

    # -- 1. labels ---------------------------------------------------------------------------
    def _labels(self, folder: Path, resuming: bool) -> dict:
        from pgnfast.data import label, random_configurations, read_dataset

        sizes = self.config.labels
        configurations = random_configurations(
            self.design,
            sizes.n_particles,
            sizes.n_configs,
            seed=self.config.seed,
            kind=sizes.kind,
            fractions=sizes.type_fractions,
        )
        dataset = folder / "dataset"
        before = len(list((dataset / "shards").glob("*.extxyz"))) if dataset.exists() else 0
        client = executor = None
        if sizes.scheduler:
            from dask.distributed import Client, LocalCluster

            if sizes.scheduler == "local":  # a Dask cluster on this machine, one worker a core
                client = Client(
                    LocalCluster(
                        n_workers=sizes.workers or _cores(), threads_per_worker=1, processes=True
                    )
                )
            else:
                client = Client(sizes.scheduler)
            executor = client.get_executor()
        try:
            label(
                configurations,
                self.design,
                dataset,
                executor=executor,
                workers=sizes.workers,
                spacing=sizes.spacing,
                progress=self.config.progress,
            )
        finally:
            if client is not None:
                client.close()
        manifest = json.loads((dataset / "manifest.json").read_text())
        frames = read_dataset(dataset)
        if len(frames) < 4:
            raise RuntimeError(
                f"only {len(frames)} configurations were labeled; see {dataset / 'manifest.json'}"
            )
        per_particle = np.array([f.get_potential_energy() / len(f) for f in frames])
        forces = np.concatenate([f.get_forces() for f in frames])
        return plain(
            {
                "n_particles": sizes.n_particles,
                "n_configs": sizes.n_configs,
                "n_labeled": len(frames),
                "n_failed": len(manifest["failures"]),
                "labeled_this_run": len(frames) - min(before, len(frames)),
                "dft_seconds_per_label": float(np.mean([f.info["label_seconds"] for f in frames])),
                "energy_per_particle_mean_kT": float(per_particle.mean()),
                "energy_per_particle_std_kT": float(per_particle.std()),
                "force_rms_kT_per_nm": float(np.sqrt(np.mean(forces**2))),
                "box_nm": float(np.linalg.det(frames[0].cell[:]) ** (1 / 3)),
            }
        )

    # -- 2. train ----------------------------------------------------------------------------
    def _train(self, folder: Path, resuming: bool) -> dict:
        from pgnfast.train import TrainConfig, fit

        values = dict(self.config.train)
        values.update(
            data=str(self.out / "labels" / "dataset"),
            run_dir=str(folder),
            seed=self.config.seed,
            progress=self.config.progress,
            plots=True,
            num_threads=self.threads,
        )
        config = TrainConfig.from_dict(values)
        metrics = fit(config, resume=resuming and (folder / "checkpoint.pt").exists())
        if process_rank() > 0:  # torchrun: rank 0 evaluates and writes
            return {}
        model = self.model(folder / "best_model.pt")
        return plain(
            {
                "test": metrics.get("test", {}),
                "validation": metrics.get("validation", {}),
                "train": metrics.get("train", {}),
                "best_epoch": metrics["best_epoch"],
                "epochs": metrics["epochs"],
                "steps": metrics["steps"],
                "n_parameters": int(sum(p.numel() for p in model.parameters())),
                "receptive_field_nm": float(model.receptive_field),
                "hyperparameters": dict(config.model),
            }
        )

    def model(self, path=None):
        """The trained NequIP model (loaded once)."""
        if self._model is None:
            from pgnfast.nn.io import load_model

            self._model = load_model(
                path or self.out / "train" / "best_model.pt", map_location=self.config.device
            )
        return self._model

    def model_potential(self, core_exclusion: bool = True):
        """The model behind the potential protocol, with the DFT's hard-core rule added."""
        from pgnfast.nn.potential import Potential

        from .core_exclusion import CoreExclusion

        potential = Potential(self.model())
        return CoreExclusion(potential, self.design) if core_exclusion else potential

    # -- 3. cost -----------------------------------------------------------------------------
    def _cost(self, folder: Path, resuming: bool) -> dict:
        import torch
        from tqdm.auto import tqdm

        from pgnfast.data import read_dataset
        from pgnfast.dft import solve
        from pgnfast.nn.graph import build_graph

        sizes = self.config.cost
        frames = read_dataset(self.out / "labels" / "dataset")
        split = json.loads((self.out / "train" / "split.json").read_text())
        chosen = [frames[i] for i in (split["test"] or split["train"])[: sizes.n_configs]]
        potential = self.model_potential(core_exclusion=False)
        model = self.model()
        dft_times, model_times = [], []
        for atoms in tqdm(chosen, desc="cost", unit="config", disable=not self.config.progress):
            types = atoms.arrays["type"]
            start = time.perf_counter()
            solve(
                atoms.positions,
                atoms.cell[:],
                self.design,
                types=types if self.design.n_types > 1 else None,
                spacing=self.config.labels.spacing,
            )
            dft_times.append(time.perf_counter() - start)
            potential.energy_forces(atoms.positions, atoms.cell[:], types)  # warm-up
            runs = []
            for _ in range(sizes.repeats):
                start = time.perf_counter()
                potential.energy_forces(atoms.positions, atoms.cell[:], types)
                runs.append(time.perf_counter() - start)
            model_times.append(float(np.median(runs)))
        batch = [chosen[i % len(chosen)] for i in range(sizes.batch)]
        systems = [(a.positions, a.cell[:], a.arrays["type"], True, None) for a in batch]
        runs = []
        for _ in range(sizes.repeats + 1):
            start = time.perf_counter()
            graph = build_graph(systems, model.r_max, dtype=model.dtype, device=self.config.device)
            model(graph, compute_forces=True, create_graph=False)["forces"].sum().item()
            runs.append(time.perf_counter() - start)
        batched = float(np.median(runs[1:])) / len(batch)
        dft, single = float(np.mean(dft_times)), float(np.mean(model_times))
        return plain(
            {
                "n_particles": len(chosen[0]),
                "n_configs": len(chosen),
                "threads": self.threads,
                "torch_threads": torch.get_num_threads(),
                "dft_seconds_per_config": dft,
                "model_seconds_per_config": single,
                "model_batched_seconds_per_config": batched,
                "model_batch": len(batch),
                "speedup": dft / single,
                "speedup_batched": dft / batched,
                "log10_speedup_batched": math.log10(dft / batched),
            }
        )

    # -- 4. parallel tempering with the model -------------------------------------------------
    def _mc(self, folder: Path, resuming: bool) -> dict:
        from pgnfast.data import random_configurations
        from pgnfast.mc import JsonLinesLog, ParallelTempering, TrajectoryWriter

        sizes = self.config.mc
        potential = self.model_potential()
        checkpoint = folder / "checkpoint.npz"
        if resuming and (
            checkpoint.exists() or checkpoint.with_name(checkpoint.name + ".prev").exists()
        ):
            engine = ParallelTempering.from_checkpoint(checkpoint, potential)
        else:
            start = random_configurations(
                self.design,
                sizes.n_particles,
                1,
                seed=self.config.seed + 1,
                kind="random",
                fractions=self.config.labels.type_fractions,
            )[0]
            engine = ParallelTempering(
                potential,
                start.positions,
                start.cell[:],
                _geometric_ladder(sizes.t_min, sizes.t_max, sizes.count),
                types=start.arrays["type"],
                seed=self.config.seed,
                step_size="auto",
                equilibration_sweeps=sizes.equilibration_sweeps,
            )
        resumed_from = engine.sweeps_done
        writers = [
            TrajectoryWriter(folder, every=sizes.sample_every),
            JsonLinesLog(folder / "log.jsonl", every=sizes.sample_every),
        ]
        summary = engine.run(
            max(0, sizes.sweeps - engine.sweeps_done),
            checkpoint=checkpoint,
            checkpoint_every=sizes.checkpoint_every,
            writers=writers,
            progress=self.config.progress,
            quench_lowest=False,
        )
        out = summary.as_dict()
        out.pop("lowest_positions")
        timings = out.pop("timings")
        out.update(
            n_particles=engine.num_particles,
            mode=engine.mode,
            equilibration_sweeps=engine.equilibration_sweeps,
            resumed_from_sweep=resumed_from,
            box_nm=float(engine.cell[0, 0]),
            moves_per_s=float(timings["moves_per_s"]),
            sweeps_per_s=float(timings["sweeps_per_s"]),
            receptive_field_nm=float(potential.receptive_field),
        )
        return plain(out)

    # -- 5. model against DFT at small N ---------------------------------------------------------
    def _compare(self, folder: Path, resuming: bool) -> dict:
        from pgnfast.analysis import radial_distribution
        from pgnfast.data import random_configurations
        from pgnfast.dft import Functional
        from pgnfast.mc import ParallelTempering, TrajectoryWriter
        from pgnfast.mc.cells import face_widths

        sizes = self.config.compare
        start = random_configurations(
            self.design,
            sizes.n_particles,
            1,
            seed=self.config.seed + 2,
            kind="random",
            fractions=self.config.labels.type_fractions,
        )[0]
        cell, types = np.asarray(start.cell[:]), start.arrays["type"]
        model = self.model_potential()
        runs = {
            "dft": (Functional(self.design, spacing=self.config.labels.spacing), self.config.seed),
            "model": (model, self.config.seed),
            "model_other_seed": (model, self.config.seed + 1),
        }
        acceptance, frames = {}, {}
        for name, (potential, seed) in runs.items():
            sub = folder / name
            checkpoint = sub / "checkpoint.npz"
            if checkpoint.exists() or checkpoint.with_name(checkpoint.name + ".prev").exists():
                engine = ParallelTempering.from_checkpoint(checkpoint, potential)
            else:
                engine = ParallelTempering(
                    potential,
                    start.positions,
                    cell,
                    [sizes.temperature],
                    types=types,
                    seed=seed,
                    step_size=sizes.step_size,
                    moves_per_sweep=sizes.moves_per_sweep,
                    equilibration_sweeps=0,
                    checkerboard=False,
                )
            _say(
                self.config,
                f"      {name}: {sizes.sweeps} sweeps of "
                f"{sizes.moves_per_sweep} moves at N = {sizes.n_particles}",
            )
            summary = engine.run(
                max(0, sizes.sweeps - engine.sweeps_done),
                checkpoint=checkpoint,
                checkpoint_every=1,
                writers=[TrajectoryWriter(sub, every=1)],
                progress=self.config.progress,
                quench_lowest=False,
            )
            acceptance[name] = float(summary.acceptance[0])
            frames[name] = read_trajectory(sub / "trajectory_T00.extxyz")
        r_max = 0.5 * float(face_widths(cell).min()) * 0.999
        bins = self.config.analysis.rdf_bins
        rdf = {
            name: radial_distribution(np.stack([f.positions for f in fs]), cell, r_max, bins)
            for name, fs in frames.items()
        }
        r, g_start = radial_distribution(start.positions, cell, r_max, bins)
        # the model's energies on the DFT-driven frames (configurations it did not train on)
        plain_model = self.model_potential(core_exclusion=False)
        dft_energy = np.array([_frame_energy(f) for f in frames["dft"]])
        model_energy = np.array(
            [plain_model.energy(f.positions, cell, types) for f in frames["dft"]]
        )
        per_particle = (model_energy - dft_energy) / sizes.n_particles
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(5, 3.5), constrained_layout=True)
        ax.plot(r, g_start, color="0.7", lw=1, label="start")
        for name, style in (("dft", "k-"), ("model", "C0--"), ("model_other_seed", "C1:")):
            ax.plot(
                *rdf[name],
                style,
                label={
                    "dft": "DFT-driven MC",
                    "model": "model-driven MC",
                    "model_other_seed": "model, other seed",
                }[name],
            )
        ax.set(
            xlabel="r (nm)",
            ylabel="g(r)",
            title=f"N = {sizes.n_particles}, T = {sizes.temperature:g}",
        )
        ax.legend(fontsize=7)
        fig.savefig(folder / "rdf_model_vs_dft.png", dpi=110)
        plt.close(fig)
        return plain(
            {
                "n_particles": sizes.n_particles,
                "temperature": sizes.temperature,
                "step_size_nm": sizes.step_size,
                "sweeps": sizes.sweeps,
                "moves_per_sweep": sizes.moves_per_sweep,
                "moves_per_run": sizes.sweeps * sizes.moves_per_sweep,
                "frames_per_run": len(frames["dft"]),
                "acceptance": acceptance,
                "gr_difference_model_vs_dft": mean_abs_difference(rdf["model"][1], rdf["dft"][1]),
                "gr_difference_model_vs_model_other_seed": mean_abs_difference(
                    rdf["model"][1], rdf["model_other_seed"][1]
                ),
                "gr_difference_dft_vs_start": mean_abs_difference(rdf["dft"][1], g_start),
                "energy_per_particle_rmse_on_dft_frames_kT": float(
                    np.sqrt(np.mean(per_particle**2))
                ),
                "energy_per_particle_bias_on_dft_frames_kT": float(np.mean(per_particle)),
            }
        )

    # -- 6. structure ----------------------------------------------------------------------------
    def _analysis(self, folder: Path, resuming: bool) -> dict:
        from tqdm.auto import tqdm

        from pgnfast.analysis import (
            plot_icosahedral_fraction,
            plot_rdf,
            plot_structure_factor,
            radial_distribution,
            structure_factor,
            voronoi_indices,
        )
        from pgnfast.data import random_configurations
        from pgnfast.mc.cells import face_widths

        sizes = self.config.analysis
        mc = self.runner.records["mc"]["results"]
        mc_dir = self.out / "mc"
        after = self.config.mc.equilibration_sweeps
        temperatures = np.asarray(mc["temperatures"])
        frames = [
            read_trajectory(mc_dir / f"trajectory_T{t:02d}.extxyz", after)
            for t in range(len(temperatures))
        ]
        if not frames[0]:  # no frame after equilibration: use the last ones written
            frames = [
                read_trajectory(mc_dir / f"trajectory_T{t:02d}.extxyz")[-1:]
                for t in range(len(temperatures))
            ]
        cell = np.asarray(frames[0][0].cell[:])
        n = len(frames[0][0])
        reference = random_configurations(
            self.design,
            n,
            sizes.random_references,
            seed=self.config.seed + 3,
            kind="random",
            fractions=self.config.labels.type_fractions,
        )
        fractions, pentagons = [], []
        for t in tqdm(
            range(len(temperatures)), desc="voronoi", unit="T", disable=not self.config.progress
        ):
            cells = [voronoi_indices(f.positions, f.cell[:]) for f in frames[t]]
            fractions.append(np.mean([v.icosahedral_fraction for v in cells]))
            pentagons.append(np.mean([pentagonal_face_fraction(v) for v in cells]))
        reference_cells = [voronoi_indices(a.positions, a.cell[:]) for a in reference]
        random_fraction = float(np.mean([v.icosahedral_fraction for v in reference_cells]))
        random_pentagons = float(np.mean([pentagonal_face_fraction(v) for v in reference_cells]))
        lowest = np.stack([f.positions for f in frames[0]])
        r_max = 0.5 * float(face_widths(cell).min()) * 0.999
        r, g = radial_distribution(lowest, cell, r_max, sizes.rdf_bins)
        _, g_random = radial_distribution(
            np.stack([a.positions for a in reference]), reference[0].cell[:], r_max, sizes.rdf_bins
        )
        q, s, _ = structure_factor(lowest, cell, sizes.q_max, sizes.sq_bins)
        q_ref, s_ref, _ = structure_factor(
            np.stack([a.positions for a in reference]),
            reference[0].cell[:],
            sizes.q_max,
            sizes.sq_bins,
        )
        peak = int(np.argmax(g))
        valid = np.isfinite(s)
        s_peak = int(np.nanargmax(np.where(valid, s, -np.inf)))
        plt = _pyplot()
        fig = plot_rdf(r, g, label=f"model MC, T = {temperatures[0]:g}")
        plot_rdf(r, g_random, ax=fig.axes[0], label="random configurations")
        fig.axes[0].legend(fontsize=7)
        fig.savefig(folder / "rdf_lowest_T.png", dpi=110)
        plt.close(fig)
        fig = plot_structure_factor(q[valid], s[valid], label=f"model MC, T = {temperatures[0]:g}")
        ok = np.isfinite(s_ref)
        plot_structure_factor(q_ref[ok], s_ref[ok], ax=fig.axes[0], label="random configurations")
        fig.axes[0].legend(fontsize=7)
        fig.savefig(folder / "structure_factor_lowest_T.png", dpi=110)
        plt.close(fig)
        fig = plot_icosahedral_fraction(temperatures, fractions)
        ax = fig.axes[0]
        ax.lines[0].set_label("<0,0,12,0> cells")
        ax.axhline(random_fraction, color="C0", ls="--", lw=0.8, label="<0,0,12,0>, random")
        ax.plot(temperatures, pentagons, "s-", color="C1", label="pentagonal faces")
        ax.axhline(random_pentagons, color="C1", ls="--", lw=0.8, label="pentagons, random")
        ax.set(xscale="log", ylabel="fraction", ylim=(0, None))
        ax.legend(fontsize=7)
        fig.savefig(folder / "icosahedral_fraction.png", dpi=110)
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(4.5, 3.4), constrained_layout=True)
        middles = np.sqrt(temperatures[1:] * temperatures[:-1])
        if len(middles):
            ax.plot(middles, mc["swap_acceptance"], "o-", label="replica exchange (pair)")
        ax.plot(temperatures, mc["acceptance"], "s--", label="displacement moves")
        ax.set(xscale="log", xlabel="T (kT units)", ylabel="acceptance", ylim=(0, 1.02))
        ax.legend(fontsize=7)
        fig.savefig(folder / "exchange_acceptance.png", dpi=110)
        plt.close(fig)
        return plain(
            {
                "frames_per_temperature": len(frames[0]),
                "temperatures": temperatures,
                "icosahedral_fraction": fractions,
                "icosahedral_fraction_lowest_T": float(fractions[0]),
                "icosahedral_fraction_highest_T": float(fractions[-1]),
                "icosahedral_fraction_random": random_fraction,
                "random_reference_configs": len(reference),
                "pentagonal_face_fraction": pentagons,
                "pentagonal_face_fraction_lowest_T": float(pentagons[0]),
                "pentagonal_face_fraction_random": random_pentagons,
                "gr_first_peak_nm": float(r[peak]),
                "gr_first_peak_height": float(g[peak]),
                "sq_peak_per_nm": float(q[s_peak]),
                "sq_peak_height": float(s[s_peak]),
                "density_per_nm3": float(n / abs(np.linalg.det(cell))),
            }
        )

    # -- summary ---------------------------------------------------------------------------------
    def _summary(self, results: dict, wall: float, cpu: float) -> dict:
        stages = {
            name: {"status": o.status, "wall_s": o.wall_s, "cpu_s": o.cpu_s}
            for name, o in self.runner.outcomes.items()
        }
        return plain(
            {
                "name": self.config.name,
                "seed": self.config.seed,
                "design": self.design.to_dict(),
                "design_derived": {
                    "chains_per_core": self.design.chains_per_core,
                    "chain_size_nm": self.design.chain_size,
                    "core_volume_fraction": self.design.core_volume_fraction(),
                },
                **results,
                "timings": {
                    "stages": stages,
                    "this_run_wall_s": wall,
                    "this_run_cpu_s": cpu,
                    "stages_wall_s": sum(s["wall_s"] for s in stages.values()),
                    "stages_cpu_s": sum(s["cpu_s"] for s in stages.values()),
                    "cores": _cores(),
                },
            }
        )


def run_pipeline(config: PipelineConfig, out_dir) -> dict:
    """Run (or resume) every stage for `config` in `out_dir`; returns the summary dict."""
    return Pipeline(config, out_dir).run()
