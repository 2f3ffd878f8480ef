"""``fit(config)``: train a NequIP model on labeled extxyz data (single process or torchrun).

Run directory layout::

    config.yaml        the resolved configuration
    split.json         train/validation/test indices into the concatenated dataset
    statistics.json    per-type energy shift/scale and avg_num_neighbors from the train split
    checkpoint.pt      the latest checkpoint (atomic), what --resume continues from
    best_model.pt      the model (EMA weights) with the lowest validation loss
    history.json       per-epoch losses and learning rate
    metrics.json       energy / force (/ stress) MAE and RMSE per split (kT, kT/nm, kT per
                       particle, kT/nm^3);
                       for NequIP-LR with reference charges also charges_rmse_e,
                       charges_mae_e and charges_pearson_r
    learning_curve.png, parity_energy.png, parity_forces.png (parity_charges.png)

A config with `per_atom_targets` trains node-level targets instead (`per_atom.py`: the same
files, per-atom metrics and parity plots). The loop itself (optimizer, schedule, EMA,
checkpoints, resume, early stopping) is `loop.run_training`, shared by both. `model.kind:
nequip_lr` trains NequIP-LR (`models.py`): total charges and periodicity go to the model and
charge_weight adds the charge MSE (e^2) to the loss.

Reproducibility: the model is initialised from ``seed``; the training order of epoch e is a
permutation drawn from (seed, e); there is no other randomness, so a run resumed from any
checkpoint repeats the uninterrupted run exactly (same threads, same machine).

Multi-process data parallelism: launch with ``torchrun --nproc_per_node=K -m pgnfast.cli
train config.yaml``; each rank takes every K-th batch, gradients are averaged with
``torch.distributed.all_reduce`` (gloo on CPU, nccl on GPU) before the optimizer step, and
only rank 0 writes files.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from .._atomic import write_json
from ..errors import InputError
from ..nn.io import load_model
from ..nn.model import NequIP
from ..units import resolve
from .config import TrainConfig
from .data import (
    attach_neighbors,
    collate,
    fingerprint,
    make_split,
    per_type_statistics,
    read_labeled_frames,
    samples_from_frames,
)
from .loop import Distributed, run_training
from .metrics import error_metrics, loss_terms
from .models import (
    build_nequip_lr,
    charge_labels,
    charge_metrics,
    charge_term,
    is_charged,
    model_inputs,
    model_kind,
)


def training_device(config: TrainConfig, local_rank: int | None = None) -> torch.device:
    """The device of config.device ("cpu", "cuda", "cuda:K" or "auto": cuda when available);
    under torchrun each process takes the GPU of its local rank."""
    name = config.device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"training device {config.device!r} asked for, but torch sees no CUDA device"
        )
    if name == "cuda":
        rank = int(os.environ.get("LOCAL_RANK", "0")) if local_rank is None else local_rank
        name = f"cuda:{rank}"
    return torch.device(name)


def _write_json(path, value) -> None:
    write_json(path, value)


def _epoch_batches(indices, batch_size, seed, epoch, world):
    order = np.random.default_rng([seed, epoch]).permutation(indices)
    batches = [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    return batches[: len(batches) - len(batches) % world]


def predict(model, samples, config, batch_size=None, dtype=None):
    """Model energies (kT) and forces (kT/nm) for samples: (energies (S,), forces (sum N, 3)
    or None, counts (S,))."""
    out = evaluate(model, samples, config, batch_size, dtype)
    return out["energies"], out["forces"], out["counts"]


def evaluate(model, samples, config, batch_size=None, dtype=None) -> dict:
    """{"energies" (S,), "forces" (sum N, 3) or None, "counts" (S,), "charges" (sum N,) e or
    None (NequIP-LR only), "stress" (S, 3, 3) or None (when every sample has a stress label
    and a fully periodic cell)} of the model on samples."""
    dtype = dtype or model.dtype
    batch_size = batch_size or config.batch_size
    want_forces = all(s.forces is not None for s in samples)
    want_stress = has_stress_labels(samples)
    energies, forces, charges, stresses = [], [], [], []
    model.eval()
    device = model.energy_scale.device
    for start in range(0, len(samples), batch_size):
        graph, labels = collate(samples[start : start + batch_size], model.r_max, dtype, device)
        out = model(
            graph,
            compute_forces=want_forces,
            compute_stress=want_stress,
            create_graph=False,
            **model_inputs(model, labels),
        )
        energies.append(out["energy"].detach().double().cpu().numpy())
        if want_forces:
            forces.append(out["forces"].detach().double().cpu().numpy())
        if want_stress:
            stresses.append(out["stress"].detach().double().cpu().numpy())
        if "charges" in out:
            charges.append(out["charges"].detach().double().cpu().numpy())
    return {
        "energies": np.concatenate(energies) if energies else np.zeros(0),
        "forces": np.concatenate(forces) if forces else None,
        "counts": np.array([s.num_particles for s in samples]),
        "charges": np.concatenate(charges) if charges else None,
        "stress": np.concatenate(stresses) if stresses else None,
    }


def has_stress_labels(samples) -> bool:
    """Whether every sample has a stress label and a fully periodic cell (and there is one)."""
    return bool(samples) and all(s.stress is not None and all(s.pbc) for s in samples)


def _check_stress_labels(config, samples, sources) -> None:
    """InputError naming the first frame that stress_weight > 0 cannot train on."""
    if not config.stress_weight > 0:
        return
    for index, sample in enumerate(samples):
        reason = (
            "has no stress label (info or calculator 'stress')"
            if sample.stress is None
            else "is not periodic in all three directions (stress needs a volume)"
            if not all(sample.pbc)
            else None
        )
        if reason:
            raise InputError(
                f"stress_weight {config.stress_weight} > 0 but {sources[index]} {reason}; "
                "set stress_weight: 0 to train without stress"
            )


def _evaluate_loss(model, samples, config, dtype) -> float:
    if not samples:
        return float("nan")
    out = evaluate(model, samples, config, dtype=dtype)
    energies, forces, counts = out["energies"], out["forces"], out["counts"]
    per_particle = (energies - np.array([s.energy for s in samples])) / counts
    loss = config.energy_weight * float(np.mean(per_particle**2))
    if config.force_weight > 0 and forces is not None:
        labels = np.concatenate([s.forces for s in samples])
        loss += config.force_weight * float(np.mean((forces - labels) ** 2))
    if config.stress_weight > 0 and out["stress"] is not None:
        labels = np.stack([s.stress for s in samples])
        loss += config.stress_weight * float(np.mean((out["stress"] - labels) ** 2))
    if config.charge_weight > 0 and out["charges"] is not None:
        reference, mask = charge_labels(samples)
        if mask.any():
            error = out["charges"][mask] - reference[mask]
            loss += config.charge_weight * float(np.mean(error**2))
    return loss


def build_model(config: TrainConfig, type_names, statistics) -> NequIP:
    """A freshly initialised (seeded) model of config.model's kind (NequIP, or NequIP-LR
    for kind nequip_lr) with the data's statistics."""
    torch.manual_seed(config.seed)
    if model_kind(config.model) == "nequip_lr":
        model = build_nequip_lr(config, type_names, statistics)
    else:
        hyper = {k: v for k, v in config.model.items() if k != "kind"}
        hyper.setdefault("avg_num_neighbors", statistics["avg_num_neighbors"])
        if config.per_atom_targets:
            hyper["per_atom_targets"] = tuple(config.per_atom_targets)
        model = NequIP(
            num_types=len(type_names),
            type_names=type_names,
            node_descriptors=len(config.descriptor_keys),
            **hyper,
        )
    model = model.to(dtype=getattr(torch, config.dtype), device=training_device(config))
    model.set_energy_scale_shift(statistics["scale"], statistics["shift"])
    model.units = resolve(config.units)
    model.metadata = dict(config.metadata)
    if config.init_from:
        start = load_model(config.init_from, units=config.units)
        ignored = {"backend"}
        mine = {k: v for k, v in model.hyperparameters.items() if k not in ignored}
        theirs = {k: v for k, v in start.hyperparameters.items() if k not in ignored}
        differ = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
        if differ:
            raise InputError(
                f"init_from {config.init_from}: the model file differs from this run in "
                + ", ".join(f"{k} ({theirs.get(k)!r} there, {mine.get(k)!r} here)" for k in differ)
            )
        model.load_state_dict(start.state_dict())
    return model


def fit(config, *, resume: bool = False) -> dict:
    """Train per config (a TrainConfig, dict or YAML path); returns the metrics dict (and
    {"interrupted": True} when stop_after_steps ended the run early). A config with
    per_atom_targets trains node-level targets (`pgnfast.train.per_atom`).

    Bad configuration values raise InputError, unreadable data FileFormatError, data in
    other units UnitsError, and resume=True with another run's checkpoint (another
    configuration or data set) ResumeMismatchError."""
    if not isinstance(config, TrainConfig):
        config = (
            TrainConfig.from_dict(config)
            if isinstance(config, dict)
            else TrainConfig.from_yaml(config)
        )
    config.check()
    if config.per_atom_targets:
        from .per_atom import fit_per_atom

        return fit_per_atom(config, resume=resume)
    if config.num_threads:
        torch.set_num_threads(int(config.num_threads))
    distributed = Distributed()
    dtype = getattr(torch, config.dtype)
    run_dir = config.run_dir
    os.makedirs(run_dir, exist_ok=True)

    frames, sources = read_labeled_frames(config.data, units=config.units)
    charged = model_kind(config.model) == "nequip_lr"
    samples, type_names = samples_from_frames(
        frames,
        config.type_names,
        config.descriptor_keys,
        sources,
        charges_key=config.charges_key if charged else None,
    )
    if not samples:
        raise InputError(f"data {config.data!r} holds no frames")
    if config.charge_weight > 0 and not any(s.charges is not None for s in samples):
        raise InputError(
            f"charge_weight {config.charge_weight} needs reference charges, but no frame of "
            f"data {config.data!r} has the per-atom column {config.charges_key!r} (charges_key)"
        )
    _check_stress_labels(config, samples, sources)
    data_fingerprint = fingerprint(samples, type_names)
    split = make_split(config, frames)
    r_max = float(config.model["r_max"])
    attach_neighbors(samples, r_max, config.neighbor_backend)
    train = [samples[i] for i in split["train"]]
    validation = [samples[i] for i in split["validation"]]
    statistics = per_type_statistics(train, len(type_names))

    model = build_model(config, type_names, statistics)
    device = training_device(config, distributed.local_rank)

    def on_new_run():
        config.to_yaml(os.path.join(run_dir, "config.yaml"))
        _write_json(os.path.join(run_dir, "split.json"), split)
        _write_json(
            os.path.join(run_dir, "statistics.json"), {**statistics, "type_names": type_names}
        )

    started = time.time()
    state = run_training(
        config,
        model,
        _EnergyTask(config, train, validation, dtype, device),
        distributed=distributed,
        device=device,
        data_fingerprint=data_fingerprint,
        resume=resume,
        on_new_run=on_new_run,
    )
    if state.get("interrupted") or not distributed.is_main:
        return state if state.get("interrupted") else {}
    return _finish(config, samples, split, state, time.time() - started)


class _EnergyTask:
    """Energies and forces of whole configurations, batch_size per step (see loop.py)."""

    def __init__(self, config, train, validation, dtype, device):
        self.config, self.train, self.validation = config, train, validation
        self.dtype, self.device = dtype, device

    def epoch_batches(self, epoch: int, world: int) -> list:
        indices = list(range(len(self.train)))
        return _epoch_batches(indices, self.config.batch_size, self.config.seed, epoch, world)

    def loss(self, model, batch) -> torch.Tensor:
        config = self.config
        samples = [self.train[i] for i in batch]
        graph, labels = collate(samples, model.r_max, self.dtype, self.device)
        want_forces = config.force_weight > 0 and labels["forces"] is not None
        want_stress = config.stress_weight > 0 and labels["stress"] is not None
        prediction = model(
            graph,
            compute_forces=want_forces,
            compute_stress=want_stress,
            create_graph=want_forces or want_stress,
            **model_inputs(model, labels),
        )
        loss = loss_terms(
            prediction, labels, config.energy_weight, config.force_weight, config.stress_weight
        )[0]
        if config.charge_weight > 0 and is_charged(model):
            loss = loss + config.charge_weight * charge_term(prediction, labels)
        return loss

    def validation_loss(self, model) -> float:
        return _evaluate_loss(model, self.validation, self.config, self.dtype)


def _finish(config, samples, split, state, wall_time) -> dict:
    """Evaluate the best model on every split; write metrics, history and plots."""
    run_dir = config.run_dir
    best_path = os.path.join(run_dir, "best_model.pt")
    model = load_model(best_path).to(training_device(config))
    metrics = {
        "units": resolve(config.units),
        "best_epoch": state["best_epoch"],
        "initial_validation_loss": state.get("initial_validation_loss"),
        "best_validation_loss": state["best_validation"],
        "epochs": state["epoch"],
        "steps": state["step"],
        "stop_reason": state.get("stop_reason"),
        "wall_time_s_this_run": wall_time,
    }
    parity_data, charge_parity = {}, {}
    for name in ("train", "validation", "test"):
        subset = [samples[i] for i in split[name]]
        if not subset:
            continue
        out = evaluate(model, subset, config)
        energies, forces, counts = out["energies"], out["forces"], out["counts"]
        labels_f = np.concatenate([s.forces for s in subset]) if forces is not None else None
        labels_e = np.array([s.energy for s in subset])
        labels_s = np.stack([s.stress for s in subset]) if out["stress"] is not None else None
        metrics[name] = error_metrics(
            energies,
            labels_e,
            counts,
            forces,
            labels_f,
            stress_pred=out["stress"],
            stress_true=labels_s,
            units=config.units,
        )
        charges = charge_metrics(out["charges"], subset) if out["charges"] is not None else None
        if charges:
            metrics[name].update(charges)
            reference, mask = charge_labels(subset)
            charge_parity[name] = (reference[mask], out["charges"][mask])
        parity_data[name] = (labels_e / counts, energies / counts, labels_f, forces)
    _write_json(os.path.join(run_dir, "metrics.json"), metrics)
    _write_json(os.path.join(run_dir, "history.json"), state["history"])
    if config.plots:
        from . import plots

        units = resolve(config.units)
        energy_unit, force_unit = units["energy"], f"{units['energy']}/{units['length']}"
        plots.learning_curve(
            state["history"],
            os.path.join(run_dir, "learning_curve.png"),
            ylabel=f"loss ({energy_unit}$^2$, ({force_unit})$^2$ weighted)",
        )
        shown = parity_data.get("test") or parity_data.get("validation") or parity_data["train"]
        plots.parity(
            shown[0],
            shown[1],
            os.path.join(run_dir, "parity_energy.png"),
            label="energy per particle",
            unit=energy_unit,
        )
        if shown[2] is not None:
            plots.parity(
                shown[2],
                shown[3],
                os.path.join(run_dir, "parity_forces.png"),
                label="force component",
                unit=force_unit,
            )
        shown = [charge_parity[k] for k in ("test", "validation", "train") if k in charge_parity]
        if shown:
            path = os.path.join(run_dir, "parity_charges.png")
            plots.parity(shown[0][0], shown[0][1], path, label="charge", unit="e")
    return metrics
