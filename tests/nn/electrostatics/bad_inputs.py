"""Bad inputs of the electrostatics and charge-equilibration core (pgnfast.nn)."""

from __future__ import annotations

import math

import torch

from pgnfast.errors import InputError
from tests.bad_inputs import bad_input

from ._systems import random_structure, tensor


def _qeq_inputs(rng, n=4):
    """(chi, hardness, positions, widths) of a random molecule."""
    return (
        tensor(rng.normal(size=n)),
        tensor(rng.uniform(5.0, 10.0, n)),
        tensor(rng.uniform(-3.0, 3.0, (n, 3))),
        tensor(rng.uniform(0.6, 1.2, n)),
    )


@bad_input(
    "pgnfast.nn.qeq.qeq",
    "a total charge that is not finite",
    InputError,
    r"total_charge of structure \d+ is not finite",
)
def qeq_total_charge_not_finite(rng, tmp_path):
    from pgnfast.nn.qeq import qeq

    qeq(*_qeq_inputs(rng), total_charge=float(rng.choice([math.nan, math.inf])))


@bad_input(
    "pgnfast.nn.qeq.qeq",
    "a charge constraint on a structure with no atoms",
    InputError,
    r"structure \d+ has no atoms: its charge constraint",
)
def qeq_empty_structure(rng, tmp_path):
    from pgnfast.nn.qeq import qeq

    chi, hardness, positions, widths = _qeq_inputs(rng)
    batch = torch.zeros(4, dtype=torch.int64)
    qeq(chi, hardness, positions, widths, batch=batch, num_structures=2, total_charge=1.0)


@bad_input(
    "pgnfast.nn.qeq.qeq",
    "hardness of another length than positions",
    InputError,
    r"hardness must be a \(\d+,\) torch tensor",
)
def qeq_hardness_length(rng, tmp_path):
    from pgnfast.nn.qeq import qeq

    chi, hardness, positions, widths = _qeq_inputs(rng)
    qeq(chi, hardness[:-1], positions, widths)


@bad_input(
    "pgnfast.nn.electrostatics.ewald_energy",
    "periodic Ewald asked for a structure with pbc False",
    InputError,
    r"Ewald summation needs a fully periodic structure, got pbc=\(False",
)
def ewald_not_periodic(rng, tmp_path):
    from pgnfast.nn.electrostatics import ewald_energy

    charges, positions, cell, widths = random_structure(rng, n=4)
    ewald_energy(charges, positions, cell, widths, pbc=False)


@bad_input(
    "pgnfast.nn.electrostatics.ewald_energy",
    "periodic Ewald asked for a structure without a cell",
    InputError,
    r"cell is None but pbc=",
)
def ewald_no_cell(rng, tmp_path):
    from pgnfast.nn.electrostatics import ewald_energy

    charges, positions, _, widths = random_structure(rng, n=4)
    ewald_energy(charges, positions, None, widths)


@bad_input(
    "pgnfast.nn.electrostatics.ewald_energy",
    "a Gaussian width <= 0",
    InputError,
    r"widths must be > 0 Angstrom \(None for point charges\): widths\[\d+\] = ",
)
def ewald_width_not_positive(rng, tmp_path):
    from pgnfast.nn.electrostatics import ewald_energy

    charges, positions, cell, widths = random_structure(rng, n=4)
    widths[int(rng.integers(4))] = -float(rng.uniform(0.0, 1.0))
    ewald_energy(charges, positions, cell, widths)


@bad_input(
    "pgnfast.nn.electrostatics.direct_energy",
    "charges of another length than positions",
    InputError,
    r"charges must be a \(\d+,\) torch tensor like positions",
)
def direct_charges_length(rng, tmp_path):
    from pgnfast.nn.electrostatics import direct_energy

    charges, positions, _, widths = random_structure(rng, n=5)
    direct_energy(charges[:-1], positions, widths)
