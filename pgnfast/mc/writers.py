"""Writers called by the engine after sweeps: extxyz trajectories and a JSON-lines log.

A writer has ``open(engine)``, ``write(engine)`` (after every sweep; it decides whether to
write from ``engine.sweeps_done``) and ``close()``. Resumed runs append: ``open`` first cuts
each file back to the records of sweeps up to the engine's (those a killed run wrote after
its last checkpoint, and a record cut short by the kill, are dropped and written again), so
a resumed run's files equal the uninterrupted run's. Under the MPI backend every rank calls
the writers (positions are gathered collectively) and only the root rank writes files.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np

from ..validation import TYPE_COLUMN

_SWEEP_KEY = re.compile(rb"(?:^|\s)sweep=(\d+)")


def _cut_json_lines(path: Path, last_sweep: int) -> None:
    """Truncate a JSON-lines log before its first record past `last_sweep` (or cut short)."""
    if not path.exists():
        return
    offset = 0
    with open(path, "rb") as handle:
        for line in handle:
            try:
                complete = line.endswith(b"\n") and json.loads(line)["sweep"] <= last_sweep
            except (ValueError, KeyError, TypeError):
                complete = False
            if not complete:
                break
            offset += len(line)
    if offset < path.stat().st_size:
        os.truncate(path, offset)


def _cut_extxyz(path: Path, last_sweep: int) -> None:
    """Truncate an extxyz trajectory before its first frame past `last_sweep` (or cut short)."""
    if not path.exists():
        return
    offset = 0
    with open(path, "rb") as handle:
        while True:
            count_line = handle.readline()
            if not count_line:
                break
            comment = handle.readline()
            match = _SWEEP_KEY.search(comment)
            try:
                count = int(count_line)
            except ValueError:
                break
            if match is None or int(match.group(1)) > last_sweep:
                break
            body = [handle.readline() for _ in range(count)]
            if not all(line.endswith(b"\n") for line in body) or not comment.endswith(b"\n"):
                break
            offset += len(count_line) + len(comment) + sum(len(line) for line in body)
    if offset < path.stat().st_size:
        os.truncate(path, offset)


class TrajectoryWriter:
    """One extxyz file per temperature index, ``<directory>/<prefix>T<index>.extxyz``.

    Coordinates and cell are written in nm as stored (not converted to Angstrom); frames
    carry sweep, temperature (kT), energy (kT) and replica in their info line; particle
    types go in the ``type`` column (:data:`pgnfast.validation.TYPE_COLUMN`). every: write
    every this many sweeps.
    """

    def __init__(self, directory, every: int = 10, prefix: str = "trajectory_"):
        self.directory, self.every, self.prefix = Path(directory), int(every), prefix

    def open(self, engine) -> None:
        if engine.is_root:
            self.directory.mkdir(parents=True, exist_ok=True)
            for t in range(len(engine.exchange.temperatures)):
                _cut_extxyz(self.path(t), engine.sweeps_done)

    def path(self, temperature_index: int) -> Path:
        return self.directory / f"{self.prefix}T{temperature_index:02d}.extxyz"

    def write(self, engine) -> None:
        if engine.sweeps_done % self.every:
            return
        from ase import Atoms
        from ase.io import write

        positions = engine.positions_by_temperature()  # collective under MPI
        energies = engine.energy_by_temperature()
        if not engine.is_root:
            return
        for t, replica in enumerate(engine.exchange.replica_at):
            atoms = Atoms(
                symbols=["X"] * len(positions[t]),
                positions=positions[t],
                cell=engine.cell,
                pbc=True,
            )
            atoms.arrays[TYPE_COLUMN] = np.asarray(engine.types_or_zeros, np.int64)
            atoms.info.update(
                sweep=engine.sweeps_done,
                temperature=float(engine.exchange.temperatures[t]),
                energy=float(energies[t]),
                replica=int(replica),
            )
            # parallel=False: ASE would otherwise broadcast from rank 0 when mpi4py is loaded
            write(self.path(t), atoms, format="extxyz", append=True, parallel=False)

    def close(self) -> None:
        pass


class JsonLinesLog:
    """One JSON object per logged sweep: energies, acceptance, swaps, step sizes, timing."""

    def __init__(self, path, every: int = 1):
        self.path, self.every = Path(path), int(every)
        self._handle = None
        self._last_time = None
        self._last_sweep = 0

    def open(self, engine) -> None:
        self._last_time, self._last_sweep = time.perf_counter(), engine.sweeps_done
        if not engine.is_root:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _cut_json_lines(self.path, engine.sweeps_done)
        self._handle = open(self.path, "a")
        self._last_time, self._last_sweep = time.perf_counter(), engine.sweeps_done

    def write(self, engine) -> None:
        if engine.sweeps_done % self.every or self._handle is None:
            return
        now = time.perf_counter()
        elapsed = max(now - self._last_time, 1e-12)
        record = {
            "sweep": engine.sweeps_done,
            "temperatures": engine.exchange.temperatures.tolist(),
            "energy_by_temperature": engine.energy_by_temperature().tolist(),
            "move_acceptance_last_sweep": engine.last_sweep_acceptance.tolist(),
            "step_size": engine.step_sizes.tolist(),
            "swap_acceptance": [
                None if np.isnan(x) else float(x) for x in engine.exchange.acceptance()
            ],
            "replica_at_temperature": engine.exchange.replica_at.tolist(),
            "round_trips": int(engine.exchange.round_trips.sum()),
            "sweeps_per_s": (engine.sweeps_done - self._last_sweep) / elapsed,
            "tuning": engine.tuning_active,
        }
        if getattr(engine, "moves", "single") == "hybrid":
            record["hybrid_time_step"] = engine.hybrid_time_steps.tolist()
            record["hybrid_steps"] = engine.hybrid_steps.tolist()
        self._last_time, self._last_sweep = now, engine.sweeps_done
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
