"""Bad inputs of the analysis area (pgnfast.analysis), run by tests/test_bad_input_table.py."""

from __future__ import annotations

import numpy as np

from pgnfast.errors import InputError
from tests.bad_inputs import bad_input


@bad_input(
    "pgnfast.analysis.hessian.hessian_finite_differences",
    "a finite-difference step <= 0",
    InputError,
    r"step must be a finite number > 0, got (0\.0|-0\.0001)",
)
def hessian_finite_difference_step_not_positive(rng, tmp_path):
    from pgnfast.analysis.hessian import hessian_finite_differences

    positions = rng.normal(size=(4, 3))
    step = float(rng.choice([0.0, -1e-4]))
    hessian_finite_differences(lambda x: -x, positions, step=step)


@bad_input(
    "pgnfast.analysis.hessian.hessian_autograd",
    "positions that are not (N, 3)",
    InputError,
    r"positions must have shape \(N, 3\), got \(\d+, 2\)",
)
def hessian_positions_wrong_shape(rng, tmp_path):
    import torch

    from pgnfast.analysis.hessian import hessian_autograd

    positions = rng.normal(size=(int(rng.integers(2, 6)), 2))
    hessian_autograd(lambda x: torch.sum(x**2), positions)


@bad_input(
    "pgnfast.analysis.hessian.hessian_autograd",
    "an energy function that does not return a scalar",
    InputError,
    r"energy_fn must return a scalar torch tensor, got \(\d+,\)",
)
def hessian_energy_not_scalar(rng, tmp_path):
    import torch

    from pgnfast.analysis.hessian import hessian_autograd

    positions = rng.normal(size=(int(rng.integers(2, 6)), 3))
    hessian_autograd(lambda x: torch.sum(x**2, dim=1), np.asarray(positions))
