"""Hard-sphere packings at a given volume fraction: a reference structure for glasses of
cores (units: nm).

`hard_sphere_packing` places spheres of the given radii in a periodic cell: random
sequential addition with the radii shrunk by a factor s (s^3 phi <= 0.25, where addition
never jams), then Monte Carlo sweeps of single-sphere displacements that reject every
overlap, each followed by growing s half way to the largest value without overlap (a
Lubachevsky-Stillinger-like growth by Monte Carlo instead of event-driven dynamics), until
s = 1; then `sweeps` sweeps of the same Monte Carlo at full size, a fixed step, which
sample the equilibrium hard-sphere fluid at that volume fraction (below freezing,
phi < 0.494 for monodisperse spheres; above it the growth still ends without overlaps, but
in a glassy packing). The volume fraction is sum 4/3 pi a^3 / V, exactly as asked, since the
radii and the cell are the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pgnfast.errors import InputError
from pgnfast.geometry import minimum_image


@dataclass
class HardSpherePacking:
    """positions (N, 3) nm; radii (N,) nm; cell (3, 3) nm; volume_fraction; acceptance of
    the displacements at full size; growth_sweeps (sweeps to reach full size); sweeps (at
    full size); min_gap (nm, smallest surface-to-surface distance, >= 0)."""

    positions: np.ndarray
    radii: np.ndarray
    cell: np.ndarray
    volume_fraction: float
    acceptance: float
    growth_sweeps: int
    sweeps: int
    min_gap: float


def volume_fraction(radii, cell) -> float:
    """sum 4/3 pi a^3 over the cell volume."""
    radii = np.asarray(radii, dtype=np.float64)
    return float(4.0 / 3.0 * np.pi * np.sum(radii**3) / abs(np.linalg.det(cell)))


def _contact_ratio(positions, cell, radii, scale) -> float:
    """min over pairs of d_ij / (a_i + a_j) among pairs closer than scale-ish contact; a
    large number when no pair is near (periodic, nm)."""
    from pgnfast.neighbors import neighbor_list

    reach = 2.0 * float(radii.max()) * max(scale, 1.0) * 1.05
    pairs = neighbor_list(positions, cell, reach, pbc=True, half=True)
    i, j = np.asarray(pairs.i), np.asarray(pairs.j)
    if len(i) == 0:
        return np.inf
    return float(np.min(np.asarray(pairs.distances) / (radii[i] + radii[j])))


def _random_addition(rng, cell, radii, max_tries: int = 100_000) -> np.ndarray:
    inverse = np.linalg.inv(cell)
    placed = np.empty((len(radii), 3))
    for k, radius in enumerate(radii):
        for _ in range(max_tries):
            trial = rng.random(3) @ cell
            d = np.linalg.norm(minimum_image(placed[:k] - trial, cell, inverse), axis=1)
            if np.all(d >= radii[:k] + radius):
                placed[k] = trial
                break
        else:
            raise InputError(f"could not add sphere {k} of {len(radii)} at random")
    return placed


def _sweep(rng, positions, radii, cell, inverse, step) -> int:
    """N single-sphere moves (uniform in a cube of half-width `step` nm), overlaps rejected.
    Returns the accepted count."""
    n = len(positions)
    accepted = 0
    picks = rng.integers(n, size=n)
    displacements = rng.uniform(-step, step, size=(n, 3))
    for k, move in zip(picks, displacements):
        trial = positions[k] + move
        d2 = np.einsum("ij,ij->i", *(minimum_image(positions - trial, cell, inverse),) * 2)
        d2[k] = np.inf
        if np.all(d2 >= (radii + radii[k]) ** 2):
            positions[k] = trial
            accepted += 1
    return accepted


def hard_sphere_packing(
    radii, cell, *, sweeps: int = 100, seed: int = 0, max_growth_sweeps: int = 20_000
) -> HardSpherePacking:
    """Spheres of `radii` (N,) nm without overlaps in the periodic `cell` (3, 3) nm, after
    growth to full size and `sweeps` Monte Carlo sweeps there (see the module docstring).
    Raises InputError for a volume fraction >= 0.74, a diameter beyond half the narrowest
    box width, or a growth that does not finish in max_growth_sweeps sweeps (too dense)."""
    radii = np.asarray(radii, dtype=np.float64)
    cell = np.asarray(cell, dtype=np.float64)
    if radii.ndim != 1 or len(radii) < 2 or not np.all(np.isfinite(radii) & (radii > 0)):
        raise InputError("radii must be two or more finite radii > 0 (nm)")
    if cell.shape != (3, 3) or not abs(np.linalg.det(cell)) > 0:
        raise InputError(f"cell must be a non-singular (3, 3) matrix (nm), got {cell.tolist()}")
    if int(sweeps) != sweeps or sweeps < 0:
        raise InputError(f"sweeps must be a whole number >= 0, got {sweeps!r}")
    from pgnfast.mc.cells import face_widths

    phi = volume_fraction(radii, cell)
    if phi >= 0.74:
        raise InputError(f"volume fraction {phi:.3f} is not below close packing (0.74)")
    if 4.0 * radii.max() >= float(np.min(face_widths(cell))):
        raise InputError("the largest diameter must be below half the narrowest box width")
    rng = np.random.default_rng(seed)
    inverse = np.linalg.inv(cell)
    scale = min(1.0, (0.25 / phi) ** (1.0 / 3.0))
    positions = _random_addition(rng, cell, radii * scale)
    step = 0.5 * float(radii.min())
    growth = 0
    while scale < 1.0:
        if growth >= max_growth_sweeps:
            raise InputError(
                f"the packing reached {phi * scale**3:.3f} of the asked volume fraction "
                f"{phi:.3f} in {max_growth_sweeps} growth sweeps: too dense to grow"
            )
        accepted = _sweep(rng, positions, radii * scale, cell, inverse, step)
        step *= np.exp(accepted / len(radii) - 0.4)
        step = float(np.clip(step, 1e-4 * radii.min(), radii.min()))
        allowed = _contact_ratio(positions, cell, radii, scale)
        scale = 1.0 if allowed >= 1.0 else max(scale, 0.5 * (scale + allowed))
        growth += 1
    accepted = sum(_sweep(rng, positions, radii, cell, inverse, step) for _ in range(int(sweeps)))
    positions = (positions @ inverse % 1.0) @ cell
    min_gap = _min_gap(positions, cell, radii)
    return HardSpherePacking(
        positions=positions,
        radii=radii,
        cell=cell,
        volume_fraction=phi,
        acceptance=accepted / max(int(sweeps) * len(radii), 1),
        growth_sweeps=growth,
        sweeps=int(sweeps),
        min_gap=float(min_gap),
    )


def _min_gap(positions, cell, radii) -> float:
    from pgnfast.neighbors import neighbor_list

    pairs = neighbor_list(positions, cell, 2.0 * float(radii.max()) * 1.05, pbc=True, half=True)
    i, j = np.asarray(pairs.i), np.asarray(pairs.j)
    if len(i) == 0:
        return np.inf
    return float(np.min(np.asarray(pairs.distances) - radii[i] - radii[j]))
