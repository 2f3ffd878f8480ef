"""Local energy differences equal full recomputation; the cell list finds every image."""

from __future__ import annotations

import numpy as np
import pytest

import pgnfast.mc as mc
from pgnfast.mc.local import LocalEnergyChange, ReplicaState
from pgnfast.potentials import CoreRepulsion, Harmonic, LennardJones


def _state(potential, positions, cell, bin_width):
    energies = potential.energies(positions, cell, None, True)
    cells = mc.IncrementalCellList(positions, cell, bin_width)
    return ReplicaState(positions.copy(), energies, cells)


def _triclinic(box):
    return np.array([[box, 0, 0], [0.3 * box, 0.9 * box, 0], [-0.2 * box, 0.25 * box, 0.95 * box]])


def test_cell_list_query_finds_every_image():
    rng = np.random.default_rng(3)
    cell = _triclinic(2.0)
    positions = rng.random((40, 3)) @ cell + rng.normal(0, 2.0, (40, 3))  # unwrapped
    cells = mc.IncrementalCellList(positions, cell, 0.5)
    for _ in range(5):  # move some particles, then query
        k = int(rng.integers(40))
        positions[k] += rng.normal(0, 1.0, 3)
        cells.move(k, positions[k])
    center, radius = rng.random(3) * 2, 2.7  # radius larger than the box
    ids, shifts, images = cells.query(positions, center, radius)
    # brute force over a generous range of images
    span = np.arange(-6, 7)
    all_shifts = np.stack(np.meshgrid(span, span, span, indexing="ij"), -1).reshape(-1, 3)
    expected = set()
    for p in range(40):
        pts = positions[p] + all_shifts @ cell
        inside = np.linalg.norm(pts - center, axis=1) < radius
        expected |= {(p, *s) for s in all_shifts[inside].tolist()}
    found = {(int(p), *map(int, s)) for p, s in zip(ids, shifts)}
    assert found == expected
    np.testing.assert_allclose(images, positions[ids] + shifts @ cell)


@pytest.mark.parametrize("box", [3.0, 7.0])  # 3 nm: clusters hold several images of a particle
@pytest.mark.parametrize("name", ["lj", "core", "two_hop", "harmonic"])
def test_local_difference_equals_full_recomputation(name, box, two_hop):
    rng = np.random.default_rng(11)
    cell = _triclinic(box)
    n = 30 if box < 5 else 60
    positions = rng.random((n, 3)) @ cell
    potential = {
        "lj": LennardJones(epsilon=1.0, sigma=0.25, cutoff=1.1),
        "core": CoreRepulsion(epsilon=2.0, diameter=0.05, cutoff=0.9),
        "two_hop": two_hop,
        "harmonic": Harmonic(3.0, centers=rng.random((n, 3)) * box),
    }[name]
    types = np.arange(n) if name == "harmonic" else None
    state = ReplicaState(
        positions.copy(),
        potential.energies(positions, cell, types, True),
        mc.IncrementalCellList(positions, cell, 0.4),
    )
    evaluator = LocalEnergyChange(potential, cell, types)
    assert not evaluator.full
    for trial in range(12):
        k = int(rng.integers(n))
        new = state.positions[k] + rng.normal(0, 0.3, 3)
        (result,) = evaluator.evaluate([(state, k, new)])
        moved = state.positions.copy()
        moved[k] = new
        full_new = potential.energies(moved, cell, types, True)
        full_old = potential.energies(state.positions, cell, types, True)
        scale = 1e-12 * max(1.0, np.abs(full_old).sum())  # float64 rounding of large terms
        assert result.delta == pytest.approx(full_new.sum() - full_old.sum(), abs=scale)
        if trial % 2 == 0:  # accept: stored per-particle energies must stay exact
            state.positions[k] = new
            state.energies[result.particles] = result.new_energies
            state.cells.move(k, new)
            np.testing.assert_allclose(state.energies, full_new, rtol=1e-10, atol=scale)


def test_checkerboard_moves_are_additive(two_hop):
    """Moves in different active cells: the sum of their differences is the joint change."""
    box = 6.5
    positions = np.random.default_rng(2).random((1200, 3)) * box
    cell = np.eye(3) * box
    board = mc.Checkerboard(cell, two_hop.receptive_field, len(positions))
    assert board.active_per_batch >= 8
    state = ReplicaState(
        positions.copy(),
        two_hop.energies(positions, cell),
        mc.IncrementalCellList(positions, cell, 0.8),
    )
    rng = np.random.default_rng(0)
    particles, offset = board.choose(state.positions, rng)
    new = state.positions[particles] + rng.uniform(-0.2, 0.2, (len(particles), 3))
    stays = board.same_cell(state.positions[particles], new, offset)
    particles, new = particles[stays], new[stays]
    assert len(particles) >= 4
    results = LocalEnergyChange(two_hop, cell, None).evaluate(
        [(state, int(p), x) for p, x in zip(particles, new)]
    )
    moved = state.positions.copy()
    moved[particles] = new
    joint = two_hop.energy(moved, cell) - two_hop.energy(state.positions, cell)
    assert sum(r.delta for r in results) == pytest.approx(joint, abs=1e-10)
    touched = np.concatenate([r.particles for r in results])
    assert len(np.unique(touched)) == len(touched)  # affected sets are disjoint


def test_engine_energies_stay_exact_after_a_run(two_hop):
    positions = np.random.default_rng(4).random((700, 3)) * 6.5
    cell = np.eye(3) * 6.5
    pt = mc.ParallelTempering(two_hop, positions, cell, [1.0, 2.0], seed=5, equilibration_sweeps=2)
    assert pt.mode == "checkerboard"
    summary = pt.run(3)
    assert summary.moves > 0 and np.all(summary.acceptance > 0.05)
    for state in pt.replicas:
        np.testing.assert_allclose(
            state.energies, two_hop.energies(state.positions, cell), atol=1e-10
        )


def test_capped_batches_split_calls_and_give_the_same_differences(lattice):
    """max_batch_particles splits one evaluate into several energies_batch calls, same result."""

    class Counting(LennardJones):
        calls: list[int] = []

        def energies_batch(self, systems):
            self.calls.append(sum(len(s[0]) for s in systems))
            return super().energies_batch(systems)

    potential = Counting(cutoff=1.2)
    cell = np.eye(3) * 7.0
    positions = lattice(6, 7.0, 0.05, 2)
    state = _state(potential, positions, cell, 1.2)
    rng = np.random.default_rng(1)
    requests = [
        (state, int(k), positions[k] + rng.normal(0, 0.05, 3))
        for k in rng.choice(len(positions), 6, replace=False)
    ]
    whole = LocalEnergyChange(potential, cell, None, max_batch_particles=None).evaluate(requests)
    assert len(potential.calls) == 1
    potential.calls.clear()
    capped = LocalEnergyChange(potential, cell, None, max_batch_particles=60).evaluate(requests)
    assert len(potential.calls) > 1 and max(potential.calls) <= max(
        60, max(r.cluster_size for r in capped)
    )
    assert sum(potential.calls) == sum(r.cluster_size for r in whole)
    for a, b in zip(whole, capped):
        assert a.delta == b.delta
        np.testing.assert_array_equal(a.new_energies, b.new_energies)
