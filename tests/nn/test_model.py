"""Physics of the NequIP model: symmetry, derivatives, smoothness, batching, dtypes."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from pgnfast.errors import PGNFastWarning
from pgnfast.nn import NequIP, build_graph
from pgnfast.testing import (
    assert_equivariant,
    equivariance_errors,
    finite_difference_forces,
    finite_difference_stress,
    random_graph,
    random_orthogonal,
    small_model,
    transform_graph,
)


@pytest.mark.parametrize("l_max,parity", [(1, True), (2, True), (2, False), (0, True)])
def test_equivariance_rotations_and_reflections(l_max, parity):
    model = small_model(l_max=l_max, parity=parity, num_layers=3)
    graph = random_graph(model, num_particles=10, box=1.2, seed=l_max)
    assert graph.senders.numel() > 40
    assert_equivariant(model, graph, atol=1e-10, trials=3)


def test_equivariance_check_can_fail(model64):
    # a map that is not a symmetry (a shear) must show up as an error
    graph = random_graph(model64, num_particles=10, box=1.2)
    shear = torch.eye(3, dtype=torch.float64)
    shear[0, 1] = 0.3
    errors = equivariance_errors(model64, graph, shear)
    assert errors["forces"] > 1e-6 and errors["energy"] > 1e-6


def test_translation_and_permutation_invariance(model64):
    graph = random_graph(model64, num_particles=10, box=1.2, seed=3)
    ref = model64(graph)
    moved = model64(
        transform_graph(graph, torch.eye(3, dtype=torch.float64), translation=[0.31, -0.7, 2.1])
    )
    assert torch.allclose(moved["energies"], ref["energies"], atol=1e-12)
    assert torch.allclose(moved["forces"], ref["forces"], atol=1e-12)
    # permute particles: rebuild the graph from permuted inputs
    rng = np.random.default_rng(1)
    perm = rng.permutation(graph.num_nodes)
    pos, cell = graph.positions.numpy(), graph.cell[0].numpy()
    permuted = build_graph(
        [(pos[perm], cell, graph.types.numpy()[perm], True)], model64.r_max, dtype=torch.float64
    )
    out = model64(permuted)
    assert torch.allclose(out["energy"], ref["energy"], atol=1e-12)
    assert torch.allclose(out["energies"], ref["energies"][perm], atol=1e-12)
    assert torch.allclose(out["forces"], ref["forces"][perm], atol=1e-12)


def test_forces_are_minus_gradient_by_finite_differences(model64):
    graph = random_graph(model64, num_particles=8, box=1.1, seed=4)
    forces = model64(graph)["forces"].detach().numpy()
    particles = [0, 5]
    numeric = finite_difference_forces(model64, graph, particles, step=1e-5)
    assert np.abs(forces[particles]).max() > 1e-3
    np.testing.assert_allclose(forces[particles], numeric, atol=1e-7, rtol=1e-6)


def test_stress_matches_strain_derivative(model64):
    graph = random_graph(model64, num_particles=8, box=1.1, seed=5)
    stress = model64(graph, compute_stress=True)["stress"][0].detach().numpy()
    numeric = finite_difference_stress(model64, graph, step=1e-5)
    assert np.abs(stress).max() > 1e-3
    np.testing.assert_allclose(stress, numeric, atol=1e-6, rtol=1e-6)
    np.testing.assert_allclose(stress, stress.T, atol=1e-12)


def test_energy_smooth_when_neighbor_crosses_r_max(model64):
    # non-periodic cluster; particle 2 moves out along y through r_max of particle 0 and
    # never comes near particle 1, so beyond r_max it is isolated and E is constant
    r_max = model64.r_max
    base = np.array([[0.0, 0.0, 0.0], [-0.25, -0.1, 0.0], [0.0, 0.0, 0.0]])

    def energy_force(distance):
        pos = base.copy()
        pos[2] = [0.0, distance, 0.0]
        graph = build_graph([(pos, None, np.array([0, 1, 0]), False)], r_max)
        out = model64(graph)
        return float(out["energy"][0].detach()), out["forces"].detach().numpy(), len(graph.senders)

    e_far, f_far, edges_far = energy_force(r_max + 0.05)
    e_out, _, edges_out = energy_force(r_max + 1e-4)
    e_in, f_in, edges_in = energy_force(r_max - 1e-4)
    e_near, f_near, _ = energy_force(r_max - 0.05)
    assert edges_in == edges_out + 2 == edges_far + 2  # the pair really crosses the cutoff
    assert e_out == e_far  # beyond r_max exactly no contribution
    assert abs(e_near - e_far) > 1e-4  # the interaction is there inside r_max ...
    assert abs(e_in - e_far) < 1e-8  # ... and vanishes smoothly (envelope ~ (1 - r/r_max)^3)
    assert np.abs(f_near[2]).max() > 1e-3
    assert np.abs(f_in[2]).max() < 1e-5 and np.all(f_far[2] == 0)


def test_batched_equals_single():
    model = small_model(node_descriptors=0)
    graphs = [random_graph(model, num_particles=6 + k, box=1.1, seed=10 + k) for k in range(3)]
    rng = np.random.default_rng(0)
    systems = []
    for g in graphs:
        systems.append((g.positions.numpy(), g.cell[0].numpy(), g.types.numpy(), True))
    batched = model(build_graph(systems, model.r_max), compute_stress=True)
    offset = 0
    for k, system in enumerate(systems):
        single = model(build_graph([system], model.r_max), compute_stress=True)
        n = len(system[0])
        assert torch.allclose(batched["energy"][k], single["energy"][0], atol=1e-12)
        assert torch.allclose(
            batched["energies"][offset : offset + n], single["energies"], atol=1e-12
        )
        assert torch.allclose(batched["forces"][offset : offset + n], single["forces"], atol=1e-12)
        assert torch.allclose(batched["stress"][k], single["stress"][0], atol=1e-12)
        offset += n
    del rng


def test_float32_agrees_with_float64():
    model64 = small_model(torch.float64)
    model32 = small_model(torch.float64).to(torch.float32)
    graph = random_graph(model64, num_particles=10, box=1.2, seed=6)
    out64 = model64(graph)
    out32 = model32(graph.to(dtype=torch.float32))
    assert out32["energy"].dtype == torch.float32
    assert torch.allclose(out32["energy"].double(), out64["energy"], rtol=1e-5, atol=1e-5)
    assert torch.allclose(out32["forces"].double(), out64["forces"], rtol=1e-4, atol=1e-4)


def test_default_dtype_float32_and_structure():
    model = NequIP(r_max=0.5, num_layers=3, l_max=1, num_features=4)
    assert model.dtype == torch.float32
    assert model.receptive_field == pytest.approx(1.5)
    assert model.layers[0].interaction.self_connection is None  # isolated-particle limit
    assert all(ir.l == 0 for _, ir in model.layers[-1].irreps_out)  # last layer: scalars
    assert str(model.layers[1].irreps_out) == "4x0e+4x1e+4x1o"


def test_node_descriptors_change_energies():
    model = small_model(node_descriptors=3)
    graph = random_graph(model, num_particles=8, box=1.1, seed=7)
    e1 = model(graph, compute_forces=False)["energy"]
    e2 = model(replace(graph, descriptors=graph.descriptors + 0.5), compute_forces=False)["energy"]
    assert not torch.allclose(e1, e2)
    with pytest.raises(ValueError):
        model(replace(graph, descriptors=None))


def test_backend_setting_and_fallback(model64):
    graph = random_graph(model64, num_particles=8, box=1.1, seed=8)
    ref = model64(graph)["energy"]
    model64.backend = "auto"
    assert all(layer.interaction.backend == "auto" for layer in model64.layers)
    assert torch.allclose(model64(graph)["energy"], ref, atol=1e-10)
    import pgnfast.ops.convolution as convolution

    convolution._warned.clear()
    convolution._resolved.clear()
    with pytest.warns(PGNFastWarning, match="not available"):
        model64.backend = "cuda"  # not on this CPU: warns once, when set, and falls back
    out = model64(graph)["energy"]
    assert torch.allclose(out, ref, atol=1e-10)
    with pytest.raises(ValueError):
        model64.backend = "fastest"


def test_no_edges_and_isolated_particles(model64):
    pos = np.array([[0.0, 0.0, 0.0], [5.0, 0.0, 0.0]])
    graph = build_graph([(pos, None, np.array([0, 1]), False)], model64.r_max)
    out = model64(graph)
    assert graph.senders.numel() == 0
    assert torch.all(out["forces"] == 0)
    # the isolated-particle energy is the per-type readout of the embedding alone
    assert torch.isfinite(out["energies"]).all()


def test_reflection_helper_is_improper():
    assert torch.linalg.det(random_orthogonal(reflect=True)) < 0
    assert torch.linalg.det(random_orthogonal(reflect=False)) > 0
