"""Training node-level (per-atom) targets, e.g. the energy barrier of every atom of a glass.

`fit(config)` comes here when config.per_atom_targets is set ({name: loss weight}); the loop
(optimizer, schedule, EMA, checkpoints, bit-exact resume, early stopping, torchrun) is
`loop.run_training`, shared with energy training. Differences from energy training:

- labels: per-atom columns of the data (`atoms.arrays[name]`, label units); energies and
  forces only when energy_weight / force_weight > 0;
- standardisation: each target's (mean, std) over the train split's atoms is set in the
  model's heads (`NequIP.set_per_atom_statistics`), so the heads predict standardised
  values and the loss is weight * mean(((prediction - label) / std)^2) over the loss atoms;
- batches: whole structures (batch_size per step), or with subgraph_centres = K, random
  sets of K centre atoms of one structure with the subgraph of their receptive field
  (`subgraph.py`; every atom of every train structure is a centre once per epoch, the
  order drawn from (seed, epoch)), the loss on the centres only;
- validation loss: the same loss on every atom of the validation structures (full graphs),
  or with validation_criterion = "pearson_r", 1 - the mean per-structure Pearson r;
- metrics.json: per split and target, Pearson r, RMSE and MAE (label units) pooled over all
  atoms, per structure and their mean (`metrics.per_atom_metrics`); parity_<target>.png.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from ..errors import InputError
from ..nn.io import load_model
from ..units import resolve
from .data import (
    attach_neighbors,
    collate,
    fingerprint,
    make_split,
    per_type_statistics,
    read_labeled_frames,
    samples_from_frames,
)
from .fit import _write_json, build_model, training_device
from .loop import Distributed, run_training
from .metrics import pearson_r, per_atom_loss, per_atom_metrics
from .subgraph import StructureGraph, concatenate


def per_atom_statistics(samples, names) -> dict:
    """{name: (mean, std)} of each per-atom label over all atoms of `samples` (label units);
    InputError when a label is constant there (it cannot be standardised)."""
    statistics = {}
    for name in names:
        values = np.concatenate([s.per_atom[name] for s in samples])
        mean, std = float(values.mean()), float(values.std())
        if not std > 0:
            raise InputError(
                f"per-atom label {name!r} is constant ({mean}) on the train split: nothing to "
                f"learn, and it cannot be standardised"
            )
        statistics[name] = (mean, std)
    return statistics


def _energy_statistics(config, train, num_types: int) -> dict:
    if config.energy_weight > 0 or config.force_weight > 0:
        return per_type_statistics(train, num_types)
    neighbors = [len(s.neighbors) / s.num_particles for s in train]
    return {
        "shift": [0.0] * num_types,
        "scale": 1.0,
        "avg_num_neighbors": float(np.mean(neighbors)),
    }


def structure_graphs(samples, r_max: float, dtype, device) -> list[StructureGraph]:
    """Each sample's full graph (built once: the positions never change)."""
    return [StructureGraph(collate([s], r_max, dtype, device)[0]) for s in samples]


def predict_per_atom(model, graphs, *, forces: bool = False) -> list[dict]:
    """Per structure: {target: (N,) float64 numpy, label units, "energy": float,
    "forces": (N, 3) when forces} of the model on full graphs (StructureGraph or Graph)."""
    model.eval()
    out = []
    for item in graphs:
        graph = item.graph if isinstance(item, StructureGraph) else item
        with torch.set_grad_enabled(forces):
            result = model(graph, compute_forces=forces, create_graph=False)
        row = {k: v.detach().double().cpu().numpy() for k, v in result["per_atom"].items()}
        row["energy"] = float(result["energy"].detach().sum())
        if forces:
            row["forces"] = result["forces"].detach().double().cpu().numpy()
        out.append(row)
    return out


class PerAtomTask:
    """The per-atom training task of loop.run_training (see the module docstring)."""

    def __init__(self, config, model, train, validation, dtype, device):
        self.config, self.model = config, model
        self.train, self.validation = train, validation
        self.dtype, self.device = dtype, device
        self.train_graphs = structure_graphs(train, model.r_max, dtype, device)
        self.validation_graphs = structure_graphs(validation, model.r_max, dtype, device)
        self.weights = {k: float(v) for k, v in config.per_atom_targets.items()}
        self._labels = [
            {k: torch.as_tensor(v, dtype=dtype, device=device) for k, v in s.per_atom.items()}
            for s in train
        ]

    def epoch_batches(self, epoch: int, world: int) -> list:
        """Lists of (structure index, centre atoms or None for all) items, batch_size per
        batch, from (seed, epoch) only."""
        config = self.config
        rng = np.random.default_rng([config.seed, epoch])
        if config.subgraph_centres is None:
            items = [(int(i), None) for i in rng.permutation(len(self.train))]
        else:
            size = int(config.subgraph_centres)
            items = []
            for index, sample in enumerate(self.train):
                order = rng.permutation(sample.num_particles)
                items += [(index, order[k : k + size]) for k in range(0, order.size, size)]
            items = [items[k] for k in rng.permutation(len(items))]
        step = config.batch_size
        batches = [items[k : k + step] for k in range(0, len(items), step)]
        return batches[: len(batches) - len(batches) % world]

    def loss(self, model, batch) -> torch.Tensor:
        config = self.config
        parts = [
            self.train_graphs[i].full()
            if centres is None
            else self.train_graphs[i].subgraph(centres, model.num_layers)
            for i, centres in batch
        ]
        graph, centres = concatenate(parts)
        want_forces = config.force_weight > 0
        prediction = model(graph, compute_forces=want_forces, create_graph=want_forces)
        labels = {
            name: torch.cat([self._labels[i][name][p.atoms] for (i, _), p in zip(batch, parts)])
            for name in self.weights
        }
        predicted = {name: prediction["per_atom"][name][centres] for name in self.weights}
        total, _ = per_atom_loss(predicted, labels, model.per_atom_statistics(), self.weights)
        samples = [self.train[i] for i, _ in batch]
        if config.energy_weight > 0:
            energy = torch.tensor([s.energy for s in samples], dtype=self.dtype, device=self.device)
            count = torch.tensor([s.num_particles for s in samples], dtype=self.dtype)
            per_particle = (prediction["energy"] - energy) / count.to(self.device)
            total = total + config.energy_weight * per_particle.pow(2).mean()
        if want_forces:
            forces = torch.as_tensor(np.concatenate([s.forces for s in samples]), dtype=self.dtype)
            error = prediction["forces"] - forces.to(self.device)
            total = total + config.force_weight * error.pow(2).mean()
        return total

    def validation_loss(self, model) -> float:
        if not self.validation:
            return float("nan")
        if self.config.validation_criterion == "pearson_r":
            return one_minus_pearson_r(self.config, model, self.validation, self.validation_graphs)
        return evaluate_loss(self.config, model, self.validation, self.validation_graphs)


def one_minus_pearson_r(config, model, samples, graphs) -> float:
    """1 - the loss-weighted mean over targets of the mean over `samples` of each structure's
    Pearson r (full graphs): in [0, 2], NaN when a structure's r is undefined."""
    predictions = predict_per_atom(model, graphs)
    weights = {name: float(w) for name, w in config.per_atom_targets.items() if w > 0}
    score = 0.0
    for name, weight in weights.items():
        r = [pearson_r(p[name], s.per_atom[name]) for p, s in zip(predictions, samples)]
        score += weight * float(np.mean(r))
    return 1.0 - score / sum(weights.values())


def evaluate_loss(config, model, samples, graphs) -> float:
    """The training loss (float64) on every atom of `samples` (full graphs)."""
    forces = config.force_weight > 0
    predictions = predict_per_atom(model, graphs, forces=forces)
    statistics = model.per_atom_statistics()
    loss = 0.0
    for name, weight in config.per_atom_targets.items():
        error = np.concatenate([p[name] - s.per_atom[name] for p, s in zip(predictions, samples)])
        loss += float(weight) * float(np.mean((error / statistics[name][1]) ** 2))
    if config.energy_weight > 0:
        per_particle = [
            (p["energy"] - s.energy) / s.num_particles for p, s in zip(predictions, samples)
        ]
        loss += config.energy_weight * float(np.mean(np.square(per_particle)))
    if forces:
        error = np.concatenate([p["forces"] - s.forces for p, s in zip(predictions, samples)])
        loss += config.force_weight * float(np.mean(error**2))
    return loss


def _check_data(config, samples) -> None:
    if config.force_weight > 0:
        for index, sample in enumerate(samples):
            if sample.forces is None:
                raise InputError(
                    f"force_weight = {config.force_weight} but frame {index} has no forces; set "
                    f"force_weight: 0 to train the per-atom targets without forces"
                )


def fit_per_atom(config, *, resume: bool = False) -> dict:
    """Train the per-atom targets of a checked TrainConfig (see the module docstring);
    returns the metrics dict, or {"interrupted": True, "step": n}. Errors as for fit; a
    frame without a target's column, or without energy while energy_weight > 0, raises
    FileFormatError naming the frame."""
    if config.num_threads:
        torch.set_num_threads(int(config.num_threads))
    distributed = Distributed()
    dtype = getattr(torch, config.dtype)
    run_dir = config.run_dir
    os.makedirs(run_dir, exist_ok=True)
    names = tuple(config.per_atom_targets)

    frames, sources = read_labeled_frames(config.data, units=config.units)
    samples, type_names = samples_from_frames(
        frames,
        config.type_names,
        config.descriptor_keys,
        sources,
        per_atom_targets=names,
        require_energy=config.energy_weight > 0,
    )
    if not samples:
        raise InputError(f"data {config.data!r} holds no frames")
    _check_data(config, samples)
    data_fingerprint = fingerprint(samples, type_names)
    split = make_split(config, frames)
    attach_neighbors(samples, float(config.model["r_max"]), config.neighbor_backend)
    train = [samples[i] for i in split["train"]]
    validation = [samples[i] for i in split["validation"]]
    if not train:
        raise InputError("the split leaves no structure for training")
    statistics = _energy_statistics(config, train, len(type_names))
    label_statistics = per_atom_statistics(train, names)

    model = build_model(config, type_names, statistics)
    if not config.init_from:
        model.set_per_atom_statistics(label_statistics)
    device = training_device(config, distributed.local_rank)
    task = PerAtomTask(config, model, train, validation, dtype, device)

    def on_new_run():
        config.to_yaml(os.path.join(run_dir, "config.yaml"))
        _write_json(os.path.join(run_dir, "split.json"), split)
        _write_json(
            os.path.join(run_dir, "statistics.json"),
            {
                **statistics,
                "type_names": type_names,
                "per_atom": {k: {"mean": m, "std": s} for k, (m, s) in label_statistics.items()},
            },
        )

    started = time.time()
    state = run_training(
        config,
        model,
        task,
        distributed=distributed,
        device=device,
        data_fingerprint=data_fingerprint,
        resume=resume,
        on_new_run=on_new_run,
    )
    if state.get("interrupted") or not distributed.is_main:
        return state if state.get("interrupted") else {}
    sources_of = {
        name: [sources[i] for i in split[name]] for name in ("train", "validation", "test")
    }
    return finish(config, samples, split, sources_of, state, time.time() - started, device)


def _json_metrics(metrics: dict, structures: list[str]) -> dict:
    per = metrics["per_structure"]
    rows = [
        {
            "structure": structures[int(s)],
            **{key: per[key][k].item() for key in ("pearson_r", "rmse", "mae", "num_atoms")},
        }
        for k, s in enumerate(per["structure"])
    ]
    return {
        "pooled": metrics["pooled"],
        "mean_over_structures": metrics["mean_over_structures"],
        "per_structure": rows,
    }


def finish(config, samples, split, sources_of, state, wall_time, device) -> dict:
    """Evaluate the best model on every split: metrics.json, history.json and plots."""
    run_dir = config.run_dir
    model = load_model(os.path.join(run_dir, "best_model.pt")).to(device)
    metrics = {
        "units": resolve(config.units),
        "per_atom_targets": dict(config.per_atom_targets),
        "per_atom_statistics": {k: list(v) for k, v in model.per_atom_statistics().items()},
        "best_epoch": state["best_epoch"],
        "initial_validation_loss": state.get("initial_validation_loss"),
        "best_validation_loss": state["best_validation"],
        "epochs": state["epoch"],
        "steps": state["step"],
        "stop_reason": state.get("stop_reason"),
        "wall_time_s_this_run": wall_time,
    }
    parity = {}
    for name in ("train", "validation", "test"):
        subset = [samples[i] for i in split[name]]
        if not subset:
            continue
        graphs = structure_graphs(subset, model.r_max, model.dtype, device)
        predictions = predict_per_atom(model, graphs)
        batch = np.concatenate([np.full(s.num_particles, k) for k, s in enumerate(subset)])
        metrics[name] = {"num_structures": len(subset), "per_atom": {}}
        for target in config.per_atom_targets:
            predicted = np.concatenate([p[target] for p in predictions])
            label = np.concatenate([s.per_atom[target] for s in subset])
            found = per_atom_metrics(predicted, label, batch)
            metrics[name]["per_atom"][target] = _json_metrics(found, sources_of[name])
            parity.setdefault(target, {})[name] = (label, predicted)
        if config.energy_weight > 0:
            energies = np.array([p["energy"] for p in predictions])
            labels = np.array([s.energy for s in subset])
            counts = np.array([s.num_particles for s in subset])
            metrics[name]["energy_per_particle_rmse"] = float(
                np.sqrt(np.mean(((energies - labels) / counts) ** 2))
            )
    _write_json(os.path.join(run_dir, "metrics.json"), metrics)
    _write_json(os.path.join(run_dir, "history.json"), state["history"])
    if config.plots:
        from . import plots

        plots.learning_curve(
            state["history"],
            os.path.join(run_dir, "learning_curve.png"),
            ylabel="loss (standardised per-atom MSE, weighted)",
        )
        for target, by_split in parity.items():
            shown = next(s for s in ("validation", "test", "train") if s in by_split)
            plots.parity(
                *by_split[shown],
                os.path.join(run_dir, f"parity_{target}.png"),
                label=f"{target} ({shown})",
                unit=config.metadata.get("target_units", {}).get(target, "label units"),
            )
    return metrics
