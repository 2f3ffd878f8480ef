"""Labeled configurations for training: reading, splitting, batching, statistics."""

from __future__ import annotations

import glob
import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np
import torch

from ..data.io import MANIFEST
from ..errors import FileFormatError, InputError
from ..geometry import check_cell
from ..neighbors import neighbor_list
from ..nn.graph import Graph, build_graph
from ..validation import (
    LEGACY_TYPE_COLUMNS,
    TYPE_COLUMN,
    check_finite,
    check_positions,
    read_fragments,
    read_type_column,
)


@dataclass
class Sample:
    """One labeled configuration: positions (N, 3) nm, cell (3, 3) nm, pbc, types (N,),
    energy kT (NaN when the frame has none and none is needed), forces (N, 3) kT/nm or None,
    stress (3, 3) kT/nm^3 or None (dE/d strain / volume, ASE's sign), descriptors (N, D) or
    None, per_atom {target: (N,) labels} or None; for charged models
    (NequIP-LR) total_charge e (None when not read), reference charges (N,) e or None, and
    fragments (N,) int (each atom's fragment, 0..F-1) with fragment_charges (F,) e or None."""

    positions: np.ndarray
    cell: np.ndarray
    pbc: tuple
    types: np.ndarray
    energy: float
    forces: np.ndarray | None
    descriptors: np.ndarray | None = None
    neighbors: object = None  # cached NeighborList at the model's r_max
    per_atom: dict | None = None
    total_charge: float | None = None
    charges: np.ndarray | None = None
    fragments: np.ndarray | None = None
    fragment_charges: np.ndarray | None = None
    stress: np.ndarray | None = None

    @property
    def num_particles(self) -> int:
        return len(self.positions)


def _paths(data) -> list[str]:
    """Dataset sources of `data` (a path, labeled dataset folder, folder of extxyz files,
    glob, or a list of them); FileFormatError naming the pattern that matches nothing."""
    items = [data] if isinstance(data, (str, os.PathLike)) else list(data)
    if not items:
        raise FileFormatError("data names no dataset (an empty list)")
    paths = []
    for item in items:
        item = os.fspath(item)
        if os.path.isdir(item) and os.path.exists(os.path.join(item, MANIFEST)):
            paths.append(item)  # a labeled dataset folder: read through its manifest
        elif os.path.isdir(item):
            found = sorted(
                glob.glob(os.path.join(item, "*.extxyz")) + glob.glob(os.path.join(item, "*.xyz"))
            )
            if not found:
                raise FileFormatError(
                    f"data folder {item} holds no {MANIFEST} (a labeled dataset) and no "
                    f"*.extxyz or *.xyz files"
                )
            paths += found
        else:
            found = sorted(glob.glob(item))
            if not found:
                raise FileFormatError(
                    f"data {item!r} matches no file (a labeled dataset folder, an extxyz "
                    f"file or a glob of them; working folder {os.getcwd()})"
                )
            paths += found
    return paths


def read_labeled_frames(data, units=None) -> tuple[list, list[str]]:
    """ase.Atoms frames of `data` and, per frame, where it came from ("file frame k").
    Every frame is checked (pgnfast.data.read_dataset); units: checked against datasets
    that record theirs (UnitsError)."""
    from ..data.io import read_dataset_sources

    frames, sources = [], []
    for path in _paths(data):
        if os.path.isdir(path) or path.endswith((".extxyz", ".xyz")):
            loaded, names = read_dataset_sources(path, units=units)
        else:
            loaded = _read_other_format(path)
            names = [f"{path} frame {k}" for k in range(len(loaded))]
        frames += loaded
        sources += names
    return frames, sources


def _read_other_format(path) -> list:
    import ase.io

    from ..data.io import check_frame

    try:
        frames = ase.io.read(path, index=":")
    except Exception as error:  # noqa: BLE001 - ASE's readers raise many kinds
        reason = str(error).splitlines()[0] if str(error) else ""
        raise FileFormatError(
            f"dataset file {path} cannot be read: {type(error).__name__}: {reason}"
        ) from error
    for index, atoms in enumerate(frames):
        check_frame(atoms, f"{path} frame {index}")
    return frames


def read_frames(data, units=None) -> list:
    """ase.Atoms frames from a labeled dataset folder, extxyz files or globs (see
    read_labeled_frames)."""
    return read_labeled_frames(data, units)[0]


def _energy(atoms) -> float:
    for key in ("energy", "free_energy", "total_energy"):
        if key in atoms.info:
            return float(atoms.info[key])
    if atoms.calc is not None and "energy" in getattr(atoms.calc, "results", {}):
        return float(atoms.calc.results["energy"])
    raise InputError("it has no energy (info['energy'] or a calculator's result)")


def _has_energy(atoms) -> bool:
    try:
        _energy(atoms)
    except InputError:
        return False
    return True


def _forces(atoms):
    for key in ("forces", "force"):
        if key in atoms.arrays:
            return np.asarray(atoms.arrays[key], np.float64)
    if atoms.calc is not None and "forces" in getattr(atoms.calc, "results", {}):
        return np.asarray(atoms.calc.results["forces"], np.float64)
    return None


def _stress(atoms):
    """The frame's stress as (3, 3) (from info["stress"] or a calculator's result, in ASE's
    Voigt order xx, yy, zz, yz, xz, xy or as 3 x 3), or None."""
    value = atoms.info.get("stress")
    if value is None and atoms.calc is not None:
        value = getattr(atoms.calc, "results", {}).get("stress")
    if value is None:
        return None
    value = np.asarray(value, np.float64)
    if value.shape == (6,):
        xx, yy, zz, yz, xz, xy = value
        return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    if value.size == 9:
        return value.reshape(3, 3)
    raise InputError(
        f"stress must hold 6 Voigt components (xx, yy, zz, yz, xz, xy) or 3 x 3, got shape "
        f"{value.shape}"
    )


# per-particle integer type columns: the canonical `type` (written by the labeler and the
# Monte Carlo writers), then the legacy names read for old files
TYPE_ARRAYS = (TYPE_COLUMN, *LEGACY_TYPE_COLUMNS)


def _type_array(atoms):
    """The first numeric type column of `atoms` (text columns, such as species names, are
    not types), or None."""
    for key in TYPE_ARRAYS:
        values = atoms.arrays.get(key)
        if values is not None and np.asarray(values).dtype.kind in "iuf":
            return values
    return None


def _frame_types(atoms, type_names) -> np.ndarray:
    """(N,) int64 types through pgnfast.validation.read_type_column, text columns ignored."""
    text = [
        key
        for key in TYPE_ARRAYS
        if key in atoms.arrays and np.asarray(atoms.arrays[key]).dtype.kind not in "iuf"
    ]
    if text:
        atoms = atoms.copy()
        for key in text:
            del atoms.arrays[key]
    return read_type_column(atoms, len(type_names), type_names)


def samples_from_frames(
    frames,
    type_names=None,
    descriptor_keys=(),
    sources=None,
    *,
    per_atom_targets=(),
    require_energy: bool = True,
    charges_key: str | None = None,
) -> tuple[list, list]:
    """Samples and the type names (from the integer `type` column, or the legacy `types`,
    else the chemical symbols). sources: per frame, where it came from (named in errors).
    per_atom_targets: per-atom label columns (atoms.arrays) read into Sample.per_atom.
    require_energy=False: a frame without energy gets NaN (per-atom training only).
    charges_key: read each frame's total charge (info["total_charge"], 0 when absent), its
    reference charges (the per-atom column charges_key, where present) and its fragments
    (per-atom integer column `fragment` with info `fragment_charges`, where present) for
    NequIP-LR.
    A frame without energy (when required), with forces of the wrong shape, types out of
    range, a missing descriptor or a missing or non-finite per-atom label raises
    InputError (FileFormatError when sources are given)."""
    if type_names is None:
        if frames and all(_type_array(f) is not None for f in frames):
            count = int(max(int(np.max(_type_array(f), initial=0)) for f in frames)) + 1
            type_names = [f"type{t}" for t in range(count)]
        else:
            type_names = sorted({s for f in frames for s in f.get_chemical_symbols()})
    samples = []
    for index, atoms in enumerate(frames):
        where = sources[index] if sources is not None else f"frame {index}"
        try:
            sample = _sample(atoms, type_names, descriptor_keys, require_energy)
            if per_atom_targets:
                sample.per_atom = _per_atom_labels(atoms, per_atom_targets)
            if charges_key is not None:
                sample.total_charge, sample.charges = _charge_labels(atoms, charges_key)
                sample.fragments, sample.fragment_charges = read_fragments(
                    atoms, sample.total_charge
                )
            samples.append(sample)
        except (InputError, KeyError, TypeError, ValueError) as error:
            kind = FileFormatError if sources is not None else InputError
            message = error.args[0] if isinstance(error, KeyError) and error.args else error
            raise kind(f"{where}: {message}") from error
    return samples, list(type_names)


def _per_atom_labels(atoms, names) -> dict:
    labels = {}
    # ASE's extxyz reader moves calculator columns (energies, forces, ...) into results
    results = getattr(atoms.calc, "results", {}) if atoms.calc is not None else {}
    for name in names:
        if name in atoms.arrays:
            values = np.asarray(atoms.arrays[name])
        elif name in results and np.ndim(results[name]) == 1:
            values = np.asarray(results[name])
        else:
            columns = sorted(k for k in atoms.arrays if k not in ("positions", "numbers"))
            columns += sorted(k for k, v in results.items() if np.ndim(v) == 1)
            raise InputError(f"it has no per-atom label column {name!r} (columns {columns})")
        if values.dtype.kind not in "iuf" or values.shape != (len(atoms),):
            raise InputError(
                f"per-atom label column {name!r} must hold one number per atom, got shape "
                f"{values.shape} dtype {values.dtype}"
            )
        labels[name] = values.astype(np.float64)
        check_finite(labels[name], f"per-atom label {name!r}")
    return labels


def _charge_labels(atoms, key: str) -> tuple[float, np.ndarray | None]:
    """(total charge e from info["total_charge"], 0 when absent; per-atom charges (N,) e from
    column `key` or None); InputError for a non-finite or non-numeric value."""
    total = atoms.info.get("total_charge", 0.0)
    if isinstance(total, bool) or np.ndim(total) != 0:
        raise InputError(f"info total_charge must be one number (e), got {total!r}")
    try:
        total = float(total)
    except (TypeError, ValueError):
        raise InputError(f"info total_charge must be a number (e), got {total!r}") from None
    if not np.isfinite(total):
        raise InputError(f"info total_charge must be finite, got {total}")
    results = getattr(atoms.calc, "results", {}) if atoms.calc is not None else {}
    if key not in atoms.arrays and key not in results:
        return total, None
    return total, _per_atom_labels(atoms, [key])[key]


def _sample(atoms, type_names, descriptor_keys, require_energy=True) -> Sample:
    n = len(atoms)
    forces = _forces(atoms)
    if forces is not None and forces.shape != (n, 3):
        raise InputError(f"forces must have shape ({n}, 3), got {forces.shape}")
    descriptors = None
    if descriptor_keys:
        missing = [key for key in descriptor_keys if key not in atoms.info]
        if missing:
            raise InputError(f"it has no descriptor values {missing} in its info")
        values = [float(atoms.info[key]) for key in descriptor_keys]
        descriptors = np.tile(values, (n, 1))
    sample = Sample(
        positions=check_positions(atoms.positions),
        cell=check_cell(atoms.cell[:], tuple(bool(p) for p in atoms.pbc)),
        pbc=tuple(bool(p) for p in atoms.pbc),
        types=_frame_types(atoms, type_names),
        energy=_energy(atoms) if require_energy or _has_energy(atoms) else float("nan"),
        forces=forces,
        descriptors=descriptors,
        stress=_stress(atoms),
    )
    if sample.stress is not None:
        check_finite(sample.stress, "stress")
    if require_energy or _has_energy(atoms):
        check_finite(np.array([sample.energy]), "energy")
    if forces is not None:
        check_finite(forces, "forces")
    return sample


def fingerprint(samples, type_names) -> str:
    """sha256 of a data set's frames and labels (positions, cell, pbc, types, energy, forces,
    descriptors, per-atom labels, stress, total charges and reference charges when read) and
    type names: what a checkpoint must have been trained on to resume."""
    digest = hashlib.sha256(json.dumps(list(type_names)).encode())
    for sample in samples:
        for part in (
            sample.positions,
            sample.cell,
            np.asarray(sample.pbc),
            sample.types,
            np.array([sample.energy]),
            sample.forces,
            sample.descriptors,
        ):
            digest.update(b"-" if part is None else np.ascontiguousarray(part).tobytes())
        for name, values in sorted((sample.per_atom or {}).items()):
            digest.update(name.encode() + np.ascontiguousarray(values).tobytes())
        if sample.stress is not None:
            digest.update(b"stress" + np.ascontiguousarray(sample.stress).tobytes())
        if sample.total_charge is not None:
            digest.update(b"total_charge" + np.array([sample.total_charge]).tobytes())
        if sample.charges is not None:
            digest.update(b"charges" + np.ascontiguousarray(sample.charges).tobytes())
        if sample.fragments is not None:
            digest.update(b"fragments" + np.ascontiguousarray(sample.fragments).tobytes())
            digest.update(np.ascontiguousarray(sample.fragment_charges).tobytes())
    return "sha256:" + digest.hexdigest()


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


SPLITS = ("train", "validation", "test")


def split_by_key(frames, key: str) -> dict[str, list[int]]:
    """Frame indices per split read from each frame's info[key] ("train", "validation" or
    "test"; frames with another value, such as "unassigned", are left out and listed under
    "unused"). InputError naming the first frame without the key, or when no frame is
    for training."""
    out = {name: [] for name in (*SPLITS, "unused")}
    for index, atoms in enumerate(frames):
        if key not in atoms.info:
            raise InputError(f"split_key {key!r}: frame {index} has no info {key!r}")
        value = str(atoms.info[key])
        out[value if value in SPLITS else "unused"].append(index)
    if not out["train"]:
        raise InputError(f"split_key {key!r}: no frame has info {key!r} = 'train'")
    return out


def make_split(config, frames) -> dict[str, list[int]]:
    """The run's split: from the frames' info[config.split_key] when set, else the seeded
    random split of config.split (split_indices)."""
    if getattr(config, "split_key", None):
        return split_by_key(frames, config.split_key)
    return split_indices(len(frames), config.split, config.seed)


def attach_neighbors(samples, r_max: float, backend: str = "auto") -> None:
    """Compute and cache each sample's neighbor list at r_max (positions never change)."""
    for sample in samples:
        if sample.neighbors is None:
            sample.neighbors = neighbor_list(
                sample.positions, sample.cell, r_max, pbc=sample.pbc, backend=backend
            )


def collate(samples, r_max: float, dtype, device="cpu") -> tuple[Graph, dict]:
    """One Graph for a batch plus its labels: energy (B,), forces (N, 3) or None, counts (B,),
    stress (B, 3, 3) or None (None unless every frame has one), all on `device`; with total
    charges read (NequIP-LR) also total_charge (B,) e, pbc (a
    3-tuple per structure), charges (N,) e (0 where a frame has none) and charge_mask (N,);
    when a frame has fragments also fragment (N,) int64, numbered across the batch (a frame
    without them is one fragment), and fragment_charge (F,) e."""
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
        "stress": (
            torch.as_tensor(np.stack([s.stress for s in samples]), dtype=dtype, device=device)
            if samples and all(s.stress is not None for s in samples)
            else None
        ),
    }
    if any(s.total_charge is not None for s in samples):
        labels["total_charge"] = torch.tensor(
            [s.total_charge or 0.0 for s in samples], dtype=dtype, device=device
        )
        labels["pbc"] = [tuple(s.pbc) for s in samples]
        mask = np.concatenate([np.full(s.num_particles, s.charges is not None) for s in samples])
        charges = np.concatenate(
            [s.charges if s.charges is not None else np.zeros(s.num_particles) for s in samples]
        )
        labels["charges"] = torch.as_tensor(charges, dtype=dtype, device=device)
        labels["charge_mask"] = torch.as_tensor(mask, device=device)
        if any(s.fragments is not None for s in samples):
            labels.update(_collate_fragments(samples, dtype, device))
    return graph, labels


def _collate_fragments(samples, dtype, device) -> dict:
    """fragment (N,) int64 numbered across the batch and fragment_charge (F,) e."""
    fragments, charges, offset = [], [], 0
    for s in samples:
        if s.fragments is None:
            local, local_charges = np.zeros(s.num_particles, np.int64), [s.total_charge or 0.0]
        else:
            local, local_charges = s.fragments, s.fragment_charges
        fragments.append(local + offset)
        charges.append(np.asarray(local_charges, np.float64))
        offset += len(local_charges)
    return {
        "fragment": torch.as_tensor(np.concatenate(fragments), device=device),
        "fragment_charge": torch.as_tensor(np.concatenate(charges), dtype=dtype, device=device),
    }


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
