"""Training and evaluation shared by the neural baselines (SymGNN, SchNet) and the metrics of
every baseline, per glass and pooled (Pearson r, RMSE and MAE in eV).

`fit_model` runs Adam with AMSGrad on the standardised squared error of the per-atom
barrier. A step sees one training glass: the whole periodic graph, or (`centres_per_step`)
a random subset of its atoms as centres with the part of the graph within the model's
receptive field (`subgraph_around`), the loss on the centres only, which bounds the memory
of a step on 8000-atom glasses. After every epoch the validation glasses are predicted
whole; the weights of the epoch with the best validation Pearson r are kept, and their
batch-norm statistics re-estimated on the training glasses as predicted
(`recalibrate_batch_norm`). A checkpoint
(atomic, read with weights_only=True) is written after every epoch; `resume=True` continues
it and refuses one of another model, configuration or data set (ResumeMismatchError).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ....errors import FileFormatError, InputError, ResumeMismatchError
from ....train.checkpoint import checksum, save_atomic
from ....train.metrics import per_atom_metrics
from .graphs import GlassGraph, subgraph_around

__all__ = [
    "TrainConfig",
    "evaluate_model",
    "evaluate_predictions",
    "fit_model",
    "predict",
    "recalibrate_batch_norm",
]

CHECKPOINT_KIND = "pgnfast-glass-baseline-checkpoint"
RESUME_MAY_CHANGE = ("epochs", "max_minutes", "progress")


@dataclass(frozen=True)
class TrainConfig:
    """epochs: passes over the training glasses; learning_rate; weight_decay; clip: gradient
    norm limit (None: none); centres_per_step: centre atoms per step (None: whole glass);
    seed; eval_repeats: forward passes averaged per validation prediction; max_minutes:
    wall-clock budget (the epoch in progress ends early, is evaluated and checkpointed);
    progress: tqdm bars."""

    epochs: int = 100
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    clip: float | None = 1.0
    centres_per_step: int | None = None
    seed: int = 0
    eval_repeats: int = 1
    max_minutes: float | None = None
    progress: bool = False

    def __post_init__(self):
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 0:
            raise InputError(f"epochs must be a whole number >= 0, got {self.epochs!r}")
        if not self.learning_rate > 0:
            raise InputError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if self.centres_per_step is not None and self.centres_per_step < 1:
            raise InputError(f"centres_per_step must be >= 1, got {self.centres_per_step!r}")
        if self.eval_repeats < 1:
            raise InputError(f"eval_repeats must be >= 1, got {self.eval_repeats!r}")


def predict(model, graph: GlassGraph, repeats: int = 1, seed: int = 0) -> np.ndarray:
    """(N,) eV per-atom predictions of `model` in eval mode, averaged over `repeats` forward
    passes whose sampler noise comes from seeds seed, seed + 1, ... (deterministic models:
    repeats = 1 suffices)."""
    was_training = model.training
    model.eval()
    total = 0.0
    with torch.no_grad():
        for k in range(repeats):
            out = model(graph.types, graph.edge_index, graph.edge_vectors, graph.batch, seed + k)
            total = total + out.double()
    model.train(was_training)
    return (total / repeats).numpy()


def evaluate_predictions(predictions: Sequence[np.ndarray], labels: Sequence, names) -> dict:
    """Metrics of per-glass predictions against labels (eV): {"pooled": {pearson_r, rmse,
    mae, num_atoms}, "per_glass": {name: {...}}, "mean_over_glasses": {pearson_r, rmse, mae}}."""
    if not (len(predictions) == len(labels) == len(names)) or not predictions:
        raise InputError("evaluate_predictions needs as many predictions, labels and names (>= 1)")
    batch = np.concatenate([np.full(len(p), k) for k, p in enumerate(predictions)])
    labels = [np.asarray(lab.numpy() if hasattr(lab, "numpy") else lab) for lab in labels]
    metrics = per_atom_metrics(np.concatenate(predictions), np.concatenate(labels), batch)
    rows = metrics["per_structure"]
    per_glass = {
        str(name): {
            key: (int(rows[key][k]) if key == "num_atoms" else float(rows[key][k]))
            for key in ("pearson_r", "rmse", "mae", "num_atoms")
        }
        for k, name in enumerate(names)
    }
    return {
        "pooled": metrics["pooled"],
        "per_glass": per_glass,
        "mean_over_glasses": metrics["mean_over_structures"],
    }


def evaluate_model(model, graphs: Sequence[GlassGraph], repeats: int = 1) -> dict:
    """evaluate_predictions of `model` on whole glasses (one graph per glass)."""
    predictions = [predict(model, g, repeats) for g in graphs]
    return evaluate_predictions(
        predictions, [g.labels for g in graphs], [g.names[0] for g in graphs]
    )


def _fingerprint(graphs: Sequence[GlassGraph]) -> str:
    return checksum(
        [[list(g.names), g.types, g.edge_index, g.edge_vectors, g.labels] for g in graphs]
    )


def _check_graphs(graphs, what: str) -> list[GlassGraph]:
    graphs = list(graphs)
    if not graphs:
        raise InputError(f"{what} needs at least one glass graph")
    for g in graphs:
        if g.labels is None:
            raise InputError(f"{what}: glass {g.names} has no labels")
    return graphs


def _load(path: Path) -> dict:
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many kinds on a damaged file
        raise FileFormatError(f"checkpoint {path} cannot be read: {error}") from error
    if not isinstance(saved, dict) or saved.get("kind") != CHECKPOINT_KIND:
        raise FileFormatError(f"{path} is not a glass-baseline checkpoint")
    if saved.get("checksum") != checksum({k: v for k, v in saved.items() if k != "checksum"}):
        raise FileFormatError(f"checkpoint {path} is damaged: its checksum does not match")
    return saved


def load_baseline(path):
    """The trained SymGNN or SchNet of a fit_model checkpoint file, with the weights of its
    best validation epoch, in eval mode. FileFormatError for a damaged file or another kind
    of file."""
    saved = _load(Path(path))
    settings = dict(saved["model_config"])
    kind = settings.pop("kind", None)
    if kind == "symgnn":
        from .symgnn import SymGNN

        model = SymGNN(**settings)
    elif kind == "schnet":
        from .schnet import SchNetNode

        model = SchNetNode(**settings)
    else:
        raise FileFormatError(f"checkpoint {path}: unknown model kind {kind!r}")
    best = saved["best_model"]
    model = model.to(next(iter(best.values())).dtype)
    model.load_state_dict(best)
    return model.eval()


def recalibrate_batch_norm(model, graphs: Sequence[GlassGraph], seed: int = 0) -> bool:
    """Re-estimate the running statistics of every batch-norm layer of `model` as the
    equal-weight mean of the batch statistics of `graphs`, each passed whole as in
    prediction (eval mode: no dropout, the evaluation sample count). Training leaves
    statistics of activations with dropout on and fewer symmetrization samples; on the
    paper's glasses they shifted SymGNN's eval-mode barriers by about 0.9 eV (3 label
    standard deviations). Returns whether the model has such layers; leaves it in eval mode."""
    graphs = list(graphs)
    if not graphs:
        raise InputError("recalibrate_batch_norm needs at least one glass graph")
    for graph in graphs:
        if not isinstance(graph, GlassGraph):
            raise InputError(
                f"recalibrate_batch_norm takes GlassGraph items, got {type(graph).__name__}"
            )
    norms = [
        m
        for m in model.modules()
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)) and m.track_running_stats
    ]
    model.eval()
    if not norms:
        return False
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative (equal-weight) average
        norm.train()
    try:
        with torch.no_grad():
            for k, graph in enumerate(graphs):
                model(graph.types, graph.edge_index, graph.edge_vectors, graph.batch, seed + k)
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
            norm.eval()
    return True


def _check_resume(saved: dict, model, config: dict, fingerprint: str, path) -> None:
    problems = []
    if saved["model_config"] != model.config:
        problems.append("model")
    ours = {k: v for k, v in config.items() if k not in RESUME_MAY_CHANGE}
    theirs = {k: v for k, v in saved["config"].items() if k not in RESUME_MAY_CHANGE}
    problems += sorted(k for k in ours if ours[k] != theirs.get(k))
    if saved["data"] != fingerprint:
        problems.append("data")
    if problems:
        raise ResumeMismatchError(
            f"checkpoint {path} belongs to another run: {', '.join(problems)} differ"
        )


def fit_model(
    model,
    train_graphs: Sequence[GlassGraph],
    validation_graphs: Sequence[GlassGraph],
    config: TrainConfig = TrainConfig(),
    checkpoint=None,
    resume: bool = False,
) -> dict:
    """Train `model` (SymGNN or SchNetNode) and leave in it the weights of the best
    validation epoch. Returns {"history": [{"epoch", "train_loss", "validation_pearson_r",
    "validation_rmse", "seconds"}], "best_epoch", "stopped" ("epochs" or "time budget"),
    "seconds"}. checkpoint: file path or None; resume: continue it (see module docstring)."""
    train_graphs = _check_graphs(train_graphs, "fit_model training set")
    validation_graphs = _check_graphs(validation_graphs, "fit_model validation set")
    config_dict = dataclasses.asdict(config)
    fingerprint = _fingerprint(train_graphs + validation_graphs)
    optimizer = torch.optim.Adam(
        model.parameters(), config.learning_rate, weight_decay=config.weight_decay, amsgrad=True
    )
    generator = torch.Generator().manual_seed(config.seed)
    state = {"epoch": 0, "history": [], "best_epoch": -1, "best_r": -np.inf, "seconds": 0.0}
    best_weights = copy.deepcopy(model.state_dict())
    path = None if checkpoint is None else Path(checkpoint)
    if resume and path is not None and path.exists():
        saved = _load(path)
        _check_resume(saved, model, config_dict, fingerprint, path)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        best_weights = saved["best_model"]
        generator.set_state(saved["generator"])
        torch.set_rng_state(saved["torch_rng"])
        state = dict(saved["state"])
    else:
        torch.manual_seed(config.seed)
        labels = torch.cat([g.labels for g in train_graphs]).double()
        model.set_label_statistics(labels.mean(), labels.std())
    std = float(model.label_std)

    def write_checkpoint(weights, best):
        record = {
            "kind": CHECKPOINT_KIND,
            "model": weights,
            "optimizer": optimizer.state_dict(),
            "best_model": best,
            "generator": generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "state": state,
            "config": config_dict,
            "model_config": model.config,
            "data": fingerprint,
        }
        record["checksum"] = checksum(record)
        os.makedirs(path.parent, exist_ok=True)
        save_atomic(record, path)

    start = time.perf_counter() - state["seconds"]
    deadline = None if config.max_minutes is None else start + 60.0 * config.max_minutes
    stopped = "epochs"
    epochs = tqdm(range(state["epoch"], config.epochs), disable=not config.progress, desc="epochs")
    for epoch in epochs:
        model.train()
        losses = []
        order = torch.randperm(len(train_graphs), generator=generator).tolist()
        for index in order:
            graph = train_graphs[index]
            if config.centres_per_step is not None and config.centres_per_step < graph.n_atoms:
                centres = torch.randperm(graph.n_atoms, generator=generator)
                graph = subgraph_around(
                    graph, centres[: config.centres_per_step], model.receptive_hops
                )
            seed = int(torch.randint(2**31 - 1, (), generator=generator))
            out = model(graph.types, graph.edge_index, graph.edge_vectors, graph.batch, seed)
            mask = graph.centres
            loss = (((out[mask] - graph.labels[mask].to(out.dtype)) / std) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            if config.clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
            optimizer.step()
            losses.append(float(loss.detach()))
            if deadline is not None and time.perf_counter() > deadline:
                stopped = "time budget"
                break
        metrics = evaluate_model(model, validation_graphs, config.eval_repeats)
        r = metrics["pooled"]["pearson_r"]
        state["history"].append(
            {
                "epoch": epoch,
                "train_loss": float(np.mean(losses)),
                "validation_pearson_r": r,
                "validation_rmse": metrics["pooled"]["rmse"],
                "seconds": time.perf_counter() - start,
            }
        )
        if np.isfinite(r) and r > state["best_r"]:
            state["best_r"], state["best_epoch"] = float(r), epoch
            best_weights = copy.deepcopy(model.state_dict())
        state["epoch"], state["seconds"] = epoch + 1, time.perf_counter() - start
        if path is not None:
            write_checkpoint(model.state_dict(), best_weights)
        if stopped != "epochs":
            break
    current = None if path is None else copy.deepcopy(model.state_dict())
    model.load_state_dict(best_weights)
    if recalibrate_batch_norm(model, train_graphs) and path is not None:
        write_checkpoint(current, model.state_dict())
    return {
        "history": state["history"],
        "best_epoch": state["best_epoch"],
        "stopped": stopped,
        "seconds": time.perf_counter() - start,
    }
