"""`pgnfast mc config.yaml` runs, writes its outputs, resumes only the same run, and gives a
PGN model the DFT's core exclusion of its design."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from pgnfast.errors import InputError, ResumeMismatchError
from pgnfast.mc import cli, load_checkpoint


def _run(config, *extra):
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run(parser.parse_args([str(config), "--no-progress", *extra]))


def _lj_config(tmp_path, **overrides):
    values = {
        "potential": "{kind: lennard_jones, cutoff: 1.5}",
        "num_particles": 27,
        "box": 4.0,
        "temperatures": "{min: 1.0, max: 2.0, count: 3}",
        "sweeps": 4,
        "equilibration_sweeps": 2,
        "output": tmp_path / "out",
        "checkpoint_every": 2,
        "trajectory_every": 2,
    }
    values.update(overrides)
    config = tmp_path / "mc.yaml"
    config.write_text("".join(f"{key}: {value}\n" for key, value in values.items()))
    return config


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


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"potential": "{kind: lennard_jones, cutoff: 1.4}"}, r"another potential: cutoff: 1\.5"),
        ({"num_particles": 28}, "holds 27 particles, but 28"),
        ({"temperatures": "{min: 1.0, max: 3.0, count: 3}"}, "was run at temperatures"),
        ({"box": 4.5}, "box"),
        ({"seed": 3}, "seed 0"),
    ],
)
def test_cli_refuses_to_resume_another_run(tmp_path, change, message):
    assert _run(_lj_config(tmp_path, sweeps=2)) == 0
    with pytest.raises(ResumeMismatchError, match=message):
        _run(_lj_config(tmp_path, sweeps=4, **change))


def test_cli_refuses_unknown_keys(tmp_path):
    with pytest.raises(InputError, match="unknown mc config keys"):
        _run(_lj_config(tmp_path, sweep=3))


# -- a PGN model gets the DFT's core exclusion of its design --------------------------------


def _design():
    from pgnfast.dft.design import PGNDesign

    return PGNDesign(
        core_radius=0.3, grafting_density=1.0, chain_length=10, kuhn_length=0.5, segment_volume=0.1
    )


def _model_file(tmp_path, test_seed, design=None):
    """A tiny one-type PGN model (r_max 0.6 nm, 2 layers: receptive field 1.2 nm) saved to a
    model file, recording `design` as its metadata when given."""
    pytest.importorskip("torch")
    pytest.importorskip("e3nn")
    from pgnfast.nn.io import save_model
    from pgnfast.testing import small_model

    model = small_model(seed=test_seed % 2**31, num_types=1)
    if design is not None:
        model.metadata["pgn_design"] = design.to_dict()
    path = tmp_path / ("model_with_design.pt" if design else "model.pt")
    save_model(model, path)
    return path


def test_pgn_model_gets_the_core_exclusion_of_its_recorded_design(tmp_path, test_seed):
    from pgnfast.dft.core_exclusion import CoreExclusion

    path = _model_file(tmp_path, test_seed, _design())
    potential = cli.build_potential({"kind": "model", "path": str(path)})
    assert isinstance(potential, CoreExclusion)
    np.testing.assert_array_equal(potential.radii, _design().radii)
    # hot replicas try to walk into overlapping cores; every such move is rejected
    config = _lj_config(
        tmp_path,
        potential=f"{{kind: model, path: {path}}}",
        num_particles=8,
        box=2.0,
        temperatures="[100.0, 1000.0]",
        sweeps=4,
        seed=test_seed % 2**31,
    )
    assert _run(config) == 0
    arrays, meta = load_checkpoint(tmp_path / "out" / "checkpoint.npz")
    assert meta["potential_fingerprint"]["class"].endswith("CoreExclusion")
    for positions in arrays["positions"]:
        assert not potential.overlapping(positions, arrays["cell"]).any()


def test_pgn_model_design_from_the_config(tmp_path, test_seed):
    from pgnfast.dft.core_exclusion import CoreExclusion

    path = _model_file(tmp_path, test_seed)
    design = _design().to_dict()
    potential = cli.build_potential({"kind": "model", "path": str(path), "design": design})
    assert isinstance(potential, CoreExclusion)


def test_pgn_model_without_a_design_is_refused(tmp_path, test_seed):
    path = _model_file(tmp_path, test_seed)
    config = _lj_config(tmp_path, potential=f"{{kind: model, path: {path}}}", num_particles=8)
    with pytest.raises(InputError, match=r"records no design.*`core_exclusion: false`"):
        _run(config)


def test_core_exclusion_false_runs_the_bare_model(tmp_path, test_seed):
    from pgnfast.nn.potential import Potential

    path = _model_file(tmp_path, test_seed, _design())
    spec = {"kind": "model", "path": str(path), "core_exclusion": False}
    assert type(cli.build_potential(spec)) is Potential
    config = _lj_config(
        tmp_path,
        potential=f"{{kind: model, path: {path}}}",
        core_exclusion="false",
        num_particles=8,
        box=2.0,
        sweeps=1,
    )
    assert _run(config) == 0
    _, meta = load_checkpoint(tmp_path / "out" / "checkpoint.npz")
    assert meta["potential_fingerprint"]["class"].endswith("nn.potential.Potential")


def test_design_with_another_number_of_types_is_refused(tmp_path, test_seed):
    from pgnfast.dft.design import PGNDesign

    path = _model_file(tmp_path, test_seed)
    design = PGNDesign(
        core_radius=[0.2, 0.3],
        grafting_density=1.0,
        chain_length=10,
        kuhn_length=0.5,
        segment_volume=0.1,
    )
    with pytest.raises(InputError, match="design has 2 particle types"):
        cli.build_potential({"kind": "model", "path": str(path), "design": design.to_dict()})
