"""Per-atom output heads of NequIP: invariance, standardisation, the unchanged energy path,
and model files."""

import numpy as np
import pytest
import torch

from pgnfast.errors import IncompatibleModelError, InputError
from pgnfast.nn import build_graph
from pgnfast.nn.io import load_model, model_record, save_model
from pgnfast.testing import random_graph, small_model, transform_graph

TARGETS = ("barrier", "stress")


def _model(rng, dtype=torch.float64, **overrides):
    model = small_model(dtype, seed=int(rng.integers(2**31)), per_atom_targets=TARGETS, **overrides)
    model.set_per_atom_statistics({"barrier": (0.8, 0.3), "stress": (-2.0, 5.0)})
    return model


def _graph(model, rng, num_systems=1):
    return random_graph(
        model, num_particles=10, box=1.2, seed=int(rng.integers(2**31)), num_systems=num_systems
    )


def _orthogonal(rng) -> torch.Tensor:
    """A random 3x3 orthogonal matrix (a rotation or a rotation-reflection)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return torch.as_tensor(q * np.sign(np.diag(r)), dtype=torch.float64)


def test_outputs_have_one_vector_per_target(rng):
    model = _model(rng)
    graph = _graph(model, rng, num_systems=2)
    out = model(graph, compute_forces=False)
    assert model.per_atom_targets == TARGETS
    assert set(out["per_atom"]) == set(TARGETS)
    for name in TARGETS:
        values = out["per_atom"][name]
        assert values.shape == (graph.num_nodes,) and values.dtype == torch.float64
        assert values.std() > 0  # depends on each atom's surroundings


@pytest.mark.parametrize("reflect", [False, True])
def test_heads_are_invariant_under_rotations_reflections_translations(rng, reflect):
    model = _model(rng)
    graph = _graph(model, rng, num_systems=2)
    reference = model(graph, compute_forces=False)["per_atom"]
    matrix = _orthogonal(rng)
    if (torch.linalg.det(matrix) < 0) != reflect:
        matrix = -matrix
    moved = transform_graph(graph, matrix, translation=rng.uniform(-3, 3, 3))
    out = model(moved, compute_forces=False)["per_atom"]
    for name in TARGETS:
        torch.testing.assert_close(out[name], reference[name], rtol=0, atol=1e-12)


def test_heads_permute_with_the_atoms(rng):
    model = _model(rng)
    graph = _graph(model, rng)
    reference = model(graph, compute_forces=False)["per_atom"]
    perm = rng.permutation(graph.num_nodes)
    positions, cell = graph.positions.numpy(), graph.cell[0].numpy()
    permuted = build_graph(
        [(positions[perm], cell, graph.types.numpy()[perm], True)],
        model.r_max,
        dtype=torch.float64,
    )
    out = model(permuted, compute_forces=False)["per_atom"]
    for name in TARGETS:
        torch.testing.assert_close(out[name], reference[name][perm], rtol=0, atol=1e-12)


def test_statistics_rescale_the_standardised_prediction(rng):
    model = _model(rng)
    graph = _graph(model, rng)
    model.set_per_atom_statistics({"barrier": (0.0, 1.0)})
    standardised = model(graph, compute_forces=False)["per_atom"]
    mean, std = rng.normal(), rng.uniform(0.1, 3.0)
    model.set_per_atom_statistics({"barrier": (mean, std)})
    assert model.per_atom_statistics() == {"barrier": (mean, std), "stress": (-2.0, 5.0)}
    out = model(graph, compute_forces=False)["per_atom"]
    torch.testing.assert_close(out["barrier"], standardised["barrier"] * std + mean)
    torch.testing.assert_close(out["stress"], standardised["stress"], rtol=0, atol=0)


def test_bad_targets_and_statistics_are_refused(rng):
    for targets, message in [
        ("barrier", "sequence of names"),
        (("barrier", ""), r"per_atom_targets\[1\]"),
        (("a.b",), r"per_atom_targets\[0\]"),
        (("barrier", "barrier"), r"per_atom_targets\[1\] = 'barrier' repeats"),
    ]:
        with pytest.raises(InputError, match=message):
            small_model(per_atom_targets=targets)
    model = _model(rng)
    with pytest.raises(InputError, match="unknown target 'energy'"):
        model.set_per_atom_statistics({"energy": (0.0, 1.0)})
    with pytest.raises(InputError, match=r"std finite and > 0"):
        model.set_per_atom_statistics({"barrier": (0.0, 0.0)})
    with pytest.raises(InputError, match="pair"):
        model.set_per_atom_statistics({"barrier": 1.0})
    with pytest.raises(InputError, match="no per-atom targets"):
        small_model().set_per_atom_statistics({"barrier": (0.0, 1.0)})


def test_energy_path_is_unchanged_by_heads(rng):
    seed = int(rng.integers(2**31))
    plain = small_model(seed=seed)
    headed = small_model(seed=seed, per_atom_targets=TARGETS)
    graph = _graph(plain, rng, num_systems=2)
    out, ref = headed(graph, compute_stress=True), plain(graph, compute_stress=True)
    assert "per_atom" not in ref and plain.per_atom_targets == ()
    for key in ("energies", "energy", "forces", "stress"):
        assert torch.equal(out[key], ref[key]), key
    plain_state = plain.state_dict()
    assert {k: v for k, v in headed.state_dict().items() if k in plain_state}.keys() == (
        plain_state.keys()
    )
    assert all(torch.equal(headed.state_dict()[k], v) for k, v in plain_state.items())


def test_models_without_targets_give_the_energies_recorded_before_heads_existed():
    # Recorded with small_model(float64, seed=0) on random_graph(seed=0, 2 systems) before
    # per-atom heads were added (bit-identical there; the tolerance leaves room for another
    # BLAS). Fixed seeds on purpose: this is a regression reference.
    model = small_model(torch.float64, seed=0)
    graph = random_graph(model, num_particles=10, box=1.2, seed=0, num_systems=2)
    out = model(graph)
    expected_energy = [-0.38359476392858166, -1.5847205975432848]
    expected_energies = [
        -0.3987119069289244,
        0.21165735420119317,
        -0.4007119133987409,
        0.19299350473990845,
    ]
    expected_force = [0.033686046878964176, 0.029950275451690177, -0.49791317086277187]
    np.testing.assert_allclose(out["energy"].detach(), expected_energy, rtol=1e-12, atol=0)
    np.testing.assert_allclose(out["energies"][:4].detach(), expected_energies, rtol=1e-12)
    np.testing.assert_allclose(out["forces"][0].detach(), expected_force, rtol=1e-10, atol=1e-14)
    assert "per_atom_targets" not in model.hyperparameters
    assert not any(key.startswith("per_atom") for key in model.state_dict())


def test_heads_train(rng):
    model = _model(rng).train()
    graph = _graph(model, rng)
    out = model(graph, compute_forces=False)
    out["per_atom"]["barrier"].pow(2).mean().backward()
    head = model.per_atom_heads.heads["barrier"].mlp[0].weight
    assert head.grad is not None and head.grad.abs().sum() > 0
    assert model.per_atom_heads.heads["stress"].mlp[0].weight.grad is None


def test_float32_model_has_float32_heads(rng):
    model = _model(rng, dtype=torch.float32)
    graph = random_graph(model, num_particles=10, box=1.2, seed=1, dtype=torch.float32)
    out = model(graph, compute_forces=False)["per_atom"]
    assert out["barrier"].dtype == torch.float32
    assert model.per_atom_heads.heads["barrier"].std.dtype == torch.float32


def test_save_load_round_trip_keeps_heads_and_statistics(tmp_path, rng):
    model = _model(rng)
    graph = _graph(model, rng)
    path = tmp_path / "model.pt"
    save_model(model, path)
    loaded = load_model(path, per_atom_targets=("stress",))
    assert loaded.per_atom_targets == TARGETS
    assert loaded.hyperparameters["per_atom_targets"] == list(TARGETS)
    assert loaded.per_atom_statistics() == model.per_atom_statistics()
    out, ref = loaded(graph), model.eval()(graph)
    for name in TARGETS:
        assert torch.equal(out["per_atom"][name], ref["per_atom"][name])
    assert torch.equal(out["energy"], ref["energy"])
    with pytest.raises(IncompatibleModelError, match="no per-atom target 'density'"):
        load_model(path, per_atom_targets=("barrier", "density"))


def test_files_without_targets_are_unchanged_and_refuse_a_target(tmp_path, rng):
    model = small_model(seed=int(rng.integers(2**31)))
    record = model_record(model)
    assert "per_atom_targets" not in record["hyperparameters"]
    path = tmp_path / "model.pt"
    save_model(model, path)
    assert load_model(path, per_atom_targets=()).per_atom_targets == ()
    with pytest.raises(IncompatibleModelError, match=r"targets are \[\]"):
        load_model(path, per_atom_targets=("barrier",))


def test_damaged_target_hyperparameter_is_incompatible(tmp_path, rng):
    from pgnfast.nn.io import model_from_record, record_checksum

    record = model_record(_model(rng))
    record["hyperparameters"]["per_atom_targets"] = "barrier"
    record["checksum"] = record_checksum(record)
    with pytest.raises(IncompatibleModelError, match="per_atom_targets"):
        model_from_record(record)
    record = model_record(small_model())
    record["hyperparameters"]["per_atom_targets"] = ["barrier"]
    record["checksum"] = record_checksum(record)
    with pytest.raises(IncompatibleModelError, match="weights do not fit"):
        model_from_record(record)
