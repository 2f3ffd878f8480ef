"""Training on stress labels: the labels are read (Voigt or 3 x 3), the stress term's gradient
equals finite differences, the training loss adds it, and a run reports the stress errors."""

from __future__ import annotations

import ase
import numpy as np
import pytest
import torch

from pgnfast.data.io import write_extxyz
from pgnfast.nn.model import NequIP
from pgnfast.systems.argon import label, lattice_sites
from pgnfast.train import fit
from pgnfast.train.data import attach_neighbors, collate, samples_from_frames
from pgnfast.train.metrics import loss_terms

R_MAX = 5.0
TINY_MODEL = dict(
    r_max=R_MAX, num_layers=1, l_max=1, num_features=4, radial_mlp_width=8, num_bessel=4
)


def argon_frames(rng, count, n_cells=2):
    """`count` labeled 32-atom argon frames: jittered fcc at lattice constants 5.1-5.6
    Angstrom (compressed to stretched), some sheared, so the stress varies a lot."""
    frames = []
    for _ in range(count):
        positions, cell = lattice_sites(n_cells, float(rng.uniform(5.1, 5.6)))
        shear = np.eye(3) + np.triu(rng.uniform(-0.03, 0.03, size=(3, 3)), 1)
        positions = (positions + rng.normal(scale=0.05, size=positions.shape)) @ shear
        atoms = ase.Atoms(f"Ar{len(positions)}", positions=positions, cell=cell @ shear, pbc=True)
        frames.append(label(atoms))
    return frames


def test_stress_labels_are_read_as_voigt_or_full_tensor(rng, tmp_path):
    frames = argon_frames(rng, 2)
    expected = [f.get_stress(voigt=False) for f in frames]
    write_extxyz(tmp_path / "voigt.extxyz", frames)
    full = []
    for frame in frames:
        copy = frame.copy()
        copy.info["stress"] = frame.get_stress(voigt=False)
        copy.calc = None
        copy.info["energy"] = frame.get_potential_energy()
        full.append(copy)
    for data in (frames, full):
        samples, _ = samples_from_frames(data)
        for sample, stress in zip(samples, expected, strict=True):
            np.testing.assert_allclose(sample.stress, stress, rtol=1e-14, atol=0)
    import ase.io

    samples, _ = samples_from_frames(ase.io.read(tmp_path / "voigt.extxyz", ":"))
    np.testing.assert_allclose(samples[1].stress, expected[1], rtol=1e-12, atol=0)


def test_stress_term_gradient_equals_finite_differences(rng):
    """The double backward through the strain: d(stress loss)/d(weights) by autograd against
    central differences, in float64."""
    samples, names = samples_from_frames(argon_frames(rng, 2))
    attach_neighbors(samples, R_MAX)
    torch.manual_seed(int(rng.integers(2**31)))
    model = NequIP(num_types=1, type_names=names, avg_num_neighbors=40.0, **TINY_MODEL).double()
    model.set_energy_scale_shift(0.01, [-0.05])
    graph, labels = collate(samples, R_MAX, torch.float64)

    def stress_loss():
        prediction = model(graph, compute_forces=True, compute_stress=True, create_graph=True)
        return loss_terms(prediction, labels, 0.0, 0.0, stress_weight=1e4)[0]

    parameters = [p for p in model.parameters() if p.requires_grad]
    gradients = torch.autograd.grad(stress_loss(), parameters, allow_unused=True)
    checked = 0
    for parameter, gradient in zip(parameters, gradients, strict=True):
        if gradient is None or not gradient.abs().max() > 0:
            continue
        flat = parameter.data.view(-1)
        index = int(rng.integers(flat.numel()))
        step = 1e-6 * max(1.0, abs(float(flat[index])))
        original = float(flat[index])
        with torch.no_grad():
            flat[index] = original + step
        plus = float(stress_loss().detach())
        with torch.no_grad():
            flat[index] = original - step
        minus = float(stress_loss().detach())
        with torch.no_grad():
            flat[index] = original
        numeric = (plus - minus) / (2 * step)
        analytic = float(gradient.view(-1)[index])
        assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-7 * abs(plus))
        checked += 1
    assert checked >= 3


def test_stress_term_enters_the_training_loss(rng):
    """The training step's loss is energy + force + stress_weight * stress MSE, each term
    computed here independently from the model's outputs."""
    from pgnfast.train.config import TrainConfig
    from pgnfast.train.fit import _EnergyTask

    samples, names = samples_from_frames(argon_frames(rng, 3))
    attach_neighbors(samples, R_MAX)
    torch.manual_seed(int(rng.integers(2**31)))
    model = NequIP(num_types=1, type_names=names, avg_num_neighbors=40.0, **TINY_MODEL).double()
    model.set_energy_scale_shift(0.01, [-0.05])
    weights = dict(energy_weight=3.0, force_weight=7.0, stress_weight=float(rng.uniform(1, 9)))
    config = TrainConfig.from_dict(
        dict(data="unused.extxyz", model=dict(TINY_MODEL), units="atomistic", **weights)
    )
    task = _EnergyTask(config, samples, [], torch.float64, "cpu")
    loss = float(task.loss(model, [0, 1, 2]).detach())
    graph, _ = collate(samples, R_MAX, torch.float64)
    out = model(graph, compute_forces=True, compute_stress=True)
    energy = np.array([s.energy for s in samples])
    expected = (
        weights["energy_weight"] * np.mean(((out["energy"].detach().numpy() - energy) / 32) ** 2)
        + weights["force_weight"]
        * np.mean(
            (out["forces"].detach().numpy() - np.concatenate([s.forces for s in samples])) ** 2
        )
        + weights["stress_weight"]
        * np.mean((out["stress"].detach().numpy() - np.stack([s.stress for s in samples])) ** 2)
    )
    assert loss == pytest.approx(expected, rel=1e-10)


def test_training_with_stress_weight_reports_the_stress_errors(rng, tmp_path):
    """A run with stress_weight writes stress metrics per split that equal the best model's
    errors recomputed here (learning itself: the argon benchmark, docs/argon-command.md)."""
    from pgnfast.nn.io import load_model

    path = tmp_path / "argon.extxyz"
    frames = argon_frames(rng, 8)
    write_extxyz(path, frames)
    metrics = fit(
        dict(
            data=str(path),
            run_dir=str(tmp_path / "run"),
            model=dict(TINY_MODEL),
            units="atomistic",
            dtype="float64",
            batch_size=2,
            max_epochs=2,
            stress_weight=1e5,
            progress=False,
            plots=False,
            split={"train": 4, "validation": 2, "test": 2},
            seed=int(rng.integers(1000)),
        )
    )
    import json

    split = json.loads((tmp_path / "run" / "split.json").read_text())
    model = load_model(tmp_path / "run" / "best_model.pt")
    samples, _ = samples_from_frames([frames[i] for i in split["test"]])
    attach_neighbors(samples, R_MAX)
    graph, _ = collate(samples, R_MAX, torch.float64)
    stress = model(graph, compute_forces=True, compute_stress=True)["stress"].detach().numpy()
    error = stress - np.stack([s.stress for s in samples])
    test = metrics["test"]
    assert test["stress_rmse_eV_per_Angstrom3"] == pytest.approx(np.sqrt(np.mean(error**2)))
    assert test["stress_mae_eV_per_Angstrom3"] == pytest.approx(np.mean(np.abs(error)))
    assert "stress_rmse_eV_per_Angstrom3" in metrics["train"]
    assert "stress_rmse_eV_per_Angstrom3" in metrics["validation"]
