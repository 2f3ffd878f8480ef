"""Phonons of fcc argon at finite temperature (pgnfast.systems.argon.spectra): the VACF
density of states of known oscillators, the damped-oscillator fits on synthetic spectra and
correlations, dynasor's current spectra of a plane wave, and a tiny MD run with resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pgnfast.errors import ResumeMismatchError
from pgnfast.systems.argon import spectra as spectra_module
from pgnfast.systems.argon.phonons import fcc_supercell
from pgnfast.systems.argon.reference import MASS
from pgnfast.systems.argon.spectra import (
    MDTrajectory,
    SpectraConfig,
    current_spectra,
    fit_correlation,
    fit_peak,
    run_spectra,
    vibrational_dos,
)

pytest.importorskip("dynasor")


@pytest.fixture(autouse=True)
def _one_numba_thread():
    """dynasor's kernels in one Numba thread: on a shared CPU its thread pool costs ten
    times the work at these sizes."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


def _local_maxima(frequencies, values, count):
    inner = (values[1:-1] > values[:-2]) & (values[1:-1] >= values[2:])
    peaks = np.flatnonzero(inner) + 1
    return np.sort(frequencies[peaks[np.argsort(values[peaks])[-count:]]])


def test_vacf_dos_of_harmonic_oscillators_peaks_at_their_frequencies(rng):
    known = np.sort(rng.choice(np.arange(0.5, 3.0, 0.4), size=3, replace=False))
    known += rng.uniform(-0.1, 0.1, size=3)  # THz
    frames, dt, n = 2000, 5.0, 24  # 10 ps
    times = np.arange(frames) * dt / 1000.0  # ps
    choice = rng.integers(0, 3, size=(n, 3))
    choice[:3, 0] = np.arange(3)  # every frequency present
    phases = rng.uniform(0, 2 * np.pi, size=(n, 3))
    masses = rng.uniform(1.0, 40.0, size=n)
    amplitude = rng.uniform(0.5, 1.0, size=(n, 3)) / np.sqrt(masses)[:, None]
    velocities = amplitude * np.cos(2 * np.pi * known[choice] * times[:, None, None] + phases)
    frequencies, dos = vibrational_dos(velocities, dt, masses)
    assert abs(np.trapezoid(dos, frequencies) - 1.0) < 1e-12
    resolution = 1.0 / (frames * dt / 1000.0)
    assert np.abs(_local_maxima(frequencies, dos, 3) - known).max() < 0.5 * resolution


def test_vacf_dos_is_the_fourier_transform_of_the_autocorrelation(rng):
    frames, n, dt = 64, 5, 4.0
    velocities = rng.normal(size=(frames, n, 3))
    masses = rng.uniform(1, 40, size=n)
    frequencies, dos = vibrational_dos(velocities, dt, masses, padding=2)
    flat = (velocities * np.sqrt(masses)[None, :, None]).reshape(frames, -1)
    lags = np.arange(-(frames - 1), frames)
    correlation = np.array(
        [
            np.sum(flat[max(0, -k) : frames - max(0, k)] * flat[max(0, k) : frames + min(0, k)])
            for k in lags
        ]
    )
    transform = np.real(
        np.exp(-2j * np.pi * np.outer(frequencies / 1000.0, lags * dt)) @ correlation
    )
    transform /= np.trapezoid(transform, frequencies)
    assert np.abs(transform - dos).max() < 1e-10 * dos.max()


def test_peak_fit_recovers_a_damped_oscillator_spectrum(rng):
    frequency, width = float(rng.uniform(0.8, 2.2)), float(rng.uniform(0.03, 0.3))
    f = np.linspace(0.0, 4.0, 801)  # THz
    w, w0, gamma = 2 * np.pi * f, 2 * np.pi * frequency, 2 * np.pi * width
    spectrum = 3.0 * w**2 * gamma / ((w**2 - w0**2) ** 2 + (gamma * w) ** 2)
    spectrum *= 1 + 0.01 * rng.normal(size=f.size)
    fit = fit_peak(f, spectrum, guess=frequency * float(rng.uniform(0.9, 1.1)))
    assert abs(fit.frequency - frequency) < 2e-3 * frequency
    assert abs(fit.width - width) < 0.03 * width
    assert abs(fit.lifetime - 1 / (np.pi * width)) < 0.05 / (np.pi * width)
    t = np.arange(0, 8000, 10.0)  # fs
    wd = np.sqrt(w0**2 - gamma**2 / 4)
    ps = t / 1000.0
    correlation = np.exp(-gamma * ps / 2) * (np.cos(wd * ps) - gamma / (2 * wd) * np.sin(wd * ps))
    decay = fit_correlation(t, 2.5 * correlation, frequency * float(rng.uniform(0.95, 1.05)))
    assert abs(decay.frequency - frequency) < 1e-6 * frequency
    assert abs(decay.width - width) < 1e-6 * width


def _plane_waves(rng, lattice_constant, frames, dt):
    """A 2 x 2 x 2 fcc crystal carrying a longitudinal and a transverse wave at X."""
    sites, cell = fcc_supercell(lattice_constant, 2)
    longitudinal, transverse = rng.uniform(1.0, 2.5), rng.uniform(0.5, 0.9)  # THz
    phase = sites @ (np.array([1.0, 0, 0]) * 2 * np.pi / lattice_constant)
    t = np.arange(frames)[:, None] * dt / 1000.0  # ps
    positions = np.repeat(sites[None], frames, axis=0)
    velocities = np.zeros_like(positions)
    for axis, frequency, amplitude in ((0, longitudinal, 0.02), (1, transverse, 0.03)):
        angle = phase[None] - 2 * np.pi * frequency * t
        positions[:, :, axis] += amplitude * np.cos(angle)
        velocities[:, :, axis] = amplitude * 2 * np.pi * frequency / 1000.0 * np.sin(angle)
    n = len(sites)
    trajectory = MDTrajectory(positions, velocities, cell, dt, np.full(n, MASS), np.zeros(frames))
    return trajectory, longitudinal, transverse


def test_dynasor_current_spectra_peak_at_the_wave_frequencies(rng):
    a = float(rng.uniform(5.2, 5.4))
    # a window of 4 ps holds two periods of the slowest wave (0.5 THz)
    trajectory, longitudinal, transverse = _plane_waves(rng, a, 800, 10.0)
    result = current_spectra(trajectory, a, 400, window_step=10)
    x = result["X"]
    resolution = x["frequencies"][1]
    for branch, frequency in (("longitudinal", longitudinal), ("transverse", transverse)):
        peak = x["frequencies"][np.argmax(x[branch])]
        assert abs(peak - frequency) <= resolution
        fit = fit_correlation(x["times"], x[branch + "_t"], peak)
        assert abs(fit.frequency - frequency) < 0.02 * frequency
    assert result["L"]["longitudinal"].max() < 1e-6 * x["longitudinal"].max()  # no wave at L


def test_md_spectra_of_a_tiny_crystal_with_resume(rng, tmp_path, monkeypatch):
    from pgnfast.md.calculator import PotentialCalculator
    from pgnfast.systems.argon.reference import argon_lj

    config = SpectraConfig(
        temperatures=(10.0,),
        n_cells=2,
        equilibration_steps=100,
        production_steps=2400,  # 800 left the X longitudinal peak 0.11 THz off for some seeds
        sample_every=2,
        window_size=300,
        window_step=20,
        seed=int(rng.integers(1000)),
    )
    zero_kelvin = {"exact": {"X": [1.36, 1.36, 1.99], "L": [0.905, 0.905, 1.986]}}
    models = {"exact": (PotentialCalculator(argon_lj()), 5.2687)}
    summary, spectra = run_spectra(models, config, tmp_path, zero_kelvin, progress=False)
    entry = summary["models"]["exact"]["temperatures"]["10"]
    assert 5 < entry["mean_temperature"] < 20 and entry["crystal_order"] > 0.9
    for point in ("X", "L"):
        for k, branch in ((0, "transverse"), (2, "longitudinal")):
            fit = entry["peaks"][point][branch]
            assert abs(fit["frequency"] - zero_kelvin["exact"][point][k]) < 0.1
    stored = json.loads((tmp_path / "spectra.json").read_text())
    assert stored["models"]["exact"]["lattice_constant"] == 5.2687
    for name in ("spectra.png", "peaks.png", "vdos.png"):
        assert (tmp_path / name).stat().st_size > 1000

    def no_md(*args, **kwargs):
        raise AssertionError("the checkpoint should have been reused")

    monkeypatch.setattr(spectra_module, "run_md", no_md)
    again, _ = run_spectra(models, config, tmp_path, zero_kelvin, progress=False)
    assert again == summary
    with pytest.raises(ResumeMismatchError, match="was made by another run"):
        other = SpectraConfig(**{**summary["config"], "seed": config.seed + 1})
        run_spectra(models, other, tmp_path, zero_kelvin, progress=False)
