"""``fit(config)``: train a NequIP model on labeled extxyz data (single process or torchrun).

Run directory layout::

    config.yaml        the resolved configuration
    split.json         train/validation/test indices into the concatenated dataset
    statistics.json    per-type energy shift/scale and avg_num_neighbors from the train split
    checkpoint.pt      the latest checkpoint (atomic), what --resume continues from
    best_model.pt      the model (EMA weights) with the lowest validation loss
    history.json       per-epoch losses and learning rate
    metrics.json       energy / force MAE and RMSE per split (kT, kT/nm, kT per particle)
    learning_curve.png, parity_energy.png, parity_forces.png

Reproducibility: the model is initialised from ``seed``; the training order of epoch e is a
permutation drawn from (seed, e); there is no other randomness, so a run resumed from any
checkpoint repeats the uninterrupted run exactly (same threads, same machine).

Multi-process data parallelism: launch with ``torchrun --nproc_per_node=K -m pgnfast.cli
train config.yaml``; each rank takes every K-th batch, gradients are averaged with
``torch.distributed.all_reduce`` (gloo on CPU, nccl on GPU) before the optimizer step, and
only rank 0 writes files.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import torch

from .._atomic import write_json
from ..errors import InputError
from ..nn.io import load_model, save_model
from ..nn.model import NequIP
from ..units import resolve
from .checkpoint import (
    ExponentialMovingAverage,
    check_resume,
    load_checkpoint,
    restore,
    save_checkpoint,
)
from .config import TrainConfig
from .data import (
    attach_neighbors,
    collate,
    fingerprint,
    per_type_statistics,
    read_labeled_frames,
    samples_from_frames,
    split_indices,
)
from .metrics import error_metrics, loss_terms


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


class _Distributed:
    """Rank and world size; initialises torch.distributed when launched by torchrun."""

    def __init__(self):
        import torch.distributed as dist

        self.dist = dist
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.active = self.world > 1
        if self.active and not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        self.rank = dist.get_rank() if self.active else 0
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def average_gradients(self, model) -> None:
        if not self.active:
            return
        for p in model.parameters():
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            self.dist.all_reduce(p.grad)
            p.grad.div_(self.world)


def _write_json(path, value) -> None:
    write_json(path, value)


def _epoch_batches(indices, batch_size, seed, epoch, world):
    order = np.random.default_rng([seed, epoch]).permutation(indices)
    batches = [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    return batches[: len(batches) - len(batches) % world]


def predict(model, samples, config, batch_size=None, dtype=None):
    """Model energies (kT) and forces (kT/nm) for samples: (energies (S,), forces (sum N, 3)
    or None, counts (S,))."""
    dtype = dtype or model.dtype
    batch_size = batch_size or config.batch_size
    want_forces = all(s.forces is not None for s in samples)
    energies, forces = [], []
    model.eval()
    device = model.energy_scale.device
    for start in range(0, len(samples), batch_size):
        graph, _ = collate(samples[start : start + batch_size], model.r_max, dtype, device)
        out = model(graph, compute_forces=want_forces, create_graph=False)
        energies.append(out["energy"].detach().double().cpu().numpy())
        if want_forces:
            forces.append(out["forces"].detach().double().cpu().numpy())
    counts = np.array([s.num_particles for s in samples])
    return (
        np.concatenate(energies) if energies else np.zeros(0),
        np.concatenate(forces) if forces else None,
        counts,
    )


def _evaluate_loss(model, samples, config, dtype) -> float:
    if not samples:
        return float("nan")
    energies, forces, counts = predict(model, samples, config, dtype=dtype)
    per_particle = (energies - np.array([s.energy for s in samples])) / counts
    loss = config.energy_weight * float(np.mean(per_particle**2))
    if config.force_weight > 0 and forces is not None:
        labels = np.concatenate([s.forces for s in samples])
        loss += config.force_weight * float(np.mean((forces - labels) ** 2))
    return loss


def build_model(config: TrainConfig, type_names, statistics) -> NequIP:
    """A freshly initialised (seeded) model with the data's statistics."""
    torch.manual_seed(config.seed)
    hyper = dict(config.model)
    hyper.setdefault("avg_num_neighbors", statistics["avg_num_neighbors"])
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
    {"interrupted": True} when stop_after_steps ended the run early).

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
    if config.num_threads:
        torch.set_num_threads(int(config.num_threads))
    distributed = _Distributed()
    dtype = getattr(torch, config.dtype)
    run_dir = config.run_dir
    os.makedirs(run_dir, exist_ok=True)
    checkpoint_path = os.path.join(run_dir, "checkpoint.pt")

    frames, sources = read_labeled_frames(config.data, units=config.units)
    samples, type_names = samples_from_frames(
        frames, config.type_names, config.descriptor_keys, sources
    )
    if not samples:
        raise InputError(f"data {config.data!r} holds no frames")
    data_fingerprint = fingerprint(samples, type_names)
    split = split_indices(len(samples), config.split, config.seed)
    r_max = float(config.model["r_max"])
    attach_neighbors(samples, r_max, config.neighbor_backend)
    train = [samples[i] for i in split["train"]]
    validation = [samples[i] for i in split["validation"]]
    statistics = per_type_statistics(train, len(type_names))

    model = build_model(config, type_names, statistics)
    device = training_device(config, distributed.local_rank)
    optimizer = torch.optim.Adam(
        model.parameters(),
        lr=config.learning_rate,
        amsgrad=config.amsgrad,
        weight_decay=config.weight_decay,
    )
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer,
        mode="min",
        factor=config.lr_factor,
        patience=config.lr_patience,
        threshold=config.lr_threshold,
        min_lr=config.min_lr,
    )
    ema = ExponentialMovingAverage(model, config.ema_decay) if config.ema_decay > 0 else None
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
    }

    resumed = resume and os.path.exists(checkpoint_path)
    if resumed:
        saved = load_checkpoint(checkpoint_path, map_location=device)
        check_resume(saved, config, data_fingerprint, checkpoint_path)
        state = restore(saved, checkpoint_path, model, optimizer, scheduler, ema)
        # the config decides how the schedule reacts from here on
        scheduler.patience, scheduler.threshold = config.lr_patience, config.lr_threshold
        # a run stopped only by a limit goes on when the config raises that limit
        limits_raised = {
            "wall_time": config.max_wall_time is None
            or state.get("wall_time", 0.0) < config.max_wall_time,
            "max_epochs": state["epoch"] < config.max_epochs,
        }
        if limits_raised.get(state.get("stop_reason"), False):
            state["finished"], state["stop_reason"] = False, None
    else:
        state["initial_validation_loss"] = _evaluate_loss(model, validation, config, dtype)
    if not resumed and distributed.is_main:
        config.to_yaml(os.path.join(run_dir, "config.yaml"))
        _write_json(os.path.join(run_dir, "split.json"), split)
        _write_json(
            os.path.join(run_dir, "statistics.json"), {**statistics, "type_names": type_names}
        )

    def checkpoint():
        if distributed.is_main:
            save_checkpoint(
                checkpoint_path,
                model=model.state_dict(),
                optimizer=optimizer.state_dict(),
                scheduler=scheduler.state_dict(),
                ema=ema.state_dict() if ema is not None else None,
                state=state,
                config=config.to_dict(),
                data_fingerprint=data_fingerprint,
            )

    train_indices = list(range(len(train)))
    steps_per_epoch = (
        len(_epoch_batches(train_indices, config.batch_size, config.seed, 0, distributed.world))
        // distributed.world
    )
    progress = None
    if config.progress and distributed.is_main:
        from tqdm.auto import tqdm

        progress = tqdm(
            total=config.max_epochs * steps_per_epoch,
            initial=state["step"],
            desc="training",
            unit="step",
            dynamic_ncols=True,
        )
    steps_this_run = 0
    started = time.time()
    while not state["finished"] and state["epoch"] < config.max_epochs:
        batches = _epoch_batches(
            train_indices, config.batch_size, config.seed, state["epoch"], distributed.world
        )
        mine = batches[distributed.rank :: distributed.world]
        epoch_started = time.time()
        model.train()
        for position in range(state["batch"], len(mine)):
            graph, labels = collate([train[i] for i in mine[position]], r_max, dtype, device)
            want_forces = config.force_weight > 0 and labels["forces"] is not None
            prediction = model(graph, compute_forces=want_forces, create_graph=want_forces)
            loss, _ = loss_terms(prediction, labels, config.energy_weight, config.force_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            distributed.average_gradients(model)
            if config.grad_clip_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip_norm)
            optimizer.step()
            if ema is not None:
                ema.update(model)
            state["step"] += 1
            state["batch"] = position + 1
            state["epoch_loss_sum"] += float(loss.detach())
            state["epoch_batches"] += 1
            steps_this_run += 1
            if progress is not None:
                progress.update(1)
                progress.set_postfix(
                    epoch=state["epoch"],
                    loss=f"{float(loss):.3g}",
                    lr=f"{optimizer.param_groups[0]['lr']:.2g}",
                )
            if config.checkpoint_every and state["step"] % config.checkpoint_every == 0:
                checkpoint()
            if config.stop_after_steps and steps_this_run >= config.stop_after_steps:
                if progress is not None:
                    progress.close()
                return {"interrupted": True, "step": state["step"]}

        # end of epoch: validate with the averaged weights
        if ema is not None:
            ema.swap(model)
        validation_loss = _evaluate_loss(model, validation, config, dtype)
        improved = validation_loss < state["best_validation"]
        if improved and distributed.is_main:
            save_model(model, os.path.join(run_dir, "best_model.pt"), metadata=config.metadata)
        if ema is not None:
            ema.swap(model)
        scheduler.step(validation_loss)
        state["history"].append(
            {
                "epoch": state["epoch"],
                "step": state["step"],
                "train_loss": state["epoch_loss_sum"] / max(state["epoch_batches"], 1),
                "validation_loss": validation_loss,
                "lr": optimizer.param_groups[0]["lr"],
            }
        )
        if improved:
            state["best_validation"], state["best_epoch"] = validation_loss, state["epoch"]
            state["stale_epochs"] = 0
        else:
            state["stale_epochs"] += 1
        state["epoch"] += 1
        state["batch"] = 0
        state["epoch_loss_sum"], state["epoch_batches"] = 0.0, 0
        lr_floor = optimizer.param_groups[0]["lr"] <= config.min_lr * (1 + 1e-9)
        state["wall_time"] = state.get("wall_time", 0.0) + time.time() - epoch_started
        limit = config.max_wall_time
        out_of_time = limit is not None and state["wall_time"] >= limit
        if state["stale_epochs"] >= config.early_stopping_patience or (
            lr_floor and state["stale_epochs"] >= config.lr_patience
        ):
            state["finished"], state["stop_reason"] = True, "converged"
        elif out_of_time:
            state["finished"], state["stop_reason"] = True, "wall_time"
        checkpoint()
    if progress is not None:
        progress.close()
    if not state["finished"]:
        state["finished"], state["stop_reason"] = True, "max_epochs"
    checkpoint()
    if not distributed.is_main:
        return {}
    return _finish(config, samples, split, state, time.time() - started)


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
        "wall_time_s_this_run": wall_time,
    }
    parity_data = {}
    for name in ("train", "validation", "test"):
        subset = [samples[i] for i in split[name]]
        if not subset:
            continue
        energies, forces, counts = predict(model, subset, config)
        labels_f = np.concatenate([s.forces for s in subset]) if forces is not None else None
        labels_e = np.array([s.energy for s in subset])
        metrics[name] = error_metrics(energies, labels_e, counts, forces, labels_f)
        parity_data[name] = (labels_e / counts, energies / counts, labels_f, forces)
    _write_json(os.path.join(run_dir, "metrics.json"), metrics)
    _write_json(os.path.join(run_dir, "history.json"), state["history"])
    if config.plots:
        from . import plots

        plots.learning_curve(state["history"], os.path.join(run_dir, "learning_curve.png"))
        shown = parity_data.get("test") or parity_data.get("validation") or parity_data["train"]
        plots.parity(
            shown[0],
            shown[1],
            os.path.join(run_dir, "parity_energy.png"),
            label="energy per particle",
            unit="kT",
        )
        if shown[2] is not None:
            plots.parity(
                shown[2],
                shown[3],
                os.path.join(run_dir, "parity_forces.png"),
                label="force component",
                unit="kT/nm",
            )
    return metrics
