"""The training loop shared by energy/force training (`fit`) and per-atom training
(`per_atom.fit_per_atom`): optimizer (Adam, AMSGrad), plateau schedule, EMA, gradient
all-reduce across torchrun processes, early stopping, wall-time limit, atomic checkpoints
and bit-exact resume.

What is trained on is a *task*: an object with

- ``epoch_batches(epoch, world) -> list``: every batch of epoch `epoch` for all ranks, in a
  deterministic order drawn from (seed, epoch) only; its length is a multiple of `world`,
  and rank r takes batches[r::world];
- ``loss(model, batch) -> torch.Tensor``: the scalar training loss of one batch;
- ``validation_loss(model) -> float``: the loss on the validation split (NaN if empty).

The loop adds no randomness of its own, so a run resumed from any checkpoint repeats the
uninterrupted run exactly (same threads, same machine).
"""

from __future__ import annotations

import math
import os
import time

import torch

from ..nn.io import save_model
from .checkpoint import (
    ExponentialMovingAverage,
    check_resume,
    load_checkpoint,
    restore,
    save_checkpoint,
)


class Distributed:
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


def initial_state() -> dict:
    """The training state of a fresh run (what checkpoints record besides the weights)."""
    return {
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


def run_training(
    config, model, task, *, distributed, device, data_fingerprint, resume, on_new_run
) -> dict:
    """Train `model` on `task` per `config` (a checked TrainConfig); returns the final
    training state, or {"interrupted": True, "step": n} when stop_after_steps ended the run.

    Writes run_dir/checkpoint.pt (atomically, rank 0) and run_dir/best_model.pt (the EMA
    weights with the lowest validation loss). resume=True continues from an existing
    checkpoint after check_resume (ResumeMismatchError for another configuration or data
    set). on_new_run(): called on a fresh run (rank 0), after the initial validation loss,
    to write the run's description (config, split, statistics)."""
    run_dir = config.run_dir
    checkpoint_path = os.path.join(run_dir, "checkpoint.pt")
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
    state = initial_state()

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
        state["initial_validation_loss"] = task.validation_loss(model)
    if not resumed and distributed.is_main:
        on_new_run()

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

    steps_per_epoch = len(task.epoch_batches(0, distributed.world)) // distributed.world
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
    while not state["finished"] and state["epoch"] < config.max_epochs:
        batches = task.epoch_batches(state["epoch"], distributed.world)
        mine = batches[distributed.rank :: distributed.world]
        epoch_started = time.time()
        model.train()
        for position in range(state["batch"], len(mine)):
            loss = task.loss(model, mine[position])
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
                    loss=f"{float(loss.detach()):.3g}",
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
        validation_loss = task.validation_loss(model)
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
    return state
