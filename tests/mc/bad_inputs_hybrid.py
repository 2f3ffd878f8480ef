"""Bad inputs of hybrid Monte Carlo moves (`moves="hybrid"` of
`pgnfast.mc.ParallelTempering`, its checkpoints and `pgnfast mc`): rows of docs/bad-input.md."""

from __future__ import annotations

import argparse

import numpy as np

from pgnfast.errors import InputError, ResumeMismatchError
from pgnfast.mc import MonteCarloInputError, ParallelTempering
from pgnfast.potentials import LennardJones
from tests.bad_inputs import bad_input

ENGINE = "pgnfast.mc.ParallelTempering"
RESUME = "pgnfast.mc.ParallelTempering.from_checkpoint"
N, BOX = 8, 4.0


def _engine(rng, **options):
    positions = (np.stack(np.meshgrid(*[np.arange(2)] * 3, indexing="ij"), -1).reshape(-1, 3)
                 + 0.5) * BOX / 2 + rng.normal(0, 0.05, (N, 3))  # fmt: skip
    return ParallelTempering(
        LennardJones(cutoff=1.5, shift=True), positions, np.eye(3) * BOX, [1.0, 2.0], **options
    )


@bad_input(
    ENGINE, 'moves = "leapfrog"', MonteCarloInputError, r"moves must be 'single' or 'hybrid'"
)
def hybrid_unknown_move_kind(rng, tmp_path):
    _engine(rng, moves="leapfrog")


@bad_input(
    ENGINE,
    "hybrid settings with single-particle moves",
    MonteCarloInputError,
    r"hybrid settings were given, but moves is not 'hybrid'",
)
def hybrid_settings_without_hybrid_moves(rng, tmp_path):
    _engine(rng, hybrid={"steps": 5})


@bad_input(
    ENGINE,
    "checkerboard=True with hybrid moves",
    MonteCarloInputError,
    r"checkerboard=True is for single-particle moves",
)
def hybrid_with_checkerboard(rng, tmp_path):
    _engine(rng, moves="hybrid", checkerboard=True)


@bad_input(ENGINE, "hybrid = {stpes: 5}", MonteCarloInputError, r"unknown hybrid setting 'stpes'")
def hybrid_unknown_setting(rng, tmp_path):
    _engine(rng, moves="hybrid", hybrid={"stpes": 5})


@bad_input(
    ENGINE,
    "hybrid time_step = -0.01",
    MonteCarloInputError,
    r"hybrid time_step must be a finite number > 0, got -0\.01",
)
def hybrid_negative_time_step(rng, tmp_path):
    _engine(rng, moves="hybrid", hybrid={"time_step": -0.01})


@bad_input(
    ENGINE,
    "hybrid time_step = 3 values for 2 temperatures",
    MonteCarloInputError,
    r"hybrid time_step must be one number or 2 \(one per temperature\), got 3",
)
def hybrid_time_steps_of_another_ladder(rng, tmp_path):
    _engine(rng, moves="hybrid", hybrid={"time_step": [0.01, 0.02, 0.03]})


@bad_input(
    ENGINE, "hybrid steps = 2.5", MonteCarloInputError, r"hybrid steps must be a whole number"
)
def hybrid_fractional_steps(rng, tmp_path):
    _engine(rng, moves="hybrid", hybrid={"steps": 2.5})


@bad_input(
    ENGINE, "hybrid steps = 0", MonteCarloInputError, r"hybrid steps must be a finite number > 0"
)
def hybrid_zero_steps(rng, tmp_path):
    _engine(rng, moves="hybrid", hybrid={"steps": 0})


@bad_input(
    ENGINE,
    "hybrid target_acceptance = 1.0",
    MonteCarloInputError,
    r"hybrid target_acceptance must lie strictly between 0 and 1, got 1\.0",
)
def hybrid_target_acceptance_one(rng, tmp_path):
    _engine(rng, moves="hybrid", hybrid={"target_acceptance": 1.0})


@bad_input(
    ENGINE, "hybrid jitter = 1.0", MonteCarloInputError, r"hybrid jitter must lie in \[0, 1\)"
)
def hybrid_jitter_one(rng, tmp_path):
    _engine(rng, moves="hybrid", hybrid={"jitter": 1.0})


@bad_input(
    ENGINE,
    "hybrid masses: 3 values for 8 particles",
    MonteCarloInputError,
    r"hybrid masses must be one number or 8 \(one per particle\), got 3",
)
def hybrid_masses_of_another_size(rng, tmp_path):
    _engine(rng, moves="hybrid", hybrid={"masses": [1.0, 2.0, 3.0]})


@bad_input(
    ENGINE, "hybrid masses = 0", MonteCarloInputError, r"hybrid masses must be a finite number > 0"
)
def hybrid_zero_mass(rng, tmp_path):
    _engine(rng, moves="hybrid", hybrid={"masses": 0.0})


@bad_input(
    ENGINE, 'hybrid wrap = "yes"', MonteCarloInputError, r"hybrid wrap must be true or false"
)
def hybrid_wrap_not_bool(rng, tmp_path):
    _engine(rng, moves="hybrid", hybrid={"wrap": "yes"})


@bad_input(
    RESUME,
    "a hybrid checkpoint resumed with another time step",
    ResumeMismatchError,
    r"other hybrid settings: time_step: 0\.01 recorded, 0\.02 now",
)
def hybrid_resume_with_other_settings(rng, tmp_path):
    engine = _engine(rng, moves="hybrid", hybrid={"time_step": 0.01, "steps": 2})
    engine.save_checkpoint(tmp_path / "state.npz")
    ParallelTempering.from_checkpoint(
        tmp_path / "state.npz", engine.potential, hybrid={"time_step": 0.02, "steps": 2}
    )


@bad_input(
    RESUME,
    "a single-particle checkpoint resumed with hybrid moves",
    ResumeMismatchError,
    r"was run with single moves, but 'hybrid' moves were asked for",
)
def hybrid_resume_of_single_particle_run(rng, tmp_path):
    engine = _engine(rng)
    engine.save_checkpoint(tmp_path / "state.npz")
    ParallelTempering.from_checkpoint(tmp_path / "state.npz", engine.potential, moves="hybrid")


@bad_input(
    "pgnfast mc",
    "hybrid: 5 (not a mapping)",
    InputError,
    r"hybrid must be a mapping of hybrid-move settings, got 5",
)
def hybrid_cli_settings_not_a_mapping(rng, tmp_path):
    from pgnfast.mc import cli

    config = tmp_path / "mc.yaml"
    config.write_text(
        "potential: {kind: lennard_jones, cutoff: 1.5}\nnum_particles: 8\nbox: 4.0\n"
        f"temperatures: [1.0]\nsweeps: 1\noutput: {tmp_path / 'out'}\nmoves: hybrid\n"
        "hybrid: 5\n"
    )
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    cli.run(parser.parse_args([str(config), "--no-progress"]))


@bad_input(
    "pgnfast mc",
    "hybrid: settings without moves: hybrid",
    InputError,
    r"the config has hybrid settings but moves: 'single'; add moves: hybrid",
)
def hybrid_cli_settings_with_single_moves(rng, tmp_path):
    from pgnfast.mc import cli

    config = tmp_path / "mc.yaml"
    config.write_text(
        "potential: {kind: lennard_jones, cutoff: 1.5}\nnum_particles: 8\nbox: 4.0\n"
        f"temperatures: [1.0]\nsweeps: 1\noutput: {tmp_path / 'out'}\nhybrid: {{steps: 4}}\n"
    )
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    cli.run(parser.parse_args([str(config), "--no-progress"]))
