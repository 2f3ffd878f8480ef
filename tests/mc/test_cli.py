"""`pgnfast mc config.yaml` runs, writes its outputs and resumes."""

from __future__ import annotations

import argparse
import json

from pgnfast.mc import cli


def test_cli_runs_and_resumes(tmp_path):
    config = tmp_path / "mc.yaml"
    config.write_text(
        "potential: {kind: lennard_jones, cutoff: 1.5}\n"
        "num_particles: 27\nbox: 4.0\n"
        "temperatures: {min: 1.0, max: 2.0, count: 3}\n"
        f"sweeps: 4\nequilibration_sweeps: 2\noutput: {tmp_path / 'out'}\n"
        "checkpoint_every: 2\ntrajectory_every: 2\n"
    )
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert cli.run(parser.parse_args([str(config), "--no-progress"])) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["sweeps"] == 4 and len(summary["mean_energy"]) == 3
    assert (tmp_path / "out" / "trajectory_T00.extxyz").exists()
    assert cli.run(parser.parse_args([str(config), "--no-progress", "--sweeps", "6"])) == 0
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["sweeps"] == 6
