"""Structure of PGN glasses: g(r), S(q), Steinhardt Q6/W6, Voronoi indices.

Positions (N, 3) nm (or a list of frames), cell (3, 3) nm with box vectors as rows; freud
(freud-analysis) does the neighbour-based work, the direct S(q) is computed here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _freud_box(cell):
    from .._freud import import_freud

    freud = import_freud()

    return freud.box.Box.from_matrix(np.asarray(cell, dtype=np.float64).T)


def _frames(positions) -> list[np.ndarray]:
    positions = np.asarray(positions, dtype=np.float64)
    return [positions] if positions.ndim == 2 else list(positions)


def _wrapped(box, positions) -> np.ndarray:
    return box.wrap(np.asarray(positions, dtype=np.float64))


def half_box(cell) -> float:
    """The largest g(r) range of a periodic cell (nm): just under half its narrowest width."""
    from pgnfast.geometry import face_widths

    return 0.5 * float(np.min(face_widths(np.asarray(cell, dtype=np.float64)))) * 0.999


def radial_distribution(positions, cell, r_max: float, bins: int = 100):
    """g(r) averaged over frames: (r bin centres (bins,) nm, g (bins,)). freud.density.RDF."""
    from .._freud import import_freud

    freud = import_freud()

    box = _freud_box(cell)
    rdf = freud.density.RDF(bins=bins, r_max=r_max)
    for frame in _frames(positions):
        rdf.compute((box, _wrapped(box, frame)), reset=False)
    return np.array(rdf.bin_centers), np.array(rdf.rdf)


def structure_factor(
    positions,
    cell,
    q_max: float,
    bins: int = 60,
    q_min: float = 0.0,
    max_vectors: int = 200_000,
    seed: int = 0,
):
    """S(q) = <|sum_j exp(-i q.r_j)|^2> / N from the k-vectors of the box (direct method).

    q = 2 pi n . reciprocal rows (1/nm, the "k" convention), every commensurate vector with
    q_min < |q| <= q_max (a random subset of max_vectors if there are more), so the lowest
    reachable q is 2 pi / L. Returns (q bin centres (bins,) 1/nm, S (bins,), vectors per bin).
    """
    cell = np.asarray(cell, dtype=np.float64)
    reciprocal = 2.0 * np.pi * np.linalg.inv(cell).T  # rows b_i with a_i . b_j = 2 pi delta
    widths = 2.0 * np.pi / np.linalg.norm(reciprocal, axis=1)
    reach = np.ceil(q_max * widths / (2.0 * np.pi)).astype(int)
    grids = np.meshgrid(*[np.arange(-m, m + 1) for m in reach], indexing="ij")
    integers = np.stack(grids, -1).reshape(-1, 3)
    vectors = integers @ reciprocal
    norms = np.linalg.norm(vectors, axis=1)
    keep = (norms > max(q_min, 1e-12)) & (norms <= q_max)
    vectors, norms = vectors[keep], norms[keep]
    if len(vectors) > max_vectors:
        pick = np.random.default_rng(seed).choice(len(vectors), max_vectors, replace=False)
        vectors, norms = vectors[pick], norms[pick]
    edges = np.linspace(q_min, q_max, bins + 1)
    which = np.clip(np.digitize(norms, edges) - 1, 0, bins - 1)
    total = np.zeros(bins)
    frames = _frames(positions)
    for frame in frames:
        for start in range(0, len(vectors), 4096):
            phases = frame @ vectors[start : start + 4096].T  # (N, chunk)
            amplitude = np.abs(np.exp(-1j * phases).sum(axis=0)) ** 2 / len(frame)
            total += np.bincount(which[start : start + 4096], amplitude, bins)
    counts = np.bincount(which, minlength=bins) * len(frames)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(counts > 0, total / np.maximum(counts, 1), np.nan)
    return 0.5 * (edges[1:] + edges[:-1]), s, counts // max(len(frames), 1)


def structure_factor_from_rdf(r, g, density: float, q):
    """S(q) = 1 + 4 pi rho int r^2 (g(r) - 1) sin(qr)/(qr) dr (nm, 1/nm^3, 1/nm)."""
    r, g, q = (np.asarray(x, dtype=np.float64) for x in (r, g, q))
    dr = np.gradient(r)
    kernel = np.sinc(np.outer(q, r) / np.pi)
    return 1.0 + 4.0 * np.pi * density * (kernel * (r * r * (g - 1.0) * dr)).sum(axis=1)


def steinhardt(
    positions,
    cell,
    l: int = 6,
    *,
    num_neighbors: int | None = 12,
    r_max: float | None = None,
    wl: bool = False,
    average: bool = False,
    wl_normalize: bool = True,
):
    """Steinhardt order (freud.order.Steinhardt) of one frame.

    Neighbours: the num_neighbors nearest (default 12) or all within r_max nm.
    Returns (per-particle (N,), system-wide float): Q_l, or W_l (normalised W-hat by
    default) with wl=True; average=True gives Lechner-Dellago averaged values.
    """
    from .._freud import import_freud

    freud = import_freud()

    box = _freud_box(cell)
    points = _wrapped(box, positions)
    query = (
        {"num_neighbors": num_neighbors, "exclude_ii": True}
        if r_max is None
        else {"r_max": r_max, "exclude_ii": True}
    )
    order = freud.order.Steinhardt(l, average=average, wl=wl, wl_normalize=wl_normalize)
    order.compute((box, points), neighbors=query)
    return np.array(order.particle_order), float(order.order)


@dataclass
class VoronoiIndices:
    """Voronoi index <n3, n4, n5, n6> per particle: faces with 3, 4, 5, 6 edges.

    indices: (N, 4) ints; volumes (N,) nm^3; icosahedral: (N,) bool for <0,0,12,0>.
    """

    indices: np.ndarray
    volumes: np.ndarray

    @property
    def icosahedral(self) -> np.ndarray:
        return np.all(self.indices == np.array([0, 0, 12, 0]), axis=1)

    @property
    def icosahedral_fraction(self) -> float:
        return float(np.mean(self.icosahedral))

    @property
    def pentagonal_face_fraction(self) -> float:
        """Share of faces that are pentagons, n5 / (n3 + n4 + n5 + n6): fivefold local
        symmetry, 1 for an icosahedron; continuous where exact <0,0,12,0> cells are rare."""
        faces = self.indices.sum()
        return float(self.indices[:, 2].sum() / faces) if faces else 0.0

    def most_common(self, count: int = 10) -> list[tuple[tuple[int, ...], float]]:
        """The `count` most frequent indices with their fractions."""
        values, counts = np.unique(self.indices, axis=0, return_counts=True)
        order = np.argsort(-counts)[:count]
        return [(tuple(int(x) for x in values[o]), counts[o] / len(self.indices)) for o in order]


def voronoi_indices(
    positions, cell, face_threshold: float = 0.01, tolerance: float = 1e-6
) -> VoronoiIndices:
    """Voronoi indices of one frame (freud.locality.Voronoi, periodic, triclinic).

    face_threshold: faces smaller than this fraction of their cell's surface area are
    dropped (the usual 1 % rule); tolerance: nm, for deciding a vertex lies on a face.
    """
    from .._freud import import_freud

    freud = import_freud()

    box = _freud_box(cell)
    points = _wrapped(box, positions)
    voronoi = freud.locality.Voronoi()
    voronoi.compute((box, points))
    nlist = voronoi.nlist
    owners = np.asarray(nlist.query_point_indices)
    vectors = np.asarray(nlist.vectors)
    areas = np.asarray(nlist.weights)
    surface = np.bincount(owners, areas, len(points))
    indices = np.zeros((len(points), 4), np.int64)
    for i, polytope in enumerate(voronoi.polytopes):
        relative = np.asarray(polytope) - points[i]
        scale = max(1.0, float(np.abs(relative).max()))
        for face in np.flatnonzero(owners == i):
            if areas[face] < face_threshold * surface[i]:
                continue
            normal = vectors[face]
            length = np.linalg.norm(normal)
            height = relative @ normal / length - 0.5 * length
            on_face = relative[np.abs(height) < tolerance * scale * 10]
            edges = len(np.unique(np.round(on_face / (tolerance * scale * 10)), axis=0))
            if 3 <= edges <= 6:
                indices[i, edges - 3] += 1
    return VoronoiIndices(indices, np.array(voronoi.volumes))


def icosahedral_fraction_by_temperature(frames_by_temperature, cell, **kwargs) -> np.ndarray:
    """(K,) mean <0,0,12,0> fraction over frames, for frames grouped per temperature."""
    return np.array(
        [
            np.mean(
                [voronoi_indices(f, cell, **kwargs).icosahedral_fraction for f in _frames(frames)]
            )
            for frames in frames_by_temperature
        ]
    )


def box_wave_vectors(cell, q_max: float, q_min: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Wave vectors commensurate with the periodic `cell` (3, 3) nm, q = 2 pi n . reciprocal
    rows, with q_min < |q| <= q_max (1/nm): (vectors (M, 3) 1/nm, norms (M,) 1/nm)."""
    cell = np.asarray(cell, dtype=np.float64)
    reciprocal = 2.0 * np.pi * np.linalg.inv(cell).T
    widths = 2.0 * np.pi / np.linalg.norm(reciprocal, axis=1)
    reach = np.ceil(q_max * widths / (2.0 * np.pi)).astype(int)
    grids = np.meshgrid(*[np.arange(-m, m + 1) for m in reach], indexing="ij")
    vectors = np.stack(grids, -1).reshape(-1, 3) @ reciprocal
    norms = np.linalg.norm(vectors, axis=1)
    keep = (norms > max(q_min, 1e-12)) & (norms <= q_max)
    return vectors[keep], norms[keep]


def structure_factor_shells(positions, cell, shells: int = 3, relative_tolerance: float = 1e-8):
    """S(q) = <|sum_j exp(-i q.r_j)|^2> / N on the `shells` smallest distinct |q| of the box
    (every vector of each shell; frames averaged), the direct route to S(q -> 0): the
    smallest is 2 pi / L for a cube of side L nm. Returns (q (shells,) 1/nm, S (shells,),
    vectors per shell (shells,))."""
    if int(shells) != shells or shells < 1:
        from pgnfast.errors import InputError

        raise InputError(f"shells must be a whole number >= 1, got {shells!r}")
    cell = np.asarray(cell, dtype=np.float64)
    smallest = float(np.min(np.linalg.norm(2.0 * np.pi * np.linalg.inv(cell).T, axis=1)))
    q_max = smallest * np.sqrt(shells) * 1.001
    while True:
        vectors, norms = box_wave_vectors(cell, q_max)
        scale = norms.min()
        keys = np.round(norms / (scale * relative_tolerance * 10)).astype(np.int64)
        distinct = np.unique(keys)
        if len(distinct) >= shells:
            break
        q_max *= 1.5
    which = np.searchsorted(distinct, keys)
    keep = which < shells
    vectors, norms, which = vectors[keep], norms[keep], which[keep]
    frames = _frames(positions)
    total = np.zeros(shells)
    for frame in frames:
        amplitude = np.abs(np.exp(-1j * (frame @ vectors.T)).sum(axis=0)) ** 2 / len(frame)
        total += np.bincount(which, amplitude, shells)
    counts = np.bincount(which, minlength=shells)
    q = np.bincount(which, norms, shells) / counts
    return q, total / (counts * len(frames)), counts
