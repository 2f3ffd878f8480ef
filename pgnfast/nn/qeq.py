"""Charge equilibration (Qeq): the charges that minimise, per structure,

    E(q) = sum_i (chi_i q_i + J_i q_i^2 / 2) + 1/2 q^T A q   subject to   sum_i q_i = Q_total,

with A the Coulomb matrix of `pgnfast.nn.electrostatics` (Gaussian or point charges; Ewald
for periodic structures). Solved densely (the exact reference path, cubic in the atoms of a
structure) from the augmented linear system

    [[A + diag(J), 1], [1^T, 0]] [q; mu] = [-chi; Q_total]

with torch.linalg.solve, so forces taken by autograd include the charges' response to the
positions (and cell, widths, chi, J). Units: chi in eV/e, J in eV/e^2, charges in e,
energies in eV, lengths in Angstrom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError
from ..geometry import check_pbc
from ..validation import check_finite, check_indices
from .electrostatics import COULOMB_CONSTANT, DEFAULT_ACCURACY, coulomb_matrix

__all__ = ["QeqResult", "qeq"]


@dataclass
class QeqResult:
    """charges (N,) e; per structure (B,): energy (the minimised E(q), eV),
    electrostatic_energy (1/2 q^T A q, eV) and chemical_potential (the multiplier mu of
    the charge constraint, eV/e: dE/dq_i = -mu at the minimum)."""

    charges: torch.Tensor
    energy: torch.Tensor
    electrostatic_energy: torch.Tensor
    chemical_potential: torch.Tensor


def _per_atom(values, name: str, n: int, like: torch.Tensor) -> torch.Tensor:
    if not isinstance(values, torch.Tensor) or tuple(values.shape) != (n,):
        shape = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values)
        raise InputError(f"{name} must be a ({n},) torch tensor like positions, got {shape}")
    check_finite(values, name)
    return values.to(dtype=like.dtype, device=like.device)


def _total_charges(total_charge, count: int, like: torch.Tensor) -> torch.Tensor:
    """(B,) total charges from a number or a (B,) sequence/tensor, all finite."""
    if isinstance(total_charge, torch.Tensor):
        totals = total_charge.to(dtype=like.dtype, device=like.device)
    else:
        try:
            totals = torch.as_tensor(np.asarray(total_charge, dtype=np.float64), device=like.device)
        except (TypeError, ValueError) as error:
            message = f"total_charge must be a number or numbers, got {total_charge!r}"
            raise InputError(message) from error
        totals = totals.to(like.dtype)
    if totals.dim() == 0:
        totals = totals.expand(count)
    if tuple(totals.shape) != (count,):
        raise InputError(
            f"total_charge must be a number or have one entry per structure ({count},), "
            f"got shape {tuple(totals.shape)}"
        )
    bad = ~torch.isfinite(totals)
    if bool(bad.any()):
        b = int(torch.nonzero(bad)[0])
        raise InputError(f"total_charge of structure {b} is not finite: {float(totals[b])}")
    return totals


def _per_structure(value, count: int, name: str, per_item_dim: int):
    """A list of `count` entries from one shared value or a per-structure stack."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return [value] * count
    if isinstance(value, (list, tuple)) and len(value) == count and count != 3:
        return list(value)
    array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if array.ndim == per_item_dim:
        return [value] * count
    if array.ndim == per_item_dim + 1 and array.shape[0] == count:
        return [value[b] for b in range(count)]
    raise InputError(
        f"{name} must be shared by all structures or given per structure "
        f"(leading dimension {count}), got shape {array.shape}"
    )


def qeq(
    electronegativity: torch.Tensor,
    hardness: torch.Tensor,
    positions: torch.Tensor,
    widths: torch.Tensor | None = None,
    *,
    batch: torch.Tensor | None = None,
    num_structures: int | None = None,
    total_charge=0.0,
    cell=None,
    pbc=False,
    include_self: bool = True,
    accuracy: float = DEFAULT_ACCURACY,
    coulomb_constant: float = COULOMB_CONSTANT,
) -> QeqResult:
    """Equilibrated charges of one or more structures.

    electronegativity chi (N,) eV/e, hardness J (N,) eV/e^2 (>= 0), positions (N, 3)
    Angstrom, widths (N,) Angstrom (None: point charges, which need J > 0 without a cell).
    batch (N,) int64 structure of each atom (None: one structure); num_structures B
    (default batch.max() + 1). total_charge: a number or (B,) e. cell: None, (3, 3) shared
    or (B, 3, 3); pbc: a bool, three bools, or one of those per structure. Periodic
    structures use the Ewald Coulomb matrix at `accuracy`.
    Raises InputError for mismatched lengths, a non-finite total charge, a structure with
    no atoms, negative hardness, or a periodic structure without a cell.
    """
    if not isinstance(positions, torch.Tensor) or positions.dim() != 2 or positions.shape[1] != 3:
        raise InputError("positions must be an (N, 3) torch tensor")
    n = positions.shape[0]
    chi = _per_atom(electronegativity, "electronegativity", n, positions)
    hardness = _per_atom(hardness, "hardness", n, positions)
    negative = hardness < 0
    if bool(negative.any()):
        i = int(torch.nonzero(negative)[0])
        raise InputError(f"hardness must be >= 0: hardness[{i}] = {float(hardness[i])}")
    if widths is not None:
        widths = _per_atom(widths, "widths", n, positions)
    if batch is None:
        batch = torch.zeros(n, dtype=torch.int64, device=positions.device)
        count = 1 if num_structures is None else int(num_structures)
    else:
        if num_structures is not None:
            count = int(num_structures)
        else:
            count = int(batch.max()) + 1 if batch.numel() else 0
        check_indices(batch, max(count, 1), "batch", n)
    if count < 1:
        raise InputError("qeq needs at least one structure (got none)")
    totals = _total_charges(total_charge, count, positions)
    cells = _per_structure(cell, count, "cell", 2)
    pbcs = _per_structure(pbc, count, "pbc", 1)

    order, pieces = [], []
    energies, electrostatic, potentials = [], [], []
    for b in range(count):
        atoms = torch.nonzero(batch == b).reshape(-1)
        if atoms.numel() == 0:
            raise InputError(
                f"structure {b} has no atoms: its charge constraint (total_charge "
                f"{float(totals[b])}) cannot be met"
            )
        q, mu, matrix = _solve_one(
            chi[atoms],
            hardness[atoms],
            positions[atoms],
            None if widths is None else widths[atoms],
            totals[b],
            cells[b],
            pbcs[b],
            include_self=include_self,
            accuracy=accuracy,
            coulomb_constant=coulomb_constant,
        )
        coulomb = 0.5 * q @ matrix @ q
        energies.append(chi[atoms] @ q + 0.5 * (hardness[atoms] * q**2).sum() + coulomb)
        electrostatic.append(coulomb)
        potentials.append(mu)
        order.append(atoms)
        pieces.append(q)
    charges = positions.new_zeros(n).index_copy(0, torch.cat(order), torch.cat(pieces))
    return QeqResult(
        charges=charges,
        energy=torch.stack(energies),
        electrostatic_energy=torch.stack(electrostatic),
        chemical_potential=torch.stack(potentials),
    )


def _solve_one(chi, hardness, positions, widths, total, cell, pbc, **options):
    """(charges (n,), mu, Coulomb matrix (n, n)) of one structure."""
    periodic = any(check_pbc(pbc))
    matrix = coulomb_matrix(
        positions,
        widths,
        cell=cell if periodic else None,
        pbc=pbc,
        include_self=options["include_self"],
        accuracy=options["accuracy"],
        coulomb_constant=options["coulomb_constant"],
    )
    if not periodic and widths is None and not bool((hardness > 0).all()):
        i = int(torch.nonzero(hardness <= 0)[0])
        raise InputError(
            f"point charges without a cell need hardness > 0: hardness[{i}] = "
            f"{float(hardness[i])} (their Coulomb matrix has a zero diagonal)"
        )
    m = positions.shape[0]
    ones = positions.new_ones(m, 1)
    system = torch.cat(
        [
            torch.cat([matrix + torch.diag(hardness), ones], dim=1),
            torch.cat([ones.T, positions.new_zeros(1, 1)], dim=1),
        ],
        dim=0,
    )
    rhs = torch.cat([-chi, total.reshape(1)])
    try:
        solution = torch.linalg.solve(system, rhs)
    except torch.linalg.LinAlgError as error:
        raise InputError(
            "the Qeq system of a structure is singular: check its hardness and widths"
        ) from error
    return solution[:m], solution[m], matrix
