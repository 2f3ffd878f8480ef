"""NequIP-LR through `pgnfast train` (examples/charges.yaml, shrunk): a synthetic charged
Na/Cl teacher set (Qeq plus a pair repulsion, free clusters and periodic cells, some
frames charged), the model file, the charge metrics and an exact resume.

The teacher set is `pgnfast.testing.write_charged_teacher_dataset`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from pgnfast.testing import write_charged_teacher_dataset

ROOT = Path(__file__).resolve().parents[2]
TINY_LR = dict(
    charge_layers=1,
    energy_layers=1,
    l_max=0,
    num_features=4,
    num_bessel=4,
    radial_mlp_width=8,
    charge_embedding_size=4,
)
SPLIT = {"train": 8, "validation": 2, "test": 2}


def shrunk_charges_config(tmp_path, data, run_dir, **changes) -> Path:
    """examples/charges.yaml with sizes shrunk (model, split, epochs, checkpoints)."""
    values = yaml.safe_load((ROOT / "examples" / "charges.yaml").read_text())
    values["model"].update(TINY_LR)
    values.update(
        data=str(data),
        run_dir=str(run_dir),
        split=SPLIT,
        max_epochs=2,
        batch_size=2,
        checkpoint_every=1,
        plots=False,
        progress=False,
    )
    values.update(changes)
    path = tmp_path / f"{Path(run_dir).name}.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.fixture
def charged_data(tmp_path, rng):
    write_charged_teacher_dataset(tmp_path / "data", 12, seed=int(rng.integers(2**31)))
    return tmp_path / "data"


def test_teacher_frames_read_back_with_charges_and_total_charge(charged_data):
    from pgnfast.train.data import read_labeled_frames, samples_from_frames

    frames, sources = read_labeled_frames(charged_data, units="atomistic")
    samples, names = samples_from_frames(frames, None, (), sources, charges_key="charges")
    assert names == ["Cl", "Na"]
    for sample in samples:
        assert abs(sample.charges.sum() - sample.total_charge) < 1e-6
    assert any(s.total_charge != 0 for s in samples) and any(s.total_charge == 0 for s in samples)
    assert any(all(s.pbc) for s in samples) and any(not any(s.pbc) for s in samples)
    plain, _ = samples_from_frames(frames, None, (), sources)
    assert all(s.charges is None and s.total_charge is None for s in plain)


def test_batched_charge_loss_matches_frame_by_frame_reference(charged_data, tmp_path):
    """The training loss with charge_weight w exceeds the one without by w times the charge
    MSE over the frames that have reference charges, computed frame by frame; evaluate()'s
    batched charges equal the frame-by-frame ones (total charges and pbc per frame)."""
    from pgnfast.nn.graph import build_graph
    from pgnfast.train import TrainConfig
    from pgnfast.train.data import (
        attach_neighbors,
        per_type_statistics,
        read_labeled_frames,
        samples_from_frames,
    )
    from pgnfast.train.fit import _EnergyTask, build_model, evaluate

    values = yaml.safe_load(
        shrunk_charges_config(tmp_path, charged_data, tmp_path / "x").read_text()
    )
    config = TrainConfig.from_dict(values)
    frames, sources = read_labeled_frames(charged_data, units="atomistic")
    for atoms in frames[::3]:  # frames without reference charges are left out of the term
        atoms.calc.results.pop("charges", None)
        atoms.arrays.pop("charges", None)
    samples, names = samples_from_frames(frames, None, (), sources, charges_key="charges")
    assert sum(s.charges is None for s in samples) == 4
    attach_neighbors(samples, config.model["r_max"])
    model = build_model(config, names, per_type_statistics(samples, len(names)))
    model.eval()
    batch = list(range(len(samples)))
    weighted = _EnergyTask(config, samples, [], torch.float64, "cpu").loss(model, batch)
    config.charge_weight = 0.0
    plain = _EnergyTask(config, samples, [], torch.float64, "cpu").loss(model, batch)

    errors, charges = [], []
    for sample in samples:
        graph = build_graph(
            [(sample.positions, sample.cell, sample.types, sample.pbc, None)],
            model.r_max,
            dtype=torch.float64,
        )
        out = model(graph, total_charge=torch.tensor([sample.total_charge]), pbc=[sample.pbc])
        q = out["charges"].detach().numpy()
        assert q.sum() == pytest.approx(sample.total_charge, abs=1e-9)
        charges.append(q)
        if sample.charges is not None:
            errors.append((q - sample.charges) ** 2)
    expected = float(values["charge_weight"]) * np.concatenate(errors).mean()
    assert float((weighted - plain).detach()) == pytest.approx(expected, rel=1e-8)
    batched = evaluate(model, samples, config, batch_size=5)["charges"]
    np.testing.assert_allclose(batched, np.concatenate(charges), rtol=1e-9, atol=1e-12)


def test_nequip_lr_trains_through_the_cli_and_resumes_exactly(charged_data, tmp_path):
    from pgnfast.cli import main
    from pgnfast.nn.io import load_model
    from pgnfast.nn.nequip_lr import NequIPLR

    config = shrunk_charges_config(tmp_path, charged_data, tmp_path / "full", plots=True)
    assert main(["train", str(config), "--no-progress"]) == 0
    assert (tmp_path / "full" / "parity_charges.png").stat().st_size > 0
    model = load_model(tmp_path / "full" / "best_model.pt")
    assert isinstance(model, NequIPLR)
    assert model.type_names == ["Cl", "Na"]
    metrics = json.loads((tmp_path / "full" / "metrics.json").read_text())
    for split in ("train", "validation", "test"):
        for key in ("charges_rmse_e", "charges_mae_e", "charges_pearson_r"):
            assert key in metrics[split]
        assert metrics[split]["charges_rmse_e"] >= metrics[split]["charges_mae_e"] > 0
        assert "forces_rmse_eV_per_Angstrom" in metrics[split]

    interrupted = shrunk_charges_config(
        tmp_path, charged_data, tmp_path / "resumed", stop_after_steps=3
    )
    assert main(["train", str(interrupted), "--no-progress"]) == 0
    assert not (tmp_path / "resumed" / "metrics.json").exists()
    resumed = shrunk_charges_config(tmp_path, charged_data, tmp_path / "resumed")
    assert main(["train", str(resumed), "--no-progress", "--resume"]) == 0
    again = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    for split in ("train", "validation", "test"):
        for key, value in metrics[split].items():
            assert again[split][key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


def test_resume_refuses_changed_reference_charges(charged_data, tmp_path):
    import ase.io

    from pgnfast.errors import ResumeMismatchError
    from pgnfast.train import fit

    config = shrunk_charges_config(
        tmp_path, charged_data, tmp_path / "run", stop_after_steps=1, max_epochs=1
    )
    fit(str(config))
    path = charged_data / "nacl.extxyz"
    frames = ase.io.read(path, index=":")
    # a shift that keeps the frame's total (a scaling would leave a frame of one species,
    # whose teacher charges are all 0, unchanged)
    changed = frames[0].calc.results["charges"].copy()
    changed[0], changed[1] = changed[0] + 0.01, changed[1] - 0.01
    frames[0].calc.results["charges"] = changed
    ase.io.write(path, frames, format="extxyz")
    with pytest.raises(ResumeMismatchError, match="another data set"):
        fit(str(config), resume=True)


def test_per_type_mappings_and_kind_defaults(tmp_path):
    """hardness and widths given per type name reach the model in its type order; a config
    without kind keeps its model section as before (no kind added)."""
    from pgnfast.errors import InputError
    from pgnfast.train import TrainConfig
    from pgnfast.train.models import build_nequip_lr

    values = yaml.safe_load(shrunk_charges_config(tmp_path, "d.extxyz", tmp_path / "r").read_text())
    values["model"].update(hardness={"Na": 6.5, "Cl": 8.5}, widths={"Na": 1.1, "Cl": 0.9})
    config = TrainConfig.from_dict(values)
    statistics = {"avg_num_neighbors": 3.0}
    model = build_nequip_lr(config, ["Cl", "Na"], statistics)
    np.testing.assert_allclose(model.hardness.detach().numpy(), [8.5, 6.5], rtol=1e-6)
    np.testing.assert_allclose(model.widths.detach().numpy(), [0.9, 1.1], rtol=1e-6)
    assert model.hyperparameters["charge_layers"] == 1
    config.model["hardness"] = {"Na": 6.5}
    with pytest.raises(InputError, match=r"model.hardness .* missing \['Cl'\]"):
        build_nequip_lr(config, ["Cl", "Na"], statistics)
    plain = TrainConfig.from_dict(dict(data="d.extxyz", model=dict(r_max=1.0)))
    assert "kind" not in plain.model and plain.charge_weight == 0.0


def test_energy_only_nequip_config_trains_as_before(charged_data, tmp_path):
    """kind nequip (explicit) trains the same model as a config without kind, ignoring
    the charge columns."""
    from pgnfast.train import TrainConfig, fit

    def run(name, model):
        values = dict(
            data=str(charged_data),
            run_dir=str(tmp_path / name),
            units="atomistic",
            dtype="float64",
            model=model,
            split=SPLIT,
            batch_size=2,
            max_epochs=1,
            plots=False,
            progress=False,
        )
        return fit(TrainConfig.from_dict(values))

    small = dict(r_max=4.0, num_layers=1, l_max=0, num_features=4, radial_mlp_width=8)
    plain = run("plain", dict(small))
    explicit = run("explicit", dict(small, kind="nequip"))
    assert "charges_rmse_e" not in plain["test"]
    for key, value in plain["test"].items():
        assert explicit["test"][key] == pytest.approx(value, rel=1e-12, abs=1e-15), key
