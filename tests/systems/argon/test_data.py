"""The argon lattice and data protocol at tiny sizes: crystalline at 10 K, disordered after
a ramp past melting, labels equal pgnfast's Lennard-Jones, deterministic for a seed."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from pgnfast.data.io import read_dataset
from pgnfast.md import lammps as lammps_helper
from pgnfast.systems.argon import (
    ArgonDataConfig,
    argon_lj,
    crystal_order,
    fcc_lattice,
    generate_dataset,
    lattice_msd,
    run_trajectory,
)
from pgnfast.systems.argon.data import resolve_engine
from pgnfast.units import ATOMISTIC


@pytest.fixture(params=["ase", "lammps"])
def engine(request):
    if request.param == "lammps":
        lammps_helper.load_mpi()
        pytest.importorskip("lammps")
    return request.param


def test_fcc_lattice(rng):
    n, a = int(rng.integers(1, 4)), float(rng.uniform(5.2, 5.4))
    atoms = fcc_lattice(n, a)
    assert len(atoms) == 4 * n**3 and atoms.pbc.all()
    np.testing.assert_allclose(atoms.cell[:], np.eye(3) * n * a)
    assert set(atoms.get_chemical_symbols()) == {"Ar"}
    np.testing.assert_allclose(atoms.get_masses(), 39.948)
    distances = atoms.get_all_distances(mic=True)[np.triu_indices(len(atoms), 1)]
    assert distances.min() == pytest.approx(a / np.sqrt(2))
    assert crystal_order(atoms.positions, atoms.cell[:], n) == pytest.approx(1.0)
    assert lattice_msd(atoms.positions, atoms.cell[:], n) == pytest.approx(0.0, abs=1e-20)


def _check_labels(frames, rtol=1e-12):
    potential = argon_lj()
    for frame in frames:
        energy, forces = potential.energy_forces(frame.positions, frame.cell[:])
        scale = np.abs(forces).max()
        assert frame.get_potential_energy() == pytest.approx(energy, rel=rtol)
        np.testing.assert_allclose(frame.get_forces(), forces, rtol=rtol, atol=rtol * scale)


def test_crystal_stays_on_its_sites_at_10_K(engine, test_seed):
    config = ArgonDataConfig(
        n_cells=2, npt_steps=300, nvt_steps=300, ramp_steps=0, hold_steps=0, frame_every=100,
        trajectories=1, engine=engine,
    )  # fmt: skip
    frames = run_trajectory(config, test_seed)
    assert [f.info["step"] for f in frames] == list(range(100, 601, 100))
    assert [f.info["stage_name"] for f in frames] == ["npt"] * 3 + ["nvt"] * 3
    assert {f.info["engine"] for f in frames} == {engine}
    for frame in frames:
        assert lattice_msd(frame.positions, frame.cell[:], 2) < 0.05  # Angstrom^2
        assert crystal_order(frame.positions, frame.cell[:], 2) > 0.95
        assert abs(frame.cell[0, 0] / (2 * 5.26) - 1) < 0.03  # NPT moved the box a little
    assert frames[-1].get_temperature() < 30.0
    _check_labels(frames)


def test_ramp_past_melting_disorders_the_crystal(engine, test_seed):
    # an expanded lattice (no NPT) melts at a few hundred K even at 32 atoms
    config = ArgonDataConfig(
        n_cells=2, lattice_constant=5.6, npt_steps=0, nvt_steps=200, ramp_steps=2000,
        hold_steps=0, ramp_ensemble="nvt", melt_temperature=800.0, frame_every=200,
        trajectories=1, engine=engine,
        thermostat_damping=100.0,
    )  # fmt: skip
    frames = run_trajectory(config, test_seed)
    first, last = frames[0], frames[-1]
    assert first.info["stage_name"] == "nvt" and last.info["stage_name"] == "ramp"
    assert last.info["target_temperature"] == pytest.approx(800.0)
    assert lattice_msd(first.positions, first.cell[:], 2) < 0.1
    assert lattice_msd(last.positions, last.cell[:], 2) > 2.0  # Angstrom^2: atoms left sites
    assert crystal_order(last.positions, last.cell[:], 2) < 0.6
    _check_labels(frames[-2:])


def test_trajectories_are_deterministic_for_a_seed(engine, test_seed):
    config = ArgonDataConfig(
        n_cells=2, npt_steps=100, nvt_steps=0, ramp_steps=100, hold_steps=50, frame_every=50,
        trajectories=1, engine=engine,
    )  # fmt: skip
    first = run_trajectory(config, test_seed)
    again = run_trajectory(config, test_seed)
    other = run_trajectory(config, test_seed + 1)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.positions, b.positions)
        np.testing.assert_array_equal(a.get_velocities(), b.get_velocities())
    assert not np.allclose(first[-1].positions, other[-1].positions)


def test_dataset_folder_records_units_and_reads_back(tmp_path, test_seed):
    config = ArgonDataConfig(
        n_cells=2, npt_steps=100, nvt_steps=100, ramp_steps=100, hold_steps=0,
        frame_every=100, trajectories=2, seed=test_seed, engine="ase",
    )  # fmt: skip
    out = generate_dataset(config, tmp_path / "argon")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["units"] == ATOMISTIC and manifest["engine"] == "ase"
    assert manifest["config"] == dataclasses.asdict(config)
    seeds = [shard["seed"] for shard in manifest["shards"]]
    assert seeds == config.trajectory_seeds() and len(set(seeds)) == 2
    frames = read_dataset(out, units="atomistic")
    assert len(frames) == 6
    assert [f.info["trajectory"] for f in frames] == [0, 0, 0, 1, 1, 1]
    assert all((f.arrays["type"] == 0).all() for f in frames)
    _check_labels(frames, rtol=1e-6)  # extxyz stores positions to 1e-8 Angstrom
    assert frames[0].get_velocities().std() > 0  # the state travels with the frame


def test_auto_engine_falls_back_to_ase_without_lammps(monkeypatch):
    monkeypatch.setattr(lammps_helper, "lammps_available", lambda: False)
    assert resolve_engine("auto") == "ase"
    assert resolve_engine("lammps") == "lammps"


def test_default_protocol_melts_at_constant_pressure(lammps_module, test_seed):
    # the default sizes (256 atoms, ramp and hold at 137.3 bar) end in the liquid; at the
    # 10 K crystal's volume the same ramp leaves the crystal intact (docs/argon.md)
    frames = run_trajectory(ArgonDataConfig(trajectories=1, engine="lammps"), test_seed)
    names = [f.info["stage_name"] for f in frames]
    assert names == ["npt"] * 10 + ["nvt"] * 10 + ["ramp"] * 80 + ["hold"] * 40
    assert frames[19].info["target_temperature"] == 10.0
    assert frames[99].info["target_temperature"] == pytest.approx(105.0)
    assert crystal_order(frames[19].positions, frames[19].cell[:], 4) > 0.9
    last = frames[-5:]
    assert max(crystal_order(f.positions, f.cell[:], 4) for f in last) < 0.25
    assert min(f.get_volume() / len(f) for f in last) > 45.0  # Angstrom^3 (crystal: 37.5)
    _check_labels(frames[-2:])


def test_ase_engine_ramps_npt_stages_as_a_staircase(monkeypatch, test_seed):
    from pgnfast.md import ase_md

    made = []
    original = ase_md._integrator

    def spy(atoms, stage, settings, rng, temperature=None):
        made.append((stage.name, stage.temperature if temperature is None else temperature))
        return original(atoms, stage, settings, rng, temperature)

    monkeypatch.setattr(ase_md, "_integrator", spy)
    config = ArgonDataConfig(
        n_cells=1, npt_steps=20, nvt_steps=0, ramp_steps=40, hold_steps=20, frame_every=10,
        melt_temperature=50.0, trajectories=1, engine="ase",
    )  # fmt: skip
    frames = run_trajectory(config, test_seed)
    assert [f.info["stage_name"] for f in frames] == ["npt"] * 2 + ["ramp"] * 4 + ["hold"] * 2
    ramp = [t for name, t in made if name == "ramp"]
    # one integrator per 10-step chunk, at the ramp's temperature in its middle
    assert ramp == pytest.approx([10.0 + 40.0 * (5 + 10 * k) / 40 for k in range(4)])
    assert [name for name, _ in made] == ["npt", "ramp", "ramp", "ramp", "ramp", "hold"]
    assert frames[5].info["target_temperature"] == pytest.approx(50.0)
