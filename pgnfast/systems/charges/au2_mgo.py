"""Au2 on MgO(001), undoped (Mg54 O54 Au2) and Al-doped (Mg51 Al3 O54 Au2): the 4G-HDNNP
benchmark set, converted from atomic units into pgnfast's atomistic units.

The source extxyz (e.g. nequip-lr's gold.extxyz) holds cell and positions in Bohr, the
energy in Hartree, forces in Hartree/Bohr and Hirshfeld charges (e) in the per-atom column
`initial_charges`. `read_au2_mgo` returns frames in Angstrom, eV, eV/Angstrom and e with the
charges in the per-atom column `charges`, info `total_charge` (e, the rounded sum of the
Hirshfeld charges), info `doped` and info `split` (a seeded split stratified by doped /
undoped); `write_au2_mgo_dataset` writes them as one extxyz that `pgnfast train` reads with
`units: atomistic`, `split_key: split` and `charges_key: charges`.

Conversion factors (CODATA 2018, the values of scipy.constants): 1 Bohr = 0.529177210903
Angstrom, 1 Hartree = 27.211386245988 eV, 1 Hartree/Bohr = 51.422067476326 eV/Angstrom.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import FileFormatError, InputError

BOHR_IN_ANGSTROM = 0.529177210903
HARTREE_IN_EV = 27.211386245988
HARTREE_PER_BOHR_IN_EV_PER_ANGSTROM = HARTREE_IN_EV / BOHR_IN_ANGSTROM
SOURCE_CHARGE_COLUMN = "initial_charges"
CHARGE_COLUMN = "charges"
DOPANT = "Al"
DATASET_FILE = "au2_mgo.extxyz"


def _labels(atoms, where: str) -> tuple[float, np.ndarray, np.ndarray]:
    """(energy Hartree, forces (N, 3) Hartree/Bohr, Hirshfeld charges (N,) e) of one source
    frame; FileFormatError naming the frame and the missing column."""
    results = getattr(atoms.calc, "results", {}) if atoms.calc is not None else {}
    energy = results.get("energy", atoms.info.get("energy"))
    if energy is None:
        raise FileFormatError(f"{where}: no energy (info `energy`, Hartree)")
    forces = results.get("forces", atoms.arrays.get("forces"))
    if forces is None:
        raise FileFormatError(f"{where}: no per-atom column `forces` (Hartree/Bohr)")
    charges = atoms.arrays.get(SOURCE_CHARGE_COLUMN, results.get("charges"))
    if charges is None:
        columns = sorted(k for k in atoms.arrays if k not in ("numbers", "positions"))
        raise FileFormatError(
            f"{where}: no per-atom column `{SOURCE_CHARGE_COLUMN}` (Hirshfeld charges, e); "
            f"columns {columns}"
        )
    forces, charges = np.asarray(forces, np.float64), np.asarray(charges, np.float64)
    if forces.shape != (len(atoms), 3) or charges.shape != (len(atoms),):
        raise FileFormatError(
            f"{where}: forces {forces.shape} and charges {charges.shape} do not fit "
            f"{len(atoms)} atoms"
        )
    return float(energy), forces, charges


def total_charge_of(charges, where: str, tolerance: float = 0.05) -> float:
    """The integer total charge (e) that the charges (N,) e sum to; InputError when their sum
    is further than `tolerance` e from every integer."""
    total = float(np.sum(charges))
    rounded = float(round(total))
    if abs(total - rounded) > tolerance:
        raise InputError(
            f"{where}: the Hirshfeld charges sum to {total:.4f} e, not within {tolerance} e "
            f"of an integer total charge"
        )
    return rounded + 0.0  # no -0.0


def stratified_split(groups, counts: dict[str, int], seed: int) -> list[str]:
    """Per frame "train", "validation", "test" (or "unused"): frames shuffled within each group
    (seeded), placed at the quantiles (rank + 1/2) / group size of their group and cut in
    that order into validation, test and train, so each split holds every group in
    proportion. groups: (F,) labels; counts: frames per split."""
    groups = np.asarray(groups)
    wanted = sum(counts.values())
    if any(int(c) != c or c < 0 for c in counts.values()) or wanted > len(groups):
        raise InputError(
            f"split counts {counts} must be non-negative integers summing to at most the "
            f"{len(groups)} frames"
        )
    rng = np.random.default_rng(seed)
    position = np.empty(len(groups))
    for group in np.unique(groups):
        members = rng.permutation(np.flatnonzero(groups == group))
        position[members] = (np.arange(len(members)) + 0.5) / len(members)
    order = np.lexsort((rng.random(len(groups)), position))
    names = ["unused"] * len(groups)
    start = 0
    for name in ("validation", "test", "train"):
        for index in order[start : start + int(counts.get(name, 0))]:
            names[index] = name
        start += int(counts.get(name, 0))
    return names


def read_au2_mgo(
    path,
    *,
    train: int = 80,
    validation: int = 10,
    test: int = 10,
    seed: int = 0,
    charge_tolerance: float = 0.05,
) -> list:
    """Frames (ase.Atoms) of the atomic-units Au2-MgO extxyz `path` in Angstrom, eV,
    eV/Angstrom (SinglePointCalculator energy and forces) and e (per-atom column `charges`,
    info `total_charge`), with info `doped` (an Al atom present) and info `split` from a
    seeded split stratified by doped / undoped (train / validation / test frame counts).
    FileFormatError for an unreadable file or a missing column, InputError for a total charge
    further than charge_tolerance e from an integer or split counts beyond the frames."""
    from ase.calculators.singlepoint import SinglePointCalculator

    from ...data.io import read_extxyz

    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"Au2-MgO data file {path} does not exist")
    frames = []
    for index, source in enumerate(read_extxyz(path)):
        where = f"{path} frame {index}"
        energy, forces, charges = _labels(source, where)
        atoms = source.copy()
        atoms.calc = None
        for column in (SOURCE_CHARGE_COLUMN, "forces", CHARGE_COLUMN):
            atoms.arrays.pop(column, None)
        atoms.info = {}
        atoms.positions = source.positions * BOHR_IN_ANGSTROM
        atoms.set_cell(source.cell[:] * BOHR_IN_ANGSTROM, scale_atoms=False)
        atoms.arrays[CHARGE_COLUMN] = charges.copy()
        atoms.info["total_charge"] = total_charge_of(charges, where, charge_tolerance)
        atoms.info["doped"] = DOPANT in source.get_chemical_symbols()
        atoms.calc = SinglePointCalculator(
            atoms,
            energy=energy * HARTREE_IN_EV,
            forces=forces * HARTREE_PER_BOHR_IN_EV_PER_ANGSTROM,
        )
        frames.append(atoms)
    counts = {"train": train, "validation": validation, "test": test}
    names = stratified_split([a.info["doped"] for a in frames], counts, seed)
    for atoms, name in zip(frames, names):
        atoms.info["split"] = name
    return frames


def write_au2_mgo_dataset(path, out_folder, **split_options) -> Path:
    """Convert `path` (read_au2_mgo, split_options passed on) into out_folder/au2_mgo.extxyz
    (Angstrom, eV, e; per-atom `charges`, info total_charge, doped, split) and return it."""
    from ...data.io import write_extxyz

    frames = read_au2_mgo(path, **split_options)
    out_folder = Path(out_folder)
    out_folder.mkdir(parents=True, exist_ok=True)
    return write_extxyz(out_folder / DATASET_FILE, frames)
