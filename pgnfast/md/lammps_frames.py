"""Frames in and out of LAMMPS: pgnfast's (positions, cell rows, pbc) as a LAMMPS box and
atoms, read back by atom id, and single-point energies and forces of a LAMMPS pair style.

LAMMPS wants a restricted triclinic box (a along x, b in the xy plane, c with lz > 0): a
general right-handed cell is rotated into that form (:func:`lammps_box`) and the results
rotated back. Lengths, energies and forces are in the units the instance was made with
(``units metal``: Angstrom, eV, eV/Angstrom; velocities Angstrom/ps). One MPI process.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..geometry import check_cell, check_pbc
from ..validation import check_positions, check_positive, check_types
from .lammps import new_lammps


def lammps_box(cell) -> tuple[np.ndarray, np.ndarray]:
    """((lx, ly, lz, xy, xz, yz), rotation (3, 3)) of a right-handed `cell` (rows are box
    vectors): ``cell @ rotation`` is the LAMMPS cell, and positions rotate the same way."""
    cell = np.asarray(cell, dtype=np.float64)
    a, b, c = cell
    if np.linalg.det(cell) <= 0:
        raise InputError(
            f"cell must be right-handed (positive determinant) for LAMMPS, got {cell.tolist()}"
        )
    lx = np.linalg.norm(a)
    xy = b @ a / lx
    ly = np.sqrt(max(b @ b - xy * xy, 0.0))
    xz = c @ a / lx
    yz = (b @ c - xy * xz) / ly
    lz = np.sqrt(max(c @ c - xz * xz - yz * yz, 0.0))
    lammps_cell = np.array([[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, lz]])
    rotation = np.linalg.solve(cell, lammps_cell)
    return np.array([lx, ly, lz, xy, xz, yz]), rotation


def _bounding_cell(positions: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """(origin, diagonal cell) enclosing non-periodic `positions` with `margin` around."""
    low = positions.min(axis=0) - margin if len(positions) else np.zeros(3)
    high = positions.max(axis=0) + margin if len(positions) else np.ones(3)
    return low, np.diag(high - low)


def load_frame(lmp, positions, cell, pbc=True, *, types=None, masses=(1.0,), velocities=None):
    """Make the box and atoms of one frame in the fresh LAMMPS instance `lmp` (units and
    atom style set, no box yet); a cluster (no periodic direction) gets an orthogonal
    shrink-wrapped box, its cell ignored. types: (N,) 0-based ints (all 0 when None);
    masses: one per type; velocities: (N, 3) in LAMMPS's velocity unit, or None. Returns
    the rotation (3, 3) from the frame's axes to LAMMPS's (identity for a lower-triangular
    cell)."""
    positions = check_positions(positions)
    periodic = check_pbc(pbc)
    masses = [check_positive(m, f"masses[{k}]") for k, m in enumerate(np.ravel(masses))]
    if not masses:
        raise InputError("masses must give one mass per type, got none")
    n = len(positions)
    types = np.zeros(n, np.int64) if types is None else check_types(types, n, len(masses))
    cell = check_cell(cell, periodic)
    origin = np.zeros(3)
    if not any(periodic):  # a cluster: an orthogonal box around it, shrink-wrapped
        origin, cell = _bounding_cell(positions, 1.0)
    elif abs(np.linalg.det(cell)) < 1e-12 * np.prod(np.linalg.norm(cell, axis=1)):
        raise InputError("cell must span three dimensions for LAMMPS (give every row)")
    prism, rotation = lammps_box(cell)
    lammps_cell = cell @ rotation
    local = (positions - origin) @ rotation
    fractional = local @ np.linalg.inv(lammps_cell)
    for axis in range(3):
        if periodic[axis]:
            fractional[:, axis] -= np.floor(fractional[:, axis])
            fractional[:, axis] = np.where(fractional[:, axis] >= 1.0, 0.0, fractional[:, axis])
    local = fractional @ lammps_cell
    lx, ly, lz, xy, xz, yz = (repr(float(value)) for value in prism)
    boundary = " ".join("p" if p else "s" for p in periodic)
    lmp.command(f"boundary {boundary}")
    lmp.command(f"region pgnfast_box prism 0 {lx} 0 {ly} 0 {lz} {xy} {xz} {yz} units box")
    lmp.command(f"create_box {len(masses)} pgnfast_box")
    for index, mass in enumerate(masses):
        lmp.command(f"mass {index + 1} {mass!r}")
    flat_velocities = None
    if velocities is not None:
        velocities = check_positions(velocities, "velocities")
        if velocities.shape != positions.shape:
            raise InputError(
                f"velocities must have the shape of positions {positions.shape}, got "
                f"{velocities.shape}"
            )
        flat_velocities = (velocities @ rotation).reshape(-1).tolist()
    created = lmp.create_atoms(
        n,
        list(range(1, n + 1)),
        (types + 1).tolist(),
        local.reshape(-1).tolist(),
        flat_velocities,
        None,
        True,
    )
    if created != n:
        raise InputError(f"LAMMPS created {created} of the frame's {n} atoms")
    return rotation


def gather(lmp, name: str, columns: int = 3) -> np.ndarray:
    """Per-atom property `name` ("x", "v", "f", "id", ...) of every atom, in atom-id order:
    (N, columns) float64 (or (N,) for columns == 1)."""
    nlocal = lmp.extract_global("nlocal")
    ids = np.array(lmp.numpy.extract_atom("id")[:nlocal], dtype=np.int64)
    values = np.array(lmp.numpy.extract_atom(name)[:nlocal], dtype=np.float64)
    order = np.argsort(ids)
    return values[order] if columns > 1 else values[order].reshape(-1)


def read_box(lmp) -> tuple[np.ndarray, np.ndarray]:
    """(origin (3,), cell (3, 3) rows) of the LAMMPS box."""
    low, high, xy, yz, xz, _periodicity, _changed = lmp.extract_box()
    lx, ly, lz = np.subtract(high, low)
    return np.asarray(low, np.float64), np.array(
        [[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, lz]], dtype=np.float64
    )


def lammps_energy_forces(
    positions,
    cell,
    pbc,
    pair_commands,
    *,
    types=None,
    masses=(1.0,),
    units: str = "metal",
    stress: bool = False,
):
    """(energy, forces (N, 3), per-atom energies (N,)) of a frame under the pair style set
    by `pair_commands` (LAMMPS command strings, e.g. ``["pair_style lj/cut 8.5",
    "pair_coeff * * 0.0103 3.4"]``), in the frame's own axes. Units of `units`.
    stress=True (a fully periodic cell) appends the virial stress
    (3, 3) in energy per volume (eV/Angstrom^3 for metal): LAMMPS's virial pressure
    tensor with ASE's sign (dE/d strain / volume), no kinetic part."""
    if stress and not np.all(pbc):
        raise InputError(f"stress=True needs a fully periodic cell, got pbc {pbc!r}")
    if isinstance(pair_commands, str) or not all(isinstance(c, str) for c in pair_commands):
        raise InputError(f"pair_commands must be a list of LAMMPS commands, got {pair_commands!r}")
    lmp = new_lammps(units=units)
    try:
        rotation = load_frame(lmp, positions, cell, pbc, types=types, masses=masses)
        lmp.commands_list(list(pair_commands))
        lmp.commands_list(
            [
                "compute pgnfast_pe all pe/atom",
                "compute pgnfast_virial all pressure NULL virial",
                "thermo_style custom step pe",
                "thermo_modify norm no",  # total energy, not per atom (units lj's default)
            ]
        )
        lmp.command("run 0 post no")
        energy = float(lmp.get_thermo("pe"))
        forces = gather(lmp, "f") @ rotation.T
        from lammps import LMP_STYLE_ATOM, LMP_TYPE_VECTOR

        nlocal = lmp.extract_global("nlocal")
        ids = np.array(lmp.numpy.extract_atom("id")[:nlocal], dtype=np.int64)
        per_atom = np.array(
            lmp.numpy.extract_compute("pgnfast_pe", LMP_STYLE_ATOM, LMP_TYPE_VECTOR)[:nlocal],
            dtype=np.float64,
        )[np.argsort(ids)]
        if stress:
            from lammps import LMP_STYLE_GLOBAL

            xx, yy, zz, xy, xz, yz = np.array(
                lmp.numpy.extract_compute("pgnfast_virial", LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR)[:6],
                dtype=np.float64,
            )
            pressure = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
            # LAMMPS's own pressure conversion (nktv2p), so the energy per volume is exact
            virial_stress = -pressure / float(lmp.extract_global("nktv2p"))
            virial_stress = rotation @ virial_stress @ rotation.T
    finally:
        lmp.close()
    if stress:
        return energy, forces, per_atom, virial_stress
    return energy, forces, per_atom


__all__ = ["gather", "lammps_box", "lammps_energy_forces", "load_frame", "read_box"]
