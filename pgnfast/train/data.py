"""Labeled configurations for training: reading, splitting, batching, statistics."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

import numpy as np
import torch

from ..neighbors import neighbor_list
from ..nn.graph import Graph, build_graph


@dataclass
class Sample:
    """One labeled configuration: positions (N, 3) nm, cell (3, 3) nm, pbc, types (N,),
    energy kT, forces (N, 3) kT/nm or None, descriptors (N, D) or None."""

    positions: np.ndarray
    cell: np.ndarray
    pbc: tuple
    types: np.ndarray
    energy: float
    forces: np.ndarray | None
    descriptors: np.ndarray | None = None
    neighbors: object = None  # cached NeighborList at the model's r_max

    @property
    def num_particles(self) -> int:
        return len(self.positions)


def _paths(data) -> list[str]:
    items = [data] if isinstance(data, (str, os.PathLike)) else list(data)
    paths = []
    for item in items:
        item = os.fspath(item)
        if os.path.isdir(item) and os.path.exists(os.path.join(item, "manifest.json")):
            paths.append(item)  # a labeler dataset directory: read_dataset follows its manifest
        elif os.path.isdir(item):
            paths += sorted(
                glob.glob(os.path.join(item, "*.extxyz")) + glob.glob(os.path.join(item, "*.xyz"))
            )
        else:
            found = sorted(glob.glob(item))
            paths += found if found else [item]
    if not paths:
        raise FileNotFoundError(f"no dataset files in {data!r}")
    return paths


def read_frames(data) -> list:
    """ase.Atoms frames from extxyz files (the labeler's reader when it is installed)."""
    try:
        from ..data import read_dataset  # the DFT labeler's reader, when present
    except ImportError:
        read_dataset = None
    import ase.io

    frames = []
    for path in _paths(data):
        if read_dataset is not None:
            try:
                loaded = read_dataset(path)
                frames += list(loaded)
                continue
            except Exception:  # noqa: BLE001 - fall back to plain extxyz reading
                pass
        frames += ase.io.read(path, index=":")
    return frames


def _energy(atoms) -> float:
    for key in ("energy", "free_energy", "total_energy"):
        if key in atoms.info:
            return float(atoms.info[key])
    if atoms.calc is not None:
        return float(atoms.calc.get_potential_energy())
    raise KeyError("frame has no energy (info['energy'] or a calculator)")


def _forces(atoms):
    for key in ("forces", "force"):
        if key in atoms.arrays:
            return np.asarray(atoms.arrays[key], np.float64)
    if atoms.calc is not None and "forces" in getattr(atoms.calc, "results", {}):
        return np.asarray(atoms.calc.results["forces"], np.float64)
    return None


# per-particle integer type columns, in order of preference: "types", and "type" as written
# by the DFT labeler (pgnfast.data) and the Monte Carlo TrajectoryWriter
TYPE_ARRAYS = ("types", "type")


def _type_array(atoms):
    for key in TYPE_ARRAYS:
        values = atoms.arrays.get(key)
        if values is not None and np.issubdtype(np.asarray(values).dtype, np.integer):
            return values
    return None


def samples_from_frames(frames, type_names=None, descriptor_keys=()) -> tuple[list, list]:
    """Samples and the type names (from the integer arrays['types'] or arrays['type'], else
    the chemical symbols)."""
    if type_names is None:
        if all(_type_array(f) is not None for f in frames):
            count = int(max(int(np.max(_type_array(f))) for f in frames)) + 1
            type_names = [f"type{t}" for t in range(count)]
        else:
            type_names = sorted({s for f in frames for s in f.get_chemical_symbols()})
    samples = []
    for atoms in frames:
        types = _type_array(atoms)
        if types is not None:
            types = np.asarray(types, np.int64)
        else:
            types = np.array([type_names.index(s) for s in atoms.get_chemical_symbols()])
        descriptors = None
        if descriptor_keys:
            values = [float(atoms.info[key]) for key in descriptor_keys]
            descriptors = np.tile(values, (len(atoms), 1))
        samples.append(
            Sample(
                positions=np.asarray(atoms.positions, np.float64),
                cell=np.asarray(atoms.cell[:], np.float64),
                pbc=tuple(bool(p) for p in atoms.pbc),
                types=types,
                energy=_energy(atoms),
                forces=_forces(atoms),
                descriptors=descriptors,
            )
        )
    return samples, list(type_names)


def split_indices(num_samples: int, split: dict, seed: int) -> dict[str, list[int]]:
    """Seeded random train/validation/test indices; split values are fractions or counts."""
    order = np.random.default_rng(seed).permutation(num_samples)
    counts = {}
    for name in ("train", "validation", "test"):
        value = split.get(name, 0)
        counts[name] = int(value) if value >= 1 else int(round(value * num_samples))
    if counts["train"] + counts["validation"] + counts["test"] > num_samples:
        counts["train"] = num_samples - counts["validation"] - counts["test"]
    out, start = {}, 0
    for name in ("train", "validation", "test"):
        out[name] = sorted(int(i) for i in order[start : start + counts[name]])
        start += counts[name]
    return out


def attach_neighbors(samples, r_max: float, backend: str = "auto") -> None:
    """Compute and cache each sample's neighbor list at r_max (positions never change)."""
    for sample in samples:
        if sample.neighbors is None:
            sample.neighbors = neighbor_list(
                sample.positions, sample.cell, r_max, pbc=sample.pbc, backend=backend
            )


def collate(samples, r_max: float, dtype, device="cpu") -> tuple[Graph, dict]:
    """One Graph for a batch plus its labels: energy (B,), forces (N, 3) or None, counts (B,),
    all on `device`."""
    graph = build_graph(
        [(s.positions, s.cell, s.types, s.pbc, s.descriptors) for s in samples],
        r_max,
        dtype=dtype,
        device=device,
        neighbor_lists=[s.neighbors for s in samples],
    )
    labels = {
        "energy": torch.tensor([s.energy for s in samples], dtype=dtype, device=device),
        "num_particles": torch.tensor(
            [s.num_particles for s in samples], dtype=dtype, device=device
        ),
        "forces": (
            torch.as_tensor(np.concatenate([s.forces for s in samples]), dtype=dtype, device=device)
            if all(s.forces is not None for s in samples)
            else None
        ),
    }
    return graph, labels


def per_type_statistics(samples, num_types: int) -> dict:
    """Per-type energy shift (kT, least squares of E on type counts), energy scale (kT: the
    force RMS times the mean interparticle spacing (V/N)^(1/3) if forces and cells exist,
    else the RMS of the per-particle residual energy) and avg_num_neighbors (needs cached
    neighbor lists)."""
    counts = np.array([np.bincount(s.types, minlength=num_types) for s in samples], float)
    energies = np.array([s.energy for s in samples])
    shift, *_ = np.linalg.lstsq(counts, energies, rcond=None)
    residual = (energies - counts @ shift) / counts.sum(axis=1)
    forces = [s.forces for s in samples if s.forces is not None]
    spacings = [abs(np.linalg.det(s.cell)) ** (1 / 3) / s.num_particles ** (1 / 3) for s in samples]
    if forces and all(x > 0 for x in spacings):
        scale = float(np.sqrt(np.mean(np.concatenate(forces) ** 2)) * np.mean(spacings))
    else:
        scale = float(np.sqrt(np.mean(residual**2)))
    scale = scale if scale > 0 else 1.0
    neighbors = [len(s.neighbors) / s.num_particles for s in samples if s.neighbors is not None]
    return {
        "shift": shift.tolist(),
        "scale": scale,
        "avg_num_neighbors": float(np.mean(neighbors)) if neighbors else None,
    }
