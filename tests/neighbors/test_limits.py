"""The memory limit (refuse a search whose pair list cannot fit) and the compiled boundary
(memory running out inside the OpenMP search raises MemoryError instead of killing Python)."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import pgnfast
from pgnfast.errors import MemoryLimitError
from pgnfast.neighbors import NeighborListError, limits, memory_limit, set_memory_limit
from pgnfast.neighbors._common import validate

from .conftest import random_cell

CPU_BACKENDS = [b for b in ("cpu", "reference") if b in pgnfast.available_backends("cpu")]
HAS_CPU = "cpu" in CPU_BACKENDS


@pytest.fixture
def restore_limit(monkeypatch):
    """Leave the limit as the test found it (and no PGNFAST_MEMORY_LIMIT inside the test)."""
    monkeypatch.delenv(limits.ENVIRONMENT_VARIABLE, raising=False)
    saved = limits._limit
    yield
    limits._limit = saved


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_tiny_box_with_huge_cutoff_is_refused_naming_the_estimate(
    backend, kind, rng, restore_limit
):
    cell = np.eye(3) * 0.01
    positions = rng.uniform(0, 0.01, (10, 3))
    if kind == "torch":
        positions, cell = torch.tensor(positions), torch.tensor(cell)
    set_memory_limit(1 << 30)
    expected_pairs = 10 * 10 * (4 / 3 * np.pi * 5.0**3) / 1e-6
    with pytest.raises(MemoryLimitError) as raised:
        pgnfast.neighbor_list(positions, cell, 5.0, backend=backend)
    message = str(raised.value)
    assert f"about {expected_pairs:.3g} pairs" in message
    per_pair = limits.BYTES_PER_PAIR[backend]
    assert f"~{expected_pairs * per_pair:.3g} bytes" in message
    assert f"memory limit of {1 << 30} bytes" in message
    assert isinstance(raised.value, MemoryError)


def test_the_limit_also_guards_the_verlet_list(rng, restore_limit):
    set_memory_limit(1 << 20)
    cell = np.eye(3) * 0.05
    with pytest.raises(MemoryLimitError, match="memory limit of 1048576 bytes"):
        pgnfast.VerletList(2.0, 0.5)(rng.uniform(0, 0.05, (20, 3)), cell)


def test_default_limit_is_half_the_ram_and_leaves_normal_systems_alone(rng, restore_limit):
    limits._limit = limits._UNSET
    ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert memory_limit() == ram // 2
    n = 20_000
    cell = random_cell(rng, n ** (1 / 3), 0.3)  # one particle per nm^3
    positions = rng.uniform(-0.5, 1.5, (n, 3)) @ cell
    nl = pgnfast.neighbor_list(positions, cell, 2.0)
    assert len(nl) > 20 * n
    # an open cluster and a slab: their extent along free directions sets the density
    for pbc in (False, (True, True, False)):
        assert len(pgnfast.neighbor_list(positions, cell, 2.0, pbc=pbc)) > n


@pytest.mark.parametrize(
    "pbc, n", [(True, 4000), ((True, False, True), 4000), (False, 3000), (True, 3)]
)
def test_estimate_is_close_to_the_count_for_uniform_density(pbc, n, rng):
    # an orthorhombic box: along free directions the estimate spreads the particles over
    # their bounding box, which a rotated or sheared cell fills only partly
    cell = np.diag(rng.uniform(10.0, 14.0, 3)) if n > 10 else np.eye(3) * 0.2
    positions = rng.uniform(0, 1, (n, 3)) @ cell
    cutoff = 1.5
    geometry = validate(positions, cell, cutoff, pbc)
    pairs, _ = limits.estimate_pairs(geometry, half=False)
    counted = len(pgnfast.neighbor_list(positions, cell, cutoff, pbc=pbc))
    # exact on average for periodic boxes; open faces lose neighbours (estimate above)
    low, high = (0.85, 1.15) if pbc is True else (0.85, 2.0)
    assert low * counted <= pairs <= high * counted, (pairs, counted)


def test_limit_values_and_environment_variable(monkeypatch, rng, restore_limit):
    set_memory_limit(12345)
    assert memory_limit() == 12345
    set_memory_limit(None)
    assert memory_limit() is None
    cell = np.eye(3) * 0.2
    positions = rng.uniform(0, 0.2, (3, 3))
    assert len(pgnfast.neighbor_list(positions, cell, 0.5, backend="reference")) > 0
    for bad in (True, 0, -5, 1.5, "100"):
        with pytest.raises(NeighborListError, match="memory limit must be"):
            set_memory_limit(bad)

    limits._limit = limits._UNSET
    monkeypatch.setenv(limits.ENVIRONMENT_VARIABLE, "4096")
    assert memory_limit() == 4096
    with pytest.raises(MemoryLimitError, match="memory limit of 4096 bytes"):
        pgnfast.neighbor_list(positions, cell, 5.0)
    monkeypatch.setenv(limits.ENVIRONMENT_VARIABLE, "None")
    assert memory_limit() is None
    monkeypatch.setenv(limits.ENVIRONMENT_VARIABLE, "lots")
    with pytest.raises(NeighborListError, match="PGNFAST_MEMORY_LIMIT='lots'"):
        memory_limit()
    set_memory_limit(8192)  # the call wins over the environment
    assert memory_limit() == 8192


OUT_OF_MEMORY_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    from pgnfast import _cpu
    import pgnfast.neighbors as neighbors

    status = open("/proc/self/status").read()
    used = int(status.split("VmSize:")[1].split()[0]) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (used + (1 << 30), resource.RLIM_INFINITY))
    rng = np.random.default_rng(int(sys.argv[1]))
    cell = np.eye(3) * 0.01
    # 10 particles, one thread: the stencil of 10^9 cells fails inside the parallel region;
    # 8192 particles, two threads: the per-thread pair buffers fail there
    for n, threads in ((10, 1), (10, 0), (8192, 2)):
        positions = rng.uniform(0, 0.01, (n, 3))
        try:
            _cpu.cell_list(positions, cell, cell.copy(), (True,) * 3, 5.0, False, False,
                           threads, 1.0)
        except MemoryError as error:
            print("MemoryError:", error)
        else:
            sys.exit("no error")
    neighbors.set_memory_limit(None)
    try:
        neighbors.neighbor_list(rng.uniform(0, 0.01, (10, 3)), cell, 5.0, backend="cpu")
    except MemoryError as error:
        print("neighbor_list MemoryError:", error)
    else:
        sys.exit("no error")
    print("survived")
    """
)


@pytest.mark.skipif(not HAS_CPU, reason="CPU extension not built")
@pytest.mark.skipif(
    importlib.util.find_spec("resource") is None or not sys.platform.startswith("linux"),
    reason="needs the resource module and /proc (Linux)",
)
def test_memory_running_out_inside_the_parallel_search_raises_memory_error(test_seed):
    result = subprocess.run(
        [sys.executable, "-c", OUT_OF_MEMORY_SCRIPT, str(test_seed % 2**31)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert result.stdout.count("MemoryError") == 4, result.stdout
    assert "stencil" in result.stdout and "survived" in result.stdout


@pytest.mark.skipif(not HAS_CPU, reason="CPU extension not built")
def test_positions_too_far_for_int32_images_are_refused(rng):
    cell = np.eye(3) * 1.0
    positions = rng.uniform(0, 1, (20, 3))
    positions[7, 2] = 1e12
    with pytest.raises(NeighborListError, match=r"positions\[7\] lies .* cell lengths"):
        pgnfast.neighbor_list(positions, cell, 0.5, backend="cpu")
