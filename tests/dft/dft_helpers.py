"""Helpers of the DFT tests: a small design and random non-overlapping PGN systems (nm)."""

from __future__ import annotations

import numpy as np

from pgnfast.dft import PGNDesign
from pgnfast.geometry import minimum_image

# A design for small dense comparisons (nm, chains/nm^2): moderately stretched chains.
SMALL = PGNDesign(
    core_radius=5.0, grafting_density=0.5, chain_length=40, kuhn_length=1.0, segment_volume=0.2
)
ORACLE_ARGS = dict(
    core_radius=5.0, grafting_density=0.5, chain_length=40, kuhn_length=1.0, segment_volume=0.2
)


def place(rng, n, cell, radius, gap=0.5):
    """Random non-overlapping centres (nm) in `cell` (rows), min-image distance >= a_i+a_j+gap."""
    inv = np.linalg.inv(cell)
    radius = np.broadcast_to(radius, (n,))
    pts = []
    while len(pts) < n:
        p = rng.random(3) @ cell
        if pts:
            distances = np.linalg.norm(minimum_image(p - np.array(pts), cell, inv), axis=1)
            if (distances < radius[len(pts)] + radius[: len(pts)] + gap).any():
                continue
        pts.append(p)
    return np.array(pts)
