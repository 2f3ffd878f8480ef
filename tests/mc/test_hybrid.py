"""Hybrid Monte Carlo moves (pgnfast.mc.hybrid): exact distributions, reversibility of the
velocity-Verlet proposal, agreement with single-particle moves, batched forces, rejection of
hard-core overlaps, and bit-exact checkpoint resume."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import pgnfast.mc as mc
from pgnfast.mc.forces import energies_forces_batch
from pgnfast.mc.hybrid import kinetic_energy, velocity_verlet
from pgnfast.potentials import CoreRepulsion, Harmonic, LennardJones
from pgnfast.potentials.pair import PairPotential
from tests.mc.test_sampling import EnergyRecorder, _block_hotelling_p, _chi_square_p


class SoftSpheres(PairPotential):
    """phi(r) = 20 (1 - r / 1.4)^3 kT for r < 1.4 nm: smooth to the second derivative."""

    cutoff = 1.4

    def pair_energy(self, r):
        return 20.0 * (1.0 - r / self.cutoff) ** 3

    def pair_derivative(self, r):
        return -60.0 / self.cutoff * (1.0 - r / self.cutoff) ** 2


def _evaluator(potential, cell, types=None):
    def evaluate(positions_list):
        return energies_forces_batch(potential, [(x, cell, types, True) for x in positions_list])

    return evaluate


def _lj_fluid(rng, per_axis=3, spacing=1.25, jitter=0.05):
    grid = np.stack(np.meshgrid(*[np.arange(per_axis)] * 3, indexing="ij"), -1).reshape(-1, 3)
    positions = (grid + 0.5) * spacing + rng.normal(0.0, jitter, (per_axis**3, 3))
    return positions, np.eye(3) * per_axis * spacing


@pytest.mark.parametrize("kind", ["lennard_jones", "harmonic"])
def test_batched_energies_and_forces_match_the_potential(rng, kind):
    positions, cell = _lj_fluid(rng)
    if kind == "harmonic":
        potential = Harmonic(2.0, centers=positions + rng.normal(0, 0.1, positions.shape))
        types = np.arange(len(positions))
    else:
        potential, types = LennardJones(cutoff=1.6, shift=True), None
    systems = [(positions + rng.normal(0, 0.02, positions.shape), cell, types, True)] * 2
    for (energies, forces), system in zip(energies_forces_batch(potential, systems), systems):
        np.testing.assert_allclose(energies, potential.energies(*system), rtol=1e-12, atol=1e-12)
        _, reference = potential.energy_forces(*system)
        np.testing.assert_allclose(forces, reference, rtol=1e-10, atol=1e-12)


def test_nequip_batch_gives_each_systems_energies_and_forces(rng, test_seed):
    pytest.importorskip("e3nn")
    from pgnfast.nn.potential import Potential
    from pgnfast.testing import small_model

    potential = Potential(small_model(seed=test_seed % 2**31))
    cell = np.eye(3) * 2.0
    systems = [
        (rng.random((12, 3)) * 2.0, cell, rng.integers(0, 2, 12), True),
        (rng.random((9, 3)) * 2.0, cell, rng.integers(0, 2, 9), True),
    ]
    for (energies, forces), system in zip(energies_forces_batch(potential, systems), systems):
        np.testing.assert_allclose(energies, potential.energies(*system), atol=1e-10)
        _, reference = potential.energy_forces(*system)
        np.testing.assert_allclose(forces, reference, atol=1e-10)


def test_velocity_verlet_is_reversible_and_second_order(rng):
    """Negated final velocities retrace the path to round-off, and the energy error falls
    as dt^2 (forces consistent with energies)."""
    positions, cell = _lj_fluid(rng)
    evaluate = _evaluator(LennardJones(cutoff=1.6, shift=True), cell)
    masses = rng.uniform(0.5, 2.0, len(positions))
    velocities = rng.normal(0, 1, positions.shape) / np.sqrt(masses)[:, None]
    forward = velocity_verlet(evaluate, [positions], [velocities], [masses], [0.004], [40])[0]
    back = velocity_verlet(
        evaluate, [forward["positions"]], [-forward["velocities"]], [masses], [0.004], [40]
    )[0]
    np.testing.assert_allclose(back["positions"], positions, rtol=0, atol=1e-10)
    np.testing.assert_allclose(back["velocities"], -velocities, rtol=0, atol=1e-9)
    assert np.abs(forward["positions"] - positions).max() > 0.01  # it did move

    evaluate = _evaluator(SoftSpheres(), cell)  # smooth at the cutoff, unlike cut LJ
    errors = []
    for dt in (0.004, 0.002):
        end = velocity_verlet(
            evaluate, [positions], [velocities], [masses], [dt], [round(0.2 / dt)]
        )[0]
        errors.append(
            abs(
                np.sum(end["energies"])
                + kinetic_energy(end["velocities"], masses)
                - end["start_energy"]
                - kinetic_energy(velocities, masses)
            )
        )
    assert 3.5 < errors[0] / errors[1] < 4.5, errors


def test_hybrid_harmonic_tethers_sample_gaussians(test_seed):
    """Tethered particles are Gaussian with variance T/k per axis at both temperatures. The
    histogram test takes its covariance from blocks of the chain: a fixed thinning factor
    (tried before) failed about one run in a hundred, because whole frames share an
    accepted or rejected trajectory and |x| decorrelates over ~10 sweeps at T = 0.5.
    Over 100 seeds the p-values were uniform (smallest 3e-3) and the wrong variance always
    gave p < 1e-13."""
    n_side, box, k_spring = 3, 6.0, 4.0
    grid = np.stack(np.meshgrid(*[np.arange(n_side)] * 3, indexing="ij"), -1).reshape(-1, 3)
    sites = (grid + 0.5) * box / n_side
    temperatures = np.array([0.5, 2.0])
    pt = mc.ParallelTempering(
        Harmonic(k_spring, centers=sites),
        sites,
        np.eye(3) * box,
        temperatures,
        types=np.arange(len(sites)),
        seed=test_seed,
        equilibration_sweeps=60,
        moves="hybrid",
        hybrid={"trajectory_time": 0.6, "jitter": 0.3, "wrap": False},
    )
    recorder = EnergyRecorder()
    summary = pt.run(1220, writers=[recorder], quench_lowest=False)
    assert 0.4 < np.mean(summary.acceptance) < 0.98
    positions = np.array(recorder.positions[20:])  # (S, K, N, 3)
    for t, temperature in enumerate(temperatures):
        frames = (positions[:, t] - sites).reshape(len(positions), -1)
        sigma = np.sqrt(temperature / k_spring)
        edges = np.linspace(-3 * sigma, 3 * sigma, 11)
        p = _block_hotelling_p(frames, stats.norm(0, sigma).pdf, edges, blocks=30)
        assert p > 1e-5, (temperature, p)
        assert summary.mean_energy[t] == pytest.approx(1.5 * len(sites) * temperature, rel=0.08)
        wrong = np.sqrt(1.5 * temperature / k_spring)  # the test can fail
        edges = np.linspace(-3 * wrong, 3 * wrong, 11)
        assert _block_hotelling_p(frames, stats.norm(0, wrong).pdf, edges, blocks=30) < 1e-10


def test_hybrid_lennard_jones_dimer_distance_distribution(test_seed):
    box, temperature = 4.0, 1.0
    potential = LennardJones(epsilon=1.0, sigma=1.0, cutoff=1.8)
    start = np.array([[1.0, 1.0, 1.0], [2.2, 1.0, 1.0]])
    pt = mc.ParallelTempering(
        potential,
        start,
        np.eye(3) * box,
        [temperature],
        seed=test_seed,
        moves="hybrid",
        hybrid={"time_step": 0.06, "steps": 10, "jitter": 0.3},
    )
    recorder = EnergyRecorder()
    pt.run(2400, writers=[recorder], quench_lowest=False)
    pairs = np.array(recorder.positions)[:, 0]
    d = pairs[:, 1] - pairs[:, 0]
    d -= np.round(d / box) * box
    r = np.linalg.norm(d, axis=1)

    def density(x):
        return x * x * np.exp(-potential.pair_energy(np.array([x]))[0] / temperature)

    edges = np.linspace(0.9, 1.9, 11)
    inside = r[(r > edges[0]) & (r < edges[-1])]
    assert len(inside) > 800
    assert _chi_square_p(inside, density, edges, thin_factor=2.0) > 1e-3

    def ideal(x):  # the same samples against a non-interacting pair are rejected
        return x * x

    assert _chi_square_p(inside, ideal, edges, thin_factor=2.0) < 1e-4


def _block_error(series, blocks=8):
    means = np.array([b.mean() for b in np.array_split(np.asarray(series), blocks)])
    return means.std(ddof=1) / np.sqrt(blocks)


def test_hybrid_and_single_particle_moves_agree_on_the_mean_energy(test_seed):
    rng = np.random.default_rng(test_seed)
    positions, cell = _lj_fluid(rng, per_axis=3, spacing=1.3)
    potential = LennardJones(cutoff=1.6, shift=True)
    results = {}
    for moves, sweeps in (("single", 300), ("hybrid", 400)):
        pt = mc.ParallelTempering(
            potential, positions, cell, [1.5], seed=test_seed, moves=moves, equilibration_sweeps=50
        )
        recorder = EnergyRecorder()
        pt.run(sweeps, writers=[recorder], quench_lowest=False)
        series = np.array(recorder.energies[100:])[:, 0]
        results[moves] = (series.mean(), _block_error(series))
    (e_single, err_single), (e_hybrid, err_hybrid) = results["single"], results["hybrid"]
    assert abs(e_single - e_hybrid) < 4.0 * np.hypot(err_single, err_hybrid), results


def test_rejected_trajectories_leave_the_state_untouched_and_hard_cores_give_no_nan(rng):
    """A hard-core fluid with an absurd time step: every trajectory runs into a core (inf
    energy, inf/NaN forces) and is rejected; positions and energies keep their bits."""
    positions, cell = _lj_fluid(rng, per_axis=3, spacing=1.2, jitter=0.02)
    potential = CoreRepulsion(epsilon=1.0, diameter=1.0, cutoff=1.5)
    pt = mc.ParallelTempering(
        potential,
        positions,
        cell,
        [1.0, 2.0],
        seed=int(rng.integers(2**31)),
        moves="hybrid",
        hybrid={"time_step": 2.0, "steps": 3},
        equilibration_sweeps=0,
    )
    before = [(s.positions.copy(), s.energies.copy()) for s in pt.replicas]
    pt.run(3, quench_lowest=False)
    assert pt.total_accepted.sum() == 0 and pt.total_attempted.sum() == 6
    for state, (x, e) in zip(pt.replicas, before):
        assert np.array_equal(state.positions, x) and np.array_equal(state.energies, e)
    # a sane step with the same potential accepts, and energies stay finite and exact
    pt = mc.ParallelTempering(
        potential, positions, cell, [1.0], seed=1, moves="hybrid", equilibration_sweeps=10
    )
    pt.run(20, quench_lowest=False)
    assert pt.total_accepted.sum() > 0
    state = pt.replicas[0]
    assert np.all(np.isfinite(state.positions))
    np.testing.assert_allclose(state.energies, potential.energies(state.positions, cell))


def test_checkpoint_and_resume_repeat_the_run_bit_for_bit(tmp_path, test_seed):
    rng = np.random.default_rng(test_seed)
    positions, cell = _lj_fluid(rng)
    potential = LennardJones(cutoff=1.6, shift=True)
    options = dict(
        seed=test_seed,
        moves="hybrid",
        equilibration_sweeps=4,
        hybrid={"trajectory_time": 0.2, "masses": list(rng.uniform(0.5, 2.0, len(positions)))},
    )
    temperatures = [1.0, 1.4, 2.0]
    straight = mc.ParallelTempering(potential, positions, cell, temperatures, **options)
    straight.run(8, quench_lowest=False)
    first = mc.ParallelTempering(potential, positions, cell, temperatures, **options)
    first.run(3, checkpoint=tmp_path / "state.npz", quench_lowest=False)  # mid-tuning
    resumed = mc.ParallelTempering.from_checkpoint(
        tmp_path / "state.npz", potential, moves="hybrid", hybrid=options["hybrid"]
    )
    assert resumed.mode == "hybrid" and resumed.tuning_active
    resumed.run(5, quench_lowest=False)
    assert np.array_equal(resumed._all_positions(), straight._all_positions())
    for a, b in zip(resumed.replicas, straight.replicas):
        assert np.array_equal(a.energies, b.energies)
    assert np.array_equal(resumed.hybrid_time_steps, straight.hybrid_time_steps)
    assert np.array_equal(resumed.hybrid_steps, straight.hybrid_steps)
    assert np.array_equal(resumed.exchange.replica_at, straight.exchange.replica_at)
    assert np.array_equal(resumed.total_accepted, straight.total_accepted)
    assert straight.total_accepted.sum() > 0
    # the tuned time steps are frozen after equilibration
    frozen = straight.hybrid_time_steps.copy()
    straight.run(2, quench_lowest=False)
    assert np.array_equal(straight.hybrid_time_steps, frozen)


def test_engine_energies_stay_exact_under_hybrid_moves(rng):
    positions, cell = _lj_fluid(rng)
    potential = LennardJones(cutoff=1.6, shift=True)
    pt = mc.ParallelTempering(
        potential, positions, cell, [1.0, 1.5], seed=3, moves="hybrid", equilibration_sweeps=5
    )
    pt.run(10, quench_lowest=False)
    assert pt.total_accepted.sum() > 0
    for state in pt.replicas:
        np.testing.assert_allclose(
            state.energies, potential.energies(state.positions, cell), atol=1e-9
        )


def test_cli_runs_hybrid_moves_and_refuses_other_settings_on_resume(tmp_path):
    import argparse

    from pgnfast.errors import ResumeMismatchError
    from pgnfast.mc import cli

    def run(hybrid):
        config = tmp_path / "mc.yaml"
        config.write_text(
            "potential: {kind: lennard_jones, cutoff: 1.5, shift: true}\n"
            "num_particles: 27\nbox: 4.0\ntemperatures: [1.0, 1.5]\n"
            f"sweeps: 4\nequilibration_sweeps: 2\noutput: {tmp_path / 'out'}\n"
            f"checkpoint_every: 2\ntrajectory_every: 2\nmoves: hybrid\nhybrid: {hybrid}\n"
        )
        parser = argparse.ArgumentParser()
        cli.add_arguments(parser)
        return cli.run(parser.parse_args([str(config), "--no-progress"]))

    assert run("{steps: 5}") == 0
    _, meta = mc.load_checkpoint(tmp_path / "out" / "checkpoint.npz")
    assert meta["mode"] == "hybrid" and meta["hybrid"]["steps"] == 5
    with pytest.raises(ResumeMismatchError, match="steps: 5 recorded, 6 now"):
        run("{steps: 6}")


def test_dft_energies_and_forces_come_from_one_solve(rng):
    from pgnfast.dft.design import default_design
    from pgnfast.dft.functional import Functional
    from pgnfast.mc.cli import _start

    design = default_design()
    n = 8
    box = design.box_volume([n]) ** (1 / 3)
    positions = _start(n, box, 2.2 * design.radii[0], int(rng.integers(2**31)))
    functional = Functional(design, check_reach=False)  # a small box, for speed
    cell = np.eye(3) * box
    [(energies, forces)] = energies_forces_batch(functional, [(positions, cell, None, True)])
    np.testing.assert_allclose(
        energies, Functional(design, check_reach=False).energies(positions, cell), rtol=1e-6
    )
    _, reference = Functional(design, check_reach=False).energy_forces(positions, cell)
    np.testing.assert_allclose(forces, reference, rtol=1e-6, atol=1e-6 * np.abs(reference).max())
