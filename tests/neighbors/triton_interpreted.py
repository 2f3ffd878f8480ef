"""Run by test_gpu_backends.py in a subprocess with TRITON_INTERPRET=1 (set before Triton is
imported): the Triton cell list against the reference on fresh random small systems."""

import sys

import numpy as np
import torch

import pgnfast
from tests.neighbors.conftest import assert_same_pairs, random_cell


def main(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cases = [  # n, length, skew, cutoff, pbc, half
        (30, 5.0, 0.3, 1.8, (True, True, True), False),
        (25, 4.0, 0.6, 2.5, (True, True, True), True),
        (6, 2.0, 0.2, 3.1, (True, True, True), False),  # cutoff above the box
        (30, 5.0, 0.2, 1.5, (True, False, True), False),
        (20, 5.0, 0.0, 2.0, (False, False, False), True),
    ]
    for n, length, skew, cutoff, pbc, half in cases:
        cell = torch.tensor(random_cell(rng, length, skew))
        positions = torch.tensor(rng.uniform(-0.5, 1.5, (n, 3))) @ cell
        got = pgnfast.neighbor_list(positions, cell, cutoff, pbc=pbc, half=half, backend="triton")
        want = pgnfast.neighbor_list(
            positions, cell, cutoff, pbc=pbc, half=half, backend="reference"
        )
        assert_same_pairs(got, want)
        assert torch.all(got.i[1:] >= got.i[:-1])
    # particles a rounding error below the cell's faces (fractional -1e-17 wraps to 1.0)
    cell = torch.tensor(random_cell(rng, 5.0, 0.3))
    fractional = torch.tensor(rng.uniform(0, 1, (24, 3)))
    fractional[:12, 0] = -1e-17
    fractional[6:18, 2] = -1e-16
    positions = fractional @ cell
    got = pgnfast.neighbor_list(positions, cell, 1.9, backend="triton")
    assert_same_pairs(got, pgnfast.neighbor_list(positions, cell, 1.9, backend="reference"))
    print("triton cell list matches the reference")


if __name__ == "__main__":
    main(int(sys.argv[1]))
