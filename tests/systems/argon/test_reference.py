"""The exact reference: pgnfast's Lennard-Jones equals LAMMPS's lj/cut on argon frames to
1e-10 relative (energies, forces, per-atom energies)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pgnfast.systems import argon
from pgnfast.systems.argon import lattice_sites


def test_epsilon_is_the_exact_conversion_of_0_238_kcal_per_mol():
    assert argon.EPSILON == 0.238 * 4.184 / 96.48533212331002
    assert argon.EPSILON == pytest.approx(0.010321, abs=5e-7)
    lj = argon.argon_lj()
    assert (lj.sigma, lj.cutoff, lj.shift) == (3.4, 8.5, False)


def _fcc_jittered(rng, n_cells=4):
    positions, cell = lattice_sites(n_cells, float(rng.uniform(5.26, 5.30)))
    return positions + rng.normal(scale=0.1, size=positions.shape), cell


def _liquid_like(rng, n_atoms=256, lattice_constant=5.5, closest=2.9):
    """Random sequential addition at a liquid's density: no pair closer than `closest`."""
    length = lattice_constant * round((n_atoms / 4) ** (1 / 3))
    cell = np.eye(3) * length
    positions = np.empty((0, 3))
    while len(positions) < n_atoms:
        trial = rng.uniform(0, length, size=3)
        steps = positions - trial
        steps -= np.round(steps / length) * length
        if not len(steps) or np.min(np.einsum("ik,ik->i", steps, steps)) > closest**2:
            positions = np.vstack([positions, trial])
    return positions, cell


def _sheared(rng):
    positions, cell = _fcc_jittered(rng, n_cells=3)
    strain = np.eye(3) + np.tril(rng.uniform(-0.15, 0.15, size=(3, 3)), -1)
    return positions @ strain, cell @ strain


def _rotated_small(rng):
    positions, cell = _fcc_jittered(rng, n_cells=2)  # cutoff beyond half the box
    rotation = Rotation.random(random_state=int(rng.integers(2**31))).as_matrix()
    return positions @ rotation, cell @ rotation


FRAMES = {
    "fcc_jittered_256": _fcc_jittered,
    "liquid_like_256": _liquid_like,
    "sheared_triclinic_108": _sheared,
    "rotated_32": _rotated_small,
}


@pytest.mark.parametrize("kind", sorted(FRAMES))
def test_pgnfast_lj_equals_lammps_lj_cut(kind, rng, lammps_module):
    positions, cell = FRAMES[kind](rng)
    energy, forces, energies = argon.pgnfast_energy_forces(positions, cell)
    lammps_energy, lammps_forces, lammps_energies = argon.lammps_energy_forces(positions, cell)
    assert lammps_energy == pytest.approx(energy, rel=1e-10)
    scale = np.abs(forces).max()
    np.testing.assert_allclose(lammps_forces, forces, rtol=1e-10, atol=1e-10 * scale)
    np.testing.assert_allclose(
        lammps_energies, energies, rtol=1e-10, atol=1e-10 * np.abs(energies).max()
    )


@pytest.mark.parametrize("kind", ["fcc_jittered_256", "sheared_triclinic_108", "rotated_32"])
def test_label_stress_equals_lammps_virial_pressure(kind, rng, lammps_module):
    """The training labels' virial stress (pgnfast) against LAMMPS's `compute pressure NULL
    virial`, converted from bar with ASE's sign, to 1e-10 relative."""
    import ase

    positions, cell = FRAMES[kind](rng)
    frame = ase.Atoms(f"Ar{len(positions)}", positions=positions, cell=cell, pbc=True)
    stress = argon.label(frame).get_stress(voigt=False)
    *_, lammps_stress = argon.lammps_energy_forces(positions, cell, stress=True)
    np.testing.assert_allclose(lammps_stress, stress, rtol=1e-10, atol=1e-10 * np.abs(stress).max())


def test_label_stress_is_the_strain_derivative_of_the_energy(rng):
    """stress = dE/d strain / volume by central differences of the energy (no LAMMPS). The
    unshifted energy jumps at the cutoff, so the frame is drawn again until no pair lies
    within 1e-4 Angstrom of it (the strain steps move pairs by under 1e-5)."""
    import ase

    from pgnfast.potentials.pair import half_pairs

    while True:
        positions, cell = _sheared(rng)
        distances = half_pairs(positions, cell, argon.CUTOFF + 1e-3, True)[3]
        if np.min(np.abs(distances - argon.CUTOFF)) > 1e-4:
            break
    frame = ase.Atoms(f"Ar{len(positions)}", positions=positions, cell=cell, pbc=True)
    stress = argon.label(frame).get_stress(voigt=False)
    volume, step = abs(np.linalg.det(cell)), 1e-6
    numeric = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            strain = np.zeros((3, 3))
            strain[a, b] = strain[b, a] = step / 2 if a != b else step
            deform = [np.eye(3) + sign * strain for sign in (1, -1)]
            plus, minus = (argon.pgnfast_energy_forces(positions @ d, cell @ d)[0] for d in deform)
            numeric[a, b] = (plus - minus) / (2 * step) / volume
    np.testing.assert_allclose(stress, numeric, rtol=1e-6, atol=1e-6 * np.abs(stress).max())
