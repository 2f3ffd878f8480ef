"""Minimum-energy paths on the Mueller-Brown surface (saddles located independently by Newton's
method), the batched band call counted, periodic interpolation, and the band adapters."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from pgnfast.analysis.paths import (
    FireSettings,
    ase_band,
    interpolate,
    neb,
    path_profile,
    potential_band,
    reparametrise,
    string_method,
)

A = np.array([-200.0, -100.0, -170.0, 15.0])
a = np.array([-1.0, -1.0, -6.5, 0.7])
b = np.array([0.0, 0.0, 11.0, 0.6])
c = np.array([-10.0, -10.0, -6.5, 0.7])
X0 = np.array([1.0, 0.0, -0.5, -1.0])
Y0 = np.array([0.0, 0.5, 1.5, 1.0])
FIRE = FireSettings(dt=1e-3, dt_max=1e-2, max_step=0.02)


def mueller_brown(xy):
    """Energy and gradient of the Mueller-Brown surface at points (..., 2)."""
    x = xy[..., 0, None] - X0
    y = xy[..., 1, None] - Y0
    terms = A * np.exp(a * x * x + b * x * y + c * y * y)
    gradient = np.stack(
        [(terms * (2 * a * x + b * y)).sum(-1), (terms * (b * x + 2 * c * y)).sum(-1)], -1
    )
    return terms.sum(-1), gradient


class CountingBand:
    """A band function of one particle on the surface (z ignored), recording each call's shape."""

    def __init__(self):
        self.shapes = []

    def __call__(self, positions):
        self.shapes.append(positions.shape)
        energy, gradient = mueller_brown(positions[:, 0, :2])
        forces = np.zeros_like(positions)
        forces[:, 0, :2] = -gradient
        return energy, forces


def _hessian(point, step=1e-5):
    rows = [
        (mueller_brown(point + step * e)[1] - mueller_brown(point - step * e)[1]) / (2 * step)
        for e in np.eye(2)
    ]
    return 0.5 * (np.array(rows) + np.array(rows).T)


def _newton(point, iterations=50):
    point = np.array(point, float)
    for _ in range(iterations):
        point = point - np.linalg.solve(_hessian(point), mueller_brown(point)[1])
    return point


def _minimum(guess):
    found = minimize(
        lambda p: mueller_brown(p)[0],
        guess,
        jac=lambda p: mueller_brown(p)[1],
        method="BFGS",
        options={"gtol": 1e-10},
    )
    return np.array([found.x[0], found.x[1], 0.0])[None]


@pytest.fixture(scope="module")
def surface():
    minima = [_minimum(g) for g in ([-0.55, 1.45], [0.62, 0.03], [-0.05, 0.47])]
    saddles = [_newton(g) for g in ([-0.82, 0.62], [0.21, 0.29])]
    for saddle in saddles:
        eigenvalues = np.linalg.eigvalsh(_hessian(saddle))
        assert eigenvalues[0] < 0 < eigenvalues[1]
        assert np.abs(mueller_brown(saddle)[1]).max() < 1e-8
    return minima, saddles


def _jittered_band(rng, first, last, n):
    band = interpolate(first, last, n, pbc=False)
    band[1:-1, 0, :2] += rng.normal(0.0, 0.03, (n - 2, 2))
    return band


@pytest.mark.parametrize("segment", [(0, 1, 0), (2, 1, 1)])
def test_neb_climbing_image_sits_on_the_saddle(surface, rng, segment):
    minima, saddles = surface
    start, end, which = segment
    n = int(rng.integers(9, 14))
    band = CountingBand()
    images = _jittered_band(rng, minima[start], minima[end], n)
    result = neb(
        band,
        minima[start],
        minima[end],
        n,
        pbc=False,
        spring=20.0,
        fmax=1e-3,
        fire=FIRE,
        max_steps=5000,
        images=images,
    )
    assert result.converged
    climbing = result.images[result.climbing_index, 0, :2]
    np.testing.assert_allclose(climbing, saddles[which], atol=1e-4)
    barrier = mueller_brown(saddles[which])[0] - mueller_brown(minima[start][0, :2])[0]
    assert result.barrier == pytest.approx(barrier, abs=1e-6)
    assert result.calls == len(band.shapes)
    assert band.shapes[0] == (n, 1, 3)
    assert all(shape == (n - 2, 1, 3) for shape in band.shapes[1:])
    np.testing.assert_array_equal(result.images[0], minima[start])


def test_string_method_finds_the_highest_saddle(surface, rng):
    minima, saddles = surface
    n = int(rng.integers(17, 24))
    band = CountingBand()
    result = string_method(
        band,
        minima[0],
        minima[1],
        n,
        pbc=False,
        fmax=5e-3,
        fire=FIRE,
        max_steps=5000,
        images=_jittered_band(rng, minima[0], minima[1], n),
    )
    assert result.converged
    assert result.calls == len(band.shapes)
    assert all(shape == (n - 2, 1, 3) for shape in band.shapes[1:])
    exact = mueller_brown(saddles[0])[0] - mueller_brown(minima[0][0, :2])[0]
    assert result.interpolated_barrier == pytest.approx(exact, rel=1e-3)
    assert result.barrier < exact + 1e-9  # images lie below the saddle
    # the string passes near both saddles and through the intermediate minimum
    path = result.images[:, 0, :2]
    for point in [*saddles, minima[2][0, :2]]:
        assert np.linalg.norm(path - point, axis=1).min() < 0.15
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    assert steps.std() / steps.mean() < 0.05  # equal arc length up to the spline's chords


def test_string_steepest_descent_agrees_with_fire(surface):
    minima, _ = surface
    common = dict(pbc=False, fmax=5e-3, max_steps=20000)
    fire = string_method(CountingBand(), minima[0], minima[2], 13, fire=FIRE, **common)
    descent = string_method(
        CountingBand(), minima[0], minima[2], 13, optimizer="sd", step_size=1e-4, **common
    )
    assert fire.converged and descent.converged
    assert fire.interpolated_barrier == pytest.approx(descent.interpolated_barrier, rel=1e-3)


def test_path_profile_interpolates_through_the_images(surface):
    minima, _ = surface
    result = neb(
        CountingBand(),
        minima[0],
        minima[2],
        7,
        pbc=False,
        spring=20.0,
        fmax=1e-2,
        fire=FIRE,
        max_steps=5000,
    )
    arc, energy = path_profile(result, points_per_segment=10)
    np.testing.assert_allclose(energy[::10], result.energies, rtol=0, atol=1e-12)
    assert np.all(np.diff(arc) > 0)


def test_periodic_band_uses_the_minimum_image(surface, rng):
    """The same path with the final point moved by a lattice vector of a random cell."""
    minima, _ = surface
    cell = np.diag(rng.uniform(8.0, 10.0, 3))
    cell[1, 0] = rng.uniform(-1.0, 1.0)
    shift = rng.integers(-2, 3, 3) @ cell
    plain = neb(
        CountingBand(),
        minima[0],
        minima[2],
        7,
        pbc=False,
        spring=20.0,
        fmax=1e-2,
        fire=FIRE,
        max_steps=5000,
    )
    moved = minima[2] + shift
    band = CountingBand()

    def periodic_band(x):  # the surface seen from the first image's periodic copy
        return band(x - np.round((x - plain.images[:1]) @ np.linalg.inv(cell)) @ cell)

    periodic = neb(
        periodic_band,
        minima[0],
        moved,
        7,
        cell=cell,
        spring=20.0,
        fmax=1e-2,
        fire=FIRE,
        max_steps=5000,
    )
    np.testing.assert_allclose(periodic.energies, plain.energies, atol=1e-9)
    start = interpolate(minima[0], moved, 5, cell=cell)
    np.testing.assert_allclose(start, interpolate(minima[0], minima[2], 5, pbc=False), atol=1e-12)


def test_reparametrise_spaces_images_equally(rng):
    images = np.cumsum(rng.uniform(0.1, 1.0, (9, 2, 3)), axis=0)
    moved = reparametrise(images)
    np.testing.assert_array_equal(moved[[0, -1]], images[[0, -1]])
    steps = np.linalg.norm(np.diff(moved, axis=0).reshape(8, -1), axis=1)
    assert steps.std() / steps.mean() < 0.1


def test_potential_band_batches_a_nequip_model_and_matches_single_calls(rng):
    import torch

    from pgnfast.nn.potential import Potential
    from pgnfast.testing import random_positions, small_model

    model = small_model(torch.float64, seed=int(rng.integers(1 << 30)))
    cell = 1.2 * np.eye(3)
    types = rng.integers(0, 2, 6)
    images = np.stack([random_positions(6, 1.2, rng, min_distance=0.24) for _ in range(3)])
    band = potential_band(model, cell, types)
    assert band.batched
    energies, forces = band(images)
    potential = Potential(model)
    for k, x in enumerate(images):
        energy, force = potential.energy_forces(x, cell, types)
        assert energies[k] == pytest.approx(energy, abs=1e-10)
        np.testing.assert_allclose(forces[k], force, rtol=0, atol=1e-10)


def test_ase_band_equals_potential_band(rng):
    from pgnfast.md.calculator import PotentialCalculator
    from pgnfast.systems.argon import argon_lj, fcc_lattice

    atoms = fcc_lattice(2, 5.26)
    images = atoms.positions[None] + rng.normal(0.0, 0.05, (3, len(atoms), 3))
    energies, forces = ase_band(PotentialCalculator(argon_lj()), atoms)(images)
    exact_energies, exact_forces = potential_band(argon_lj(), atoms.cell[:])(images)
    np.testing.assert_allclose(energies, exact_energies, rtol=1e-12)
    np.testing.assert_allclose(forces, exact_forces, rtol=0, atol=1e-12)
