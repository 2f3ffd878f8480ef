"""The CPU backend's cache of freed large arrays: reuse never changes results or aliases
arrays still alive, and the limit and emptying work."""

import numpy as np
import pytest

import pgnfast
from pgnfast.neighbors import empty_memory_cache, memory_cache_info, set_memory_cache_limit

pytest.importorskip("pgnfast._cpu")

CUTOFF = 2.0


def _system(rng, n=60_000):
    """Enough pairs (~2 M) that every output array is a cached-size block (>= 4 MiB)."""
    box = (n / 1.0) ** (1 / 3)
    cell = np.diag(box * rng.uniform(0.9, 1.1, 3))
    cell[1, 0] = rng.uniform(-2, 2)
    return rng.uniform(-0.5, 1.5, (n, 3)) @ cell, cell


def _arrays(nl):
    return [np.array(a, copy=True) for a in (nl.i, nl.j, nl.shifts, nl.vectors, nl.distances)]


@pytest.fixture
def fresh_cache():
    info = memory_cache_info()
    yield
    set_memory_cache_limit(info["limit_bytes"])


def test_reused_blocks_give_identical_lists_and_never_alias_live_arrays(fresh_cache, rng):
    set_memory_cache_limit(0)
    positions, cell = _system(rng)
    expected = _arrays(pgnfast.neighbor_list(positions, cell, CUTOFF, backend="cpu"))
    set_memory_cache_limit(1 << 32)
    first = pgnfast.neighbor_list(positions, cell, CUTOFF, backend="cpu")
    del first  # its blocks go to the cache
    hits = memory_cache_info()["hits"]
    alive = pgnfast.neighbor_list(positions, cell, CUTOFF, backend="cpu")
    assert memory_cache_info()["hits"] > hits
    # a second list while the first is alive: fresh blocks, the first stays intact
    other_positions, other_cell = _system(rng)
    other = pgnfast.neighbor_list(other_positions, other_cell, CUTOFF, backend="cpu")
    for got, want in zip(_arrays(alive), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert not np.shares_memory(alive.vectors, other.vectors)
    assert memory_cache_info()["live_bytes"] > 0


def test_limit_zero_and_empty_release_everything(fresh_cache, rng):
    positions, cell = _system(rng)
    set_memory_cache_limit(1 << 32)
    nl = pgnfast.neighbor_list(positions, cell, CUTOFF, backend="cpu")
    del nl
    assert memory_cache_info()["cached_bytes"] > 0
    empty_memory_cache()
    assert memory_cache_info()["cached_bytes"] == 0
    set_memory_cache_limit(0)
    nl = pgnfast.neighbor_list(positions, cell, CUTOFF, backend="cpu")
    del nl
    assert memory_cache_info()["cached_bytes"] == 0
    with pytest.raises(ValueError, match="cache limit"):
        set_memory_cache_limit(-1)
