"""Lennard-Jones argon (issue 14), the foundation: the exact reference potential (pgnfast's
Lennard-Jones and LAMMPS's ``lj/cut``), the fcc lattice and the training-data protocol.
Units Angstrom, eV, fs, amu. See docs/argon.md."""

from .data import (
    ArgonDataConfig,
    crystal_order,
    fcc_lattice,
    generate_dataset,
    label,
    lattice_msd,
    lattice_sites,
    run_trajectory,
)
from .reference import (
    CUTOFF,
    EPSILON,
    MASS,
    SIGMA,
    argon_lj,
    lammps_energy_forces,
    lammps_pair_commands,
    pgnfast_energy_forces,
)

__all__ = [
    "CUTOFF",
    "EPSILON",
    "MASS",
    "SIGMA",
    "ArgonDataConfig",
    "argon_lj",
    "crystal_order",
    "fcc_lattice",
    "generate_dataset",
    "label",
    "lammps_energy_forces",
    "lammps_pair_commands",
    "lattice_msd",
    "lattice_sites",
    "pgnfast_energy_forces",
    "run_trajectory",
]
