"""neighbor_list: every backend against ASE and the reference, on fixed and random cells."""

import ase
import numpy as np
import pytest
import torch
from ase.neighborlist import neighbor_list as ase_neighbor_list
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pgnfast
from pgnfast.errors import InputError, PGNFastWarning
from pgnfast.neighbors import NeighborList, NeighborListError

from .conftest import assert_same_pairs, canonical, random_cell

CPU_BACKENDS = [b for b in ("cpu", "reference") if b in pgnfast.available_backends("cpu")]


def ase_pairs(positions, cell, cutoff, pbc, self_interaction=False):
    atoms = ase.Atoms(positions=positions, cell=cell, pbc=pbc)
    i, j, s, v, d = ase_neighbor_list("ijSDd", atoms, cutoff, self_interaction=self_interaction)
    return NeighborList(i, j, s, v, d)


CASES = {
    # name: (n, cell length, skew, cutoff as a fraction of the length, pbc, position spread)
    "cubic": (60, 6.0, 0.0, 0.3, True, 1.0),
    "triclinic": (60, 6.0, 0.4, 0.3, True, 1.0),
    "very_skewed": (40, 6.0, 0.9, 0.35, True, 1.0),
    "cutoff_above_half_box": (20, 4.0, 0.3, 0.7, True, 1.0),
    "cutoff_above_box": (8, 3.0, 0.2, 1.6, True, 1.0),
    "unwrapped": (50, 5.0, 0.3, 0.4, True, 3.0),
    "slab": (50, 5.0, 0.3, 0.4, (True, True, False), 1.0),
    "wire": (40, 5.0, 0.2, 0.4, (False, True, False), 1.0),
    "open": (50, 5.0, 0.0, 0.4, False, 1.0),
    "negative_coordinates_open": (40, 5.0, 0.0, 0.4, (False, True, False), -1.0),
}


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_ase(case, backend, rng):
    n, length, skew, fraction, pbc, spread = CASES[case]
    cell = random_cell(rng, length, skew)
    frac = rng.uniform(min(0, spread), abs(spread), (n, 3))
    if spread < 0:
        frac -= 2.0  # every coordinate negative
    positions = frac @ cell
    cutoff = fraction * length
    ours = pgnfast.neighbor_list(positions, cell, cutoff, pbc=pbc, backend=backend)
    assert_same_pairs(ours, ase_pairs(positions, cell, cutoff, pbc))
    assert isinstance(ours.i, np.ndarray) and ours.i.dtype == np.int64
    assert ours.shifts.dtype == np.int32 and ours.vectors.dtype == np.float64
    assert np.all(np.diff(ours.i) >= 0), "pairs must be sorted by i"


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_duplicate_points_and_self_interaction(backend, rng):
    cell = random_cell(rng, 4.0, 0.2)
    positions = rng.uniform(0, 1, (10, 3)) @ cell
    positions = np.concatenate([positions, positions[:4]])  # exact duplicates
    for self_interaction in (False, True):
        ours = pgnfast.neighbor_list(
            positions, cell, 1.7, backend=backend, self_interaction=self_interaction
        )
        theirs = ase_pairs(positions, cell, 1.7, True, self_interaction=self_interaction)
        assert_same_pairs(ours, theirs)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_half_list_is_half_of_full(backend, rng):
    cell = random_cell(rng, 3.0, 0.4)
    positions = rng.uniform(-1, 2, (25, 3)) @ cell
    full = pgnfast.neighbor_list(positions, cell, 2.5, backend=backend)
    half = pgnfast.neighbor_list(positions, cell, 2.5, half=True, backend=backend)
    assert 2 * len(half) == len(full)
    i, j, s, _, _ = canonical(half)
    mirrored = NeighborList(
        np.concatenate([i, j]),
        np.concatenate([j, i]),
        np.concatenate([s, -s]),
        np.zeros((2 * len(i), 3)),
        np.zeros(2 * len(i)),
    )
    fi, fj, fs, _, _ = canonical(full)
    mi, mj, ms, _, _ = canonical(mirrored)
    np.testing.assert_array_equal(fi, mi)
    np.testing.assert_array_equal(fj, mj)
    np.testing.assert_array_equal(fs, ms)


geometries = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**31 - 1),
        "n": st.integers(0, 40),
        "length": st.floats(1.0, 8.0),
        "skew": st.floats(0.0, 0.8),
        "cutoff": st.floats(0.2, 6.0),
        "pbc": st.tuples(st.booleans(), st.booleans(), st.booleans()),
        "half": st.booleans(),
        "spread": st.floats(1.0, 3.0),
    }
)


@pytest.mark.skipif("cpu" not in CPU_BACKENDS, reason="CPU extension not built")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(geometries)
def test_cpu_matches_reference_on_generated_geometries(g):
    rng = np.random.default_rng(g["seed"])
    cell = random_cell(rng, g["length"], g["skew"])
    positions = rng.uniform(-g["spread"] + 1, g["spread"], (g["n"], 3)) @ cell
    kwargs = dict(pbc=g["pbc"], half=g["half"])
    ours = pgnfast.neighbor_list(positions, cell, g["cutoff"], backend="cpu", **kwargs)
    reference = pgnfast.neighbor_list(positions, cell, g["cutoff"], backend="reference", **kwargs)
    assert_same_pairs(ours, reference)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_in_torch_out(backend, dtype, rng):
    cell = random_cell(rng, 5.0, 0.3)
    positions = rng.uniform(0, 1, (30, 3)) @ cell
    t_pos = torch.tensor(positions, dtype=dtype)
    t_cell = torch.tensor(cell, dtype=dtype)
    nl = pgnfast.neighbor_list(t_pos, t_cell, 2.0, backend=backend)
    assert isinstance(nl.i, torch.Tensor) and nl.i.dtype == torch.int64
    assert nl.vectors.dtype == dtype and nl.distances.dtype == dtype
    expected = t_pos[nl.j] - t_pos[nl.i] + nl.shifts.to(dtype) @ t_cell
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(nl.vectors, expected, atol=tol, rtol=0)


def _cutoff_in_a_gap(distances, low, high):
    """A cutoff in [low, high] in the middle of the widest gap between pair distances, so
    that the small moves of a finite-difference check cannot change the pair set."""
    inside = np.sort(distances[(distances > low) & (distances < high)])
    edges = np.concatenate([[low], inside, [high]])
    widest = int(np.argmax(np.diff(edges)))
    gap = edges[widest + 1] - edges[widest]
    return 0.5 * (edges[widest] + edges[widest + 1]), gap


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_vectors_and_distances_have_exact_gradients_in_positions_and_cell(backend, rng):
    cell = random_cell(rng, 3.0, 0.3)
    positions = rng.uniform(-0.2, 1.2, (8, 3)) @ cell
    candidates = pgnfast.neighbor_list(positions, cell, 2.2, backend="reference")
    cutoff, gap = _cutoff_in_a_gap(candidates.distances, 1.4, 2.0)
    assert gap > 1e-4, "no room for finite differences"

    def vectors_and_distances(positions, cell):
        nl = pgnfast.neighbor_list(positions, cell, cutoff, backend=backend)
        # a canonical order, so that a move that rebins particles cannot reorder the output
        key = np.column_stack([nl.i.numpy(), nl.j.numpy(), nl.shifts.numpy()])
        order = torch.as_tensor(np.lexsort(key.T[::-1]))
        return nl.vectors[order], nl.distances[order]

    inputs = (
        torch.tensor(positions, requires_grad=True),
        torch.tensor(cell, requires_grad=True),
    )
    vectors, _ = vectors_and_distances(*inputs)
    assert len(vectors) > 10
    assert torch.autograd.gradcheck(vectors_and_distances, inputs, eps=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_empty_and_single_particle(backend):
    cell = np.eye(3) * 3.0
    nl = pgnfast.neighbor_list(np.zeros((0, 3)), cell, 1.0, backend=backend)
    assert len(nl) == 0 and nl.vectors.shape == (0, 3)
    single = pgnfast.neighbor_list(np.ones((1, 3)), cell, 3.5, backend=backend)
    # the particle's own images at distance 3 in six directions
    assert len(single) == 6
    assert set(map(tuple, single.shifts)) == {
        (1, 0, 0),
        (-1, 0, 0),
        (0, 1, 0),
        (0, -1, 0),
        (0, 0, 1),
        (0, 0, -1),
    }


@pytest.mark.skipif("cpu" not in CPU_BACKENDS, reason="CPU extension not built")
def test_threads_do_not_change_the_result(rng):
    from pgnfast.neighbors.cpu import PARTICLES_PER_THREAD

    n = 3 * PARTICLES_PER_THREAD  # the extension runs min(threads, n // 4096) threads
    assert n // PARTICLES_PER_THREAD >= 2, "two threads would not both run"
    cell = random_cell(rng, n ** (1 / 3), 0.2)  # about one particle per nm^3
    positions = rng.uniform(-0.5, 1.5, (n, 3)) @ cell
    results = {}
    try:
        for threads in (1, 2):
            pgnfast.neighbors.set_num_threads(threads)
            results[threads] = pgnfast.neighbor_list(positions, cell, 1.6, backend="cpu")
    finally:
        pgnfast.neighbors.set_num_threads(0)
    one, two = results[1], results[2]
    assert len(one) > 10 * n
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


BAD_INPUTS = {
    "nan_position": (
        lambda p, c: (np.where(np.arange(len(p))[:, None] == 3, np.nan, p), c),
        "positions\\[3\\] is not finite",
    ),
    "inf_position": (
        lambda p, c: (np.where(np.arange(len(p))[:, None] == 5, np.inf, p), c),
        "positions\\[5\\] is not finite",
    ),
    "singular_cell": (lambda p, c: (p, np.array([c[0], c[1], c[0] + c[1]])), "singular"),
    "wrong_position_shape": (lambda p, c: (p[:, :2], c), "shape \\(N, 3\\)"),
    "wrong_cell_shape": (lambda p, c: (p, c[:2]), "cell must have shape"),
    "integer_positions": (lambda p, c: (p.astype(np.int64), c), "float32 or float64"),
    "nan_cell": (lambda p, c: (p, np.where(np.eye(3) > 0, np.nan, c)), "cell has non-finite"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_raises_clear_error(name, rng):
    make, message = BAD_INPUTS[name]
    cell = random_cell(rng, 5.0, 0.2)
    positions, cell = make(rng.uniform(0, 5, (10, 3)), cell)
    with pytest.raises(NeighborListError, match=message):
        pgnfast.neighbor_list(positions, cell, 1.5)


@pytest.mark.parametrize(
    "cutoff", [0.0, -1.0, float("nan"), float("inf"), "abc", "2.5", True, np.bool_(True)]
)
def test_bad_cutoff(cutoff):
    with pytest.raises(NeighborListError, match="cutoff"):
        pgnfast.neighbor_list(np.zeros((2, 3)), np.eye(3), cutoff)


def test_neighbor_list_error_is_an_input_error():
    assert issubclass(NeighborListError, InputError)
    assert issubclass(NeighborListError, ValueError)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_cell_none_needs_open_boundaries(kind, rng):
    positions = rng.uniform(0, 3, (12, 3))
    if kind == "torch":
        positions = torch.tensor(positions)
    with pytest.raises(NeighborListError, match="cell is None but pbc"):
        pgnfast.neighbor_list(positions, None, 1.5)
    with pytest.raises(NeighborListError, match="cell is None but pbc"):
        pgnfast.neighbor_list(positions, None, 1.5, pbc=(False, True, False))
    nl = pgnfast.neighbor_list(positions, None, 1.5, pbc=False)
    assert_same_pairs(nl, ase_pairs(np.asarray(positions), np.zeros((3, 3)), 1.5, False))


def test_zero_dimensional_cutoffs_are_read_as_numbers(rng):
    cell = random_cell(rng, 4.0, 0.2)
    positions = rng.uniform(0, 1, (15, 3)) @ cell
    expected = pgnfast.neighbor_list(positions, cell, 1.5)
    for cutoff in (np.float32(1.5), np.array(1.5), torch.tensor(1.5, dtype=torch.float64)):
        assert_same_pairs(pgnfast.neighbor_list(positions, cell, cutoff), expected)


def test_singular_cell_is_fine_along_open_directions():
    cell = np.diag([4.0, 0.0, 0.0])
    positions = np.array([[0.5, 0.0, 0.0], [3.5, 0.0, 0.0], [0.5, 1.0, 0.0]])
    nl = pgnfast.neighbor_list(positions, cell, 1.5, pbc=(True, False, False))
    assert_same_pairs(
        nl,
        pgnfast.neighbor_list(positions, cell, 1.5, pbc=(True, False, False), backend="reference"),
    )
    assert len(nl) == 6  # 0-1 across the boundary, 0-2 directly, and 1-2 across the boundary


def test_mismatched_kinds_and_unknown_backend():
    with pytest.raises(NeighborListError, match="torch tensor"):
        pgnfast.neighbor_list(np.zeros((2, 3)), torch.eye(3), 1.0)
    with pytest.raises(NeighborListError, match="unknown backend"):
        pgnfast.neighbor_list(np.zeros((2, 3)), np.eye(3), 1.0, backend="gpu9000")
    with pytest.raises(NeighborListError, match="CUDA tensors"):
        pgnfast.neighbor_list(np.zeros((2, 3)), np.eye(3), 1.0, backend="cuda")


def test_missing_backend_falls_back_with_a_warning(monkeypatch, rng):
    from pgnfast.neighbors import api, reference

    cell = random_cell(rng, 4.0, 0.2)
    positions = rng.uniform(0, 1, (12, 3)) @ cell
    # the answer from an outside oracle, and from the compiled backend while it is there
    expected = ase_pairs(positions, cell, 1.5, True)
    if "cpu" in CPU_BACKENDS:
        assert_same_pairs(pgnfast.neighbor_list(positions, cell, 1.5, backend="cpu"), expected)

    monkeypatch.setattr(api, "_extension", lambda name: None)
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert api.available_backends("cpu") == ["reference"]
    calls = []
    search = reference.pairs
    monkeypatch.setattr(reference, "pairs", lambda *a, **k: calls.append(1) or search(*a, **k))
    for backend in ("cpu", "triton"):
        with pytest.warns(PGNFastWarning, match=f"{backend!r} is not available"):
            nl = pgnfast.neighbor_list(positions, cell, 1.5, backend=backend)
        assert calls, f"the fallback for {backend!r} did not run the reference backend"
        calls.clear()
        assert_same_pairs(nl, expected)


def test_cli_reports_pairs(tmp_path, capsys, rng):
    import json

    from pgnfast.cli import main

    cell = random_cell(rng, 5.0, 0.2)
    atoms = ase.Atoms(positions=rng.uniform(0, 1, (30, 3)) @ cell, cell=cell, pbc=True)
    path = tmp_path / "frame.extxyz"
    atoms.write(path)
    assert main(["neighbors", str(path), "--cutoff", "1.5"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{") :])
    assert report["particles"] == 30
    assert report["pairs"] == len(ase_pairs(atoms.positions, cell, 1.5, True).i)


def hair_below_faces(rng, n=40, length=6.0):
    """A random triclinic cell with particles a rounding error below its faces (a
    fractional coordinate of -1e-17 wraps to exactly 1.0), on its faces and inside."""
    cell = random_cell(rng, length, 0.3)
    fractional = rng.uniform(0, 1, (n, 3))
    for p in range(n // 2):
        fractional[p, rng.integers(3)] = rng.choice([-1e-17, -1e-16, 0.0, 1.0, 1.0 - 2**-53])
    return fractional @ cell, cell


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("half", [False, True])
def test_particles_a_hair_below_a_face(backend, half, rng):
    positions, cell = hair_below_faces(rng)
    got = pgnfast.neighbor_list(positions, cell, 2.6, half=half, backend=backend)
    if not half:
        assert_same_pairs(got, ase_pairs(positions, cell, 2.6, True), atol=1e-10)
    reference = pgnfast.neighbor_list(positions, cell, 2.6, half=half, backend="reference")
    assert_same_pairs(got, reference)
