"""The charged / polar / apolar molecular dimer set (the "LODE" dimers; Angstrom, eV, e).

Each extxyz file holds one pair type (info `label`, e.g. CC, CA, PP): two rigid molecules A
(atoms before info `indexB`) and B at ten separations (info `distance`, Angstrom) in a
periodic 30 Angstrom cell, with the total energy and forces of the dimer, the molecules'
total charges (info chargeA, chargeB, e), their isolated energies (energyA, energyB, eV)
and the interaction energy inter_energy = energy - energyA - energyB (eV).

- `read_dimers`: the frames with info `total_charge` and a `split` per pair type by
  separation (the longest for test, the next for validation, the rest for training).
- `write_dimer_dataset`: a dataset folder `pgnfast train` reads (`units: atomistic`,
  `split_key: split`).
- `interaction_energies`: E(AB) - E(A) - E(B) of a model, each molecule alone in the cell.
- `closest_intermolecular_distances`: the shortest A-B atom distance per frame (Angstrom).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator

from ...errors import FileFormatError, InputError

REQUIRED_INFO = (
    "label",
    "chargeA",
    "chargeB",
    "energyA",
    "energyB",
    "indexB",
    "distance",
    "inter_energy",
)
DATASET_FILE = "dimers.extxyz"
SPLITS = ("train", "validation", "test")


def _frame_energy(atoms, where: str) -> float:
    results = getattr(atoms.calc, "results", {}) if atoms.calc is not None else {}
    if "energy" in results:
        return float(results["energy"])
    if "energy" in atoms.info:
        return float(atoms.info["energy"])
    raise InputError(f"{where}: it has no energy (info 'energy')")


def _frame_forces(atoms, where: str) -> np.ndarray:
    results = getattr(atoms.calc, "results", {}) if atoms.calc is not None else {}
    forces = results.get("forces", atoms.arrays.get("forces"))
    if forces is None:
        raise InputError(f"{where}: it has no per-atom forces (column 'forces')")
    forces = np.asarray(forces, np.float64)
    if forces.shape != (len(atoms), 3):
        raise InputError(f"{where}: forces have shape {forces.shape}, expected ({len(atoms)}, 3)")
    return forces


def _check_frame(atoms, where: str) -> None:
    """InputError naming `where` and the first missing or bad info key."""
    for key in REQUIRED_INFO:
        if key not in atoms.info:
            raise InputError(f"{where}: it has no info {key!r} (needs {list(REQUIRED_INFO)})")
    for key in ("chargeA", "chargeB", "energyA", "energyB", "distance", "inter_energy"):
        value = atoms.info[key]
        if isinstance(value, (bool, str)) or not np.isfinite(np.asarray(value, float)).all():
            raise InputError(f"{where}: info {key!r} = {value!r} must be a finite number")
    index_b = atoms.info["indexB"]
    if (
        not isinstance(index_b, (int, np.integer))
        or isinstance(index_b, bool)
        or not 0 < int(index_b) < len(atoms)
    ):
        raise InputError(f"{where}: info 'indexB' = {index_b!r} must lie in 1..{len(atoms) - 1}")


def assign_splits(frames, num_test: int = 2, num_validation: int = 2) -> None:
    """Set info `split` in place per pair type (info `label`) by separation: the num_test
    longest separations "test", the next num_validation "validation", the others "train".
    InputError when a pair type has too few frames to keep one for training."""
    if num_test < 0 or num_validation < 0:
        raise InputError(f"split counts must be >= 0, got {num_test} test, {num_validation} val.")
    by_label: dict[str, list] = {}
    for atoms in frames:
        by_label.setdefault(str(atoms.info["label"]), []).append(atoms)
    for label, group in by_label.items():
        if len(group) <= num_test + num_validation:
            raise InputError(
                f"pair type {label} has {len(group)} frames: too few for {num_test} test and "
                f"{num_validation} validation frames and at least one for training"
            )
        ordered = sorted(group, key=lambda atoms: -float(atoms.info["distance"]))
        for rank, atoms in enumerate(ordered):
            if rank < num_test:
                atoms.info["split"] = "test"
            elif rank < num_test + num_validation:
                atoms.info["split"] = "validation"
            else:
                atoms.info["split"] = "train"


def read_dimers(folder, num_test: int = 2, num_validation: int = 2) -> list:
    """ase.Atoms frames of every *.xyz file in `folder` (file name order), each with its
    energy (eV) and forces (eV/Angstrom) in a SinglePointCalculator, info `total_charge`
    (chargeA + chargeB, e), the molecules as fragments (per-atom column `fragment`: 0 for
    A, 1 for B; info `fragment_charges` [chargeA, chargeB], e; read by NequIP-LR with
    charge_constraint "fragments") and `split` (see assign_splits). FileFormatError for a folder
    without *.xyz files or an unreadable file; InputError naming the file, frame and key
    for a frame without one of REQUIRED_INFO, energy or forces."""
    from ...data.io import read_extxyz

    folder = Path(folder)
    paths = sorted(folder.glob("*.xyz"))
    if not paths:
        raise FileFormatError(f"dimer folder {folder} holds no *.xyz files")
    frames = []
    for path in paths:
        for index, atoms in enumerate(read_extxyz(path)):
            where = f"{path} frame {index}"
            _check_frame(atoms, where)
            energy, forces = _frame_energy(atoms, where), _frame_forces(atoms, where)
            frame = atoms.copy()
            frame.info = {k: v for k, v in atoms.info.items() if k not in ("energy", "forces")}
            frame.arrays.pop("forces", None)
            for key in ("chargeA", "chargeB", "energyA", "energyB", "distance", "inter_energy"):
                frame.info[key] = float(atoms.info[key])
            frame.info["indexB"] = int(atoms.info["indexB"])
            frame.info["label"] = str(atoms.info["label"])
            frame.info["total_charge"] = frame.info["chargeA"] + frame.info["chargeB"]
            _mark_fragments(frame)
            frame.calc = SinglePointCalculator(frame, energy=energy, forces=forces)
            frames.append(frame)
    assign_splits(frames, num_test, num_validation)
    return frames


def write_dimer_dataset(folder, out_folder, num_test: int = 2, num_validation: int = 2) -> Path:
    """Write the frames of read_dimers(folder) as a dataset folder: `dimers.extxyz` (energy,
    forces, info total_charge, split, label, distance, ...) and manifest.json recording the
    atomistic units (Angstrom, eV); returns the folder, the `data` of a `pgnfast train`
    config with `units: atomistic` and `split_key: split`."""
    from ..._atomic import write_json
    from ...data.io import MANIFEST, write_extxyz
    from ...units import ATOMISTIC

    frames = read_dimers(folder, num_test, num_validation)
    out_folder = Path(out_folder)
    out_folder.mkdir(parents=True, exist_ok=True)
    write_extxyz(out_folder / DATASET_FILE, frames)
    splits = {name: sum(f.info["split"] == name for f in frames) for name in SPLITS}
    manifest = {
        "shards": [{"file": DATASET_FILE, "frames": len(frames)}],
        "failures": [],
        "units": dict(ATOMISTIC),
        "split": splits,
        "source": Path(folder).name,
    }
    write_json(out_folder / MANIFEST, manifest)
    return out_folder


def _mark_fragments(frame) -> None:
    """Per-atom column `fragment` (0: molecule A, 1: B) and info `fragment_charges`."""
    index_b = int(frame.info["indexB"])
    frame.arrays["fragment"] = (np.arange(len(frame)) >= index_b).astype(np.int64)
    frame.info["fragment_charges"] = [float(frame.info["chargeA"]), float(frame.info["chargeB"])]


def _dimer_and_molecules(atoms) -> tuple:
    """(the dimer with its fragments, molecule A alone, molecule B alone) in the frame's
    cell, each with info total_charge (chargeA + chargeB, chargeA, chargeB) and no
    calculator."""
    dimer = atoms.copy()
    dimer.calc = None
    dimer.info = {key: atoms.info[key] for key in ("chargeA", "chargeB", "indexB")}
    dimer.info["total_charge"] = float(atoms.info["chargeA"]) + float(atoms.info["chargeB"])
    _mark_fragments(dimer)
    index_b = int(atoms.info["indexB"])
    parts = [dimer]
    for part, key in ((dimer[:index_b], "chargeA"), (dimer[index_b:], "chargeB")):
        part = part.copy()
        del part.arrays["fragment"]
        part.info = {"total_charge": float(atoms.info[key])}
        parts.append(part)
    return tuple(parts)


def _calculator(calculator_or_model):
    """A fresh PGNCalculator (reading info total_charge) for a PGNCalculator, a model module
    or a model file path."""
    import torch

    from ...calculators.ase import PGNCalculator

    if isinstance(calculator_or_model, PGNCalculator):
        return PGNCalculator(
            calculator_or_model.model, neighbor_backend=calculator_or_model.neighbor_backend
        )
    if isinstance(calculator_or_model, torch.nn.Module):
        return PGNCalculator(calculator_or_model)
    return PGNCalculator(calculator_or_model, units="atomistic")


def _energy_of(calculator, atoms) -> float:
    return float(calculator.get_potential_energy(atoms))


def interaction_energies(calculator_or_model, frames) -> np.ndarray:
    """(F,) eV: E(AB) - E(A alone) - E(B alone) per frame, every energy from the model in
    the frame's periodic cell, with total charges chargeA + chargeB, chargeA and chargeB (e)
    (and the dimer's molecules as fragments, for a model that keeps fragment charges).
    calculator_or_model: a PGNCalculator, a NequIP / NequIP-LR module or a model file path
    (loaded by pgnfast.nn.io.load_model, checked to be in atomistic units)."""
    calculator = _calculator(calculator_or_model)
    out = np.empty(len(frames))
    for index, atoms in enumerate(frames):
        for key in ("chargeA", "chargeB", "indexB"):
            if key not in atoms.info:
                raise InputError(f"frame {index}: it has no info {key!r}")
        dimer, molecule_a, molecule_b = (
            _energy_of(calculator, part) for part in _dimer_and_molecules(atoms)
        )
        out[index] = dimer - molecule_a - molecule_b
    return out


def closest_intermolecular_distances(frames) -> np.ndarray:
    """(F,) Angstrom: the shortest distance between an atom of A and one of B per frame
    (minimum image in periodic directions)."""
    from ase.geometry import get_distances

    out = np.empty(len(frames))
    for index, atoms in enumerate(frames):
        index_b = int(atoms.info["indexB"])
        _, distances = get_distances(
            atoms.positions[:index_b], atoms.positions[index_b:], cell=atoms.cell, pbc=atoms.pbc
        )
        out[index] = float(distances.min())
    return out
