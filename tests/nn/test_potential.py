"""pgnfast.Potential (the MC protocol), model files, the ASE calculator and torch.compile."""

import numpy as np
import pytest
import torch

import pgnfast
from pgnfast.nn import build_graph
from pgnfast.potentials.base import PotentialProtocol
from pgnfast.testing import random_graph, random_positions, small_model


def _system(seed=0, n=10, box=1.2):
    rng = np.random.default_rng(seed)
    return (
        random_positions(n, box, rng, min_distance=0.25),
        np.eye(3) * box,
        rng.integers(0, 2, n),
        True,
    )


def test_potential_protocol_and_consistency(model64):
    potential = pgnfast.Potential(model64)
    assert isinstance(potential, PotentialProtocol)
    assert potential.receptive_field == pytest.approx(2 * 0.6)
    pos, cell, types, pbc = _system()
    energies = potential.energies(pos, cell, types)
    assert energies.shape == (10,) and energies.dtype == np.float64
    energy = potential.energy(pos, cell, types)
    assert energy == pytest.approx(energies.sum(), abs=1e-12)
    e, forces = potential.energy_forces(pos, cell, types)
    assert isinstance(forces, np.ndarray) and forces.shape == (10, 3)
    assert e == pytest.approx(energy, abs=1e-12)
    direct = model64(build_graph([(pos, cell, types, True)], model64.r_max))
    np.testing.assert_allclose(forces, direct["forces"].detach().numpy(), atol=1e-12)
    # torch in -> torch out, same dtype and device
    pos_t = torch.tensor(pos, dtype=torch.float32)
    e_t, f_t = potential.energy_forces(pos_t, torch.tensor(cell), types)
    assert isinstance(f_t, torch.Tensor) and f_t.dtype == torch.float32
    np.testing.assert_allclose(f_t.numpy(), forces, atol=1e-5)


def test_energies_batch_is_one_model_call(model64):
    potential = pgnfast.Potential(model64)
    systems = [_system(seed) for seed in range(3)]
    systems.append((_system(9)[0][:5], None, np.zeros(5, int), False))  # a cluster
    calls = []
    handle = model64.register_forward_hook(lambda *args: calls.append(1))
    batch = potential.energies_batch(systems)
    handle.remove()
    assert len(calls) == 1
    for system, energies in zip(systems, batch):
        np.testing.assert_allclose(energies, potential.energies(*system), atol=1e-12)


def test_skin_verlet_list_gives_same_results(model64):
    plain = pgnfast.Potential(model64)
    skinned = pgnfast.Potential(model64, skin=0.1)
    pos, cell, types, _ = _system(3)
    rng = np.random.default_rng(0)
    for _ in range(3):
        pos = pos + rng.normal(0, 0.01, pos.shape)
        e1, f1 = plain.energy_forces(pos, cell, types)
        e2, f2 = skinned.energy_forces(pos, cell, types)
        assert e1 == pytest.approx(e2, abs=1e-12)
        np.testing.assert_allclose(f1, f2, atol=1e-12)
    assert skinned._verlet.builds == 1


def test_cluster_without_pbc(model64):
    potential = pgnfast.Potential(model64)
    pos = _system(4)[0][:6]
    e_none = potential.energy(pos, None, None, pbc=False)
    e_box = potential.energy(pos, np.eye(3) * 50.0, None, pbc=False)
    assert e_none == pytest.approx(e_box, abs=1e-12)


def test_save_load_round_trip(tmp_path, model64):
    path = tmp_path / "model.pt"
    model64.backend = "auto"
    pgnfast.save_model(model64, path)
    loaded = pgnfast.load_model(path)
    assert loaded.dtype == torch.float64 and loaded.backend == "auto"
    assert loaded.type_names == model64.type_names
    graph = random_graph(model64, num_particles=8, box=1.1, seed=2)
    a, b = model64.eval()(graph), loaded(graph)
    assert torch.equal(a["energies"], b["energies"]) and torch.equal(a["forces"], b["forces"])
    assert not list(tmp_path.glob(".tmp-*"))  # the atomic write left no temporary file
    # a path works for Potential too
    assert pgnfast.Potential(str(path)).model.r_max == model64.r_max


def test_incompatible_model_file_fails_clearly(tmp_path, model64):
    from pgnfast.nn.io import IncompatibleModelError, model_record

    record = model_record(model64)
    record["format_version"] = 99
    record["pgnfast_version"] = "9.0.0"
    path = tmp_path / "future.pt"
    torch.save(record, path)
    with pytest.raises(IncompatibleModelError, match="format version 99.*9.0.0"):
        pgnfast.load_model(path)
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(IncompatibleModelError, match="not a pgnfast"):
        pgnfast.load_model(tmp_path / "other.pt")


def test_ase_calculator_matches_model(tmp_path, model64):
    import ase

    from pgnfast.calculators import PGNCalculator

    pos, cell, types, _ = _system(5)
    atoms = ase.Atoms(positions=pos, cell=cell, pbc=True, numbers=np.ones(len(pos)))
    atoms.arrays["types"] = types
    pgnfast.save_model(model64, tmp_path / "m.pt")
    for source in (model64, tmp_path / "m.pt"):
        atoms.calc = PGNCalculator(source)
        out = model64(build_graph([(pos, cell, types, True)], model64.r_max), compute_stress=True)
        assert atoms.get_potential_energy() == pytest.approx(
            float(out["energy"][0].detach()), abs=1e-12
        )
        np.testing.assert_allclose(atoms.get_forces(), out["forces"].detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(
            atoms.calc.get_property("energies"), out["energies"].detach().numpy(), atol=1e-12
        )
        s = out["stress"][0].detach().numpy()
        np.testing.assert_allclose(
            atoms.get_stress(), [s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]], atol=1e-12
        )
    assert atoms.get_potential_energy(force_consistent=True) == pytest.approx(
        atoms.get_potential_energy()
    )


def test_torch_compile_matches_eager():
    # tiny on purpose: Inductor's C++ compile dominates (about 20 s on 2 cores)
    model = small_model(torch.float64, l_max=1, num_layers=1, num_features=2, radial_mlp_width=4)
    graph = random_graph(model, num_particles=8, box=1.1, seed=11)
    eager = model(graph)
    compiled = torch.compile(model, dynamic=False)
    out = compiled(graph)
    assert torch.allclose(out["energies"], eager["energies"], atol=1e-10)
    assert torch.allclose(out["forces"], eager["forces"], atol=1e-10)
