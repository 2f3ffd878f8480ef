"""S(q) on the box's smallest shells, W6, bond angles and per-frame structure with block
errors (pgnfast.analysis.structure, pgnfast.analysis.local_order)."""

from __future__ import annotations

import numpy as np
import pytest

from pgnfast.analysis.local_order import (
    W6_ICOSAHEDRON,
    OrderSettings,
    bond_angles,
    frame_structure,
    structure_axes,
    structure_with_errors,
)
from pgnfast.analysis.structure import (
    box_wave_vectors,
    steinhardt,
    structure_factor,
    structure_factor_shells,
)
from pgnfast.errors import InputError


def _simple_cubic(per_axis: int, spacing: float = 1.0):
    grid = np.stack(np.meshgrid(*[np.arange(per_axis)] * 3, indexing="ij"), -1).reshape(-1, 3)
    return grid * spacing, np.eye(3) * per_axis * spacing


def _icosahedron(centre):
    golden = (1 + 5**0.5) / 2
    vertices = np.array([(0, a, b * golden) for a in (-1, 1) for b in (-1, 1)], float)
    vertices = np.concatenate([np.roll(vertices, k, axis=1) for k in range(3)])
    return np.concatenate([[centre], centre + vertices / np.linalg.norm(vertices[0])])


def test_box_wave_vectors_start_at_two_pi_over_l():
    vectors, norms = box_wave_vectors(np.eye(3) * 5.0, 2 * np.pi / 5.0 * 1.01)
    assert len(vectors) == 6
    np.testing.assert_allclose(norms, 2 * np.pi / 5.0)


def test_ideal_gas_low_q_shells_are_one(rng):
    cell = np.diag([30.0, 30.0, 36.0])  # not cubic: shells split by axis
    frames = rng.random((40, 300, 3)) @ cell
    q, s, counts = structure_factor_shells(frames, cell, 4)
    np.testing.assert_allclose(q[0], 2 * np.pi / 36.0)
    assert np.all(np.diff(q) > 0) and counts[0] == 2
    # each S is a mean of 40 x counts exponential(1) numbers
    np.testing.assert_allclose(s, 1.0, atol=5.0 / np.sqrt(40 * counts.min()))


def test_perfect_lattice_gives_n_at_its_bragg_peak_and_zero_below():
    positions, cell = _simple_cubic(4, 2.5)
    # |n|^2 = 1..16 without 7 and 15: 14 shells; |n|^2 = 16 is (4, 0, 0) alone, a Bragg peak
    q, s, counts = structure_factor_shells(positions, cell, 14)
    np.testing.assert_allclose(q[-1], 2 * np.pi / 2.5)
    assert counts[-1] == 6
    np.testing.assert_allclose(s[-1], len(positions), rtol=1e-9)
    np.testing.assert_allclose(s[:-1], 0.0, atol=1e-9)
    edges_q, binned, _ = structure_factor(positions, cell, q_max=2.6, bins=260)  # 0.01 wide
    peak = np.argmin(np.abs(edges_q - 2 * np.pi / 2.5))
    np.testing.assert_allclose(binned[peak], len(positions), rtol=1e-9)
    with pytest.raises(InputError, match="shells"):
        structure_factor_shells(positions, cell, 0)


def test_icosahedron_w6_and_bond_angles():
    cluster = _icosahedron(np.full(3, 20.0))
    w6, _ = steinhardt(cluster, np.eye(3) * 40.0, 6, wl=True)
    np.testing.assert_allclose(w6[0], W6_ICOSAHEDRON, atol=1e-5)
    angles = bond_angles(cluster, np.eye(3) * 40.0)[:66]  # the centre's 12 neighbours
    values, counts = np.unique(np.round(angles, 1), return_counts=True)
    np.testing.assert_allclose(values, [63.4, 116.6, 180.0])
    np.testing.assert_array_equal(counts, [30, 30, 6])


def test_frame_structure_of_icosahedral_clusters_against_a_lattice(rng):
    spacing = 6.0
    lattice, cell = _simple_cubic(3, spacing)
    clusters = np.concatenate([_icosahedron(site + 3.0) for site in lattice])  # 351 particles
    settings = OrderSettings(q_max=2.0, sq_bins=10, rdf_bins=20)
    ordered = frame_structure(clusters + rng.normal(0, 1e-3, clusters.shape), cell, settings)
    # every centre is icosahedral: 27 of 351 (shell atoms see other clusters, not counted)
    assert ordered["icosahedral_fraction"] == pytest.approx(27 / 351)
    assert ordered["w6_icosahedral_share"] >= 27 / 351
    gas = frame_structure(rng.random((351, 3)) @ cell, cell, settings)
    assert gas["icosahedral_fraction"] < ordered["icosahedral_fraction"]
    for name, value in gas.items():
        assert np.all(np.isfinite(value)) or name == "s", name
    axes = structure_axes(cell, settings)
    assert len(axes["r_nm"]) == len(gas["g"]) and len(axes["q_low_per_nm"]) == 3
    assert len(axes["bond_angle_deg"]) == len(gas["bond_angle_histogram"])
    widths = np.diff(settings.angle_edges)
    np.testing.assert_allclose(np.sum(gas["bond_angle_histogram"] * widths), 1.0)


def test_structure_with_errors_blocks_frames(rng):
    cell = np.eye(3) * 12.0
    frames = [rng.random((64, 3)) @ cell for _ in range(6)]
    settings = OrderSettings(q_max=1.5, sq_bins=8, rdf_bins=10)
    out = structure_with_errors(frames, cell, blocks=3, settings=settings)
    assert out["frames"] == 6 and out["blocks"] == 3
    single = [frame_structure(f, cell, settings)["w6_mean"] for f in frames]
    assert out["w6_mean"]["mean"] == pytest.approx(np.mean(single))
    pairs = np.reshape(single, (3, 2)).mean(axis=1)
    assert out["w6_mean"]["stderr"] == pytest.approx(pairs.std(ddof=1) / np.sqrt(3))
    assert out["g"]["mean"].shape == (10,)
    with pytest.raises(InputError, match="at least one frame"):
        structure_with_errors([], cell)
