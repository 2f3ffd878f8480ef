"""Bad inputs of NequIP-LR and the fast electrostatics path (PME, iterative Qeq)."""

from __future__ import annotations

import math

import numpy as np
import torch

from pgnfast.errors import InputError, UnitsError
from tests.bad_inputs import bad_input


def _tiny_model():
    from pgnfast.nn.nequip_lr import NequIPLR

    return NequIPLR(
        r_max=3.0,
        num_types=2,
        type_names=["Na", "Cl"],
        num_features=2,
        radial_mlp_width=4,
        charge_layers=1,
        energy_layers=1,
        backend="reference",
    ).to(torch.float64)


def _graph(rng, cell=None, pbc=False):
    from pgnfast.nn.graph import build_graph

    positions = rng.uniform(0.0, 4.0, (4, 3))
    return build_graph([(positions, cell, [0, 1, 0, 1], pbc)], 3.0, num_types=2)


@bad_input(
    "pgnfast.nn.nequip_lr.NequIPLR.forward",
    "a total charge that is not finite",
    InputError,
    r"total_charge of structure \d+ is not finite",
)
def lr_total_charge_not_finite(rng, tmp_path):
    _tiny_model()(_graph(rng), total_charge=float(rng.choice([math.nan, math.inf])))


@bad_input(
    "pgnfast.nn.qeq.qeq_iterative",
    "a charge constraint on a structure with no atoms",
    InputError,
    r"structure \d+ has no atoms: its charge constraint",
)
def qeq_iterative_empty_structure(rng, tmp_path):
    from pgnfast.nn.qeq import qeq_iterative

    n = 4
    positions = torch.as_tensor(rng.uniform(-3.0, 3.0, (n, 3)))
    qeq_iterative(
        torch.as_tensor(rng.normal(size=n)),
        torch.full((n,), 8.0, dtype=torch.float64),
        positions,
        torch.ones(n, dtype=torch.float64),
        batch=torch.zeros(n, dtype=torch.int64),
        num_structures=2,
        total_charge=1.0,
    )


@bad_input(
    "pgnfast.nn.pme.pme_energy",
    "a non-periodic structure with a cell, periodic (PME) Ewald asked for",
    InputError,
    r"Ewald summation needs a fully periodic structure",
)
def pme_non_periodic_structure(rng, tmp_path):
    from pgnfast.nn.pme import pme_energy

    positions = torch.as_tensor(rng.uniform(0.0, 5.0, (4, 3)))
    charges = torch.as_tensor([1.0, -1.0, 0.5, -0.5])
    pme_energy(charges, positions, torch.eye(3, dtype=torch.float64) * 6.0, pbc=False)


@bad_input(
    "pgnfast.nn.nequip_lr.NequIPLR.forward",
    "a structure with a cell that is periodic in only some directions",
    InputError,
    r"Ewald electrostatics need a fully periodic structure",
)
def lr_mixed_periodicity(rng, tmp_path):
    cell = np.eye(3) * 6.0
    graph = _graph(rng, cell, (True, True, False))
    _tiny_model()(graph, pbc=[(True, True, False)])


@bad_input(
    "pgnfast.nn.nequip_lr.NequIPLR",
    "units other than Angstrom and eV",
    UnitsError,
    r"is in nm for length, expected Angstrom",
)
def lr_units_mismatch(rng, tmp_path):
    from pgnfast.nn.nequip_lr import NequIPLR

    NequIPLR(r_max=3.0, type_names=["Na"], units="pgn")


@bad_input(
    "pgnfast.nn.io.load_model",
    "a NequIP-LR file loaded for the PGN units (nm, kT)",
    UnitsError,
    r"is in Angstrom for length, expected nm",
)
def lr_file_units_mismatch(rng, tmp_path):
    from pgnfast.nn.io import load_model, save_model

    path = tmp_path / "lr.pt"
    save_model(_tiny_model(), path)
    load_model(path, units="pgn")
