"""Stage 3, cost: DFT and model seconds per configuration on the same test configurations
at the DFT's N, on the same threads; the model alone and in batches. Threads and device are
part of what it measures, so they are in its key."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from .helpers import plain, thread_count

NAME = "cost"
TITLE = "timing DFT against the model"
INPUTS = ("labels", "train")
READS = (
    "design",
    "labels.spacing",
    "cost.n_configs",
    "cost.repeats",
    "cost.batch",
    "threads",
    "device",
)
SETTINGS = ("progress",)
OUTPUTS = ()
PLOTS = ()


def _median_seconds(function, repeats: int, *args) -> float:
    """Median wall seconds of `repeats` calls of function(*args)."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        runs.append(time.perf_counter() - start)
    return float(np.median(runs))


def run(config, folder: Path, inputs: dict) -> dict:
    """Seconds per configuration of the DFT and the model, and their ratios."""
    import torch
    from tqdm.auto import tqdm

    from pgnfast.data import read_dataset
    from pgnfast.dft import solve
    from pgnfast.nn.graph import build_graph

    design = config.pgn_design()
    trained, device = inputs["train"], config.device
    frames = read_dataset(inputs["labels"].folder / "dataset")
    split = json.loads((trained.folder / "split.json").read_text())
    chosen = [frames[i] for i in (split["test"] or split["train"])[: config.cost.n_configs]]
    potential = trained.potential(device)
    model = trained.model(device)
    repeats = config.cost.repeats
    dft_times, model_times = [], []
    for atoms in tqdm(chosen, desc="cost", unit="config", disable=not config.progress):
        positions, cell, types = atoms.positions, atoms.cell[:], atoms.arrays["type"]
        start = time.perf_counter()
        solve(
            positions,
            cell,
            design,
            types=types if design.n_types > 1 else None,
            spacing=config.labels.spacing,
        )
        dft_times.append(time.perf_counter() - start)
        potential.energy_forces(positions, cell, types)  # warm-up
        model_times.append(
            _median_seconds(potential.energy_forces, repeats, positions, cell, types)
        )
    batch = [chosen[i % len(chosen)] for i in range(config.cost.batch)]
    systems = [(a.positions, a.cell[:], a.arrays["type"], True, None) for a in batch]

    def batched_call():
        graph = build_graph(systems, model.r_max, dtype=model.dtype, device=device)
        model(graph, compute_forces=True, create_graph=False)["forces"].sum().item()

    batched_call()  # warm-up
    batched = _median_seconds(batched_call, repeats) / len(batch)
    dft, single = float(np.mean(dft_times)), float(np.mean(model_times))
    return plain(
        {
            "n_particles": len(chosen[0]),
            "n_configs": len(chosen),
            "threads": thread_count(config),
            "torch_threads": torch.get_num_threads(),
            "dft_seconds_per_config": dft,
            "model_seconds_per_config": single,
            "model_batched_seconds_per_config": batched,
            "model_batch": len(batch),
            "speedup": dft / single,
            "speedup_batched": dft / batched,
            "log10_speedup_batched": math.log10(dft / batched),
        }
    )
