"""Bad inputs of the minimum-energy paths and rates (pgnfast.analysis.paths, .rates), run by
tests/test_bad_input_table.py."""

from __future__ import annotations

import numpy as np

from pgnfast.errors import InputError
from tests.bad_inputs import bad_input


def _harmonic_band(positions):
    return 0.5 * (positions**2).sum(axis=(1, 2)), -positions


@bad_input(
    "pgnfast.analysis.paths.neb",
    "endpoints of different shapes",
    InputError,
    r"initial \(4, 3\) and final \(5, 3\) differ in shape",
)
def paths_endpoints_differ_in_shape(rng, tmp_path):
    from pgnfast.analysis.paths import neb

    neb(_harmonic_band, rng.normal(size=(4, 3)), rng.normal(size=(5, 3)), pbc=False)


@bad_input(
    "pgnfast.analysis.paths.string_method",
    "fewer than three images",
    InputError,
    r"n_images must be an integer >= 3, got 2",
)
def paths_too_few_images(rng, tmp_path):
    from pgnfast.analysis.paths import string_method

    x = rng.normal(size=(2, 3))
    string_method(_harmonic_band, x, x + 1.0, 2, pbc=False)


@bad_input(
    "pgnfast.analysis.paths.neb",
    "a band function returning one energy per call instead of one per image",
    InputError,
    r"the band function must return energies \(7,\) and forces \(7, 3, 3\), got \(1,\)",
)
def paths_band_not_batched(rng, tmp_path):
    from pgnfast.analysis.paths import neb

    x = rng.normal(size=(3, 3))
    neb(lambda p: (np.array([0.0]), -p), x, x + 1.0, 7, pbc=False)


@bad_input(
    "pgnfast.analysis.paths.string_method",
    "an unknown optimiser",
    InputError,
    r"optimizer must be 'fire' or 'sd', got 'bfgs'",
)
def paths_unknown_optimizer(rng, tmp_path):
    from pgnfast.analysis.paths import string_method

    x = rng.normal(size=(3, 3))
    string_method(_harmonic_band, x, x + 1.0, 5, pbc=False, optimizer="bfgs")


@bad_input(
    "pgnfast.analysis.rates.arrhenius_fit",
    "rates at a single temperature",
    InputError,
    r"an Arrhenius fit needs two or more temperatures, got \[80\.0, 80\.0\]",
)
def rates_arrhenius_one_temperature(rng, tmp_path):
    from pgnfast.analysis.rates import arrhenius_fit

    arrhenius_fit([80.0, 80.0], rng.integers(1, 50, 2), [100.0, 200.0])


@bad_input(
    "pgnfast.analysis.rates.arrhenius_fit",
    "a temperature without any event",
    InputError,
    r"every temperature needs at least one event",
)
def rates_arrhenius_no_event(rng, tmp_path):
    from pgnfast.analysis.rates import arrhenius_fit

    arrhenius_fit([60.0, 80.0], [0, int(rng.integers(1, 50))], [100.0, 200.0])


@bad_input(
    "pgnfast.analysis.rates.count_negative_modes",
    "a spectrum with a NaN eigenvalue",
    InputError,
    r"the spectrum eigenvalues has a non-finite entry at flat index 4",
)
def rates_count_negative_modes_nan(rng, tmp_path):
    from pgnfast.analysis.rates import count_negative_modes

    values = rng.uniform(0.1, 1.0, 9)
    values[4] = np.nan
    count_negative_modes(values)


@bad_input(
    "pgnfast.analysis.rates.vineyard_prefactor",
    "a saddle with two negative modes",
    InputError,
    r"the saddle must have exactly one negative eigenvalue besides the 3 zero modes, got 2",
)
def rates_vineyard_two_negative_modes(rng, tmp_path):
    from pgnfast.analysis.rates import vineyard_prefactor

    minimum = np.concatenate([np.zeros(3), rng.uniform(0.1, 1.0, 6)])
    saddle = minimum.copy()
    saddle[3:5] *= -1.0
    vineyard_prefactor(minimum, saddle)
