"""The argon models: NequIP through pgnfast.train.fit and the direct-force baseline with its
own loop, on a tiny labeled Lennard-Jones set; the same split for both; resume."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from pgnfast.data.io import write_extxyz
from pgnfast.nn.direct_force import load_direct_force_model
from pgnfast.systems.argon import fcc_lattice, label
from pgnfast.systems.argon.models import (
    ArgonModelsConfig,
    train_direct_force,
    train_models,
)


def write_tiny_set(rng, path, frames=12):
    """Labeled frames of 32 argon atoms near the fcc lattice (displacements 0.05-0.25 A,
    lattice constants 5.2-5.5 A), exact Lennard-Jones labels."""
    out = []
    for _ in range(frames):
        atoms = fcc_lattice(2, float(rng.uniform(5.2, 5.5)))
        atoms.positions += rng.normal(0.0, rng.uniform(0.05, 0.25), atoms.positions.shape)
        out.append(label(atoms))
    return write_extxyz(path, out)


def _config(**overrides):
    return ArgonModelsConfig.quick(dtype="float64", **overrides)


def test_direct_force_learns_the_forces(rng, tmp_path):
    """Full-batch training on eight frames: the force error falls far below the untrained
    model's (measured on the training frames: learning, not generalisation)."""
    data = write_tiny_set(rng, tmp_path / "argon.extxyz", frames=8)
    config = _config(
        direct_epochs=80,
        direct_num_layers=1,
        direct_num_features=16,
        direct_num_bessel=8,
        direct_learning_rate=1e-2,
        direct_batch_size=8,
        direct_max_wall_time=None,
        seed=int(rng.integers(1000)),
        split={"train": 1.0, "validation": 0.0, "test": 0.0},
    )
    result = train_direct_force(data, tmp_path / "direct", config)
    metrics = result["metrics"]
    assert metrics["best_validation_force_rmse"] < 0.3 * metrics["initial_validation_force_rmse"]
    model = load_direct_force_model(result["model"], units="atomistic")
    assert model.units["length"] == "Angstrom" and model.metadata["model"] == "direct-force"
    assert (tmp_path / "direct" / "learning_curve.png").stat().st_size > 0


def test_direct_force_resume_repeats_the_uninterrupted_run(rng, tmp_path):
    data = write_tiny_set(rng, tmp_path / "argon.extxyz", frames=6)
    config = _config(direct_epochs=4, seed=int(rng.integers(1000)), direct_max_wall_time=None)
    whole = train_direct_force(data, tmp_path / "whole", config)
    first = dataclasses.replace(config, direct_epochs=2)
    train_direct_force(data, tmp_path / "parts", first)
    resumed = train_direct_force(data, tmp_path / "parts", config, resume=True)
    assert resumed["metrics"]["epochs"] == 4
    a = load_direct_force_model(whole["model"]).state_dict()
    b = load_direct_force_model(resumed["model"]).state_dict()
    for key in a:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())


def test_both_models_train_on_the_same_split(rng, tmp_path):
    data = write_tiny_set(rng, tmp_path / "argon.extxyz", frames=10)
    summary = train_models(data, tmp_path / "models", _config(nequip_epochs=1, direct_epochs=1))
    nequip_split = json.loads((tmp_path / "models" / "nequip" / "split.json").read_text())
    direct_split = json.loads((tmp_path / "models" / "direct_force" / "split.json").read_text())
    assert nequip_split == direct_split
    from pgnfast.nn.io import load_model

    model = load_model(summary["nequip"]["model"], units="atomistic")
    assert model.metadata == {"system": "argon", "model": "nequip"}
    assert summary["direct_force"]["test"]["force_rmse"] > 0


def test_each_model_resumes_from_its_own_checkpoint(rng, tmp_path):
    """A direct-force run that finished beside no NequIP checkpoint is reused, not retrained,
    when the models are trained again with resume (the `models` stage's rerun)."""
    data = write_tiny_set(rng, tmp_path / "argon.extxyz", frames=8)
    config = _config(nequip_epochs=1, direct_epochs=2, seed=int(rng.integers(1000)))
    direct = train_direct_force(data, tmp_path / "models" / "direct_force", config)
    best = tmp_path / "models" / "direct_force" / "best_model.pt"
    before = (best.read_bytes(), best.stat().st_mtime_ns)
    summary = train_models(data, tmp_path / "models", config, resume=True)
    assert (best.read_bytes(), best.stat().st_mtime_ns) == before  # not written again
    assert summary["direct_force"]["test"] == direct["metrics"]["test"]
    assert (tmp_path / "models" / "nequip" / "best_model.pt").exists()


def test_quick_sizes_are_smaller_than_the_defaults():
    quick, default = ArgonModelsConfig.quick(), ArgonModelsConfig()
    assert quick.nequip_num_features <= default.nequip_num_features
    assert quick.direct_epochs < default.direct_epochs


@pytest.mark.parametrize("bad", [{"dtype": "float16"}, {"direct_epochs": -1}])
def test_config_refuses_bad_sizes(bad):
    from pgnfast.errors import InputError

    with pytest.raises(InputError):
        ArgonModelsConfig(**bad)
