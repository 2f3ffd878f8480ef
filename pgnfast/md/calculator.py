"""An ASE calculator for any pgnfast potential with the potential protocol
(:mod:`pgnfast.potentials.base`): energy, per-particle energies and forces, and for pair
potentials the stress (so ASE's barostats can use it). Units are the potential's (the argon
Lennard-Jones: Angstrom, eV, eV/Angstrom, eV/Angstrom^3)."""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from ..errors import InputError
from ..potentials.pair import PairPotential, half_pairs


def pair_results(potential: PairPotential, positions, cell, pbc=True, stress=False) -> dict:
    """energy, free_energy, energies (N,), forces (N, 3) and, when asked, the virial stress
    (3, 3) of a pair potential from one pair list. The stress is dE/d(strain) / volume
    (ASE's sign: a compressed crystal has a negative diagonal), without the kinetic part,
    and needs a fully periodic cell."""
    positions = np.asarray(positions, dtype=np.float64)
    n = len(positions)
    i, j, vectors, r = half_pairs(positions, cell, potential.cutoff, pbc)
    half_energy = 0.5 * potential.pair_energy(r)
    energies = np.bincount(i, half_energy, n) + np.bincount(j, half_energy, n)
    weights = potential.pair_derivative(r) / r
    pair_forces = -weights[:, None] * vectors  # on j; the opposite on i
    forces = np.stack(
        [
            np.bincount(j, pair_forces[:, axis], n) - np.bincount(i, pair_forces[:, axis], n)
            for axis in range(3)
        ],
        axis=1,
    )
    energy = float(np.sum(potential.pair_energy(r)))
    results = {"energy": energy, "free_energy": energy, "energies": energies, "forces": forces}
    if stress:
        virial = np.einsum("p,pa,pb->ab", weights, vectors, vectors)
        results["stress"] = virial / abs(np.linalg.det(np.asarray(cell, np.float64)))
    return results


def pair_stress(potential: PairPotential, positions, cell, pbc=True) -> np.ndarray:
    """The virial stress (3, 3) of a pair potential in a periodic cell (see pair_results)."""
    return pair_results(potential, positions, cell, pbc, stress=True)["stress"]


def voigt(stress: np.ndarray) -> np.ndarray:
    """ASE's Voigt order (xx, yy, zz, yz, xz, xy) of a (3, 3) stress."""
    return np.array(
        [stress[0, 0], stress[1, 1], stress[2, 2], stress[1, 2], stress[0, 2], stress[0, 1]]
    )


class PotentialCalculator(Calculator):
    """ASE calculator backed by a pgnfast potential (an object with ``energies`` and
    ``energy_forces``). Particle types come from the integer ``type`` column when the
    potential takes types, else None. stress only for pair potentials in fully periodic
    cells."""

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, potential, **kwargs):
        if not (hasattr(potential, "energy_forces") and hasattr(potential, "energies")):
            raise InputError(
                f"potential must offer energy_forces and energies (the pgnfast potential "
                f"protocol), got {type(potential).__name__}"
            )
        super().__init__(**kwargs)
        self.potential = potential

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        pbc = tuple(bool(p) for p in atoms.pbc)
        cell = np.asarray(atoms.cell[:], np.float64) if any(pbc) else None
        positions = np.asarray(atoms.positions, np.float64)
        want_stress = "stress" in properties
        if want_stress and not (all(pbc) and isinstance(self.potential, PairPotential)):
            raise InputError(
                "stress needs a pair potential and a fully periodic cell, got "
                f"{type(self.potential).__name__} with pbc={pbc}"
            )
        if isinstance(self.potential, PairPotential):
            # stress comes with the same pair list at little cost: always give it then
            results = pair_results(self.potential, positions, cell, pbc, stress=all(pbc))
            if "stress" in results:
                results["stress"] = voigt(results["stress"])
            self.results = results
            return
        types = atoms.arrays.get("type")
        energy, forces = self.potential.energy_forces(positions, cell, types, pbc)
        self.results = {
            "energy": float(energy),
            "free_energy": float(energy),
            "forces": np.asarray(forces, np.float64),
            "energies": np.asarray(self.potential.energies(positions, cell, types, pbc)),
        }


__all__ = ["PotentialCalculator", "pair_results", "pair_stress", "voigt"]
