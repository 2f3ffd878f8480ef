"""Stage 1, labels: configurations of the design at the DFT's N, labeled by the PGN DFT on
local processes or a Dask cluster, in content-hashed shards (labels already on disk are not
relabeled). Units: nm, kT."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .helpers import cores, plain

NAME = "labels"
TITLE = "labeling configurations with the PGN DFT"
INPUTS = ()
READS = (
    "seed",
    "design",
    "labels.n_particles",
    "labels.n_configs",
    "labels.kind",
    "labels.type_fractions",
    "labels.spacing",
)
SETTINGS = ("labels.workers", "labels.scheduler", "progress")  # labels are executor-independent
OUTPUTS = ("dataset/manifest.json",)
PLOTS = ()


def _dask_executor(scheduler: str, workers: int | None):
    """(client, executor) of a Dask cluster: `scheduler`'s address, or "local" for a
    LocalCluster of `workers` single-threaded processes (default one per core)."""
    from dask.distributed import Client, LocalCluster

    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers or cores(), threads_per_worker=1, processes=True)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    return client, client.get_executor()


def run(config, folder: Path, inputs: dict) -> dict:
    """Label the configurations into folder/dataset; statistics of the labels."""
    from pgnfast.data import label, read_dataset

    from ..configurations import random_configurations

    design = config.pgn_design()
    configurations = random_configurations(
        design,
        config.labels.n_particles,
        config.labels.n_configs,
        seed=config.seed,
        kind=config.labels.kind,
        fractions=config.labels.type_fractions,
    )
    dataset = folder / "dataset"
    before = len(list((dataset / "shards").glob("*.extxyz"))) if dataset.exists() else 0
    scheduler, workers = config.labels.scheduler, config.labels.workers
    client, executor = _dask_executor(scheduler, workers) if scheduler else (None, None)
    try:
        label(
            configurations,
            design,
            dataset,
            executor=executor,
            workers=workers,
            spacing=config.labels.spacing,
            progress=config.progress,
        )
    finally:
        if client is not None:
            client.close()
    manifest = json.loads((dataset / "manifest.json").read_text())
    frames = read_dataset(dataset)
    if len(frames) < 4:
        raise RuntimeError(
            f"only {len(frames)} configurations were labeled; see {dataset / 'manifest.json'}"
        )
    per_particle = np.array([f.get_potential_energy() / len(f) for f in frames])
    forces = np.concatenate([f.get_forces() for f in frames])
    return plain(
        {
            "n_particles": config.labels.n_particles,
            "n_configs": config.labels.n_configs,
            "n_labeled": len(frames),
            "n_failed": len(manifest["failures"]),
            "labeled_this_run": len(frames) - min(before, len(frames)),
            "dft_seconds_per_label": float(np.mean([f.info["label_seconds"] for f in frames])),
            "energy_per_particle_mean_kT": float(per_particle.mean()),
            "energy_per_particle_std_kT": float(per_particle.std()),
            "force_rms_kT_per_nm": float(np.sqrt(np.mean(forces**2))),
            "box_nm": float(np.linalg.det(frames[0].cell[:]) ** (1 / 3)),
        }
    )
