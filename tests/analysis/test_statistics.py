"""Block averages, round trips and swap acceptance from permutation histories, and the
parallel-tempering log summary (pgnfast.analysis.statistics)."""

from __future__ import annotations

import numpy as np
import pytest

from pgnfast.analysis.statistics import (
    block_average,
    round_trips,
    swap_acceptance,
    tempering_log_statistics,
)
from pgnfast.errors import InputError
from pgnfast.mc.exchange import ReplicaExchange


def test_block_standard_error_of_iid_samples(rng):
    sigma, n, blocks = 2.0, 20_000, 20
    average = block_average(rng.normal(3.0, sigma, n), blocks)
    assert average.blocks == blocks
    # 19 degrees of freedom: the estimate is within 50 % of sigma / sqrt(n) (5 sigma)
    assert 0.5 < average.stderr / (sigma / np.sqrt(n)) < 1.5
    assert abs(average.mean - 3.0) < 5 * sigma / np.sqrt(n)


def test_block_error_sees_correlation_that_the_naive_error_misses(rng):
    x = np.zeros(20_000)
    noise = rng.normal(size=len(x))
    for t in range(1, len(x)):
        x[t] = 0.95 * x[t - 1] + noise[t]  # AR(1), integrated autocorrelation time 39
    naive = x.std(ddof=1) / np.sqrt(len(x))
    blocked = block_average(x, 10).stderr
    assert blocked > 3.0 * naive


def test_block_average_of_arrays_and_short_series(rng):
    samples = rng.normal(size=(12, 5))
    average = block_average(samples, 4)
    assert average.mean.shape == average.stderr.shape == (5,)
    np.testing.assert_allclose(average.mean, samples.mean(axis=0))
    np.testing.assert_allclose(average.block_means, samples.reshape(4, 3, 5).mean(axis=1))
    single = block_average(samples[:1], 5)
    assert single.blocks == 1 and np.all(np.isnan(single.stderr))
    with pytest.raises(InputError, match="non-empty"):
        block_average([], 3)
    with pytest.raises(InputError, match="blocks must be"):
        block_average(samples, 0)


def test_round_trips_known_history():
    history = [
        [0, 1, 2],  # replica 0 cold
        [1, 0, 2],
        [1, 2, 0],  # 0 hot
        [2, 1, 0],
        [0, 1, 2],  # 0 cold again: one trip; 2 hot after its cold row 3
        [2, 1, 0],  # 0 hot; 2 cold: its trip (hot at rows 0-1 counted nothing)
        [0, 2, 1],  # 0 cold: second trip; 1 hot after cold rows 1-2, not back yet
    ]
    np.testing.assert_array_equal(round_trips(history), [2, 0, 1])
    with pytest.raises(InputError, match="permutation"):
        round_trips([[0, 0, 1]])


def test_swap_acceptance_and_trips_match_the_engine_bookkeeping(rng):
    k = 6
    exchange = ReplicaExchange(np.geomspace(1.0, 3.0, k))
    history = [exchange.replica_at.copy()]
    for _ in range(400):
        energies = rng.normal(0.0, 1.5, k)
        exchange.step(energies, rng)
        history.append(exchange.replica_at.copy())
    accepted, attempted = swap_acceptance(history, first_round=0)
    np.testing.assert_array_equal(accepted, exchange.accepts)
    np.testing.assert_array_equal(attempted, exchange.attempts)
    later, tried = swap_acceptance(history[101:], first_round=101)
    # rounds 101..399: odd rounds try pairs 1, 3 (2 of 5), even rounds pairs 0, 2, 4
    assert tried.sum() == 150 * 2 + 149 * 3
    before, tried_before = swap_acceptance(history[:102], first_round=0)
    np.testing.assert_array_equal(later + before, accepted)
    np.testing.assert_array_equal(tried + tried_before, attempted)
    mine = round_trips(history)
    # the engine also counts the first arrival at the coldest of a replica that began hottest
    assert np.all(mine <= exchange.round_trips) and np.all(exchange.round_trips - mine <= 1)
    assert mine.sum() > 0


def test_tempering_log_statistics_reads_production(rng):
    k, sweeps, equilibration = 4, 60, 20
    exchange = ReplicaExchange(np.geomspace(1.0, 2.0, k))
    records = []
    for sweep in range(1, sweeps + 1):
        exchange.step(rng.normal(size=k), rng)
        energies = np.arange(k) * 10.0 + rng.normal(size=k) * 0.1
        records.append(
            {
                "sweep": sweep,
                "replica_at_temperature": exchange.replica_at.tolist(),
                "energy_by_temperature": energies.tolist(),
            }
        )
    records += records[-5:]  # a resumed run rewrites its last sweeps
    stats = tempering_log_statistics(records, equilibration, blocks=4)
    assert stats["production_sweeps"] == sweeps - equilibration
    history = [records[equilibration - 1]["replica_at_temperature"]]
    history += [r["replica_at_temperature"] for r in records[equilibration:sweeps]]
    accepted, attempted = swap_acceptance(history, first_round=equilibration)
    np.testing.assert_allclose(stats["swap_acceptance_production"], accepted / attempted)
    means = [e["mean"] for e in stats["energy"]]
    np.testing.assert_allclose(means, np.arange(k) * 10.0, atol=0.1)
    assert np.all(np.abs(stats["energy_drift_in_stderr"]) < 6)
    with pytest.raises(InputError, match="every sweep"):
        tempering_log_statistics(records[1:], equilibration)
