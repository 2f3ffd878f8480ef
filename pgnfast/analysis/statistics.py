"""Error bars of correlated time series (block averages) and round trips of replicas on a
parallel-tempering ladder."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pgnfast.errors import InputError


@dataclass
class BlockAverage:
    """mean: the mean over all samples used; stderr: standard error from the spread of the
    block means (std with ddof=1 / sqrt(blocks); NaN with one block); block_means:
    (blocks, ...) means of consecutive blocks. Shapes follow one sample's shape."""

    mean: np.ndarray
    stderr: np.ndarray
    block_means: np.ndarray

    @property
    def blocks(self) -> int:
        return len(self.block_means)


def block_average(samples, blocks: int = 5) -> BlockAverage:
    """Mean and standard error of a time series (S, ...) from `blocks` consecutive blocks.

    Blocks hold S // blocks samples each (the last S % blocks samples are dropped, so every
    block weighs the same); with fewer samples than blocks every sample is its own block.
    The error is honest when a block is longer than the series' autocorrelation time.
    """
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim == 0 or len(samples) == 0:
        raise InputError(f"samples must be a non-empty series, got shape {samples.shape}")
    if int(blocks) != blocks or blocks < 1:
        raise InputError(f"blocks must be a whole number >= 1, got {blocks!r}")
    count = min(int(blocks), len(samples))
    size = len(samples) // count
    used = samples[: count * size]
    block_means = used.reshape(count, size, *samples.shape[1:]).mean(axis=1)
    if count > 1:
        stderr = block_means.std(axis=0, ddof=1) / np.sqrt(count)
    else:
        stderr = np.full(samples.shape[1:], np.nan)
    return BlockAverage(np.asarray(used.mean(axis=0)), np.asarray(stderr), block_means)


def round_trips(replica_at_history) -> np.ndarray:
    """(K,) completed round trips per replica (coldest -> hottest -> coldest) from the
    replica at each temperature after successive sweeps, (S, K) ints (row t: replica at
    temperature index 0..K-1). A trip counts when a replica is back at the coldest
    temperature after reaching the hottest since it was last at the coldest; the history's
    first row only starts the bookkeeping (a replica first seen at the hottest end has not
    made the upward half yet, unlike in the engine's own counter)."""
    history = np.asarray(replica_at_history)
    if history.ndim != 2 or history.shape[1] < 1:
        raise InputError(
            f"replica_at_history must be (sweeps, K) replica indices, got shape {history.shape}"
        )
    k = history.shape[1]
    if not np.array_equal(np.sort(history, axis=1), np.broadcast_to(np.arange(k), history.shape)):
        raise InputError("every row of replica_at_history must be a permutation of 0..K-1")
    trips = np.zeros(k, np.int64)
    if k < 2:
        return trips
    unknown, rising, falling = 0, 1, 2  # rising: left the coldest; falling: then the hottest
    state = np.full(k, unknown)
    for row in history:
        coldest, hottest = row[0], row[-1]
        if state[hottest] == rising:
            state[hottest] = falling
        if state[coldest] == falling:
            trips[coldest] += 1
        state[coldest] = rising
    return trips


def swap_acceptance(replica_at_history, first_round: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per neighbouring pair (K-1,): (accepted, attempted) swaps of deterministic even/odd
    exchanges, read off a permutation history (S + 1, K) whose row 0 is the replica at each
    temperature before exchange round `first_round` and row s the one after round
    first_round + s - 1 (one round per row; round r tries the pairs (t, t+1) with t = r mod
    2). A tried pair whose two replicas changed places was accepted."""
    history = np.asarray(replica_at_history)
    if history.ndim != 2 or len(history) < 1:
        raise InputError(
            f"replica_at_history must be (rounds + 1, K) replica indices, got {history.shape}"
        )
    k = history.shape[1]
    accepted = np.zeros(max(k - 1, 0), np.int64)
    attempted = np.zeros(max(k - 1, 0), np.int64)
    for s in range(1, len(history)):
        before, after = history[s - 1], history[s]
        pairs = np.arange((first_round + s - 1) % 2, k - 1, 2)
        attempted[pairs] += 1
        accepted[pairs] += (after[pairs] == before[pairs + 1]) & (after[pairs + 1] == before[pairs])
    return accepted, attempted


def tempering_log_statistics(records, equilibration: int, blocks: int = 10) -> dict:
    """What a parallel-tempering JSON-lines log (pgnfast.mc.JsonLinesLog written every
    sweep, exchanges every sweep) says about production, the sweeps after `equilibration`.

    records: the log's dicts (a sweep written twice, by a resumed run, counts once: the
    last). Returns production_sweeps, round_trips_production (int), swap_acceptance_production
    (K-1,), swap_attempts_production (K-1,), energy (per temperature {"mean", "stderr"} in kT,
    over `blocks` blocks) and energy_drift_in_stderr ((K,) second-half minus first-half mean
    energy over their combined standard error: |drift| >> 2 means not yet stationary).
    """
    by_sweep = {int(record["sweep"]): record for record in records}
    sweeps = np.array(sorted(by_sweep))
    if not np.array_equal(sweeps, np.arange(1, len(sweeps) + 1)):
        raise InputError("the log must hold every sweep from 1 on (JsonLinesLog every=1)")
    k = len(by_sweep[1]["replica_at_temperature"])
    history = np.array([np.arange(k)] + [by_sweep[s]["replica_at_temperature"] for s in sweeps])
    energies = np.array([by_sweep[s]["energy_by_temperature"] for s in sweeps])
    production = sweeps > equilibration
    out = {"production_sweeps": int(production.sum())}
    if production.any():
        # history row s: after sweep s, whose exchange was round s - 1
        accepted, attempted = swap_acceptance(history[equilibration:], first_round=equilibration)
        out["round_trips_production"] = int(round_trips(history[1:][production]).sum())
    else:
        accepted = attempted = np.zeros(max(k - 1, 0), np.int64)
        out["round_trips_production"] = 0
    with np.errstate(invalid="ignore", divide="ignore"):
        out["swap_acceptance_production"] = accepted / attempted
    out["swap_attempts_production"] = attempted
    out["energy"], out["energy_drift_in_stderr"] = [], []
    for t in range(k):
        series = energies[production, t] if production.any() else energies[-1:, t]
        average = block_average(series, blocks)
        out["energy"].append({"mean": float(average.mean), "stderr": float(average.stderr)})
        drift = np.nan
        if len(series) >= 4:
            first, second = (block_average(half) for half in np.array_split(series, 2))
            spread = float(np.hypot(first.stderr, second.stderr))
            drift = (second.mean - first.mean) / spread if spread > 0 else np.nan
        out["energy_drift_in_stderr"].append(float(drift))
    return out
