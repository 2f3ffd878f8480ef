"""Triton (interpreted on the CPU) and CUDA backends against the reference/CPU backends."""

import pytest
import torch

import pgnfast

from ..triton_subprocess import run_interpreted
from .conftest import assert_same_pairs, random_cell


def test_triton_kernel_under_interpreter_matches_reference(test_seed):
    pytest.importorskip("triton")
    run_interpreted("tests.neighbors.triton_interpreted", "matches the reference", seed=test_seed)


cuda = pytest.mark.skipif(
    not torch.cuda.is_available() or "cuda" not in pgnfast.available_backends("cuda"),
    reason="needs a CUDA device and the CUDA extension",
)


@cuda
@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["cuda", "triton"])
@pytest.mark.parametrize("n", [100, 20_000, 1_000_000])
def test_gpu_backend_matches_cpu_backend(backend, n, rng):
    length = (n / 1.0) ** (1 / 3)
    cell = random_cell(rng, length, 0.3)
    positions = rng.uniform(-0.2, 1.2, (n, 3)) @ cell
    cutoff = 2.1
    cpu = pgnfast.neighbor_list(positions, cell, cutoff, backend="cpu")
    gpu = pgnfast.neighbor_list(
        torch.tensor(positions, device="cuda"),
        torch.tensor(cell, device="cuda"),
        cutoff,
        backend=backend,
    )
    assert gpu.i.is_cuda
    assert_same_pairs(gpu, cpu, atol=1e-9)
