"""Topology of explanations: hop distances and receptive fields on constructed graphs, H1
cycle counts (ring, tree, periodic ring), ripser against gudhi, and the p-value machinery
against exact enumeration."""

import itertools

import numpy as np
import pytest

from pgnfast.errors import InputError

pytest.importorskip("ripser")

from pgnfast.systems.glass.topology import (  # noqa: E402
    analyse_atom,
    count_h1_cycles,
    edge_atoms,
    edge_strata,
    empirical_p_value,
    h1_bars,
    h1_matched_null_counts,
    h1_null_counts,
    hop_distances,
    important_edges,
    receptive_field,
    summarise,
)


def _undirected(pairs):
    pairs = np.asarray(pairs)
    senders = np.concatenate([pairs[:, 0], pairs[:, 1]])
    receivers = np.concatenate([pairs[:, 1], pairs[:, 0]])
    order = np.argsort(receivers, kind="stable")
    return senders[order], receivers[order]


def _rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


def test_hop_distances_on_a_path_with_a_branch_and_a_one_way_edge(rng):
    # 0-1-2-3-4 path, 5 hangs on 2, 6 -> 4 only (no 4 -> 6), 7 isolated; labels permuted
    senders, receivers = _undirected([(0, 1), (1, 2), (2, 3), (3, 4), (2, 5)])
    senders, receivers = np.append(senders, 6), np.append(receivers, 4)
    expected_from_0 = np.array([0, 1, 2, 3, 4, 3, 5, -1])
    perm = rng.permutation(8)  # new label of old node k is perm[k]
    hops = hop_distances(perm[senders], perm[receivers], 8, perm[0], max_hops=10)
    np.testing.assert_array_equal(hops[perm], expected_from_0)
    capped = hop_distances(perm[senders], perm[receivers], 8, perm[0], max_hops=2)
    np.testing.assert_array_equal(capped[perm], np.where(expected_from_0 <= 2, expected_from_0, -1))
    from_6 = hop_distances(perm[senders], perm[receivers], 8, perm[6], max_hops=10)
    assert (from_6[perm][:6] == -1).all()  # nothing reaches 6: its only edge leaves it


def test_receptive_field_is_what_message_passing_reaches(rng):
    # brute force: propagate "depends on" sets through num_layers rounds of message passing
    n = 12
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.uniform() < 0.2]
    senders, receivers = _undirected(pairs)
    atom, layers = int(rng.integers(n)), 3
    field = receptive_field(senders, receivers, n, atom, layers)
    # edge e matters iff its message, sent in some layer l, reaches atom in the remaining
    # layers: receiver within layers - 1 hops of the atom
    reach = [{k} for k in range(n)]  # nodes whose layer-0 features reach node k
    for _ in range(layers):
        reach = [
            reach[k] | set().union(*[reach[s] for s in senders[receivers == k]]) for k in range(n)
        ]
    np.testing.assert_array_equal(field.nodes, sorted(reach[atom]))
    within = hop_distances(senders, receivers, n, atom, layers - 1)
    expected_edges = [e for e in range(len(senders)) if within[receivers[e]] >= 0]
    np.testing.assert_array_equal(field.edges, expected_edges)


def _ring(rng, points=12, radius=1.0, noise=0.01):
    angles = np.linspace(0, 2 * np.pi, points, endpoint=False) + rng.uniform(0, 2 * np.pi)
    ring = np.stack([radius * np.cos(angles), radius * np.sin(angles), np.zeros(points)], axis=1)
    return ring @ _rotation(rng).T + noise * rng.normal(size=ring.shape)


def _tree(rng, spacing=0.2):
    """Points every `spacing` along the six rays of a randomly rotated star (lengths random):
    a tree, no loops."""
    rays = np.concatenate([np.eye(3), -np.eye(3)]) @ _rotation(rng).T
    points = [np.zeros(3)]
    for ray in rays:
        steps = np.arange(1, int(rng.integers(3, 12)))[:, None] * spacing
        points.extend(steps * ray)
    return np.array(points)


def test_ring_has_one_cycle_and_a_tree_none(rng):
    assert count_h1_cycles(_ring(rng), min_persistence=0.3) == 1
    assert count_h1_cycles(_tree(rng), min_persistence=0.3) == 0
    # two separate rings: two cycles
    two = np.concatenate([_ring(rng), _ring(rng) + np.array([10.0, 0.0, 0.0])])
    assert count_h1_cycles(two, min_persistence=0.3) == 2


def test_periodic_ring_is_seen_through_the_minimum_image(rng):
    box = 5.0
    cell = np.diag([box, box, box])
    ring = _ring(rng, radius=1.0) + rng.uniform(0, box, 3)
    corner = ring - ring.mean(axis=0)  # centred on a corner of the box, then wrapped
    wrapped = np.mod(corner, box)
    assert np.ptp(wrapped, axis=0).max() > 3.0  # the ring is cut by the boundary
    inside = h1_bars(ring, cell)
    np.testing.assert_allclose(h1_bars(wrapped, cell), inside, rtol=0, atol=1e-9)
    assert count_h1_cycles(wrapped, cell, min_persistence=0.3) == 1
    plain = h1_bars(wrapped, None)
    assert plain.shape != inside.shape or not np.allclose(plain, inside, atol=1e-3)


def test_ripser_and_gudhi_agree(rng):
    pytest.importorskip("gudhi")
    cell = np.diag(rng.uniform(3.0, 4.0, 3))
    points = rng.uniform(0, 1, (25, 3)) @ cell
    by_ripser = h1_bars(points, cell, library="ripser")
    by_gudhi = h1_bars(points, cell, library="gudhi")
    assert len(by_ripser) > 0
    keep = lambda bars: bars[(bars[:, 1] - bars[:, 0]) > 1e-9]  # noqa: E731
    sort = lambda bars: bars[np.lexsort((bars[:, 1], bars[:, 0]))]  # noqa: E731
    np.testing.assert_allclose(sort(keep(by_gudhi)), sort(keep(by_ripser)), rtol=1e-6, atol=1e-6)


def test_empirical_p_value_counts_draws_at_least_as_extreme(rng):
    null = rng.permutation(100)
    observed = int(rng.integers(0, 100))
    assert empirical_p_value(observed, null) == (1 + (100 - observed)) / 101
    assert empirical_p_value(observed, null, "less") == (1 + observed + 1) / 101
    assert empirical_p_value(1000, null) == 1 / 101


def test_null_draws_match_exact_enumeration(rng):
    # a hexagon (ring edges) and random decoy points and edges; drawing 3 edges, a cycle
    # needs all six ring atoms: the exact probability comes from enumerating every subset
    angles = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    hexagon = np.stack([np.cos(angles), np.sin(angles), np.zeros(6)], axis=1)
    positions = np.concatenate([hexagon, rng.uniform(-4, 4, (4, 3))])
    ring = [(k, (k + 1) % 6) for k in range(6)]
    decoys = [tuple(rng.choice(10, 2, replace=False)) for _ in range(4)]
    senders = np.array([a for a, _ in ring + decoys])
    receivers = np.array([b for _, b in ring + decoys])
    field_edges = np.arange(10)

    def count(edges):
        atoms = edge_atoms(senders, receivers, np.asarray(edges))
        return count_h1_cycles(positions[atoms], None, min_persistence=0.2)

    exact = np.array([count(c) for c in itertools.combinations(field_edges, 3)])
    p_exact = float((exact >= 1).mean())
    assert p_exact >= 2 / 120  # at least the two perfect matchings of the hexagon
    draws = 1500
    null = h1_null_counts(
        positions, None, senders, receivers, field_edges, 3, draws, rng, min_persistence=0.2
    )
    frequency = float((null >= 1).mean())
    sigma = np.sqrt(p_exact * (1 - p_exact) / draws)
    assert abs(frequency - p_exact) < 5 * sigma + 1 / draws
    assert empirical_p_value(1, null) == pytest.approx((1 + (null >= 1).sum()) / (draws + 1))


def test_analyse_atom_on_a_ring_explanation(rng):
    # graph: a 12-atom ring (nearest neighbours both ways) plus 12 atoms on a line far away,
    # each tied to a ring atom; the "explanation" marks the ring edges as important
    ring = _ring(rng, radius=2.0, noise=0.0)
    line = np.linspace(0, 11, 12)[:, None] * np.array([0.3, 0.0, 0.0]) + np.array([9.0, 9, 9])
    positions = np.concatenate([ring, line])
    pairs = [(k, (k + 1) % 12) for k in range(12)] + [(k, 12 + k) for k in range(12)]
    senders, receivers = _undirected(pairs)
    field = receptive_field(senders, receivers, 24, 0, 12)
    is_ring = (senders[field.edges] < 12) & (receivers[field.edges] < 12)
    mask = np.where(is_ring, 0.9, 0.1) + 0.01 * rng.uniform(size=len(field.edges))
    bins = np.linspace(0, 20, 11)
    row = analyse_atom(
        field,
        mask,
        positions,
        None,
        senders,
        receivers,
        top_k=int(is_ring.sum()),
        draws=30,
        rng=rng,
        distance_bins=bins,
        min_persistence=0.3,
    )
    assert sorted(row["important_edges"]) == sorted(field.edges[is_ring].tolist())
    assert row["h1_important"] == 1 and row["important_atoms"] == 12
    assert sum(row["hops_field"]) == 24 and sum(row["hops_important"]) == 12
    assert row["hops_important"][0] == 1  # the explained atom is on the ring
    assert row["mean_hop_important"] < row["mean_hop_field"]
    summary = summarise([row, row], bins)
    assert summary["h1_important_mean"] == 1
    assert len(row["h1_null_matched"]) == 30 and 0 < row["h1_p_value_matched"] <= 1
    assert summary["h1_p_value_matched"] == pytest.approx(
        empirical_p_value(1.0, np.mean([row["h1_null_matched"]] * 2, axis=0))
    )
    assert sum(summary["hop_fractions_field"]) == pytest.approx(1.0)
    np.testing.assert_array_equal(important_edges(mask, 3), np.sort(np.argsort(-mask)[:3]))


def test_edge_strata_are_receiver_and_sender_hops(rng):
    # a path 0-1-2-3 both ways, explained atom 0, three layers
    senders, receivers = _undirected([(0, 1), (1, 2), (2, 3)])
    field = receptive_field(senders, receivers, 4, 0, 3)
    strata = edge_strata(field, senders, receivers)
    width = int(field.hops.max()) + 1
    for edge, stratum in zip(field.edges, strata):
        assert stratum == receivers[edge] * width + senders[edge]  # hop of atom k is k here


def test_matched_null_draws_match_exact_enumeration(rng):
    # the hexagon's ring edges form one stratum, decoy edges another; drawing 3 ring and 1
    # decoy edges per draw, the frequency of a cycle matches exact enumeration of the
    # stratified subsets (and a cycle needs all three ring edges to be a perfect matching)
    angles = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    hexagon = np.stack([np.cos(angles), np.sin(angles), np.zeros(6)], axis=1)
    positions = np.concatenate([hexagon, rng.uniform(-4, 4, (4, 3))])
    ring = [(k, (k + 1) % 6) for k in range(6)]
    decoys = [tuple(rng.choice(np.arange(6, 10), 2, replace=False)) for _ in range(4)]
    senders = np.array([a for a, _ in ring + decoys])
    receivers = np.array([b for _, b in ring + decoys])
    field_edges = np.arange(10)
    strata = np.array([0] * 6 + [1] * 4)

    def count(edges):
        atoms = edge_atoms(senders, receivers, np.asarray(edges))
        return count_h1_cycles(positions[atoms], None, min_persistence=0.2)

    exact = np.array(
        [count(list(a) + [b]) for a in itertools.combinations(range(6), 3) for b in range(6, 10)]
    )
    p_exact = float((exact >= 1).mean())
    assert p_exact > 0
    draws = 1500
    null = h1_matched_null_counts(
        positions,
        None,
        senders,
        receivers,
        field_edges,
        strata,
        [0, 0, 0, 1],
        draws,
        rng,
        min_persistence=0.2,
    )
    frequency = float((null >= 1).mean())
    sigma = np.sqrt(p_exact * (1 - p_exact) / draws)
    assert abs(frequency - p_exact) < 5 * sigma + 1 / draws
    with pytest.raises(InputError, match="stratum 1 asks for 5 edges but the field holds 4"):
        h1_matched_null_counts(
            positions,
            None,
            senders,
            receivers,
            field_edges,
            strata,
            [1] * 5,
            3,
            rng,
            min_persistence=0.2,
        )
