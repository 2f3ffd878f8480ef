"""Hybrid moves with the mpi4py backend: 2 ranks give the serial engine's run, through a
checkpoint and resume."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pgnfast.mc as mc
from pgnfast.mc.checkpoint import load_checkpoint

from .hybrid_mpi_runner import TOTAL, make

ROOT = Path(__file__).resolve().parents[2]


def test_two_ranks_equal_the_serial_hybrid_run(tmp_path):
    pytest.importorskip("mpi4py")
    mpiexec = shutil.which("mpiexec") or shutil.which("mpirun")
    if mpiexec is None:
        pytest.skip("no mpiexec on PATH")
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
    )
    done = subprocess.run(
        [mpiexec, "-n", "2", sys.executable, "-m", "tests.mc.hybrid_mpi_runner", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    serial = make(mc.ParallelTempering)
    serial.run(TOTAL, quench_lowest=False)
    arrays, meta = load_checkpoint(tmp_path / "final.npz")
    assert meta["mode"] == "hybrid" and meta["sweeps_done"] == TOTAL
    assert np.array_equal(arrays["positions"], serial._all_positions())
    assert np.array_equal(arrays["energies"], np.stack([s.energies for s in serial.replicas]))
    assert np.array_equal(arrays["hybrid_time_steps"], serial.hybrid_time_steps)
    assert np.array_equal(arrays["exchange_replica_at"], serial.exchange.replica_at)
    assert serial.total_accepted.sum() > 0
