"""LAMMPS fix external against ASE's velocity Verlet and against LAMMPS's own lj/cut; ASE's
integrators and the model calculator with pgnfast potentials and models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.calculators.calculator import PropertyNotImplementedError

from pgnfast.md.ase_md import run_md, thermalize
from pgnfast.md.calculator import ModelCalculator, as_force_field
from pgnfast.nn.direct_force import DirectForceModel
from pgnfast.nn.graph import build_graph
from pgnfast.nn.model import NequIP
from pgnfast.systems.argon import argon_lj, fcc_lattice, lammps_pair_commands


def _start(rng, temperature=20.0, n_cells=2, lattice_constant=5.26, jitter=0.03):
    atoms = fcc_lattice(n_cells, lattice_constant)
    atoms.positions += rng.normal(0.0, jitter, atoms.positions.shape)
    thermalize(atoms, temperature, int(rng.integers(1 << 30)))
    return atoms


def _nequip(seed):
    torch.manual_seed(seed)
    model = NequIP(
        r_max=5.0,
        num_layers=1,
        l_max=1,
        num_features=4,
        num_bessel=4,
        radial_mlp_width=8,
        avg_num_neighbors=20.0,
    ).double()
    model.set_energy_scale_shift([2e-3], [-0.08])
    model.units = {"length": "Angstrom", "energy": "eV"}
    return model.eval()


def _direct_force(seed):
    torch.manual_seed(seed)
    model = DirectForceModel(r_max=5.0, num_layers=1, num_features=8, num_bessel=4).double()
    model.set_avg_num_neighbors(20.0)
    model.set_force_scale(1e-3)
    return model.eval()


def _same_trajectory(a, b, cell, position_tol, energy_tol):
    """Positions equal up to whole periodic images, velocities and energies equal."""
    difference = a["positions"] - b["positions"]
    fractional = difference @ np.linalg.inv(cell)
    difference = (fractional - np.round(fractional)) @ cell
    assert np.abs(difference).max() < position_tol
    scale = np.abs(a["velocities"]).max()
    np.testing.assert_allclose(b["velocities"], a["velocities"], atol=1e-4 * scale, rtol=0)
    kinetic_scale = np.abs(a["kinetic_energy"]).max()
    np.testing.assert_allclose(
        b["kinetic_energy"], a["kinetic_energy"], atol=energy_tol * 10 * kinetic_scale, rtol=0
    )
    assert np.isnan(a["potential_energy"]).all() == np.isnan(b["potential_energy"]).all()
    if not np.isnan(a["potential_energy"]).any():
        np.testing.assert_allclose(b["potential_energy"], a["potential_energy"], rtol=energy_tol)


@pytest.mark.usefixtures("lammps_module")
def test_fix_external_equals_ase_verlet_exact_potential(rng):
    from pgnfast.md.fix_external import run_fix_external

    atoms = _start(rng)
    options = dict(steps=300, timestep=5.0, record_every=50, keep_positions=True)
    ase_run = run_md(atoms, argon_lj(), **options)
    lammps_run = run_fix_external(atoms, argon_lj(), **options)
    assert lammps_run["callbacks"] == 301
    assert len(ase_run["step"]) == len(lammps_run["step"]) == 7
    # the atoms move: the comparison is not of a standing start
    assert np.abs(ase_run["positions"][-1] - ase_run["positions"][0]).max() > 0.05
    _same_trajectory(ase_run, lammps_run, atoms.cell[:], 1e-6, 1e-7)


@pytest.mark.usefixtures("lammps_module")
@pytest.mark.parametrize("kind", ["nequip", "direct-force"])
def test_fix_external_equals_ase_verlet_models(rng, test_seed, kind):
    from pgnfast.md.fix_external import run_fix_external

    model = _nequip(test_seed) if kind == "nequip" else _direct_force(test_seed)
    atoms = _start(rng, temperature=30.0)
    options = dict(steps=200, timestep=5.0, record_every=40, keep_positions=True)
    ase_run = run_md(atoms, model, **options)
    lammps_run = run_fix_external(atoms, model, skin=0.5, **options)
    assert np.abs(ase_run["positions"][-1] - ase_run["positions"][0]).max() > 0.05
    _same_trajectory(ase_run, lammps_run, atoms.cell[:], 1e-6, 1e-7)


@pytest.mark.usefixtures("lammps_module")
@pytest.mark.parametrize("ensemble", ["nve", "npt"])
def test_fix_external_equals_native_lj_cut(rng, ensemble):
    """The Python callback reproduces LAMMPS's own lj/cut, virial included (NPT)."""
    from pgnfast.md.fix_external import run_fix_external, run_lammps_native

    atoms = _start(rng, temperature=30.0)
    options = dict(steps=200, timestep=5.0, record_every=50, keep_positions=True)
    if ensemble == "npt":
        options.update(ensemble="npt", temperature=30.0, pressure=float(rng.uniform(-500, 500)))
        options.update(barostat_damping=500.0)
    native = run_lammps_native(atoms, lammps_pair_commands(), **options)
    external = run_fix_external(atoms, argon_lj(), **options)
    if ensemble == "npt":
        assert np.ptp(native["volume"]) > 1e-3 * native["volume"][0]
        np.testing.assert_allclose(external["volume"], native["volume"], rtol=1e-8)
    np.testing.assert_allclose(external["positions"], native["positions"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(external["potential_energy"], native["potential_energy"], rtol=1e-8)


def _mean_late(record, key):
    values = record[key]
    return float(np.mean(values[len(values) // 2 :]))


@pytest.mark.parametrize("integrator", ["langevin", "nose-hoover"])
def test_ase_thermostats_pull_towards_the_target(rng, integrator):
    atoms = _start(rng, temperature=5.0)
    target = float(rng.uniform(40.0, 60.0))
    record = run_md(
        atoms,
        argon_lj(),
        steps=300,
        timestep=5.0,
        integrator=integrator,
        temperature=target,
        thermostat_damping=100.0,
        record_every=10,
        seed=int(rng.integers(1000)),
    )
    assert record["temperature"][0] < 10.0
    assert _mean_late(record, "temperature") > 0.5 * target


def test_ase_mtk_npt_compresses_under_pressure(rng):
    """MTK NPT through the model calculator (exact potential): a crystal held at 1 GPa is
    smaller on average than one held at zero pressure."""
    atoms = _start(rng, temperature=10.0)
    volumes = {}
    for pressure in (0.0, 1e4):
        record = run_md(
            atoms,
            argon_lj(),
            steps=100,
            timestep=5.0,
            integrator="mtk-npt",
            temperature=10.0,
            pressure=pressure,
            barostat_damping=1000.0,
            record_every=10,
        )
        volumes[pressure] = float(np.mean(record["volume"][1:]))
    assert volumes[1e4] < 0.95 * volumes[0.0]


def test_ase_mtk_npt_runs_on_a_model_stress(rng, test_seed):
    """NequIP under MTK NPT: its stress drives the cell (a few steps of an untrained
    model, whose equation of state means nothing)."""
    model = _nequip(test_seed)
    record = run_md(
        _start(rng, temperature=10.0),
        model,
        steps=10,
        timestep=5.0,
        integrator="mtk-npt",
        temperature=10.0,
        pressure=1e3,
        barostat_damping=500.0,
        record_every=5,
    )
    assert np.isfinite(record["volume"]).all()
    assert np.ptp(record["volume"]) > 0


def test_model_calculator_equals_the_model(rng, test_seed):
    model = _nequip(test_seed)
    atoms = _start(rng)
    calculator = ModelCalculator(model)
    atoms.calc = calculator
    graph = build_graph(
        [(atoms.positions, atoms.cell[:], None, True)], model.r_max, dtype=torch.float64
    )
    out = model(graph, compute_forces=True, compute_stress=True)
    energy = float(out["energy"][0].detach())
    assert atoms.get_potential_energy() == pytest.approx(energy, rel=1e-12)
    np.testing.assert_allclose(atoms.get_forces(), out["forces"].detach().numpy(), atol=1e-12)
    stress = out["stress"][0].detach().numpy()
    np.testing.assert_allclose(atoms.get_stress(voigt=False), stress, atol=1e-12)


def test_direct_force_calculator_gives_forces_only(rng, test_seed):
    model = _direct_force(test_seed)
    atoms = _start(rng)
    atoms.calc = ModelCalculator(model)
    expected = model.predict_forces(atoms.positions, atoms.cell[:])
    np.testing.assert_allclose(atoms.get_forces(), expected, atol=1e-12)
    assert as_force_field(model).has_energy is False
    for ask in (atoms.get_potential_energy, atoms.get_stress):
        with pytest.raises(PropertyNotImplementedError, match="has no energy"):
            ask()
