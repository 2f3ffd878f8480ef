"""Rates of thermally activated events: Arrhenius fits of counted rates, and harmonic
transition-state theory (Vineyard) from Hessians at the minimum and at the saddle.

Units: energies in eV, temperatures in K, times in ps, rates and prefactors per ps (= THz),
Hessians in eV/Angstrom^2, masses in amu (mass-weighted eigenvalues in eV/(Angstrom^2 amu)).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import InputError
from ..validation import check_finite, check_positive

BOLTZMANN_EV_PER_K = 8.617333262e-5
# sqrt(eV / (Angstrom^2 amu)) in rad/s, divided by 2 pi and by 1e12: cycles per ps (THz)
_EV_J = 1.602176634e-19
_AMU_KG = 1.66053906660e-27
ANGULAR_PER_SECOND_PER_UNIT = math.sqrt(_EV_J / (1e-20 * _AMU_KG))
THZ_PER_UNIT = ANGULAR_PER_SECOND_PER_UNIT / (2.0 * math.pi) / 1e12


def counted_rate(events, time_ps):
    """(rate, standard error) per ps of `events` counted in `time_ps`: n / t and sqrt(n) / t
    (Poisson; for n = 0 the error is that of one event, 1 / t)."""
    time_ps = check_positive(time_ps, "time_ps")
    n = _events(events)
    return n / time_ps, math.sqrt(max(n, 1.0)) / time_ps


def _events(value) -> float:
    if isinstance(value, bool) or not np.isfinite(value) or value < 0:
        raise InputError(f"an event count must be a finite number >= 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ArrheniusFit:
    """k(T) = prefactor exp(-barrier / (k_B T)). barrier and its error in eV; prefactor and its
    error per ps (the error from that of ln prefactor by the delta method); covariance of
    (ln prefactor, barrier); chi2 and degrees of freedom of the weighted fit."""

    barrier: float
    barrier_error: float
    prefactor: float
    prefactor_error: float
    log_prefactor: float
    log_prefactor_error: float
    covariance: tuple
    chi2: float
    dof: int
    temperatures: tuple
    rates: tuple
    rate_errors: tuple

    def rate(self, temperature) -> float:
        """The fitted rate per ps at `temperature` K."""
        temperature = check_positive(temperature, "temperature")
        return self.prefactor * math.exp(-self.barrier / (BOLTZMANN_EV_PER_K * temperature))

    def to_dict(self) -> dict:
        return asdict(self)


def arrhenius_fit(temperatures, events, times_ps) -> ArrheniusFit:
    """Weighted least-squares fit of ln k = ln nu - E / (k_B T) to rates k = n / t counted at
    two or more `temperatures` (K): `events` (counts n >= 1 each; a temperature without an
    event carries no log-rate) in `times_ps` (ps). Each ln k has the Poisson standard error
    1 / sqrt(n). Returns barrier (eV) and prefactor (per ps) with standard errors from the
    fit's covariance (not rescaled by chi2; chi2 is reported)."""
    t = np.asarray(temperatures, np.float64).reshape(-1)
    n = np.asarray(events, np.float64).reshape(-1)
    times = np.asarray(times_ps, np.float64).reshape(-1)
    if not (len(t) == len(n) == len(times)):
        raise InputError(
            f"temperatures, events and times_ps differ in length: {len(t)}, {len(n)}, {len(times)}"
        )
    check_finite(t, "temperatures")
    check_finite(times, "times_ps")
    for value in n:
        _events(value)
    if (t <= 0).any() or (times <= 0).any():
        raise InputError("temperatures (K) and times_ps must be positive")
    if (n < 1).any():
        raise InputError(
            f"every temperature needs at least one event for an Arrhenius fit, got counts "
            f"{n.tolist()}"
        )
    if len(np.unique(t)) < 2:
        raise InputError(f"an Arrhenius fit needs two or more temperatures, got {t.tolist()}")
    log_rate = np.log(n / times)
    weights = n  # 1 / var(ln k)
    design = np.stack([np.ones_like(t), -1.0 / (BOLTZMANN_EV_PER_K * t)], axis=1)
    normal = design.T @ (weights[:, None] * design)
    covariance = np.linalg.inv(normal)
    log_nu, barrier = covariance @ (design.T @ (weights * log_rate))
    residual = log_rate - design @ np.array([log_nu, barrier])
    log_nu_error = math.sqrt(covariance[0, 0])
    return ArrheniusFit(
        barrier=float(barrier),
        barrier_error=math.sqrt(covariance[1, 1]),
        prefactor=math.exp(log_nu),
        prefactor_error=math.exp(log_nu) * log_nu_error,
        log_prefactor=float(log_nu),
        log_prefactor_error=log_nu_error,
        covariance=tuple(map(tuple, covariance.tolist())),
        chi2=float(np.sum(weights * residual**2)),
        dof=len(t) - 2,
        temperatures=tuple(t.tolist()),
        rates=tuple((n / times).tolist()),
        rate_errors=tuple((np.sqrt(n) / times).tolist()),
    )


def mass_weighted_eigenvalues(hessian, masses) -> np.ndarray:
    """Ascending eigenvalues (3N,) of M^-1/2 H M^-1/2 (eV/(Angstrom^2 amu)) of a Hessian
    (3N, 3N) in eV/Angstrom^2 with masses (N,) or one mass in amu (H symmetrised first)."""
    if hasattr(hessian, "detach"):
        hessian = hessian.detach().cpu().numpy()
    matrix = np.asarray(hessian, np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] % 3:
        raise InputError(f"hessian must have shape (3N, 3N), got {matrix.shape}")
    check_finite(matrix, "hessian")
    n = matrix.shape[0] // 3
    masses = (
        np.broadcast_to(np.asarray(masses, np.float64), (n,))
        if np.ndim(masses) == 0
        else (np.asarray(masses, np.float64))
    )
    if masses.shape != (n,) or not np.all(np.isfinite(masses)) or (masses <= 0).any():
        raise InputError(f"masses must be {n} positive numbers (amu), got shape {masses.shape}")
    scale = 1.0 / np.sqrt(np.repeat(masses, 3))
    weighted = scale[:, None] * (0.5 * (matrix + matrix.T)) * scale[None, :]
    return np.linalg.eigvalsh(weighted)


def _without_zero_modes(eigenvalues, n_zero_modes: int, where: str) -> np.ndarray:
    values = np.asarray(eigenvalues, np.float64).reshape(-1)
    if isinstance(n_zero_modes, bool) or not isinstance(n_zero_modes, int) or n_zero_modes < 0:
        raise InputError(f"n_zero_modes must be an integer >= 0, got {n_zero_modes!r}")
    if len(values) <= n_zero_modes + 1:
        raise InputError(f"{where}: {len(values)} eigenvalues leave no vibrational mode")
    check_finite(values, f"{where} eigenvalues")
    values = np.sort(values)
    order = np.argsort(np.abs(values))
    return np.sort(values[order[n_zero_modes:]])


def count_negative_modes(eigenvalues, n_zero_modes: int = 3) -> int:
    """Negative eigenvalues besides the `n_zero_modes` closest to zero (3 translations in a
    periodic cell), whatever sign rounding gave those: a float32 model's translations come
    out near -1e-8 of the largest eigenvalue, and a plain sign count takes one for a
    second unstable mode."""
    return int((_without_zero_modes(eigenvalues, n_zero_modes, "the spectrum") < 0).sum())


def vineyard_prefactor(minimum_eigenvalues, saddle_eigenvalues, n_zero_modes: int = 3) -> float:
    """Harmonic transition-state (Vineyard) prefactor per ps (THz):
    nu = prod_i omega_i(minimum) / prod_j omega_j(saddle) / (2 pi), over the mass-weighted
    eigenvalues (eV/(Angstrom^2 amu), from :func:`mass_weighted_eigenvalues`) without the
    `n_zero_modes` closest to zero (3 translations in a periodic cell); the saddle's one
    negative eigenvalue is left out. Raises InputError unless every remaining eigenvalue at
    the minimum is positive and exactly one at the saddle is negative."""
    minimum = _without_zero_modes(minimum_eigenvalues, n_zero_modes, "the minimum")
    saddle = _without_zero_modes(saddle_eigenvalues, n_zero_modes, "the saddle")
    if len(minimum) != len(saddle):
        raise InputError(
            f"the minimum and the saddle have different numbers of modes: {len(minimum)} and "
            f"{len(saddle)}"
        )
    if (minimum <= 0).any():
        raise InputError(
            f"the minimum is not a minimum: {int((minimum <= 0).sum())} non-positive "
            f"eigenvalues besides the {n_zero_modes} zero modes (lowest {minimum[0]:.3g})"
        )
    negative = int((saddle < 0).sum())
    if negative != 1 or saddle[1] <= 0:
        raise InputError(
            f"the saddle must have exactly one negative eigenvalue besides the {n_zero_modes} "
            f"zero modes, got {negative} (lowest {saddle[:3].tolist()})"
        )
    log_ratio = 0.5 * (np.sum(np.log(minimum)) - np.sum(np.log(saddle[1:])))
    return float(math.exp(log_ratio) * THZ_PER_UNIT)


def harmonic_rate(prefactor, barrier, temperature) -> float:
    """prefactor exp(-barrier / (k_B T)): per ps for a prefactor per ps, barrier eV, T in K."""
    prefactor = check_positive(prefactor, "prefactor")
    temperature = check_positive(temperature, "temperature")
    if not math.isfinite(barrier):
        raise InputError(f"barrier must be finite (eV), got {barrier!r}")
    return prefactor * math.exp(-barrier / (BOLTZMANN_EV_PER_K * temperature))


__all__ = [
    "BOLTZMANN_EV_PER_K",
    "THZ_PER_UNIT",
    "count_negative_modes",
    "ArrheniusFit",
    "arrhenius_fit",
    "counted_rate",
    "harmonic_rate",
    "mass_weighted_eigenvalues",
    "vineyard_prefactor",
]
