"""The mpi4py backend: 2 ranks give the serial engine's trajectory, checkpoints included."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pgnfast.mc as mc
from pgnfast.mc.checkpoint import load_checkpoint

from .mpi_cases import CASES, SPLIT, TOTAL, cli_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mpi_run(tmp_path_factory):
    pytest.importorskip("mpi4py")
    mpiexec = shutil.which("mpiexec") or shutil.which("mpirun")
    if mpiexec is None:
        pytest.skip("no mpiexec on PATH")
    out = tmp_path_factory.mktemp("mpi")
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
    )
    done = subprocess.run(
        [mpiexec, "-n", "2", sys.executable, "-m", "tests.mc.mpi_runner", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_two_ranks_equal_the_serial_run(mpi_run, name):
    # replicas really were split: rank 0 held two, rank 1 one
    owned = [json.loads((mpi_run / f"{name}_owned_{r}.json").read_text()) for r in (0, 1)]
    assert owned == [[0, 1], [2]]
    serial = CASES[name](mc.ParallelTempering)
    serial.run(TOTAL, quench_lowest=False)
    arrays, meta = load_checkpoint(mpi_run / f"{name}_final.npz")
    assert meta["sweeps_done"] == TOTAL
    np.testing.assert_array_equal(arrays["positions"], [s.positions for s in serial.replicas])
    np.testing.assert_array_equal(arrays["energies"], [s.energies for s in serial.replicas])
    np.testing.assert_array_equal(arrays["exchange_replica_at"], serial.exchange.replica_at)
    np.testing.assert_array_equal(arrays["exchange_accepts"], serial.exchange.accepts)
    np.testing.assert_array_equal(arrays["step_sizes"], serial.step_sizes)
    np.testing.assert_array_equal(arrays["stat_energy_sum"], serial.stat_energy_sum)
    np.testing.assert_array_equal(arrays["total_accepted"], serial.total_accepted)
    np.testing.assert_array_equal(arrays["lowest_positions"], serial.lowest_positions)
    assert meta["replica_rngs"] == [g.bit_generator.state for g in serial.replica_rngs]
    assert meta["exchange_rng"] == serial.exchange_rng.bit_generator.state
    if name == "local":
        assert serial.exchange.accepts.sum() > 0  # labels moved between ranks' replicas
    summary = json.loads((mpi_run / f"{name}_summary.json").read_text())
    np.testing.assert_array_equal(summary["mean_energy"], serial.summary(False).mean_energy)
    # root-only writers: one log record per sweep of the first chunk, trajectories every 2
    log = [json.loads(line) for line in open(mpi_run / f"{name}_log.jsonl")]
    assert [r["sweep"] for r in log] == list(range(1, SPLIT + 1))
    assert (mpi_run / name / "trajectory_T02.extxyz").exists()


def test_mpi_checkpoint_resumes_serially(mpi_run):
    """The MPI checkpoint has the serial format: the serial engine continues it exactly."""
    straight = CASES["checkerboard"](mc.ParallelTempering)
    straight.run(TOTAL, quench_lowest=False)
    resumed = mc.ParallelTempering.from_checkpoint(
        mpi_run / "checkerboard_split.npz", straight.potential
    )
    assert resumed.sweeps_done == SPLIT
    resumed.run(TOTAL - SPLIT, quench_lowest=False)
    for a, b in zip(straight.replicas, resumed.replicas):
        np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(straight.exchange.replica_at, resumed.exchange.replica_at)


def test_cli_mpi_backend_equals_serial(mpi_run, tmp_path):
    import argparse

    from pgnfast.mc import cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert cli.run(parser.parse_args([str(cli_config(tmp_path, "serial")), "--no-progress"])) == 0
    serial = json.loads((tmp_path / "out" / "summary.json").read_text())
    parallel = json.loads((mpi_run / "cli" / "out" / "summary.json").read_text())
    assert parallel["sweeps"] == serial["sweeps"] == 4
    assert parallel["mean_energy"] == serial["mean_energy"]
    assert parallel["lowest_energy"] == serial["lowest_energy"]
