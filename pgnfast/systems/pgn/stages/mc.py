"""Stage 4, mc: parallel tempering driven by the model (with the DFT's hard-core rule) at a
larger N than the DFT's, on a geometric temperature ladder, checkpointed and resumed
bit-for-bit. Units: nm, kT; temperatures in multiples of kT."""

from __future__ import annotations

from pathlib import Path

from .helpers import geometric_ladder, plain, random_melts, resume_or_start, run_to

NAME = "mc"
TITLE = "parallel tempering with the model"
INPUTS = ("train",)
READS = (
    "seed",
    "design",
    "labels.type_fractions",
    "mc.n_particles",
    "mc.t_min",
    "mc.t_max",
    "mc.count",
    "mc.sweeps",
    "mc.equilibration_sweeps",
    "mc.sample_every",
    "mc.checkpoint_every",
)
SETTINGS = ("device", "progress")
OUTPUTS = ("checkpoint.npz", "trajectory_T00.extxyz")
PLOTS = ()
SEED_OFFSET = 1  # the random start's seed is config.seed + SEED_OFFSET


def run(config, folder: Path, inputs: dict) -> dict:
    """Run (or continue) the replicas to config.mc.sweeps sweeps; the engine's summary."""
    potential = inputs["train"].potential(config.device, core_exclusion_for=config.pgn_design())
    return run_tempering(config, folder, potential)


def run_tempering(config, folder: Path, potential) -> dict:
    """Parallel tempering of the mc section's sizes (N, ladder, sweeps, equilibration, seed,
    random start, single-particle moves) driven by `potential`, checkpointed in `folder`
    and resumed from it; the engine's summary. `config` must show the fields in READS and
    "progress". Every potential run this way starts from the same configuration."""
    from pgnfast.mc import JsonLinesLog, ParallelTempering, TrajectoryWriter

    sizes = config.mc

    def start():
        (melt,) = random_melts(config, sizes.n_particles, 1, SEED_OFFSET)
        return ParallelTempering(
            potential,
            melt.positions,
            melt.cell[:],
            geometric_ladder(sizes.t_min, sizes.t_max, sizes.count),
            types=melt.arrays["type"],
            seed=config.seed,
            step_size="auto",
            equilibration_sweeps=sizes.equilibration_sweeps,
        )

    checkpoint = folder / "checkpoint.npz"
    engine = resume_or_start(checkpoint, potential, start)
    resumed_from = engine.sweeps_done
    writers = [
        TrajectoryWriter(folder, every=sizes.sample_every),
        JsonLinesLog(folder / "log.jsonl", every=sizes.sample_every),
    ]
    summary = run_to(
        engine,
        sizes.sweeps,
        checkpoint=checkpoint,
        checkpoint_every=sizes.checkpoint_every,
        writers=writers,
        progress=config.progress,
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
