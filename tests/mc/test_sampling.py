"""The engine samples the right distributions (exact references, reweighting, checkerboard)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

import pgnfast.mc as mc
from pgnfast.potentials import CoreRepulsion, Harmonic, LennardJones


class EnergyRecorder:
    """Writer that keeps the energy (kT) at each temperature after every sweep."""

    def __init__(self):
        self.energies, self.positions = [], []

    def open(self, engine):
        pass

    def write(self, engine):
        self.energies.append(engine.energy_by_temperature())
        self.positions.append(engine.positions_by_temperature())

    def close(self):
        pass


def _bin_probabilities(pdf, edges) -> np.ndarray:
    """The density's probability in each bin, normalised over the bins."""
    probabilities = np.array([integrate.quad(pdf, a, b)[0] for a, b in zip(edges[:-1], edges[1:])])
    return probabilities / probabilities.sum()


def _chi_square_p(samples, pdf, edges, thin_factor=1.0):
    """p-value of a chi-square test of binned samples against a density, with the count
    deflated by thin_factor (>= 1) for correlated samples."""
    counts, _ = np.histogram(samples, edges)
    probabilities = _bin_probabilities(pdf, edges)
    expected = probabilities * counts.sum()
    chi2 = np.sum((counts - expected) ** 2 / expected) / thin_factor
    return stats.chi2.sf(chi2, len(counts) - 1)


def _block_hotelling_p(frames, pdf, edges, blocks):
    """p-value that binned samples follow a density, whatever their correlations: frames
    (S, m) holds m samples per frame, frames in chain order. The bin fractions of `blocks`
    consecutive runs of frames (each much longer than the chain's correlation time) are
    compared with the expected fractions by Hotelling's T^2 test, whose covariance comes
    from the blocks themselves, so samples sharing a frame or a rejected move need no
    assumed thinning factor."""
    probabilities = _bin_probabilities(pdf, edges)
    fractions = []
    for block in np.array_split(np.asarray(frames), blocks):
        counts, _ = np.histogram(block, edges)
        fractions.append(counts / counts.sum())
    fractions = np.array(fractions)[:, :-1]  # the last bin is fixed by the others
    offset = fractions.mean(axis=0) - probabilities[:-1]
    dims = len(offset)
    assert blocks > dims + 5, "too few blocks for the covariance of the bin fractions"
    t2 = blocks * offset @ np.linalg.solve(np.cov(fractions, rowvar=False), offset)
    f_statistic = (blocks - dims) / (dims * (blocks - 1)) * t2
    return stats.f.sf(f_statistic, dims, blocks - dims)


def test_harmonic_tethers_sample_gaussians_at_every_temperature():
    """Each tethered particle is Gaussian with variance T/k per axis, at all K temperatures,
    with checkerboard batches (many moves per batch)."""
    n_side, box, k_spring = 6, 6.0, 4.0
    sites = (
        (np.stack(np.meshgrid(*[np.arange(n_side)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5)
        * box
        / n_side
    )
    temperatures = np.array([0.5, 1.0, 2.0])
    potential = Harmonic(k_spring, centers=sites)
    pt = mc.ParallelTempering(
        potential,
        sites,
        np.eye(3) * box,
        temperatures,
        types=np.arange(len(sites)),
        seed=9,
        equilibration_sweeps=30,
    )
    assert pt.mode == "checkerboard"
    recorder = EnergyRecorder()
    summary = pt.run(200, writers=[recorder])
    positions = np.array(recorder.positions[30::2])  # (S, K, N, 3)
    for t, temperature in enumerate(temperatures):
        x = (positions[:, t] - sites).ravel()
        sigma = np.sqrt(temperature / k_spring)
        edges = np.linspace(-3 * sigma, 3 * sigma, 21)
        # thin_factor: the replicas decorrelate over ~10 sweeps (measured over seeds)
        p = _chi_square_p(x, stats.norm(0, sigma).pdf, edges, thin_factor=8.0)
        assert p > 1e-3, (temperature, p)
        # mean energy: 3/2 N T (equipartition)
        expected = 1.5 * len(sites) * temperature
        assert summary.mean_energy[t] == pytest.approx(expected, rel=0.07)
    # the test can fail: the same samples against the wrong temperature are rejected
    x = (positions[:, 1] - sites).ravel()
    wrong = np.sqrt(1.5 / k_spring)
    assert (
        _chi_square_p(
            x, stats.norm(0, wrong).pdf, np.linspace(-3 * wrong, 3 * wrong, 21), thin_factor=8.0
        )
        < 1e-6
    )


def test_lennard_jones_dimer_distance_distribution():
    """Two LJ particles in a periodic box: p(r) ~ r^2 exp(-phi(r)/T) for r < L/2."""
    box, temperature = 4.0, 1.0
    potential = LennardJones(epsilon=1.0, sigma=1.0, cutoff=1.8)
    start = np.array([[1.0, 1.0, 1.0], [2.2, 1.0, 1.0]])
    pt = mc.ParallelTempering(
        potential, start, np.eye(3) * box, [temperature], step_size=0.35, seed=3
    )
    recorder = EnergyRecorder()
    pt.run(12000, writers=[recorder])
    pairs = np.array(recorder.positions)[:, 0]
    d = pairs[:, 1] - pairs[:, 0]
    d -= np.round(d / box) * box
    r = np.linalg.norm(d, axis=1)

    def density(x):
        return x * x * np.exp(-potential.pair_energy(np.array([x]))[0] / temperature)

    edges = np.linspace(0.9, 1.9, 11)
    inside = r[(r > edges[0]) & (r < edges[-1])]
    assert len(inside) > 3000
    assert _chi_square_p(inside, density, edges, thin_factor=3.0) > 1e-3


def test_energy_histograms_agree_after_reweighting():
    """Energies sampled at T1, reweighted by exp(-(1/T2 - 1/T1) E), reproduce those at T2."""
    n = 4
    potential = Harmonic(1.0)
    temperatures = np.array([1.0, 1.25])
    pt = mc.ParallelTempering(
        potential, np.zeros((n, 3)), np.eye(3) * 50.0, temperatures, seed=1, equilibration_sweeps=50
    )
    recorder = EnergyRecorder()
    pt.run(6050, writers=[recorder])
    energies = np.array(recorder.energies[50:])
    e1, e2 = energies[:, 0], energies[:, 1]
    weights = np.exp(-(1 / temperatures[1] - 1 / temperatures[0]) * (e1 - e1.mean()))
    weights /= weights.sum()
    edges = np.quantile(e2, np.linspace(0, 1, 9))
    edges[0], edges[-1] = 0.0, np.inf
    reweighted = np.histogram(e1, edges, weights=weights)[0]
    direct = np.histogram(e2, edges)[0] / len(e2)
    np.testing.assert_allclose(reweighted, direct, atol=0.03)
    # and both match the exact Gamma(3n/2, T) energy distribution on average
    assert np.sum(weights * e1) == pytest.approx(1.5 * n * temperatures[1], rel=0.08)
    assert e2.mean() == pytest.approx(1.5 * n * temperatures[1], rel=0.08)


def test_checkerboard_and_sequential_moves_give_the_same_statistics(lattice):
    box = 7.5
    positions = lattice(6, box, 0.05, seed=0)  # 216 particles, packing ~0.3
    potential = CoreRepulsion(epsilon=1.0, diameter=0.9, cutoff=1.3)
    results = {}
    for checkerboard in (True, False):
        pt = mc.ParallelTempering(
            potential,
            positions,
            np.eye(3) * box,
            [1.0],
            seed=2,
            step_size=0.25,
            checkerboard=checkerboard,
        )
        assert pt.mode == ("checkerboard" if checkerboard else "local")
        pt.run(20)
        pt.reset_statistics()
        recorder = EnergyRecorder()
        summary = pt.run(100, writers=[recorder])
        metropolis = pt.stat_accepted / (pt.stat_attempted - pt.left_cell)
        results[checkerboard] = (
            summary.mean_energy[0],
            metropolis[0],
            np.std(recorder.energies) / np.sqrt(len(recorder.energies) / 5),
        )
    (e_cb, acc_cb, err_cb), (e_seq, acc_seq, err_seq) = results[True], results[False]
    assert abs(e_cb - e_seq) < 4 * np.hypot(err_cb, err_seq) + 1e-9
    assert acc_cb == pytest.approx(acc_seq, abs=0.02)
