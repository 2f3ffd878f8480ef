"""extxyz datasets of DFT labels (units: positions and cell nm, energy kT, forces kT/nm).

Each frame carries energy, forces and per-particle `energies` through an ASE
SinglePointCalculator, the `type` array, and in `info` the design parameters and the solver
diagnostics. A dataset is a directory with manifest.json and shards/*.extxyz, or one file.
"""

from __future__ import annotations

import json
from pathlib import Path

import ase.io
from ase.calculators.singlepoint import SinglePointCalculator

from .._atomic import atomic_path


def write_extxyz(path, frames) -> Path:
    """Write ase.Atoms frames to `path` atomically (temp file in the same folder + os.replace)."""
    with atomic_path(path) as temporary:
        ase.io.write(temporary, list(frames), format="extxyz")
    return Path(path)


def labeled_frame(atoms, result, design, content_hash: str):
    """A copy of `atoms` carrying the DFTResult `result` (energy kT, forces kT/nm)."""
    frame = atoms.copy()
    frame.calc = SinglePointCalculator(
        frame, energy=result.energy, forces=result.forces, energies=result.energies
    )
    for key, value in design.to_dict().items():
        frame.info[f"design_{key}"] = json.dumps(value)
    frame.info.update(
        {
            "hash": content_hash,
            "converged": result.converged,
            "iterations": result.iterations,
            "residual": result.residual,
            "spacing": result.spacing,
            "solver": result.info["method"],
            "reach": result.info["reach"],
            "label_seconds": result.info["time_total"],
        }
    )
    return frame


def read_dataset(path) -> list:
    """Frames (ase.Atoms with .calc results energy, forces, energies) of a dataset directory
    (its manifest's shards, in manifest order) or of one extxyz file."""
    path = Path(path)
    if path.is_dir():
        manifest = json.loads((path / "manifest.json").read_text())
        frames = []
        for shard in manifest["shards"]:
            frames.extend(ase.io.read(path / shard["file"], index=":", format="extxyz"))
        return frames
    return ase.io.read(path, index=":", format="extxyz")
