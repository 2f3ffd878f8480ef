"""Parallel tempering: LJ13 global minimum, DEO exchanges, checkpoints, writers, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

import pgnfast.mc as mc
from pgnfast.potentials import CoreRepulsion, Harmonic, LennardJones

LJ13_MINIMUM = -44.326801


def _random_cluster(seed: int, n: int = 13, radius: float = 1.7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    points: list[np.ndarray] = []
    while len(points) < n:
        p = rng.uniform(-radius, radius, 3)
        if np.linalg.norm(p) < radius and all(np.linalg.norm(p - q) > 0.9 for q in points):
            points.append(p)
    return np.array(points)


@pytest.mark.parametrize("seed", [0, 1])
def test_finds_the_lj13_global_minimum(seed):
    """Plain LJ, cutoff 3 sigma (holds the whole cluster), periodic box 6.5 > 2 x cutoff."""
    box = 6.5
    potential = LennardJones(epsilon=1.0, sigma=1.0, cutoff=3.0, shift=False)
    temperatures = np.geomspace(0.1, 0.3, 6)
    pt = mc.ParallelTempering(
        potential,
        _random_cluster(seed) + box / 2,
        np.eye(3) * box,
        temperatures,
        seed=seed,
        equilibration_sweeps=100,
    )
    summary = pt.run(450)
    assert summary.lowest_energy == pytest.approx(LJ13_MINIMUM, abs=1e-4)
    assert summary.lowest_energy_sampled > LJ13_MINIMUM  # sampled energies are thermal
    assert potential.energy(summary.lowest_positions, pt.cell) == pytest.approx(
        summary.lowest_energy, abs=1e-9
    )
    assert summary.round_trips >= 1
    assert np.all((summary.swap_acceptance > 0.05) & (summary.swap_acceptance < 0.95))


def test_deo_alternates_and_counts_round_trips():
    exchange = mc.ReplicaExchange([1.0, 2.0, 3.0, 4.0])
    rng = np.random.default_rng(0)
    flat = np.zeros(4)  # equal energies: every attempted swap is accepted
    first = exchange.step(flat, rng)
    second = exchange.step(flat, rng)
    np.testing.assert_array_equal(first, [True, False, True])
    np.testing.assert_array_equal(second, [False, True, False])
    for _ in range(40):
        exchange.step(flat, rng)
    assert sorted(exchange.replica_at.tolist()) == [0, 1, 2, 3]
    np.testing.assert_array_equal(exchange.temperature_of[exchange.replica_at], np.arange(4))
    # with always-accepted DEO swaps each replica travels the ladder ballistically:
    # one round trip per 2K rounds
    assert exchange.round_trips.sum() >= 4 * (42 // 8) - 4
    # energies that forbid swaps: cold replica far lower in energy, hot ones higher
    blocked = mc.ReplicaExchange([1.0, 2.0])
    blocked.step(np.array([-1e6, 0.0]), rng)
    assert blocked.accepts.sum() == 0
    favoured = mc.ReplicaExchange([1.0, 2.0])  # hot replica lower in energy: always swaps
    favoured.step(np.array([0.0, -1e6]), rng)
    assert favoured.accepts.sum() == 1 and favoured.replica_at.tolist() == [1, 0]


def test_ladder_tuning_keeps_ends_and_order():
    exchange = mc.ReplicaExchange([1.0, 1.1, 3.0, 4.0])
    exchange.window_attempts[:] = 10
    exchange.window_accepts[:] = [9, 1, 9]
    assert exchange.retune_ladder()
    t = exchange.temperatures
    assert t[0] == 1.0 and t[-1] == pytest.approx(4.0) and np.all(np.diff(t) > 0)


def _engine(**kwargs):
    positions = np.random.default_rng(5).random((64, 3)) * 4.0
    potential = Harmonic(2.0, centers=positions)
    return mc.ParallelTempering(
        potential,
        positions,
        np.eye(3) * 4.0,
        [0.5, 1.0, 2.0],
        types=np.arange(64),
        seed=9,
        equilibration_sweeps=8,
        **kwargs,
    )


def _lj_engine():
    rng = np.random.default_rng(6)
    grid = np.stack(np.meshgrid(*[np.arange(5)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5
    positions = grid * 1.3 + rng.normal(0, 0.05, grid.shape)
    return mc.ParallelTempering(
        LennardJones(cutoff=1.5),
        positions,
        np.eye(3) * 6.5,
        [0.8, 1.0, 1.3],
        seed=4,
        equilibration_sweeps=6,
    )


def _assert_same_state(a, b):
    for ra, rb in zip(a.replicas, b.replicas):
        np.testing.assert_array_equal(ra.positions, rb.positions)
        np.testing.assert_array_equal(ra.energies, rb.energies)
    np.testing.assert_array_equal(a.exchange.replica_at, b.exchange.replica_at)
    np.testing.assert_array_equal(a.step_sizes, b.step_sizes)
    np.testing.assert_array_equal(a.stat_energy_sum, b.stat_energy_sum)
    np.testing.assert_array_equal(a.exchange.accepts, b.exchange.accepts)
    assert [g.bit_generator.state for g in a.replica_rngs] == [
        g.bit_generator.state for g in b.replica_rngs
    ]
    assert a.sweeps_done == b.sweeps_done


@pytest.mark.parametrize("make", [_engine, _lj_engine], ids=["checkerboard", "local"])
def test_chunked_resumed_run_equals_straight_run(tmp_path, make):
    straight = make()
    straight.run(20)
    path = tmp_path / "state.npz"
    first = make()
    first.run(7, checkpoint=path, checkpoint_every=3)  # crosses the end of tuning later
    resumed = mc.ParallelTempering.from_checkpoint(path, first.potential)
    resumed.run(6, checkpoint=path)
    resumed = mc.ParallelTempering.from_checkpoint(path, first.potential)
    resumed.run(7)
    _assert_same_state(straight, resumed)
    assert (tmp_path / "state.npz.prev").exists()
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary files left behind


class _Crash(RuntimeError):
    pass


class _CrashAt:
    def __init__(self, sweep):
        self.sweep = sweep

    def open(self, engine):
        pass

    def write(self, engine):
        if engine.sweeps_done == self.sweep:
            raise _Crash

    def close(self):
        pass


def test_killed_run_loses_only_work_since_last_checkpoint(tmp_path):
    path = tmp_path / "state.npz"
    crashed = _engine()
    with pytest.raises(_Crash):
        crashed.run(30, checkpoint=path, checkpoint_every=5, writers=[_CrashAt(13)])
    resumed = mc.ParallelTempering.from_checkpoint(path, crashed.potential)
    assert resumed.sweeps_done == 10
    resumed.run(20 - resumed.sweeps_done)
    straight = _engine()
    straight.run(20)
    _assert_same_state(straight, resumed)


def test_writers_produce_extxyz_per_temperature_and_json_lines(tmp_path):
    from ase.io import read

    engine = _engine()
    writers = [mc.TrajectoryWriter(tmp_path, every=2), mc.JsonLinesLog(tmp_path / "log.jsonl")]
    engine.run(6, writers=writers)
    for t in range(3):
        frames = read(tmp_path / f"trajectory_T{t:02d}.extxyz", index=":")
        assert len(frames) == 3
        assert frames[-1].info["temperature"] == pytest.approx(engine.temperatures[t])
        np.testing.assert_allclose(
            frames[-1].positions, engine.positions_by_temperature()[t], atol=1e-6
        )
    records = [json.loads(line) for line in open(tmp_path / "log.jsonl")]
    assert [r["sweep"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert len(records[-1]["energy_by_temperature"]) == 3
    assert records[-1]["sweeps_per_s"] > 0


def test_resumed_writers_equal_the_uninterrupted_run(tmp_path):
    from ase.io import read

    def writers(directory):
        return [
            mc.TrajectoryWriter(directory, every=2),
            mc.JsonLinesLog(directory / "log.jsonl"),
        ]

    straight = _engine()
    straight.run(20, writers=writers(tmp_path / "straight"))
    path = tmp_path / "state.npz"
    crashed = _engine()
    with pytest.raises(_Crash):
        crashed.run(
            30,
            checkpoint=path,
            checkpoint_every=5,
            writers=[*writers(tmp_path / "resumed"), _CrashAt(13)],
        )
    with open(tmp_path / "resumed" / "log.jsonl", "a") as handle:
        handle.write('{"sweep": 14, "temper')  # a record cut short by the kill
    resumed = mc.ParallelTempering.from_checkpoint(path, crashed.potential)
    assert resumed.sweeps_done == 10
    resumed.run(10, writers=writers(tmp_path / "resumed"))
    for t in range(3):
        name = f"trajectory_T{t:02d}.extxyz"
        a = read(tmp_path / "straight" / name, index=":")
        b = read(tmp_path / "resumed" / name, index=":")
        assert [f.info["sweep"] for f in b] == list(range(2, 21, 2))
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x.positions, y.positions)
            assert x.info == y.info

    def records(directory):
        lines = open(directory / "log.jsonl").read().splitlines()
        return [
            {k: v for k, v in json.loads(line).items() if k != "sweeps_per_s"} for line in lines
        ]

    assert [r["sweep"] for r in records(tmp_path / "resumed")] == list(range(1, 21))
    assert records(tmp_path / "resumed") == records(tmp_path / "straight")


def test_bad_input_raises_clear_errors():
    cell = np.eye(3) * 5.0
    positions = np.random.default_rng(0).random((20, 3)) * 5.0
    harmonic = Harmonic(1.0)
    with pytest.raises(mc.MonteCarloInputError, match="strictly increasing"):
        mc.ParallelTempering(harmonic, positions, cell, [1.0, 1.0, 2.0])
    with pytest.raises(mc.MonteCarloInputError, match="strictly increasing"):
        mc.ParallelTempering(harmonic, positions, cell, [2.0, 1.0])
    bad = positions.copy()
    bad[3, 1] = np.nan
    with pytest.raises(mc.MonteCarloInputError, match="NaN"):
        mc.ParallelTempering(harmonic, bad, cell, [1.0])
    overlapping = np.array([[1.0, 1.0, 1.0], [1.5, 1.0, 1.0], [3.0, 3.0, 3.0]])
    with pytest.raises(mc.MonteCarloInputError, match="overlapping cores"):
        mc.ParallelTempering(CoreRepulsion(diameter=1.0), overlapping, cell, [1.0])
    with pytest.raises(mc.CheckerboardError, match="twice the receptive field"):
        mc.ParallelTempering(LennardJones(cutoff=2.6), positions, cell, [1.0], checkerboard=True)
    with pytest.raises(mc.MonteCarloInputError, match="positions must be"):
        mc.ParallelTempering(harmonic, positions[:, :2], cell, [1.0])
    with pytest.raises(mc.MonteCarloInputError, match="not finite"):
        mc.ParallelTempering(LennardJones(), np.array([[1.0, 1, 1], [1.0, 1, 1]]), cell, [1.0])
    with pytest.raises(TypeError, match="energies_batch"):
        mc.ParallelTempering(object(), positions, cell, [1.0])
