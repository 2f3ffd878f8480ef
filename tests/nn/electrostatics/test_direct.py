"""The non-periodic direct sum against a brute-force double loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pgnfast.nn.electrostatics import (
    COULOMB_CONSTANT,
    coulomb_matrix,
    direct_energy,
    electrostatic_energy,
)

from ._systems import central_difference, tensor

K = COULOMB_CONSTANT


def _molecule(rng, n=7, gaussian=True):
    positions = tensor(rng.uniform(-4.0, 4.0, (n, 3)))
    charges = tensor(rng.normal(size=n))
    widths = tensor(rng.uniform(0.3, 1.5, n)) if gaussian else None
    return charges, positions, widths


def _double_loop(q, r, s, include_self):
    q, r = q.numpy(), r.numpy()
    total = 0.0
    for i in range(len(q)):
        for j in range(i + 1, len(q)):
            d = float(np.linalg.norm(r[i] - r[j]))
            screen = 1.0 if s is None else math.erf(d / math.sqrt(2 * (s[i] ** 2 + s[j] ** 2)))
            total += q[i] * q[j] * screen / d
        if s is not None and include_self:
            total += q[i] ** 2 / (2 * math.sqrt(math.pi) * float(s[i]))
    return K * total


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("gaussian", [False, True], ids=["point", "gaussian"])
def test_direct_sum_matches_a_double_loop(rng, gaussian, include_self):
    charges, positions, widths = _molecule(rng, gaussian=gaussian)
    energy = direct_energy(charges, positions, widths, include_self=include_self)
    reference = _double_loop(charges, positions, widths, include_self)
    assert float(energy) == pytest.approx(reference, rel=1e-12)
    matrix = coulomb_matrix(positions, widths, include_self=include_self)
    assert float(0.5 * charges @ matrix @ charges) == pytest.approx(reference, rel=1e-12)
    dispatched = electrostatic_energy(charges, positions, widths, include_self=include_self)
    assert float(dispatched) == pytest.approx(reference, rel=1e-12)


def test_narrow_gaussians_become_point_charges(rng):
    charges, positions, _ = _molecule(rng)
    narrow = torch.full((7,), 1e-3, dtype=torch.float64)
    pair_part = direct_energy(charges, positions, narrow, include_self=False)
    assert float(pair_part) == pytest.approx(float(direct_energy(charges, positions)), rel=1e-9)


def test_direct_gradients_match_finite_differences(rng):
    charges, positions, widths = _molecule(rng, n=4)
    inputs = [x.clone().requires_grad_(True) for x in (charges, positions, widths)]
    gradients = torch.autograd.grad(direct_energy(*inputs), inputs)
    for index, gradient in enumerate(gradients):

        def moved(value, index=index):
            values = [x.detach() for x in inputs]
            values[index] = value
            return direct_energy(*values)

        numeric = central_difference(moved, inputs[index])
        assert torch.allclose(gradient, numeric, rtol=1e-6, atol=1e-7), index
