"""Training checkpoints and run inputs: weights_only loading, resuming only the same run,
damaged checkpoints refused with pgnfast exceptions, metadata and units in the model file,
labeled dataset folders as data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from pgnfast import errors
from pgnfast.nn.io import load_model
from pgnfast.testing import small_model
from pgnfast.train import TrainConfig, fit
from pgnfast.train.checkpoint import (
    ExponentialMovingAverage,
    check_resume,
    load_checkpoint,
    restore,
    save_checkpoint,
)
from pgnfast.units import ATOMISTIC

from .bad_inputs import interrupted_run, tiny_config

ROOT = Path(__file__).parents[2]


def test_checkpoints_load_with_weights_only_and_resume_in_a_moved_run_dir(
    rng, tmp_path, torch_load_calls
):
    values = interrupted_run(rng, tmp_path, max_epochs=2)
    seen = torch_load_calls
    # the run folder and the data moved (same frames: same fingerprint), progress and
    # threads changed, the epoch limit raised: allowed
    shutil.copytree(tmp_path / "run", tmp_path / "moved")
    (tmp_path / "elsewhere").mkdir()
    shutil.copy(values["data"], tmp_path / "elsewhere" / "data.extxyz")
    changed = {
        **values,
        "data": str(tmp_path / "elsewhere" / "data.extxyz"),
        "run_dir": str(tmp_path / "moved"),
        "num_threads": 1,
        "max_epochs": 3,
    }
    metrics = fit(changed, resume=True)
    assert metrics["steps"] == 6 and seen and all(seen)


def test_an_older_checkpoint_without_checksum_or_fingerprint_resumes(rng, tmp_path):
    values = interrupted_run(rng, tmp_path)
    path = tmp_path / "run" / "checkpoint.pt"
    saved = torch.load(path, weights_only=True)
    for key in ("kind", "format_version", "checksum", "data_fingerprint"):
        del saved[key]
    del saved["config"]["metadata"], saved["config"]["units"]  # fields added later
    torch.save(saved, path)
    assert fit(values, resume=True)["steps"] == 2


def test_metadata_and_units_reach_the_model_file(rng, tmp_path):
    from tests.data.bad_inputs import labeled_frames, write_dataset

    folder = write_dataset(tmp_path / "ds", labeled_frames(rng, 8), units=ATOMISTIC)
    metadata = {"pgn_design": {"core_radius": 8.0}, "note": "tiny"}
    values = tiny_config(folder, tmp_path / "run", metadata=metadata, units="atomistic")
    metrics = fit(values)
    model = load_model(tmp_path / "run" / "best_model.pt", units="atomistic")
    assert model.metadata == metadata and model.units == ATOMISTIC
    assert metrics["units"] == ATOMISTIC
    assert model.type_names == ["type0", "type1"]  # from the dataset's `type` column


def test_example_points_at_the_labeler_output_and_says_when_it_is_missing(tmp_path, monkeypatch):
    config = TrainConfig.from_yaml(ROOT / "examples" / "train.yaml")
    assert config.data == "data/pgn_design0"  # what `pgnfast label --out data/pgn_design0` writes
    monkeypatch.chdir(tmp_path)
    with pytest.raises(errors.FileFormatError, match=r"data 'data/pgn_design0' matches no file"):
        fit(config)


def _objects(model_seed: int):
    model = small_model(seed=model_seed, num_layers=1, l_max=1, num_features=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer)
    return model, optimizer, scheduler, ExponentialMovingAverage(model, 0.99)


def test_damaged_checkpoints_raise_pgnfast_errors(tmp_path, test_seed):
    model, optimizer, scheduler, ema = _objects(test_seed % 2**31)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    optimizer.step()
    ema.update(model)
    scheduler.step(1.0)
    config = TrainConfig.from_dict(tiny_config("d.extxyz", tmp_path))
    state = {
        "epoch": 1,
        "batch": 0,
        "step": 2,
        "history": [{"epoch": 0, "validation_loss": 1.0}],
        "best_validation": 1.0,
        "best_epoch": 0,
        "stale_epochs": 0,
        "epoch_loss_sum": 0.0,
        "epoch_batches": 0,
        "finished": False,
    }
    path, damaged = tmp_path / "checkpoint.pt", tmp_path / "damaged.pt"
    save_checkpoint(
        path,
        model=model.state_dict(),
        optimizer=optimizer.state_dict(),
        scheduler=scheduler.state_dict(),
        ema=ema.state_dict(),
        state=state,
        config=config.to_dict(),
        data_fingerprint="sha256:0",
    )
    saved = load_checkpoint(path)
    check_resume(saved, config, "sha256:0", path)
    assert restore(saved, path, *_objects(1)) == state
    data = path.read_bytes()

    @seed(test_seed)
    @settings(max_examples=30, deadline=None, database=None)
    @given(st.data())
    def check(draw):
        if draw.draw(st.booleans()):
            damaged.write_bytes(data[: draw.draw(st.integers(0, len(data) - 1))])
        else:
            changed = bytearray(data)
            for _ in range(draw.draw(st.integers(1, 8))):
                changed[draw.draw(st.integers(0, len(data) - 1))] = draw.draw(st.integers(0, 255))
            damaged.write_bytes(bytes(changed))
        try:
            saved = load_checkpoint(damaged)
            check_resume(saved, config, "sha256:0", damaged)
            restore(saved, damaged, *_objects(1))
        except errors.PGNFastError:
            return

    check()


def test_resume_mismatch_names_every_differing_key(rng, tmp_path):
    values = interrupted_run(rng, tmp_path)
    changed = {**values, "learning_rate": 0.5, "force_weight": 0.0, "max_epochs": 4}
    with pytest.raises(errors.ResumeMismatchError, match=r"\['force_weight', 'learning_rate'\]"):
        fit(changed, resume=True)
