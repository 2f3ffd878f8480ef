"""TabulatedPair (pgnfast.potentials.tabulated): the energy is the exact integral of the
tabulated force, forces are minus its gradient, a direct reference agrees, invariances, the
Monte Carlo engine runs it (single-particle and hybrid moves, inside CoreExclusion), files
round-trip, and bad input is refused. Units nm, kT."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.integrate import quad

import pgnfast.mc as mc
from pgnfast.dft.core_exclusion import CoreExclusion
from pgnfast.dft.design import PGNDesign
from pgnfast.errors import FileFormatError, UnitsError
from pgnfast.mc.forces import energies_forces_batch
from pgnfast.potentials import TabulatedPair, TabulatedPairInputError

INNER, CUTOFF = 0.6, 1.5


def random_potential(rng, knots=12, num_types=2) -> TabulatedPair:
    """Uneven knots from INNER to CUTOFF and a repulsive force with random wiggles per pair."""
    gaps = rng.uniform(0.3, 1.0, knots - 1)  # uneven, none shorter than ~ a third of another
    grid = INNER + (CUTOFF - INNER) * np.r_[0.0, np.cumsum(gaps) / gaps.sum()]
    grid[-1] = CUTOFF
    pairs = num_types * (num_types + 1) // 2
    smooth = 8.0 * (1.0 - grid / CUTOFF) ** 2
    return TabulatedPair(
        grid, smooth * rng.uniform(0.5, 2.0, (pairs, 1)) + rng.normal(0, 0.3, (pairs, knots))
    )


def reference_pair_energy(potential, r, pair) -> float:
    """phi(r) = int_r^cutoff f(s) ds by adaptive quadrature of the interpolated force."""
    knots, forces = potential.knots, potential.pair_forces[pair]

    def force(s):
        if s >= knots[0]:
            return np.interp(s, knots, forces)
        slope = (forces[1] - forces[0]) / (knots[1] - knots[0])
        return forces[0] + slope * (s - knots[0])

    if r >= potential.cutoff:
        return 0.0
    return quad(force, r, potential.cutoff, points=knots[knots > r], limit=200, epsabs=1e-13)[0]


def separated(rng, n, cell, min_distance):
    """n random points in the periodic cell (nm) no closer than min_distance (images too)."""
    inverse = np.linalg.inv(cell)
    points = []
    while len(points) < n:
        x = rng.random(3) @ cell
        if points:
            d = (np.array(points) - x) @ inverse
            d = (d - np.round(d)) @ cell
            if np.min(np.linalg.norm(d, axis=1)) < min_distance:
                continue
        points.append(x)
    return np.array(points)


def test_pair_energy_is_the_exact_integral_of_the_force_and_zero_beyond_the_cutoff(rng):
    potential = random_potential(rng)
    r = np.r_[rng.uniform(0.1, CUTOFF, 20), potential.knots[:-1], 0.3]
    for a, b in ((0, 0), (0, 1), (1, 0), (1, 1)):
        got = potential.pair_energy(r, a, b)
        pair = int(potential.pair_index(a, b))
        want = [reference_pair_energy(potential, x, pair) for x in r]
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-11)
    beyond = potential.pair_energy(np.array([CUTOFF, CUTOFF + 1e-12, 2.0, 30.0]), 0, 1)
    assert np.all(beyond == 0.0) and np.all(potential.pair_force([CUTOFF, 7.0], 1, 1) == 0.0)
    # continuous at the cutoff: phi(c - d) = f(c) d - f'(c) d^2 / 2
    delta = 1e-7
    left = potential.pair_energy(CUTOFF - delta, 1, 1)
    last = potential.pair_forces[2]
    slope = (last[-1] - last[-2]) / (potential.knots[-1] - potential.knots[-2])
    assert left == pytest.approx(last[-1] * delta - 0.5 * slope * delta**2, rel=1e-6, abs=1e-16)


def test_force_is_minus_the_energy_derivative_across_knots_below_inner_and_at_the_cutoff(rng):
    potential = random_potential(rng)
    h = 1e-6
    at_knots = potential.knots[1:-1]
    inside = np.r_[at_knots + 3 * h, at_knots - 3 * h, 0.3, INNER, CUTOFF - 2 * h]
    for a, b in ((0, 1), (1, 1)):
        row = int(potential.pair_index(a, b))

        def phi(r, a=a, b=b):
            return potential.pair_energy(r, a, b)

        # within a segment the energy is quadratic: central differences are exact
        numeric = -(phi(inside + h) - phi(inside - h)) / (2 * h)
        np.testing.assert_allclose(
            numeric, potential.pair_force(inside, a, b), rtol=1e-6, atol=1e-6
        )
        # at a knot both one-sided derivatives (exact for quadratics) give the knot's force
        right = -(-3 * phi(at_knots) + 4 * phi(at_knots + h) - phi(at_knots + 2 * h)) / (2 * h)
        left = -(3 * phi(at_knots) - 4 * phi(at_knots - h) + phi(at_knots - 2 * h)) / (2 * h)
        np.testing.assert_allclose(right, potential.pair_forces[row, 1:-1], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(left, potential.pair_forces[row, 1:-1], rtol=1e-6, atol=1e-6)
        # and the energy is continuous there
        np.testing.assert_allclose(phi(at_knots - 1e-12), phi(at_knots + 1e-12), atol=1e-10)


def test_forces_are_minus_the_gradient_of_the_total_energy(rng):
    potential = random_potential(rng)
    cell = np.array([[3.4, 0.0, 0.0], [0.5, 3.2, 0.0], [0.3, -0.4, 3.6]])  # triclinic
    positions = separated(rng, 24, cell, 0.5)
    types = rng.integers(0, 2, 24)
    energy, forces = potential.energy_forces(positions, cell, types)
    assert energy == pytest.approx(np.sum(potential.energies(positions, cell, types)), rel=1e-13)
    h = 1e-6
    for k in rng.choice(24, 5, replace=False):
        for axis in range(3):
            moved = positions.copy()
            moved[k, axis] += h
            up = potential.energy(moved, cell, types)
            moved[k, axis] -= 2 * h
            down = potential.energy(moved, cell, types)
            assert -(up - down) / (2 * h) == pytest.approx(forces[k, axis], rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("box", ["large orthorhombic", "small triclinic", "cluster"])
def test_energies_agree_with_a_direct_sum_over_images(rng, box):
    potential = random_potential(rng, knots=8)
    cells = {
        "large orthorhombic": np.diag([4.0, 3.5, 3.8]),
        "small triclinic": np.array([[2.2, 0.0, 0.0], [0.4, 2.4, 0.0], [-0.3, 0.2, 2.3]]),
        "cluster": np.eye(3) * 3.0,
    }
    cell = cells[box]
    periodic = box != "cluster"
    positions = separated(rng, 10, cell, 0.55)
    types = rng.integers(0, 2, 10)
    shifts = np.stack(np.meshgrid(*[np.arange(-2, 3)] * 3, indexing="ij"), -1).reshape(-1, 3)
    shifts = shifts @ cell if periodic else np.zeros((1, 3))
    want = np.zeros(10)
    for i in range(10):
        for j in range(10):
            distances = np.linalg.norm(positions[j] + shifts - positions[i], axis=1)
            for r in distances[(distances > 1e-12) & (distances < CUTOFF)]:
                pair = int(potential.pair_index(types[i], types[j]))
                want[i] += 0.5 * reference_pair_energy(potential, r, pair)
    got = potential.energies(positions, cell, types, pbc=periodic)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10)


def test_translation_and_permutation_invariance(rng):
    potential = random_potential(rng)
    cell = np.diag([3.5, 3.9, 3.3])
    positions = separated(rng, 30, cell, 0.5)
    types = rng.integers(0, 2, 30)
    energies = potential.energies(positions, cell, types)
    _, forces = potential.energy_forces(positions, cell, types)
    shifted = positions + rng.normal(0.0, 5.0, 3)
    np.testing.assert_allclose(potential.energies(shifted, cell, types), energies, atol=1e-11)
    np.testing.assert_allclose(potential.energy_forces(shifted, cell, types)[1], forces, atol=1e-10)
    order = rng.permutation(30)
    np.testing.assert_allclose(
        potential.energies(positions[order], cell, types[order]), energies[order], atol=1e-12
    )
    permuted = potential.energy_forces(positions[order], cell, types[order])[1]
    np.testing.assert_allclose(permuted, forces[order], atol=1e-12)
    assert abs(forces.sum(axis=0)).max() < 1e-10  # pairs: Newton's third law


def _small_design():
    """A bidisperse design with cores small enough for a 1.5 nm cutoff (nm, chains/nm^2)."""
    return PGNDesign(
        core_radius=[0.3, 0.24],
        grafting_density=1.0,
        chain_length=20,
        kuhn_length=1.0,
        segment_volume=0.5,
    )


def test_batched_energies_and_forces_inside_core_exclusion(rng):
    potential = random_potential(rng)
    wrapped = CoreExclusion(potential, _small_design())
    cell = np.eye(3) * 3.6
    systems = [
        (separated(rng, 20, cell, 0.6), cell, rng.integers(0, 2, 20), True) for _ in range(3)
    ]
    for (energies, forces), system in zip(energies_forces_batch(wrapped, systems), systems):
        np.testing.assert_allclose(energies, potential.energies(*system), rtol=1e-13)
        np.testing.assert_allclose(forces, potential.energy_forces(*system)[1], rtol=1e-13)
    overlapping = systems[0][0].copy()
    overlapping[1] = overlapping[0] + [0.2, 0.0, 0.0]  # cores overlap beyond the DFT's limit
    energies = wrapped.energies(overlapping, cell, systems[0][2])
    assert np.isinf(energies[[0, 1]]).all() and np.isfinite(energies[2:]).all()


@pytest.mark.parametrize("moves", ["single", "hybrid"])
def test_monte_carlo_runs_with_the_tabulated_pair_in_core_exclusion(rng, test_seed, moves):
    potential = random_potential(rng)
    wrapped = CoreExclusion(potential, _small_design())
    grid = np.stack(np.meshgrid(*[np.arange(4)] * 3, indexing="ij"), -1).reshape(-1, 3)
    positions = (grid + 0.5) * 1.3 + rng.normal(0.0, 0.05, (64, 3))
    cell = np.eye(3) * 5.2  # single moves: local clusters (pbc False), not full recomputation
    types = rng.integers(0, 2, 64)
    options = {"hybrid": {"trajectory_time": 0.2}} if moves == "hybrid" else {}
    pt = mc.ParallelTempering(
        wrapped,
        positions,
        cell,
        [1.0, 2.0],
        types=types,
        seed=test_seed,
        moves=moves,
        equilibration_sweeps=2,
        **options,
    )
    pt.run(4, quench_lowest=False)
    assert pt.total_accepted.sum() > 0 and pt.full_recompute == (moves == "hybrid")
    for state in pt.replicas:
        assert not wrapped.overlapping(state.positions, cell, types).any()
        np.testing.assert_allclose(
            state.energies, potential.energies(state.positions, cell, types), atol=1e-9
        )
    with pytest.raises(mc.MonteCarloInputError, match="out of range"):
        mc.ParallelTempering(wrapped, positions, cell, [1.0], types=np.full(64, 2))


def test_save_load_round_trip_and_refusals(rng, tmp_path):
    potential = random_potential(rng)
    potential.fit_report = {"fit": 0.1, "held-out": 0.2}
    path = tmp_path / "pair.json"
    potential.save(path)
    loaded = TabulatedPair.load(path)
    assert np.array_equal(loaded.knots, potential.knots)
    assert np.array_equal(loaded.pair_forces, potential.pair_forces)
    assert loaded.fit_report == potential.fit_report
    assert loaded.fingerprint() == potential.fingerprint()
    cell = np.eye(3) * 3.5
    positions, types = separated(rng, 15, cell, 0.5), rng.integers(0, 2, 15)
    assert np.array_equal(
        loaded.energies(positions, cell, types), potential.energies(positions, cell, types)
    )

    record = json.loads(path.read_text())
    record["units"] = {"length": "Angstrom", "energy": "eV"}
    (tmp_path / "angstrom.json").write_text(json.dumps(record))
    with pytest.raises(UnitsError, match="Angstrom"):
        TabulatedPair.load(tmp_path / "angstrom.json")
    assert TabulatedPair.load(tmp_path / "angstrom.json", units="atomistic").num_types == 2
    (tmp_path / "other.json").write_text(json.dumps({"format": "pgnfast.Model", "units": {}}))
    with pytest.raises(FileFormatError, match="not a tabulated pair potential file"):
        TabulatedPair.load(tmp_path / "other.json")
    (tmp_path / "model.pt").write_bytes(b"\x80\x02not json")
    with pytest.raises(FileFormatError, match="not JSON"):
        TabulatedPair.load(tmp_path / "model.pt")
    (tmp_path / "truncated.json").write_text(path.read_text()[:100])
    with pytest.raises(FileFormatError, match="truncated.json"):
        TabulatedPair.load(tmp_path / "truncated.json")
    record = json.loads(path.read_text())
    record["pair_forces"][1][3] = math.nan
    (tmp_path / "nan.json").write_text(json.dumps(record))
    with pytest.raises(FileFormatError, match="damaged.*finite"):
        TabulatedPair.load(tmp_path / "nan.json")
    with pytest.raises(FileFormatError, match="missing.json"):
        TabulatedPair.load(tmp_path / "missing.json")


def test_fingerprint_follows_the_forces_not_the_fit_report(rng):
    potential = random_potential(rng)
    same = TabulatedPair(potential.knots, potential.pair_forces, fit_report={"fit": 0.5})
    assert same.fingerprint() == potential.fingerprint()
    forces = potential.pair_forces.copy()
    forces[2, 4] += 1e-9
    assert TabulatedPair(potential.knots, forces).fingerprint() != potential.fingerprint()


def test_bad_input_is_refused_with_a_clear_message(rng):
    forces = np.ones((3, 5))
    with pytest.raises(TabulatedPairInputError, match="cutoff must be larger than inner"):
        TabulatedPair.uniform(1.5, 1.5, forces)
    with pytest.raises(TabulatedPairInputError, match="cutoff 1 nm <= inner 2 nm"):
        TabulatedPair.uniform(2.0, 1.0, forces)
    with pytest.raises(TabulatedPairInputError, match="finite, inner >= 0"):
        TabulatedPair.uniform(0.5, np.nan, forces)
    with pytest.raises(TabulatedPairInputError, match="cutoff must be larger than inner"):
        TabulatedPair([1.5, 1.2, 1.0], np.ones(3))
    with pytest.raises(TabulatedPairInputError, match="increase strictly"):
        TabulatedPair([0.5, 1.0, 0.9, 1.5], np.ones(4))
    bad = forces.copy()
    bad[1, 2] = np.nan
    with pytest.raises(TabulatedPairInputError, match=r"finite: row 1 \(type pair \(0, 1\)\)"):
        TabulatedPair.uniform(0.5, 1.5, bad)
    with pytest.raises(TabulatedPairInputError, match="T \\(T \\+ 1\\) / 2 rows"):
        TabulatedPair.uniform(0.5, 1.5, np.ones((2, 5)))
    with pytest.raises(TabulatedPairInputError, match="one column per knot"):
        TabulatedPair([0.5, 1.0, 1.5], np.ones((3, 4)))
    potential = TabulatedPair.uniform(0.5, 1.5, forces)
    cell = np.eye(3) * 4.0
    positions = rng.random((6, 3)) * 4.0
    with pytest.raises(TabulatedPairInputError, match="particle 2 has type 2, out of range"):
        potential.energies(positions, cell, [0, 1, 2, 0, 1, 0])
    with pytest.raises(TabulatedPairInputError, match="types is None.*2 particle types"):
        potential.energy_forces(positions, cell)
    with pytest.raises(TabulatedPairInputError, match="type_b must be integer types in 0..1"):
        potential.pair_energy(1.0, 0, 5)
