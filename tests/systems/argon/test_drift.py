"""NVE energy drift: the fit on synthetic series, the exact potential at small and large
timesteps, the direct-force model measured on the exact energy, both engines agreeing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgnfast.nn.direct_force import DirectForceModel
from pgnfast.systems.argon import EPSILON, argon_lj, fcc_lattice
from pgnfast.systems.argon.drift import drift_rate, nve_drift


def test_drift_rate_recovers_a_known_slope(rng):
    slope = float(rng.uniform(-1e-3, 1e-3))  # eV per atom per ns
    atoms = int(rng.integers(10, 100))
    time_fs = np.sort(rng.uniform(0, 5e3, 200))
    noise = rng.normal(0, 1e-7, time_fs.size)
    energy = atoms * (slope * time_fs / 1e6 + noise - 0.08)
    result = drift_rate(time_fs, energy, atoms)
    assert result["drift_ev_per_atom_per_ns"] == pytest.approx(slope, abs=1e-5)
    assert result["fluctuation_ev_per_atom"] == pytest.approx(1e-7, rel=0.2)


def test_exact_potential_drift_small_at_small_timestep_and_growing(rng):
    """Velocity Verlet with the exact potential: at 10 fs the drift is within what a few
    cutoff crossings of the unshifted potential explain; at 100 fs (near the stability
    limit of argon's fastest phonons) the energy error is several times larger. (At 32
    atoms over 8 ps the fitted slope itself is dominated by cutoff crossings, so the growth
    is checked on the fluctuation and the largest deviation.)"""
    atoms = fcc_lattice(2, 5.26)
    seed = int(rng.integers(1 << 30))
    duration = 8000.0
    results = {
        dt: nve_drift(
            atoms,
            argon_lj(),
            timestep=dt,
            steps=int(duration / dt),
            initial_temperature=20.0,
            record_every=max(1, int(40 / dt)),
            seed=seed,
        )
        for dt in (10.0, 100.0)
    }
    small, large = results[10.0], results[100.0]
    assert small["energy_source"] == "model"
    jump = abs(4 * EPSILON * (2.5**-12 - 2.5**-6))  # one pair crossing the 8.5 A cutoff
    bound = 10 * jump / len(atoms) / (duration * 1e-6)  # ten net crossings over the run
    assert abs(small["drift_ev_per_atom_per_ns"]) < bound
    assert large["fluctuation_ev_per_atom"] > 2 * small["fluctuation_ev_per_atom"]
    assert large["max_deviation_ev_per_atom"] > 2.5 * small["max_deviation_ev_per_atom"]


def _direct_force(seed):
    torch.manual_seed(seed)
    model = DirectForceModel(r_max=5.0, num_layers=1, num_features=8, num_bessel=4).double()
    model.set_avg_num_neighbors(20.0)
    model.set_force_scale(1e-3)
    return model.eval()


def test_direct_force_drift_uses_the_exact_energy(rng, test_seed):
    atoms = fcc_lattice(2, 5.26)
    result = nve_drift(
        atoms,
        _direct_force(test_seed),
        timestep=10.0,
        steps=40,
        initial_temperature=20.0,
        record_every=10,
        seed=int(rng.integers(1000)),
    )
    assert result["energy_source"] == "exact"
    exact = argon_lj().energy(atoms.positions, atoms.cell[:], None, True)
    assert result["total_energy_ev"][0] > exact  # kinetic energy on top of the lattice's
    assert len(result["time_fs"]) == 5


@pytest.mark.usefixtures("lammps_module")
def test_lammps_and_ase_engines_give_the_same_drift(rng):
    atoms = fcc_lattice(2, 5.26)
    options = dict(
        timestep=10.0,
        steps=200,
        initial_temperature=None,
        record_every=20,
        energy="exact",
    )
    from pgnfast.md.ase_md import thermalize

    thermalize(atoms, 20.0, int(rng.integers(1000)))
    ase_result = nve_drift(atoms, argon_lj(), engine="ase", **options)
    lammps_result = nve_drift(atoms, argon_lj(), engine="lammps", **options)
    np.testing.assert_allclose(
        lammps_result["total_energy_ev"], ase_result["total_energy_ev"], rtol=1e-7
    )
