"""Training: error goes down, resume after a kill repeats the run, energy-only, the CLI."""

import json
import os

import numpy as np
import pytest
import torch

from pgnfast.nn.io import load_model
from pgnfast.testing import write_synthetic_dataset
from pgnfast.train import TrainConfig, fit

TINY_MODEL = dict(
    r_max=0.8, num_layers=2, l_max=1, num_features=6, radial_mlp_width=16, num_bessel=6
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "synthetic.extxyz"
    write_synthetic_dataset(path, num_configs=30, num_particles=12, box=1.4, seed=1)
    return str(path)


def _config(dataset, run_dir, **overrides):
    values = dict(
        data=dataset,
        run_dir=str(run_dir),
        model=dict(TINY_MODEL),
        batch_size=4,
        max_epochs=5,
        learning_rate=0.01,
        progress=False,
        seed=3,
        split={"train": 20, "validation": 5, "test": 5},
        checkpoint_every=4,
    )
    values.update(overrides)
    return TrainConfig.from_dict(values)


def test_short_training_reduces_validation_error(dataset, tmp_path):
    metrics = fit(_config(dataset, tmp_path / "run", plots=True, max_epochs=10))
    # stated factor: the validation loss of the best model is at least 5x below the loss of
    # the freshly initialised (statistics-shifted) model
    assert metrics["best_validation_loss"] < metrics["initial_validation_loss"] / 5
    for name in (
        "config.yaml",
        "split.json",
        "statistics.json",
        "checkpoint.pt",
        "best_model.pt",
        "metrics.json",
        "history.json",
        "learning_curve.png",
        "parity_energy.png",
        "parity_forces.png",
    ):
        assert (tmp_path / "run" / name).exists(), name
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["stop_reason"] in ("max_epochs", "converged")
    assert (saved["stop_reason"] == "max_epochs") == (saved["epochs"] == 10)
    assert {"energy_mae_kT", "energy_per_particle_rmse_kT", "forces_rmse_kT_per_nm"} <= set(
        saved["test"]
    )
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    assert len(split["train"]) == 20 and not set(split["train"]) & set(split["test"])


def test_resume_after_kill_gives_same_result(dataset, tmp_path):
    full = fit(_config(dataset, tmp_path / "full", max_epochs=3, plots=False))
    # "kill" after 7 optimizer steps (mid epoch 1); the last checkpoint is at step 4
    killed = fit(
        _config(dataset, tmp_path / "resumed", max_epochs=3, plots=False, stop_after_steps=7)
    )
    assert killed == {"interrupted": True, "step": 7}
    resumed = fit(_config(dataset, tmp_path / "resumed", max_epochs=3, plots=False), resume=True)
    a = load_model(tmp_path / "full" / "best_model.pt").state_dict()
    b = load_model(tmp_path / "resumed" / "best_model.pt").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["test"] == full["test"] and resumed["steps"] == full["steps"]
    history_a = json.loads((tmp_path / "full" / "history.json").read_text())
    history_b = json.loads((tmp_path / "resumed" / "history.json").read_text())
    assert history_a == history_b


def test_energy_only_training_in_float64(dataset, tmp_path):
    metrics = fit(
        _config(
            dataset,
            tmp_path / "energy_only",
            force_weight=0.0,
            dtype="float64",
            max_epochs=2,
            plots=False,
            ema_decay=0.0,
        )
    )
    assert load_model(tmp_path / "energy_only" / "best_model.pt").dtype == torch.float64
    assert np.isfinite(metrics["test"]["energy_mae_kT"])


def test_train_command_line(dataset, tmp_path):
    from pgnfast.cli import main

    config = _config(dataset, tmp_path / "cli_run", max_epochs=1, plots=False)
    config.to_yaml(tmp_path / "train.yaml")
    assert main(["train", str(tmp_path / "train.yaml"), "--no-progress"]) == 0
    assert os.path.exists(tmp_path / "cli_run" / "metrics.json")


def test_training_device_choice(monkeypatch):
    from pgnfast.train.config import TrainConfig
    from pgnfast.train.fit import training_device

    assert training_device(TrainConfig(device="cpu")).type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert training_device(TrainConfig(device="auto")).type == "cpu"
    with pytest.raises(RuntimeError, match="no CUDA device"):
        training_device(TrainConfig(device="cuda"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert training_device(TrainConfig(device="cuda")) == torch.device("cuda:1")


def test_wall_time_limit_ends_training_after_the_epoch_it_passes(dataset, tmp_path):
    metrics = fit(
        _config(dataset, tmp_path / "timed", max_epochs=50, max_wall_time=0.0, plots=False)
    )
    history = json.loads((tmp_path / "timed" / "history.json").read_text())
    assert len(history) == 1 and metrics["steps"] == 5


def test_resume_with_raised_limits_continues_to_the_straight_result(dataset, tmp_path):
    straight = fit(_config(dataset, tmp_path / "straight", max_epochs=3, plots=False))
    fit(_config(dataset, tmp_path / "grown", max_epochs=3, max_wall_time=0.0, plots=False))
    # stopped by the wall time after epoch 0: the same limit on resume changes nothing
    fit(
        _config(dataset, tmp_path / "grown", max_epochs=3, max_wall_time=0.0, plots=False),
        resume=True,
    )
    assert len(json.loads((tmp_path / "grown" / "history.json").read_text())) == 1
    fit(_config(dataset, tmp_path / "grown", max_epochs=2, plots=False), resume=True)
    assert len(json.loads((tmp_path / "grown" / "history.json").read_text())) == 2
    grown = fit(_config(dataset, tmp_path / "grown", max_epochs=3, plots=False), resume=True)
    history_a = json.loads((tmp_path / "straight" / "history.json").read_text())
    history_b = json.loads((tmp_path / "grown" / "history.json").read_text())
    assert history_a == history_b and grown["test"] == straight["test"]


def test_config_without_r_max_is_refused(dataset, tmp_path):
    values = _config(dataset, tmp_path / "x").to_dict()
    del values["model"]["r_max"]
    with pytest.raises(ValueError, match="r_max"):
        TrainConfig.from_dict(values)


@pytest.mark.parametrize("name", ["train.yaml", "accuracy.yaml", "accuracy_finetune.yaml"])
def test_example_training_configs_are_valid(name):
    from pathlib import Path

    config = TrainConfig.from_yaml(Path(__file__).parents[2] / "examples" / name)
    assert config.model["r_max"] > 10.0  # nm: PGN cores, not atoms


def test_init_from_starts_from_the_model_file_and_refuses_another_architecture(dataset, tmp_path):
    from pgnfast.train.fit import build_model

    fit(_config(dataset, tmp_path / "first", max_epochs=1, plots=False))
    trained = load_model(tmp_path / "first" / "best_model.pt")
    statistics = json.loads((tmp_path / "first" / "statistics.json").read_text())
    type_names = statistics.pop("type_names")
    config = _config(
        dataset, tmp_path / "second", init_from=str(tmp_path / "first" / "best_model.pt")
    )
    started = build_model(config, type_names, statistics).state_dict()
    assert all(torch.equal(started[k], v) for k, v in trained.state_dict().items())
    fresh = build_model(_config(dataset, tmp_path / "third"), type_names, statistics)
    assert not all(torch.equal(fresh.state_dict()[k], v) for k, v in started.items())
    other = dict(TINY_MODEL, num_features=8)
    with pytest.raises(ValueError, match="num_features"):
        build_model(
            _config(dataset, tmp_path / "fourth", model=other, init_from=config.init_from),
            type_names,
            statistics,
        )
