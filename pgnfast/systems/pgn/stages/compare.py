"""Stage 6, compare: at the DFT's N and one temperature, the same start, seed and step
size driven by the DFT, by the model, and by the model with another seed (sampling noise):
mean absolute g(r) differences (in analysis.rdf_bins bins) and the model's energy error on
the DFT-driven frames. Units: nm, kT."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .helpers import (
    frame_energy,
    half_box,
    mean_abs_difference,
    plain,
    random_melts,
    read_trajectory,
    resume_or_start,
    run_to,
    say,
)

NAME = "compare"
TITLE = "model- against DFT-driven Monte Carlo"
INPUTS = ("train",)
READS = (
    "seed",
    "design",
    "labels.type_fractions",
    "labels.spacing",
    "compare.n_particles",
    "compare.temperature",
    "compare.step_size",
    "compare.sweeps",
    "compare.moves_per_sweep",
    "analysis.rdf_bins",
)
SETTINGS = ("device", "progress")
OUTPUTS = ("rdf_model_vs_dft.png",)
PLOTS = ("rdf_model_vs_dft.png",)
SEED_OFFSET = 2  # the common start's seed is config.seed + SEED_OFFSET
RUNS = ("dft", "model", "model_other_seed")


def _sample(config, folder: Path, potential, start, seed: int) -> tuple[float, list]:
    """Acceptance and frames (one per sweep) of a single-temperature run in `folder` from
    the configuration `start`, resumed from its checkpoint after an interruption."""
    from pgnfast.mc import ParallelTempering, TrajectoryWriter

    sizes = config.compare

    def fresh():
        return ParallelTempering(
            potential,
            start.positions,
            np.asarray(start.cell[:]),
            [sizes.temperature],
            types=start.arrays["type"],
            seed=seed,
            step_size=sizes.step_size,
            moves_per_sweep=sizes.moves_per_sweep,
            equilibration_sweeps=0,
            checkerboard=False,
        )

    checkpoint = folder / "checkpoint.npz"
    engine = resume_or_start(checkpoint, potential, fresh)
    summary = run_to(
        engine,
        sizes.sweeps,
        checkpoint=checkpoint,
        checkpoint_every=1,
        writers=[TrajectoryWriter(folder, every=1)],
        progress=config.progress,
    )
    return float(summary.acceptance[0]), read_trajectory(folder / "trajectory_T00.extxyz")


def run(config, folder: Path, inputs: dict) -> dict:
    """The three runs, their g(r) differences and the model's error on the DFT frames."""
    from pgnfast.analysis import radial_distribution
    from pgnfast.dft import Functional

    from ..plots import plot_model_vs_dft

    sizes, design, trained = config.compare, config.pgn_design(), inputs["train"]
    (start,) = random_melts(config, sizes.n_particles, 1, SEED_OFFSET)
    cell, types = np.asarray(start.cell[:]), start.arrays["type"]
    model = trained.potential(config.device, core_exclusion_for=design)
    runs = {
        "dft": (Functional(design, spacing=config.labels.spacing), config.seed),
        "model": (model, config.seed),
        "model_other_seed": (model, config.seed + 1),
    }
    acceptance, frames = {}, {}
    for name, (potential, seed) in runs.items():
        say(
            config,
            f"      {name}: {sizes.sweeps} sweeps of "
            f"{sizes.moves_per_sweep} moves at N = {sizes.n_particles}",
        )
        acceptance[name], frames[name] = _sample(config, folder / name, potential, start, seed)
    r_max, bins = half_box(cell), config.analysis.rdf_bins
    rdf = {
        name: radial_distribution(np.stack([f.positions for f in fs]), cell, r_max, bins)
        for name, fs in frames.items()
    }
    r, g_start = radial_distribution(start.positions, cell, r_max, bins)
    # the model's energies on the DFT-driven frames (configurations it did not train on)
    plain_model = trained.potential(config.device)
    dft_energy = np.array([frame_energy(f) for f in frames["dft"]])
    model_energy = np.array([plain_model.energy(f.positions, cell, types) for f in frames["dft"]])
    per_particle = (model_energy - dft_energy) / sizes.n_particles
    plot_model_vs_dft(
        folder / "rdf_model_vs_dft.png",
        r,
        g_start,
        rdf,
        title=f"N = {sizes.n_particles}, T = {sizes.temperature:g}",
    )
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
            "energy_per_particle_rmse_on_dft_frames_kT": float(np.sqrt(np.mean(per_particle**2))),
            "energy_per_particle_bias_on_dft_frames_kT": float(np.mean(per_particle)),
        }
    )
