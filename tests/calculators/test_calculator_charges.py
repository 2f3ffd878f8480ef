"""The ASE calculator with a NequIP-LR model: charges and electrostatic energy beside energy,
forces and stress, the total charge from the calculator or atoms.info, units checked."""

from __future__ import annotations

import ase
import numpy as np
import pytest
import torch

from pgnfast.calculators import PGNCalculator
from pgnfast.errors import UnitsError
from pgnfast.nn import build_graph
from pgnfast.nn.nequip_lr import NequIPLR


@pytest.fixture
def model(test_seed):
    torch.manual_seed(test_seed % 2**31)
    lr = NequIPLR(
        r_max=3.0,
        num_types=2,
        type_names=["Na", "Cl"],
        num_features=4,
        radial_mlp_width=8,
        charge_layers=1,
        energy_layers=1,
        backend="reference",
    ).to(torch.float64)
    with torch.no_grad():
        for parameter in lr.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    return lr.eval()


def _atoms(rng, periodic):
    symbols = ["Na", "Cl"] * 3
    positions = rng.uniform(0.0, 5.0, (6, 3))
    atoms = ase.Atoms(symbols, positions=positions, cell=np.eye(3) * 6.0, pbc=periodic)
    return atoms


@pytest.mark.parametrize("periodic", [True, False], ids=["crystal", "molecule-in-a-box"])
def test_charges_and_electrostatic_energy_match_the_model(model, rng, periodic):
    atoms = _atoms(rng, periodic)
    atoms.info["total_charge"] = 1.0
    atoms.calc = PGNCalculator(model, units="atomistic")
    types = np.array([0, 1] * 3)
    graph = build_graph([(atoms.positions, atoms.cell[:], types, periodic)], model.r_max)
    direct = model(graph, total_charge=1.0, pbc=[(periodic,) * 3])
    charges = atoms.get_charges()
    np.testing.assert_allclose(charges, direct["charges"].detach().numpy(), atol=1e-12)
    assert charges.sum() == pytest.approx(1.0, abs=1e-10)
    assert atoms.calc.results["electrostatic_energy"] == pytest.approx(
        float(direct["electrostatic_energy"][0].detach()), abs=1e-12
    )
    assert atoms.get_potential_energy() == pytest.approx(float(direct["energy"][0].detach()))
    np.testing.assert_allclose(atoms.get_forces(), direct["forces"].detach().numpy(), atol=1e-12)
    if periodic:
        assert atoms.get_stress().shape == (6,)


def test_the_calculators_total_charge_overrides_atoms_info(model, rng):
    atoms = _atoms(rng, True)
    atoms.info["total_charge"] = 1.0
    atoms.calc = PGNCalculator(model, total_charge=-2.0)
    assert atoms.get_charges().sum() == pytest.approx(-2.0, abs=1e-10)


def test_other_units_are_refused(model):
    with pytest.raises(UnitsError):
        PGNCalculator(model, units="pgn")
