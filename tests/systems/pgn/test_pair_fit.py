"""fit_pair_potential (pgnfast.systems.pgn.pair_fit) on synthetic labeled frames: it recovers
known two-type pair forces, its held-out residual vanishes for pair labels and not for
many-body ones, it matches pair_force_residual for one type, and refuses bad input.
Units nm, kT/nm."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from pgnfast.potentials import TabulatedPair, TabulatedPairInputError
from pgnfast.potentials.pair import half_pairs
from pgnfast.systems.pgn.diagnostics import pair_force_residual
from pgnfast.systems.pgn.pair_fit import fit_pair_potential, force_residual

BOX, N, MIN_DISTANCE, CUTOFF = 4.0, 40, 0.7, 1.5
# soft repulsions eps (1 - r/c)^k per type pair: f = eps k / c (1 - r/c)^(k-1), kT/nm
SOFT = {(0, 0): (6.0, 3.0), (0, 1): (4.0, 2.5), (1, 1): (2.0, 4.0)}


def soft_force(r, a, b):
    eps, k = SOFT[min(a, b), max(a, b)]
    return eps * k / CUTOFF * (1.0 - r / CUTOFF) ** (k - 1)


def random_positions(rng, n=N):
    """n points in the periodic cubic box, no two closer than MIN_DISTANCE (nm)."""
    points = []
    while len(points) < n:
        x = rng.uniform(0.0, BOX, 3)
        if points:
            d = np.array(points) - x
            d -= np.round(d / BOX) * BOX
            if np.min(np.linalg.norm(d, axis=1)) < MIN_DISTANCE:
                continue
        points.append(x)
    return np.array(points)


def labeled_frame(positions, types, forces):
    atoms = Atoms(numbers=np.ones(len(positions), int), positions=positions, cell=np.eye(3) * BOX)
    atoms.pbc = True
    atoms.new_array("type", np.asarray(types, np.int64))
    atoms.calc = SinglePointCalculator(atoms, energy=0.0, forces=forces)
    return atoms


def pair_label(positions, types, pair_force):
    """Forces (N, 3) kT/nm of the pair force pair_force(r, type_i, type_j) (vectorised)."""
    cell = np.eye(3) * BOX
    i, j, vectors, r = half_pairs(positions, cell, CUTOFF, True)
    magnitude = np.zeros(len(r))
    for a in (0, 1):
        for b in (0, 1):
            chosen = (types[i] == a) & (types[j] == b)
            magnitude[chosen] = pair_force(r[chosen], a, b)
    on_j = (magnitude / r)[:, None] * vectors
    forces = np.zeros_like(positions)
    for axis in range(3):
        forces[:, axis] = np.bincount(j, on_j[:, axis], len(positions)) - np.bincount(
            i, on_j[:, axis], len(positions)
        )
    return forces


def many_body_label(positions):
    """Forces of E = sum_i rho_i^2 / 2, rho_i = sum_j (1 - r_ij/c)^2: not a pair sum."""
    cell = np.eye(3) * BOX
    i, j, vectors, r = half_pairs(positions, cell, CUTOFF, True)
    n = len(positions)
    w, dw = (1.0 - r / CUTOFF) ** 2, -2.0 / CUTOFF * (1.0 - r / CUTOFF)
    rho = np.bincount(i, w, n) + np.bincount(j, w, n)
    on_j = (-(rho[i] + rho[j]) * dw / r)[:, None] * vectors
    forces = np.zeros_like(positions)
    for axis in range(3):
        forces[:, axis] = np.bincount(j, on_j[:, axis], n) - np.bincount(i, on_j[:, axis], n)
    return forces


def frames_of(rng, count, label, num_types=2):
    frames = []
    for _ in range(count):
        positions = random_positions(rng)
        types = rng.integers(0, num_types, N)
        forces = (
            many_body_label(positions)
            if label == "many-body"
            else pair_label(positions, types, label)
        )
        frames.append(labeled_frame(positions, types, forces))
    return frames


def test_fit_recovers_a_force_the_spline_represents_exactly(rng):
    grid = np.linspace(0.6, CUTOFF, 12)
    truth = TabulatedPair(grid, rng.normal(0.0, 2.0, (3, 12)))
    frames = frames_of(rng, 12, lambda r, a, b: truth.pair_force(r, a, b))
    # the first knot lies below the closest pair (0.7 nm): no data, left out of the comparison
    supported = grid >= MIN_DISTANCE
    plain = fit_pair_potential(
        frames[:9], CUTOFF, knots=12, inner=0.6, ridge=0.0, validation_frames=frames[9:]
    )
    np.testing.assert_array_equal(plain.knots, grid)
    np.testing.assert_allclose(
        plain.pair_forces[:, supported], truth.pair_forces[:, supported], rtol=0, atol=1e-9
    )
    assert plain.fit_report["fit"] < 1e-10 and plain.fit_report["held-out"] < 1e-10
    assert plain.fit_report["frames"] == 9 and plain.fit_report["validation_frames"] == 3
    assert plain.fit_report["knots_without_data"] == {"0-0": [0], "0-1": [0], "1-1": [0]}
    # the default curvature penalty biases a wiggly force only slightly
    default = fit_pair_potential(frames[:9], CUTOFF, knots=12, inner=0.6)
    bias = np.abs(default.pair_forces[:, supported] - truth.pair_forces[:, supported]).max()
    assert bias < 1e-4 * np.abs(truth.pair_forces).max()


def test_fit_recovers_two_type_soft_repulsions_and_sees_many_body_labels(rng):
    frames = frames_of(rng, 30, soft_force)
    fitted = fit_pair_potential(frames[:24], CUTOFF, validation_frames=frames[24:])
    r = np.linspace(fitted.inner, CUTOFF - 1e-9, 300)
    for a, b in ((0, 0), (0, 1), (1, 1)):
        want = soft_force(r, a, b)
        error = np.max(np.abs(fitted.pair_force(r, a, b) - want)) / np.max(want)
        assert error < 5e-3, (a, b, error)
        assert fitted.pair_energy(r[::30], a, b) == pytest.approx(
            [
                SOFT[min(a, b), max(a, b)][0] * (1 - x / CUTOFF) ** SOFT[min(a, b), max(a, b)][1]
                for x in r[::30]
            ],
            rel=5e-3,
            abs=1e-4,
        )
    report = fitted.fit_report
    assert report["held-out"] < 2e-3 and report["fit"] < 2e-3
    assert set(report["pairs"]) == {"0-0", "0-1", "1-1"} and min(report["pairs"].values()) > 100
    assert report["knots_without_data"] == {}
    many_body = frames_of(rng, 30, "many-body")
    fitted = fit_pair_potential(many_body[:24], CUTOFF, validation_frames=many_body[24:])
    assert fitted.fit_report["held-out"] > 0.1 and fitted.fit_report["fit"] > 0.1
    assert fitted.fit_report["held-out"] == pytest.approx(force_residual(fitted, many_body[24:]))


def test_one_type_fit_matches_pair_force_residual(rng):
    frames = frames_of(rng, 10, soft_force, num_types=1)
    for atoms in frames:
        del atoms.arrays["type"]  # a one-type frame may have no type column
    expected = pair_force_residual(frames, [1.2], inner=0.69, knots=15, test_fraction=0.2)[1.2]
    fitted = fit_pair_potential(
        frames[:8], 1.2, knots=15, inner=0.69, ridge=0.0, validation_frames=frames[8:]
    )
    assert fitted.num_types == 1
    assert fitted.fit_report["fit"] == pytest.approx(expected["fit"], rel=1e-6)
    assert fitted.fit_report["held-out"] == pytest.approx(expected["held-out"], rel=1e-6)


def test_zero_force_at_cutoff_and_knots_without_data(rng):
    frames = frames_of(rng, 8, soft_force)
    pinned = fit_pair_potential(frames, CUTOFF, zero_force_at_cutoff=True)
    assert np.all(pinned.pair_forces[:, -1] == 0.0) and pinned.fit_report["fit"] < 5e-3
    # knots from 0.2 nm: those below the closest pair (0.7 nm) get no data; the curvature
    # penalty continues the force linearly there
    wide = fit_pair_potential(frames, CUTOFF, inner=0.2, knots=27)
    missing = wide.fit_report["knots_without_data"]
    assert set(missing) == {"0-0", "0-1", "1-1"} and all(
        0 in m and 5 in m for m in missing.values()
    )
    for row in range(3):
        empty = [k for k in missing[["0-0", "0-1", "1-1"][row]] if k + 2 < 27]
        curvature = np.diff(wide.pair_forces[row], 2)[empty]
        assert np.abs(curvature).max() < 1e-3 * np.abs(wide.pair_forces[row]).max()
    assert np.isfinite(wide.pair_forces).all() and wide.fit_report["fit"] < 5e-3


def test_fitted_potential_saves_with_its_report(rng, tmp_path):
    frames = frames_of(rng, 4, soft_force)
    fitted = fit_pair_potential(frames[:3], CUTOFF, knots=10, validation_frames=frames[3:])
    fitted.save(tmp_path / "pair.json")
    loaded = TabulatedPair.load(tmp_path / "pair.json")
    assert loaded.fit_report == fitted.fit_report
    assert loaded.fit_report["held-out"] == fitted.fit_report["held-out"] is not None


def test_bad_input_is_refused_with_a_clear_message(rng):
    frames = frames_of(rng, 2, soft_force)
    with pytest.raises(TabulatedPairInputError, match="cutoff must be larger than inner"):
        fit_pair_potential(frames, 1.0, inner=1.2)
    with pytest.raises(TabulatedPairInputError, match="knots must be an integer >= 2"):
        fit_pair_potential(frames, CUTOFF, knots=1)
    with pytest.raises(TabulatedPairInputError, match="cutoff must be a finite number > 0"):
        fit_pair_potential(frames, np.nan)
    with pytest.raises(TabulatedPairInputError, match="frames is empty"):
        fit_pair_potential([], CUTOFF)
    with pytest.raises(TabulatedPairInputError, match=r"frames\[0\].*out of range"):
        fit_pair_potential(frames, CUTOFF, num_types=1)
    with pytest.raises(TabulatedPairInputError, match=r"type pair \(0, 2\) has no pairs"):
        fit_pair_potential(frames, CUTOFF, num_types=3)
    with pytest.raises(TabulatedPairInputError, match="closer than cutoff"):
        fit_pair_potential(frames, 0.5)
    unlabeled = frames[0].copy()  # a copy drops the calculator: no forces
    with pytest.raises(TabulatedPairInputError, match=r"frames\[1\] has no forces"):
        fit_pair_potential([frames[1], unlabeled], CUTOFF)
    three_types = frames[1].copy()
    three_types.new_array("forces", frames[1].get_forces())
    three_types.arrays["type"][0] = 2
    with pytest.raises(TabulatedPairInputError, match="out of range"):
        fit_pair_potential(frames, CUTOFF, validation_frames=[three_types])
