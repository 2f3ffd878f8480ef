"""Bad inputs of the molecular-dynamics engines (pgnfast.md)."""

from __future__ import annotations

import numpy as np

from pgnfast.errors import InputError
from pgnfast.md import MDSettings, Stage
from tests.bad_inputs import bad_input


@bad_input("pgnfast.md.Stage", "an unknown ensemble", InputError, r"ensemble must be one of")
def stage_unknown_ensemble(rng, tmp_path):
    Stage("nve", int(rng.integers(1, 100)), 10.0)


@bad_input(
    "pgnfast.md.Stage", "a non-positive temperature", InputError, r"temperature \(K\) must be"
)
def stage_non_positive_temperature(rng, tmp_path):
    Stage("nvt", int(rng.integers(1, 100)), -float(rng.uniform(0, 10)))


@bad_input("pgnfast.md.Stage", "negative steps", InputError, r"steps must be an integer >= 0")
def stage_negative_steps(rng, tmp_path):
    Stage("nvt", -int(rng.integers(1, 100)), 10.0)


@bad_input(
    "pgnfast.md.Stage", "an NPT stage without pressure", InputError, r"needs a finite pressure"
)
def stage_npt_without_pressure(rng, tmp_path):
    Stage("npt", int(rng.integers(1, 100)), 10.0)


@bad_input(
    "pgnfast.md.Stage", "a ramp to a non-positive temperature", InputError, r"temperature_end"
)
def stage_ramp_to_zero(rng, tmp_path):
    Stage("npt", int(rng.integers(1, 100)), 10.0, -float(rng.uniform()), pressure=1.0)


@bad_input(
    "pgnfast.md.MDSettings", "a non-positive timestep", InputError, r"timestep \(fs\) must be"
)
def settings_zero_timestep(rng, tmp_path):
    MDSettings(timestep=0.0, seed=int(rng.integers(100)))


@bad_input(
    "pgnfast.md.MDSettings", "frame_every of 0", InputError, r"frame_every must be an integer >= 1"
)
def settings_zero_frame_every(rng, tmp_path):
    MDSettings(frame_every=0, seed=int(rng.integers(100)))


@bad_input(
    "pgnfast.md.lammps_frames.lammps_box",
    "a left-handed cell",
    InputError,
    r"cell must be right-handed",
)
def lammps_box_left_handed(rng, tmp_path):
    from pgnfast.md.lammps_frames import lammps_box

    lammps_box(np.diag(rng.uniform(1, 2, 3)) * np.array([1.0, 1.0, -1.0]))


@bad_input(
    "pgnfast.md.calculator.PotentialCalculator",
    "an object that is no pgnfast potential",
    InputError,
    r"potential must offer energy_forces and energies",
)
def calculator_not_a_potential(rng, tmp_path):
    from pgnfast.md.calculator import PotentialCalculator

    PotentialCalculator(float(rng.uniform()))
