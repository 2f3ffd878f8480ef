"""The argon models (issue 14): pgnfast NequIP trained on energies and forces through
:func:`pgnfast.train.fit`, and the direct-force baseline (:mod:`pgnfast.nn.direct_force`)
trained on forces only with its own small loop. Both read the argon data set
(:func:`pgnfast.systems.argon.generate_dataset`), split it the same way (the seeded split of
``fit``: same seed and fractions, same frames in each split) and write a model file in
Angstrom/eV. Every size is in :class:`ArgonModelsConfig`; :meth:`ArgonModelsConfig.quick`
gives CI sizes.

Run folder::

    nequip/          fit's run folder (best_model.pt, metrics.json, checkpoint.pt, ...)
    direct_force/    best_model.pt, checkpoint.pt, history.json, metrics.json,
                     learning_curve.png
    models.json      both models' files and test-set force errors

    python -m pgnfast.systems.argon.models --out runs/argon-models [--data DIR] [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..._atomic import write_json
from ...errors import InputError, ResumeMismatchError
from ...nn.direct_force import DirectForceModel, save_direct_force_model
from ...train.checkpoint import load_checkpoint, save_checkpoint
from ...train.data import (
    attach_neighbors,
    collate,
    fingerprint,
    read_labeled_frames,
    samples_from_frames,
    split_indices,
)
from ...units import ATOMISTIC

# fields a resumed direct-force run may change (the limits it continues under, and how it runs)
RESUME_MAY_CHANGE = ("direct_epochs", "direct_max_wall_time", "progress", "num_threads")


@dataclass(frozen=True)
class ArgonModelsConfig:
    """Sizes of both models and their training (lengths Angstrom, times s). The defaults
    train each model in about a minute or two on 2 cores on the default data set."""

    seed: int = 0
    split: dict = field(default_factory=lambda: {"train": 0.8, "validation": 0.1, "test": 0.1})
    dtype: str = "float32"
    num_threads: int | None = None
    progress: bool = False
    # NequIP (energies, forces and virial stress, through pgnfast.train.fit)
    nequip_r_max: float = 6.0
    nequip_num_layers: int = 2
    nequip_l_max: int = 1
    nequip_num_features: int = 8
    nequip_num_bessel: int = 8
    nequip_radial_mlp_width: int = 16
    nequip_epochs: int = 30
    nequip_batch_size: int = 4
    nequip_learning_rate: float = 1e-2
    nequip_energy_weight: float = 1.0
    nequip_force_weight: float = 100.0
    nequip_stress_weight: float = 1e5  # (eV/Angstrom^3)^-2: the data's virial stress labels
    nequip_max_wall_time: float | None = 120.0
    # direct-force baseline (forces only)
    direct_r_max: float = 6.0
    direct_num_layers: int = 2
    direct_num_features: int = 32
    direct_num_bessel: int = 8
    direct_epochs: int = 30
    direct_batch_size: int = 4
    direct_learning_rate: float = 3e-3
    direct_max_wall_time: float | None = 120.0

    @classmethod
    def quick(cls, **overrides) -> ArgonModelsConfig:
        """CI sizes: tiny networks, a few epochs (seconds on a small data set)."""
        sizes = dict(
            nequip_r_max=5.0,
            nequip_num_layers=1,
            nequip_num_features=4,
            nequip_num_bessel=4,
            nequip_radial_mlp_width=8,
            nequip_epochs=3,
            nequip_max_wall_time=20.0,
            direct_r_max=5.0,
            direct_num_layers=1,
            direct_num_features=8,
            direct_num_bessel=4,
            direct_epochs=3,
            direct_max_wall_time=20.0,
        )
        sizes.update(overrides)
        return cls(**sizes)

    def __post_init__(self):
        if self.dtype not in ("float32", "float64"):
            raise InputError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        for name in ("nequip_epochs", "direct_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputError(f"{name} must be an integer >= 0, got {value!r}")
        for name in ("nequip_batch_size", "direct_batch_size", "direct_num_layers"):
            value = getattr(self, name)
            low = 0 if name == "direct_num_layers" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
        for name in (
            "nequip_r_max",
            "direct_r_max",
            "nequip_learning_rate",
            "direct_learning_rate",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise InputError(f"{name} must be a number > 0, got {value!r}")
        for name in ("nequip_energy_weight", "nequip_force_weight", "nequip_stress_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise InputError(f"{name} must be a number >= 0, got {value!r}")


# -- NequIP through pgnfast.train.fit -------------------------------------------------------
def nequip_train_config(data, run_dir, config: ArgonModelsConfig):
    """The TrainConfig of the NequIP run (units Angstrom/eV, the config's sizes)."""
    from ...train.config import TrainConfig

    return TrainConfig.from_dict(
        dict(
            data=os.fspath(data),
            run_dir=os.fspath(run_dir),
            seed=config.seed,
            dtype=config.dtype,
            model=dict(
                r_max=float(config.nequip_r_max),
                num_layers=config.nequip_num_layers,
                l_max=config.nequip_l_max,
                num_features=config.nequip_num_features,
                num_bessel=config.nequip_num_bessel,
                radial_mlp_width=config.nequip_radial_mlp_width,
            ),
            split=dict(config.split),
            batch_size=config.nequip_batch_size,
            max_epochs=config.nequip_epochs,
            learning_rate=config.nequip_learning_rate,
            energy_weight=config.nequip_energy_weight,
            force_weight=config.nequip_force_weight,
            stress_weight=config.nequip_stress_weight,
            max_wall_time=config.nequip_max_wall_time,
            num_threads=config.num_threads,
            progress=config.progress,
            units="atomistic",
            metadata={"system": "argon", "model": "nequip"},
        )
    )


def train_nequip(data, run_dir, config: ArgonModelsConfig, *, resume: bool = False) -> dict:
    """Train NequIP on the argon data set folder `data` in `run_dir`; returns {"model":
    path of best_model.pt, "metrics": fit's metrics}."""
    from ...train.fit import fit

    metrics = fit(nequip_train_config(data, run_dir, config), resume=resume)
    return {"model": os.path.join(os.fspath(run_dir), "best_model.pt"), "metrics": metrics}


# -- the direct-force baseline --------------------------------------------------------------
def _force_errors(model, samples, r_max, dtype, batch_size=4) -> dict:
    """Force MAE and RMSE (eV/Angstrom) of `model` over `samples`."""
    if not samples:
        return {"force_mae": None, "force_rmse": None, "frames": 0}
    errors = []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(samples), batch_size):
            graph, labels = collate(samples[start : start + batch_size], r_max, dtype)
            errors.append((model(graph)["forces"] - labels["forces"]).double().numpy())
    errors = np.concatenate(errors)
    return {
        "force_mae": float(np.mean(np.abs(errors))),
        "force_rmse": float(np.sqrt(np.mean(errors**2))),
        "frames": len(samples),
    }


def _direct_model(config: ArgonModelsConfig, type_names, train) -> DirectForceModel:
    torch.manual_seed(config.seed)
    model = DirectForceModel(
        r_max=float(config.direct_r_max),
        num_layers=config.direct_num_layers,
        num_features=config.direct_num_features,
        num_bessel=config.direct_num_bessel,
        num_types=len(type_names),
        type_names=type_names,
    ).to(getattr(torch, config.dtype))
    forces = np.concatenate([s.forces for s in train])
    model.set_force_scale(float(np.sqrt(np.mean(forces**2))) or 1.0)
    model.set_avg_num_neighbors(float(np.mean([len(s.neighbors) / s.num_particles for s in train])))
    model.units = dict(ATOMISTIC)
    model.metadata = {"system": "argon", "model": "direct-force", "seed": config.seed}
    return model


def _check_resume(saved: dict, config: ArgonModelsConfig, data_fingerprint: str, path) -> None:
    now = {k: v for k, v in dataclasses.asdict(config).items() if k not in RESUME_MAY_CHANGE}
    before = {k: v for k, v in saved["config"].items() if k not in RESUME_MAY_CHANGE}
    differ = sorted(k for k in now.keys() | before.keys() if now.get(k) != before.get(k))
    if differ:
        raise ResumeMismatchError(
            f"checkpoint {path} belongs to another configuration: {differ} differ; only "
            f"{list(RESUME_MAY_CHANGE)} may change on resume (use another folder)"
        )
    if saved.get("data_fingerprint") != data_fingerprint:
        raise ResumeMismatchError(
            f"checkpoint {path} was trained on another data set (use another folder)"
        )


def train_direct_force(data, run_dir, config: ArgonModelsConfig, *, resume: bool = False) -> dict:
    """Train the direct-force model on the forces of the argon data set `data` in `run_dir`
    (Adam with AMSGrad, plateau learning rate, loss = mean squared force error over the
    training forces' mean square). Checkpoints after every epoch; resume=True continues
    from one (a larger direct_epochs or direct_max_wall_time continues a finished run; any
    other change, or other data, raises ResumeMismatchError). Returns {"model": path of
    best_model.pt, "metrics": force errors per split, initial and best validation RMSE}."""
    os.makedirs(run_dir, exist_ok=True)
    dtype = getattr(torch, config.dtype)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    frames, sources = read_labeled_frames(data, units="atomistic")
    samples, type_names = samples_from_frames(frames, None, (), sources)
    if not samples or any(s.forces is None for s in samples):
        raise InputError(f"data {os.fspath(data)!r} must hold frames with forces")
    data_fingerprint = fingerprint(samples, type_names)
    split = split_indices(len(samples), config.split, config.seed)
    attach_neighbors(samples, float(config.direct_r_max))
    train = [samples[i] for i in split["train"]]
    validation = [samples[i] for i in split["validation"]] or train
    if not train:
        raise InputError("the split leaves no training frame for the direct-force model")
    model = _direct_model(config, type_names, train)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.direct_learning_rate, amsgrad=True)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=10)
    scale2 = float(model.force_scale) ** 2
    r_max = float(config.direct_r_max)
    checkpoint_path = os.path.join(run_dir, "checkpoint.pt")
    best_path = os.path.join(run_dir, "best_model.pt")
    state = {
        "epoch": 0,
        "batch": 0,
        "step": 0,
        "history": [],
        "best_validation": math.inf,
        "best_epoch": -1,
        "stale_epochs": 0,
        "epoch_loss_sum": 0.0,
        "epoch_batches": 0,
        "finished": False,
        "wall_time": 0.0,
    }
    if resume and os.path.exists(checkpoint_path):
        saved = load_checkpoint(checkpoint_path)
        _check_resume(saved, config, data_fingerprint, checkpoint_path)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        state = saved["state"]
    else:
        state["initial_validation_rmse"] = _force_errors(model, validation, r_max, dtype)[
            "force_rmse"
        ]
    limit = config.direct_max_wall_time
    while state["epoch"] < config.direct_epochs and (limit is None or state["wall_time"] < limit):
        started = time.time()
        model.train()
        order = np.random.default_rng([config.seed, state["epoch"]]).permutation(len(train))
        losses = []
        for start in range(0, len(order), config.direct_batch_size):
            graph, labels = collate(
                [train[i] for i in order[start : start + config.direct_batch_size]], r_max, dtype
            )
            loss = (model(graph)["forces"] - labels["forces"]).pow(2).mean() / scale2
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimizer.step()
            losses.append(float(loss.detach()))
            state["step"] += 1
        rmse = _force_errors(model, validation, r_max, dtype)["force_rmse"]
        scheduler.step(rmse)
        if rmse < state["best_validation"]:
            state["best_validation"], state["best_epoch"] = rmse, state["epoch"]
            save_direct_force_model(model, best_path)
        state["history"].append(
            {
                "epoch": state["epoch"],
                "train_loss": float(np.mean(losses)),
                "validation_force_rmse": rmse,
                "lr": optimizer.param_groups[0]["lr"],
            }
        )
        state["epoch"] += 1
        state["wall_time"] += time.time() - started
        save_checkpoint(
            checkpoint_path,
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            scheduler=scheduler.state_dict(),
            ema=None,
            state=state,
            config=dataclasses.asdict(config),
            data_fingerprint=data_fingerprint,
        )
    if not os.path.exists(best_path):  # no epoch run (direct_epochs 0): the initial model
        save_direct_force_model(model, best_path)
    from ...nn.direct_force import load_direct_force_model

    best = load_direct_force_model(best_path, units="atomistic")
    metrics = {
        "units": dict(ATOMISTIC),
        "initial_validation_force_rmse": state.get("initial_validation_rmse"),
        "best_validation_force_rmse": state["best_validation"],
        "best_epoch": state["best_epoch"],
        "epochs": state["epoch"],
        "wall_time_s": state["wall_time"],
        **{
            name: _force_errors(best, [samples[i] for i in split[name]], r_max, dtype)
            for name in ("train", "validation", "test")
        },
    }
    write_json(os.path.join(run_dir, "metrics.json"), metrics)
    write_json(os.path.join(run_dir, "history.json"), state["history"])
    write_json(os.path.join(run_dir, "split.json"), split)
    _learning_curve(state["history"], os.path.join(run_dir, "learning_curve.png"))
    return {"model": best_path, "metrics": metrics}


def _learning_curve(history, path) -> None:
    if not history:
        return
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.semilogy([h["epoch"] for h in history], [h["validation_force_rmse"] for h in history])
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation force RMSE (eV/$\\AA$)")
    ax.set_title("direct-force baseline")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def train_models(data, out, config: ArgonModelsConfig | None = None, *, resume=False) -> dict:
    """Train both models on the argon data set `data` into `out` (nequip/, direct_force/);
    writes and returns models.json: the model files and each model's test-set errors."""
    config = config or ArgonModelsConfig()
    if not isinstance(config, ArgonModelsConfig):
        raise InputError(f"config must be an ArgonModelsConfig, got {type(config).__name__}")
    nequip = train_nequip(data, os.path.join(out, "nequip"), config, resume=resume)
    direct = train_direct_force(data, os.path.join(out, "direct_force"), config, resume=resume)
    summary = {
        "units": dict(ATOMISTIC),
        "config": dataclasses.asdict(config),
        "nequip": {"model": nequip["model"], "test": nequip["metrics"].get("test")},
        "direct_force": {"model": direct["model"], "test": direct["metrics"]["test"]},
    }
    write_json(os.path.join(out, "models.json"), summary)
    return summary


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="run folder")
    parser.add_argument("--data", help="argon data set folder (default: generate one in OUT)")
    parser.add_argument("--quick", action="store_true", help="CI sizes (data and models)")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    config = ArgonModelsConfig.quick() if args.quick else ArgonModelsConfig()
    config = dataclasses.replace(config, num_threads=args.threads)
    data = args.data
    if data is None:
        from .data import ArgonDataConfig, generate_dataset

        data_config = ArgonDataConfig()
        if args.quick:
            data_config = ArgonDataConfig(
                n_cells=2, npt_steps=100, nvt_steps=100, ramp_steps=400, frame_every=50
            )
        data = os.path.join(args.out, "data")
        if not os.path.exists(os.path.join(data, "manifest.json")):
            generate_dataset(data_config, data)
    return train_models(data, args.out, config, resume=args.resume)


if __name__ == "__main__":
    main()


__all__ = [
    "ArgonModelsConfig",
    "main",
    "nequip_train_config",
    "train_direct_force",
    "train_models",
    "train_nequip",
]
