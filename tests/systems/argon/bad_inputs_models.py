"""Bad inputs of the argon models and MD with them: energy from a model that has none, a
drift on a missing energy, NPT without a virial, bad sizes, a foreign resume."""

from __future__ import annotations

import dataclasses

import torch

from pgnfast.errors import IncompatibleModelError, InputError, ResumeMismatchError
from pgnfast.md.calculator import PropertyUnavailableError
from tests.bad_inputs import bad_input


def _direct_force(rng):
    from pgnfast.nn.direct_force import DirectForceModel

    torch.manual_seed(int(rng.integers(1000)))
    return DirectForceModel(r_max=5.0, num_layers=1, num_features=4, num_bessel=4).double()


def _crystal(rng):
    from pgnfast.systems.argon import fcc_lattice

    return fcc_lattice(2, float(rng.uniform(5.2, 5.4)))


@bad_input(
    "pgnfast.md.calculator.ModelCalculator",
    "the energy of the direct-force model (it has none)",
    PropertyUnavailableError,
    r"energy is not available: the direct-force model predicts forces directly and has no "
    r"energy",
)
def models_direct_force_energy(rng, tmp_path):
    from pgnfast.md.calculator import ModelCalculator

    atoms = _crystal(rng)
    atoms.calc = ModelCalculator(_direct_force(rng))
    atoms.get_potential_energy()


@bad_input(
    "pgnfast.systems.argon.drift.nve_drift",
    "energy='model' for the direct-force model",
    InputError,
    r"energy='model' needs a model with an energy; direct-force predicts forces only",
)
def models_drift_model_energy_without_one(rng, tmp_path):
    from pgnfast.systems.argon.drift import nve_drift

    nve_drift(_crystal(rng), _direct_force(rng), timestep=5.0, steps=3, energy="model")


@bad_input(
    "pgnfast.md.fix_external.run_fix_external",
    "NPT with the direct-force model (no virial)",
    InputError,
    r"ensemble 'npt' needs a stress, which direct-force does not provide",
    requires="lammps",
)
def models_fix_external_npt_without_stress(rng, tmp_path):
    from pgnfast.md.fix_external import run_fix_external

    run_fix_external(
        _crystal(rng),
        _direct_force(rng),
        steps=2,
        timestep=5.0,
        ensemble="npt",
        temperature=10.0,
        pressure=1.0,
    )


@bad_input(
    "pgnfast.md.ase_md.run_md",
    "an unknown integrator",
    InputError,
    r"integrator must be one of \('verlet', 'langevin', 'nose-hoover', 'mtk-npt'\)",
)
def models_unknown_integrator(rng, tmp_path):
    from pgnfast.md.ase_md import run_md
    from pgnfast.systems.argon import argon_lj

    run_md(_crystal(rng), argon_lj(), steps=2, timestep=5.0, integrator="leapfrog")


@bad_input(
    "pgnfast.md.calculator.as_force_field",
    "an object that is neither a potential nor a model",
    InputError,
    r"cannot drive MD with a float",
)
def models_not_a_force_field(rng, tmp_path):
    from pgnfast.md.calculator import as_force_field

    as_force_field(float(rng.uniform()))


@bad_input(
    "pgnfast.nn.direct_force.DirectForceModel",
    "a negative number of layers",
    InputError,
    r"num_layers must be an integer in \[0, 64\]",
)
def models_direct_force_negative_layers(rng, tmp_path):
    from pgnfast.nn.direct_force import DirectForceModel

    DirectForceModel(r_max=5.0, num_layers=-int(rng.integers(1, 5)))


@bad_input(
    "pgnfast.nn.direct_force.load_direct_force_model",
    "a NequIP model file",
    IncompatibleModelError,
    r"is not a pgnfast direct-force model file \(its kind is 'pgnfast-nequip-model'\)",
)
def models_direct_force_load_nequip(rng, tmp_path):
    from pgnfast.nn.direct_force import load_direct_force_model
    from pgnfast.nn.io import save_model
    from pgnfast.testing import small_model

    save_model(small_model(seed=int(rng.integers(100))), tmp_path / "nequip.pt")
    load_direct_force_model(tmp_path / "nequip.pt")


@bad_input(
    "pgnfast.systems.argon.models.ArgonModelsConfig",
    "dtype float16",
    InputError,
    r"dtype must be 'float32' or 'float64'",
)
def models_config_float16(rng, tmp_path):
    from pgnfast.systems.argon.models import ArgonModelsConfig

    ArgonModelsConfig(dtype="float16", seed=int(rng.integers(100)))


@bad_input(
    "pgnfast.systems.argon.models.train_direct_force",
    "resume with another learning rate",
    ResumeMismatchError,
    r"belongs to another configuration: \['direct_learning_rate'\] differ",
)
def models_direct_force_foreign_resume(rng, tmp_path):
    from pgnfast.systems.argon.models import ArgonModelsConfig, train_direct_force
    from tests.systems.argon.test_models import write_tiny_set

    data = write_tiny_set(rng, tmp_path / "argon.extxyz", frames=3)
    config = ArgonModelsConfig.quick(direct_epochs=1, split={"train": 1.0})
    train_direct_force(data, tmp_path / "run", config)
    other = dataclasses.replace(config, direct_learning_rate=2 * config.direct_learning_rate)
    train_direct_force(data, tmp_path / "run", other, resume=True)
