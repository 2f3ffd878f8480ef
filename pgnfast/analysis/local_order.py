"""Local order of glass frames with block error bars: Voronoi <0,0,12,0> and pentagonal
faces, Steinhardt W6 and its distribution, bond angles, g(r), S(q) on the box's wave
vectors and its low-q shells.

Positions (N, 3) nm, cell (3, 3) nm (rows), q in 1/nm, angles in degrees. One frame gives
`frame_structure`'s dict; `structure_with_errors` stacks frames (consecutive frames of a
chain, or independent references) and gives means with standard errors over blocks.

W6 is the normalised W-hat_6 of freud over the 12 nearest neighbours (an icosahedron's 12
vertices). Ideal clusters: icosahedron -0.1698, fcc -0.0131, hcp -0.0124, bcc +0.0131. A
particle counts as icosahedral-like when W6 < W6_THRESHOLD = -0.1, past half way from the
crystals to the icosahedron, so thermal noise of crystal-like or disordered shells rarely
crosses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pgnfast.errors import InputError

from .statistics import block_average
from .structure import (
    _freud_box,
    _wrapped,
    half_box,
    radial_distribution,
    steinhardt,
    structure_factor,
    structure_factor_shells,
    voronoi_indices,
)

W6_ICOSAHEDRON = -0.169754
W6_THRESHOLD = -0.1


@dataclass
class OrderSettings:
    """What `frame_structure` measures. num_neighbors: shell of W6, Q6 and bond angles;
    w6_threshold: icosahedral-like W6; w6_edges, angle_edges: histogram edges (degrees);
    r_max (nm, None: just under half the narrowest box width) and rdf_bins for g(r);
    q_max (1/nm), sq_bins and max_vectors (a fixed random subset above it, seed 0) for the
    binned S(q); low_q_shells: the smallest |q| shells averaged into S(q -> 0)."""

    num_neighbors: int = 12
    w6_threshold: float = W6_THRESHOLD
    w6_edges: np.ndarray = field(default_factory=lambda: np.linspace(-0.2, 0.2, 41))
    angle_edges: np.ndarray = field(default_factory=lambda: np.linspace(0.0, 180.0, 91))
    r_max: float | None = None
    rdf_bins: int = 100
    q_max: float = 1.0
    sq_bins: int = 50
    max_vectors: int = 10_000
    low_q_shells: int = 3

    def __post_init__(self):
        if int(self.num_neighbors) != self.num_neighbors or self.num_neighbors < 2:
            raise InputError(f"num_neighbors must be a whole number >= 2, got {self.num_neighbors}")
        if not (self.q_max > 0 and self.rdf_bins >= 1 and self.sq_bins >= 1):
            raise InputError("q_max must be > 0 and rdf_bins, sq_bins >= 1")


def neighbor_vectors(positions, cell, num_neighbors: int = 12) -> np.ndarray:
    """(N, num_neighbors, 3) nm: vectors from each particle to its nearest neighbours
    (periodic, freud's AABB query), nearest first."""
    from .._freud import import_freud

    freud = import_freud()

    box = _freud_box(cell)
    points = _wrapped(box, positions)
    query = freud.locality.AABBQuery(box, points)
    nlist = query.query(
        points, {"num_neighbors": int(num_neighbors), "exclude_ii": True}
    ).toNeighborList(sort_by_distance=True)
    owners = np.asarray(nlist.query_point_indices)
    order = np.lexsort((np.asarray(nlist.distances), owners))
    vectors = np.asarray(nlist.vectors)[order]
    return vectors.reshape(len(points), int(num_neighbors), 3)


def bond_angles(positions, cell, num_neighbors: int = 12) -> np.ndarray:
    """(N * k(k-1)/2,) degrees: angles between every two bonds from a particle to two of its
    `num_neighbors` = k nearest neighbours (an icosahedron: 63.4, 116.6 and 180)."""
    vectors = neighbor_vectors(positions, cell, num_neighbors)
    unit = vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)
    cosines = np.einsum("nid,njd->nij", unit, unit)
    upper = np.triu_indices(int(num_neighbors), 1)
    return np.degrees(np.arccos(np.clip(cosines[:, upper[0], upper[1]], -1.0, 1.0))).ravel()


def _density_histogram(values, edges) -> np.ndarray:
    counts, _ = np.histogram(values, edges)
    return counts / max(len(values), 1) / np.diff(edges)


def frame_structure(positions, cell, settings: OrderSettings | None = None) -> dict:
    """Everything measured on one frame, {name: float or array}: icosahedral_fraction
    (<0,0,12,0> share), pentagonal_face_fraction, w6_mean, w6_icosahedral_share (W6 below
    the threshold), q6_mean, w6_histogram and bond_angle_histogram (densities on the
    settings' edges), g (g(r)), s (binned S(q)), s_low_q (the low-q shells) and
    s_q_to_zero (their mean)."""
    settings = settings or OrderSettings()
    positions = np.asarray(positions, dtype=np.float64)
    voronoi = voronoi_indices(positions, cell)
    w6, _ = steinhardt(positions, cell, 6, num_neighbors=settings.num_neighbors, wl=True)
    q6, _ = steinhardt(positions, cell, 6, num_neighbors=settings.num_neighbors)
    r_max = settings.r_max or half_box(cell)
    _, g = radial_distribution(positions, cell, r_max, settings.rdf_bins)
    _, s, _ = structure_factor(
        positions, cell, settings.q_max, settings.sq_bins, max_vectors=settings.max_vectors
    )
    _, s_low, _ = structure_factor_shells(positions, cell, settings.low_q_shells)
    angles = bond_angles(positions, cell, settings.num_neighbors)
    return {
        "icosahedral_fraction": voronoi.icosahedral_fraction,
        "pentagonal_face_fraction": voronoi.pentagonal_face_fraction,
        "w6_mean": float(np.mean(w6)),
        "w6_icosahedral_share": float(np.mean(w6 < settings.w6_threshold)),
        "q6_mean": float(np.mean(q6)),
        "w6_histogram": _density_histogram(w6, settings.w6_edges),
        "bond_angle_histogram": _density_histogram(angles, settings.angle_edges),
        "g": g,
        "s": s,
        "s_low_q": s_low,
        "s_q_to_zero": float(np.mean(s_low)),
    }


def structure_axes(cell, settings: OrderSettings | None = None) -> dict:
    """The x axes of `frame_structure`'s arrays: w6 and bond-angle bin centres, r (nm),
    q (1/nm, binned S(q)) and q_low (1/nm, the low-q shells)."""
    settings = settings or OrderSettings()
    r_max = settings.r_max or half_box(cell)
    r_edges = np.linspace(0.0, r_max, settings.rdf_bins + 1)
    q_edges = np.linspace(0.0, settings.q_max, settings.sq_bins + 1)
    zero = np.zeros((1, 3))
    q_low, _, _ = structure_factor_shells(zero, cell, settings.low_q_shells)

    def centres(edges):
        return 0.5 * (np.asarray(edges)[1:] + np.asarray(edges)[:-1])

    return {
        "w6": centres(settings.w6_edges),
        "bond_angle_deg": centres(settings.angle_edges),
        "r_nm": centres(r_edges),
        "q_per_nm": centres(q_edges),
        "q_low_per_nm": q_low,
    }


def structure_with_errors(frames, cell, blocks: int = 5, settings=None, progress=False) -> dict:
    """`frame_structure` of every frame (a sequence of (N, 3) position arrays in `cell`),
    then {name: {"mean": ..., "stderr": ...}} over `blocks` consecutive blocks of frames,
    plus "frames" (how many) and "blocks" (how many blocks the errors came from)."""
    from tqdm.auto import tqdm

    frames = list(frames)
    if not frames:
        raise InputError("structure_with_errors needs at least one frame")
    settings = settings or OrderSettings()
    measured = [
        frame_structure(frame, cell, settings)
        for frame in tqdm(frames, desc="frames", unit="frame", disable=not progress)
    ]
    out = {"frames": len(frames)}
    for name in measured[0]:
        average = block_average(np.stack([np.asarray(m[name], float) for m in measured]), blocks)
        out[name] = {"mean": average.mean, "stderr": average.stderr}
        out["blocks"] = average.blocks
    return out
