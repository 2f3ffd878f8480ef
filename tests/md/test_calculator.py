"""The ASE calculator for pgnfast potentials: forces and stress are derivatives of the
energy."""

from __future__ import annotations

import ase
import numpy as np
import pytest

from pgnfast.errors import InputError
from pgnfast.md.calculator import PotentialCalculator
from pgnfast.potentials import Harmonic, LennardJones


def _jittered_fcc(rng, n_cells=2, lattice_constant=1.6) -> ase.Atoms:
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    grid = np.array(
        [[i, j, k] for i in range(n_cells) for j in range(n_cells) for k in range(n_cells)]
    )
    positions = (grid[:, None] + basis[None]).reshape(-1, 3) * lattice_constant
    positions += rng.normal(scale=0.05, size=positions.shape)
    cell = np.eye(3) * n_cells * lattice_constant
    cell[1, 0] = 0.1  # triclinic
    return ase.Atoms("X" * len(positions), positions=positions, cell=cell, pbc=True)


def test_forces_and_stress_are_energy_derivatives(rng):
    atoms = _jittered_fcc(rng)
    atoms.calc = PotentialCalculator(LennardJones(epsilon=1.0, sigma=1.0, cutoff=2.5))
    forces = atoms.get_forces()
    np.testing.assert_allclose(atoms.get_potential_energies().sum(), atoms.get_potential_energy())
    atom, axis, h = int(rng.integers(len(atoms))), int(rng.integers(3)), 1e-5
    energies = []
    for sign in (1, -1):
        moved = atoms.copy()
        moved.calc = atoms.calc
        moved.positions[atom, axis] += sign * h
        energies.append(moved.get_potential_energy())
    assert forces[atom, axis] == pytest.approx(-(energies[0] - energies[1]) / (2 * h), rel=1e-6)
    stress = atoms.get_stress(voigt=False)
    a, b = int(rng.integers(3)), int(rng.integers(3))
    strained_energies = []
    for sign in (1, -1):
        strain = np.eye(3)
        strain[a, b] += sign * h
        strained = atoms.copy()
        strained.calc = atoms.calc
        strained.set_cell(atoms.cell[:] @ strain, scale_atoms=True)
        strained_energies.append(strained.get_potential_energy())
    derivative = (strained_energies[0] - strained_energies[1]) / (2 * h) / atoms.get_volume()
    assert stress[a, b] == pytest.approx(derivative, rel=1e-5, abs=1e-8)
    energy, forces = atoms.calc.potential.energy_forces(atoms.positions, atoms.cell[:])
    assert atoms.get_potential_energy() == pytest.approx(energy, rel=1e-13)
    np.testing.assert_allclose(atoms.get_forces(), forces, rtol=1e-12, atol=1e-13)


def test_stress_needs_a_pair_potential(rng):
    atoms = _jittered_fcc(rng)
    atoms.calc = PotentialCalculator(Harmonic(spring_constant=float(rng.uniform(1, 2))))
    atoms.get_potential_energy()
    with pytest.raises(InputError, match="stress needs a pair potential"):
        atoms.get_stress()
