"""Hard-sphere packings (pgnfast.analysis.hard_spheres): no overlaps, the asked volume
fraction, growth past random sequential addition, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from pgnfast.analysis.hard_spheres import hard_sphere_packing, volume_fraction
from pgnfast.errors import InputError
from pgnfast.geometry import minimum_image


def _cell_for(radii, phi):
    return np.eye(3) * (4.0 / 3.0 * np.pi * np.sum(radii**3) / phi) ** (1.0 / 3.0)


def _smallest_gap(positions, radii, cell):
    d = minimum_image(positions[:, None] - positions[None], cell)
    distance = np.linalg.norm(d, axis=-1) + np.eye(len(positions)) * 1e9
    return float(np.min(distance - radii[:, None] - radii[None]))


@pytest.mark.parametrize("phi", [0.2, 0.42])
def test_packing_has_no_overlap_and_the_asked_volume_fraction(rng, phi):
    radii = rng.permutation(np.repeat([8.0, 6.4], 24))  # the bidisperse design's cores, nm
    cell = _cell_for(radii, phi)
    packing = hard_sphere_packing(radii, cell, sweeps=10, seed=int(rng.integers(1000)))
    assert packing.volume_fraction == pytest.approx(phi, rel=1e-12)
    assert volume_fraction(packing.radii, packing.cell) == pytest.approx(phi, rel=1e-12)
    gap = _smallest_gap(packing.positions, radii, cell)
    assert gap >= 0.0 and packing.min_gap == pytest.approx(gap, abs=1e-9)
    assert 0.0 < packing.acceptance < 1.0
    if phi > 0.3:  # beyond what random sequential addition reaches at full size
        assert packing.growth_sweeps > 0
    inside = packing.positions @ np.linalg.inv(cell)
    assert np.all((inside >= 0) & (inside < 1))


def test_packing_refuses_what_cannot_be_packed():
    radii = np.ones(20)
    with pytest.raises(InputError, match="close packing"):
        hard_sphere_packing(radii, _cell_for(radii, 0.8))
    with pytest.raises(InputError, match="half the narrowest"):
        hard_sphere_packing(np.ones(2), np.eye(3) * 3.0)
    with pytest.raises(InputError, match="too dense to grow"):
        hard_sphere_packing(np.ones(40), _cell_for(np.ones(40), 0.7), max_growth_sweeps=3)
    with pytest.raises(InputError, match="radii"):
        hard_sphere_packing([1.0, -1.0], np.eye(3) * 10)
