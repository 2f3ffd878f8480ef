"""VerletList against fresh builds, and the torch custom op (opcheck, torch.compile)."""

import pytest
import torch

import pgnfast
from pgnfast.neighbors import NeighborListError, VerletList, neighbor_pairs

from .conftest import assert_same_pairs, random_cell


@pytest.mark.parametrize("half", [False, True])
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_verlet_equals_fresh_build_after_small_and_large_moves(half, kind, rng):
    cell = random_cell(rng, 6.0, 0.3)
    positions = rng.uniform(0, 1, (80, 3)) @ cell
    cutoff, skin = 1.6, 0.4
    verlet = VerletList(cutoff, skin, half=half)
    convert = (lambda x: torch.tensor(x)) if kind == "torch" else (lambda x: x)
    steps = [0.02] * 5 + [0.5] + [0.05] * 3 + [3.0]
    for step in steps:
        positions = positions + rng.normal(0, step, positions.shape)
        got = verlet(convert(positions), convert(cell))
        fresh = pgnfast.neighbor_list(convert(positions), convert(cell), cutoff, half=half)
        assert_same_pairs(got, fresh)
    assert verlet.calls == len(steps)
    assert 2 <= verlet.builds < len(steps), "small moves must reuse the cached candidates"


def test_verlet_rebuilds_when_the_cell_changes(rng):
    cell = random_cell(rng, 6.0, 0.2)
    positions = rng.uniform(0, 1, (40, 3)) @ cell
    verlet = VerletList(1.5, 0.3)
    verlet(positions, cell)
    squeezed = cell * 0.9
    assert_same_pairs(verlet(positions, squeezed), pgnfast.neighbor_list(positions, squeezed, 1.5))
    assert verlet.builds == 2


def test_verlet_rejects_bad_parameters():
    with pytest.raises(NeighborListError, match="skin"):
        VerletList(1.0, -0.1)
    with pytest.raises(NeighborListError, match="cutoff"):
        VerletList(0.0, 0.1)


def test_custom_op_passes_opcheck(rng):
    cell = torch.tensor(random_cell(rng, 4.0, 0.2))
    positions = torch.tensor(rng.uniform(0, 1, (25, 3))) @ cell
    torch.library.opcheck(neighbor_pairs, (positions, cell, 1.5, [True, True, True]))
    torch.library.opcheck(neighbor_pairs, (positions, cell, 1.5, [True, False, True], True))


def test_custom_op_inside_torch_compile_matches_eager(rng):
    cell = torch.tensor(random_cell(rng, 4.0, 0.2))
    positions = (torch.tensor(rng.uniform(0, 1, (30, 3))) @ cell).requires_grad_(True)

    def pair_energy(positions, cell):
        i, j, shifts = torch.ops.pgnfast.neighbor_pairs(positions, cell, 1.5, [True] * 3)
        r = torch.linalg.norm(positions[j] - positions[i] + shifts.to(cell.dtype) @ cell, dim=1)
        return ((1.5 - r) ** 2).sum()

    eager = pair_energy(positions, cell)
    (eager_grad,) = torch.autograd.grad(eager, positions)
    compiled = torch.compile(pair_energy, fullgraph=False, dynamic=True)(positions, cell)
    (compiled_grad,) = torch.autograd.grad(compiled, positions)
    torch.testing.assert_close(compiled, eager, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(compiled_grad, eager_grad, rtol=1e-12, atol=1e-12)
