"""Bad inputs of the argon system (pgnfast.systems.argon): lattice and data protocol."""

from __future__ import annotations

import numpy as np

from pgnfast.errors import InputError
from pgnfast.systems.argon import ArgonDataConfig, fcc_lattice, generate_dataset, lattice_msd
from tests.bad_inputs import bad_input


@bad_input(
    "pgnfast.systems.argon.fcc_lattice", "an unknown lattice", InputError, r"lattice must be one of"
)
def fcc_unknown_lattice(rng, tmp_path):
    fcc_lattice(int(rng.integers(1, 3)), 5.26, lattice="bcc")


@bad_input(
    "pgnfast.systems.argon.fcc_lattice",
    "a non-positive lattice constant",
    InputError,
    r"lattice_constant \(Angstrom\) must be a finite number > 0",
)
def fcc_non_positive_lattice_constant(rng, tmp_path):
    fcc_lattice(int(rng.integers(1, 3)), -float(rng.uniform(0, 5)))


@bad_input(
    "pgnfast.systems.argon.fcc_lattice",
    "zero cells",
    InputError,
    r"n_cells must be an integer >= 1",
)
def fcc_zero_cells(rng, tmp_path):
    fcc_lattice(0, float(rng.uniform(5, 6)))


@bad_input(
    "pgnfast.systems.argon.ArgonDataConfig",
    "a non-positive temperature",
    InputError,
    r"temperature \(K\) must be a finite number > 0",
)
def config_non_positive_temperature(rng, tmp_path):
    ArgonDataConfig(temperature=-float(rng.uniform(0, 10)))


@bad_input(
    "pgnfast.systems.argon.ArgonDataConfig",
    "a non-positive melt temperature",
    InputError,
    r"melt_temperature \(K\) must be a finite number > 0",
)
def config_non_positive_melt_temperature(rng, tmp_path):
    ArgonDataConfig(melt_temperature=0.0, seed=int(rng.integers(100)))


@bad_input(
    "pgnfast.systems.argon.ArgonDataConfig",
    "a non-positive timestep",
    InputError,
    r"timestep \(fs\) must be a finite number > 0",
)
def config_non_positive_timestep(rng, tmp_path):
    ArgonDataConfig(timestep=-float(rng.uniform(0, 5)))


@bad_input(
    "pgnfast.systems.argon.ArgonDataConfig",
    "a non-positive thermostat damping time",
    InputError,
    r"thermostat_damping \(fs\) must be a finite number > 0",
)
def config_non_positive_damping(rng, tmp_path):
    ArgonDataConfig(thermostat_damping=-float(rng.uniform(1, 100)))


@bad_input(
    "pgnfast.systems.argon.ArgonDataConfig",
    "negative steps",
    InputError,
    r"ramp_steps must be an integer >= 0",
)
def config_negative_steps(rng, tmp_path):
    ArgonDataConfig(ramp_steps=-int(rng.integers(1, 100)))


@bad_input(
    "pgnfast.systems.argon.ArgonDataConfig",
    "no steps in any stage",
    InputError,
    r"all 0: nothing to run",
)
def config_no_steps(rng, tmp_path):
    ArgonDataConfig(
        npt_steps=0, nvt_steps=0, ramp_steps=0, hold_steps=0, seed=int(rng.integers(100))
    )


@bad_input(
    "pgnfast.systems.argon.ArgonDataConfig",
    "zero trajectories",
    InputError,
    r"trajectories must be an integer >= 1",
)
def config_zero_trajectories(rng, tmp_path):
    ArgonDataConfig(trajectories=0, seed=int(rng.integers(100)))


@bad_input(
    "pgnfast.systems.argon.ArgonDataConfig",
    "an unknown engine",
    InputError,
    r"engine must be one of",
)
def config_unknown_engine(rng, tmp_path):
    ArgonDataConfig(engine="gromacs", seed=int(rng.integers(100)))


@bad_input(
    "pgnfast.systems.argon.ArgonDataConfig",
    "a non-finite pressure",
    InputError,
    r"pressure must be a finite number \(bar\)",
)
def config_non_finite_pressure(rng, tmp_path):
    ArgonDataConfig(pressure=float("nan"), seed=int(rng.integers(100)))


@bad_input(
    "pgnfast.systems.argon.generate_dataset",
    "a config that is no ArgonDataConfig",
    InputError,
    r"config must be an ArgonDataConfig",
)
def dataset_config_not_a_config(rng, tmp_path):
    generate_dataset({"n_cells": int(rng.integers(1, 3))}, tmp_path / "argon")


@bad_input(
    "pgnfast.systems.argon.lattice_msd",
    "positions of another lattice size",
    InputError,
    r"positions must have shape \(32, 3\)",
)
def msd_wrong_size(rng, tmp_path):
    lattice_msd(rng.uniform(size=(31, 3)), np.eye(3) * 10.5, 2)


@bad_input(
    "pgnfast.systems.argon.ArgonDataConfig",
    "an unknown ramp ensemble",
    InputError,
    r"ramp_ensemble must be one of",
)
def config_unknown_ramp_ensemble(rng, tmp_path):
    ArgonDataConfig(ramp_ensemble=str(rng.choice(["nve", "NPT", "langevin"])))
