"""A conservative integrator with the fused-kernel model conserves energy (NVE check).

Velocity Verlet with forces from ``backend="cpu"``: the total energy must fluctuate at the
O(dt^2) level; halving dt must cut the fluctuation about four times. Wrong forces (anything
but -grad E) add an energy change that does not shrink with dt, so the ratio falls towards
one. (A drift test of the mean energy is not used: on random starts the O(dt^2) oscillation
alone moves the mean of the last steps by up to 0.7 of the spread.)
"""

import numpy as np

import pgnfast
from pgnfast import _cpu  # noqa: F401  (the suite needs the compiled extension)
from pgnfast.testing import small_model


def run_nve(potential, positions, velocities, cell, types, dt, steps):
    """Velocity Verlet with unit masses; returns the total energy at every step (kT)."""
    x, v = positions.copy(), velocities.copy()
    energy, forces = potential.energy_forces(x, cell, types)
    totals = []
    for _ in range(steps):
        v += 0.5 * dt * forces
        x += dt * v
        energy, forces = potential.energy_forces(x, cell, types)
        v += 0.5 * dt * forces
        totals.append(energy + 0.5 * float((v * v).sum()))
    return np.array(totals)


def test_velocity_verlet_conserves_energy_with_fused_kernels(rng):
    assert "cpu" in pgnfast.ops.available_backends("cpu")
    model = small_model(backend="cpu", r_max=0.6, num_layers=2, l_max=2)
    potential = pgnfast.Potential(model)
    box = 1.3
    cell = np.eye(3) * box
    grid = np.stack(np.meshgrid(*[np.arange(3)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5
    positions = grid * box / 3 + rng.normal(0, 0.03, (27, 3))
    types = rng.integers(0, 2, 27)
    velocities = rng.normal(0, 0.3, (27, 3))
    velocities -= velocities.mean(axis=0)

    # the fused path gives the reference forces on this trajectory's start
    reference = pgnfast.Potential(small_model(backend="reference"))
    np.testing.assert_allclose(
        potential.energy_forces(positions, cell, types)[1],
        reference.energy_forces(positions, cell, types)[1],
        rtol=0,
        atol=1e-10,
    )

    kinetic = 0.5 * float((velocities**2).sum())
    # 0.3 time units: particles travel about 0.1 nm, neighbors cross r_max
    coarse = run_nve(potential, positions, velocities, cell, types, dt=0.0025, steps=120)
    fine = run_nve(potential, positions, velocities, cell, types, dt=0.00125, steps=240)
    spread_coarse, spread_fine = np.ptp(coarse), np.ptp(fine)
    assert spread_fine < 5e-3 * kinetic, (spread_fine, kinetic)
    assert 2.5 < spread_coarse / spread_fine < 6.0, (spread_coarse, spread_fine)
