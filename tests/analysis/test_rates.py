"""Arrhenius fits on synthetic Poisson rates and the Vineyard prefactor on harmonic models
with closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pgnfast.analysis.rates import (
    BOLTZMANN_EV_PER_K,
    THZ_PER_UNIT,
    arrhenius_fit,
    count_negative_modes,
    counted_rate,
    harmonic_rate,
    mass_weighted_eigenvalues,
    vineyard_prefactor,
)
from pgnfast.errors import InputError


def _expected_events(rng, barrier, prefactor, temperatures):
    times = rng.uniform(500.0, 2000.0, len(temperatures))
    rates = prefactor * np.exp(-barrier / (BOLTZMANN_EV_PER_K * temperatures))
    return rates * times, times


def test_arrhenius_fit_is_exact_on_exact_rates(rng):
    barrier, prefactor = rng.uniform(0.04, 0.1), rng.uniform(0.5, 5.0)
    temperatures = np.sort(rng.uniform(50.0, 90.0, 4))
    events, times = _expected_events(rng, barrier, prefactor, temperatures)
    scale = 10.0 / events.min()  # non-integer counts: the expected numbers of events
    fit = arrhenius_fit(temperatures, events * scale, times)
    assert fit.barrier == pytest.approx(barrier, rel=1e-10)
    assert fit.prefactor == pytest.approx(prefactor * scale, rel=1e-9)
    assert fit.chi2 == pytest.approx(0.0, abs=1e-12)
    assert fit.rate(temperatures[0]) == pytest.approx(events[0] * scale / times[0], rel=1e-9)


def test_arrhenius_fit_recovers_the_barrier_within_its_poisson_uncertainty(rng):
    """Over many synthetic data sets the pulls (fit - truth) / error have mean 0 and
    standard deviation 1 (bounds at about 4 standard errors of those statistics)."""
    barrier, prefactor = 0.065, 4.0
    temperatures = np.array([60.0, 70.0, 80.0, 90.0])
    pulls = []
    for _ in range(400):
        expected, times = _expected_events(rng, barrier, prefactor, temperatures)
        scale = 100.0 / expected.min()  # at least ~100 events each: ln k near Gaussian
        events = rng.poisson(expected * scale)
        fit = arrhenius_fit(temperatures, events, times * scale)
        pulls.append((fit.barrier - barrier) / fit.barrier_error)
    assert abs(np.mean(pulls)) < 0.2
    assert 0.85 < np.std(pulls) < 1.15


def test_counted_rate_is_poisson():
    assert counted_rate(16, 8.0) == (2.0, 0.5)
    assert counted_rate(0, 4.0) == (0.0, 0.25)


def _ring_hessian(n, spring):
    """A periodic ring of n particles joined by springs in each of x, y, z: eigenvalues
    4 k sin^2(pi j / n), each three times (j = 0: the three translations)."""
    laplacian = 2.0 * np.eye(n) - np.roll(np.eye(n), 1, 0) - np.roll(np.eye(n), -1, 0)
    return spring * np.kron(laplacian, np.eye(3))


def _rotate(hessian, rng):
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    block = np.kron(np.eye(len(hessian) // 3), q)
    return block @ hessian @ block.T


def test_vineyard_prefactor_is_the_frequency_of_the_mode_turned_unstable(rng):
    """Turning one mode of a ring negative leaves the others: nu = omega_mode / (2 pi)."""
    n, spring, mass = int(rng.integers(5, 9)), rng.uniform(0.5, 2.0), rng.uniform(10.0, 50.0)
    minimum = _ring_hessian(n, spring)
    values, vectors = np.linalg.eigh(minimum)
    mode = int(rng.integers(3, len(values)))
    saddle = minimum - (values[mode] + rng.uniform(0.1, 1.0)) * np.outer(
        vectors[:, mode], vectors[:, mode]
    )
    minimum, saddle = _rotate(minimum, rng), _rotate(saddle, rng)
    prefactor = vineyard_prefactor(
        mass_weighted_eigenvalues(minimum, mass), mass_weighted_eigenvalues(saddle, mass)
    )
    assert prefactor == pytest.approx(math.sqrt(values[mode] / mass) * THZ_PER_UNIT, rel=1e-8)


def test_vineyard_prefactor_with_unequal_masses_in_closed_form(rng):
    """One particle of each of two masses in separable wells (no zero modes)."""
    masses = rng.uniform(1.0, 100.0, 2)
    wells = rng.uniform(0.1, 2.0, 6)
    unstable = rng.uniform(0.1, 2.0)
    saddle_wells = wells.copy()
    saddle_wells[2] = -unstable
    prefactor = vineyard_prefactor(
        mass_weighted_eigenvalues(np.diag(wells), masses),
        mass_weighted_eigenvalues(np.diag(saddle_wells), masses),
        n_zero_modes=0,
    )
    # every mode but the unstable one cancels: nu = sqrt(k_z / m_0) / (2 pi)
    assert prefactor == pytest.approx(math.sqrt(wells[2] / masses[0]) * THZ_PER_UNIT, rel=1e-10)


def test_vineyard_units_one_ev_per_square_angstrom_and_amu():
    """omega = sqrt(eV / (A^2 amu)) = 9.8227e13 rad/s, so nu = 15.633 THz."""
    assert THZ_PER_UNIT == pytest.approx(15.6333, rel=1e-4)


def test_vineyard_refuses_a_saddle_with_two_negative_modes(rng):
    minimum = _ring_hessian(6, 1.0)
    values, vectors = np.linalg.eigh(minimum)
    saddle = minimum.copy()
    for mode in (4, 9):
        saddle -= 2 * values[mode] * np.outer(vectors[:, mode], vectors[:, mode])
    with pytest.raises(InputError, match="exactly one negative eigenvalue.*got 2"):
        vineyard_prefactor(
            mass_weighted_eigenvalues(minimum, 40.0), mass_weighted_eigenvalues(saddle, 40.0)
        )
    with pytest.raises(InputError, match="exactly one negative eigenvalue.*got 0"):
        vineyard_prefactor(
            mass_weighted_eigenvalues(minimum, 40.0), mass_weighted_eigenvalues(minimum, 40.0)
        )


@pytest.mark.parametrize("unstable", [0, 1, 2])
def test_negative_modes_counted_besides_the_zero_modes_whatever_their_sign(rng, unstable):
    """A spectrum with `unstable` negative modes and three translations carrying float32-size
    noise of random sign (one at least negative): the count is `unstable`, where a plain
    count of negative values would see the noise too."""
    stable = rng.uniform(1e-4, 2e-2, 20)
    negative = -rng.uniform(5e-4, 3e-3, unstable)
    largest = max(stable.max(), np.abs(negative).max(initial=0.0))
    zero = rng.uniform(-3e-8, 3e-8, 3) * largest
    zero[0] = -abs(zero[0])
    spectrum = rng.permutation(np.concatenate([stable, negative, zero]))
    assert count_negative_modes(spectrum) == unstable
    assert count_negative_modes(spectrum, n_zero_modes=0) == unstable + (zero < 0).sum()


def test_harmonic_rate(rng):
    prefactor, barrier, temperature = rng.uniform(0.1, 5), rng.uniform(0.01, 0.1), 70.0
    expected = prefactor * math.exp(-barrier / (BOLTZMANN_EV_PER_K * temperature))
    assert harmonic_rate(prefactor, barrier, temperature) == pytest.approx(expected, rel=1e-14)


def test_mass_weighted_eigenvalues_match_the_dynamical_matrix(rng):
    matrix = rng.normal(size=(6, 6))
    hessian = matrix @ matrix.T
    masses = rng.uniform(1.0, 10.0, 2)
    weights = np.repeat(masses, 3)
    direct = np.linalg.eigvals(np.diag(1 / weights) @ hessian)
    np.testing.assert_allclose(
        mass_weighted_eigenvalues(hessian, masses), np.sort(direct.real), rtol=1e-10, atol=1e-12
    )
