"""The compiled PME mesh transfer (pgnfast.ops.mesh, csrc/cpu/mesh_transfer.cpp) against
its torch reference on fresh random inputs, with one and several threads, the transfer of
`pgnfast.nn.pme` with and without it, and the refusal of indices outside the mesh."""

from __future__ import annotations

import pytest
import torch

from pgnfast.errors import InputError
from pgnfast.ops import mesh

pytestmark = pytest.mark.skipif(
    not mesh.is_available(), reason="the compiled extension pgnfast._cpu is not built"
)


def _inputs(rng, n=200, nodes=64, k=3, size=900):
    generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
    weights = torch.rand(n, nodes, dtype=torch.float64, generator=generator)
    flat = torch.randint(0, size, (n, nodes), generator=generator)
    columns = torch.randn(n, k, dtype=torch.float64, generator=generator)
    grid = torch.randn(k, size, dtype=torch.float64, generator=generator)
    return weights, flat, columns, grid, size


@pytest.mark.parametrize("threads", [1, 2])
def test_spread_and_gather_equal_the_torch_reference(rng, threads):
    weights, flat, columns, grid, size = _inputs(rng)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        spread = mesh.spread(weights, flat, columns, size)
        gathered = mesh.gather(weights, flat, grid)
    finally:
        torch.set_num_threads(before)
    reference = mesh.spread_reference(weights, flat, columns, size)
    torch.testing.assert_close(spread, reference, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(
        gathered, mesh.gather_reference(weights, flat, grid), rtol=1e-13, atol=1e-13
    )
    # gathering is the transpose of spreading: <G, spread(c)> = <gather(G), c>
    left = (grid * spread).sum()
    right = (mesh.gather(weights, flat, grid) * columns).sum()
    assert float(left) == pytest.approx(float(right), rel=1e-12)


def test_pme_transfer_is_the_same_with_and_without_the_kernels(rng):
    pytest.importorskip("torchpme")
    from torchpme.lib import MeshInterpolator

    from pgnfast.nn.pme import _mesh_transfer, mesh_points

    cell = torch.eye(3, dtype=torch.float64) * 12.0
    positions = torch.as_tensor(rng.uniform(0, 12, (60, 3)))
    grid_shape = mesh_points(cell, 1.0)
    interpolation = MeshInterpolator(cell, grid_shape, 4, method="Lagrange")
    interpolation.compute_weights(positions)
    to_mesh, to_points = _mesh_transfer(interpolation, grid_shape)
    columns = torch.as_tensor(rng.normal(size=(60, 2)))
    with torch.no_grad():  # the compiled kernels
        fast_mesh = to_mesh(columns)
        fast_points = to_points(fast_mesh)
    columns.requires_grad_(True)  # the torch path
    slow_mesh = to_mesh(columns)
    slow_points = to_points(slow_mesh)
    torch.testing.assert_close(fast_mesh, slow_mesh.detach(), rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(fast_points, slow_points.detach(), rtol=1e-12, atol=1e-12)
    expected = interpolation.points_to_mesh(columns.detach())
    torch.testing.assert_close(fast_mesh, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("where", ["below", "above"])
def test_an_index_outside_the_mesh_is_refused_before_anything_is_written(rng, where):
    weights, flat, columns, grid, size = _inputs(rng)
    point = int(rng.integers(len(flat)))
    flat[point, int(rng.integers(flat.shape[1]))] = -1 if where == "below" else size
    with pytest.raises(InputError, match=f"flat index of point {point} is outside the mesh"):
        mesh.spread(weights, flat, columns, size)
    with pytest.raises(InputError, match=f"flat index of point {point} is outside the mesh"):
        mesh.gather(weights, flat, grid)
