"""`pgnfast argon` end to end at tiny sizes: examples/argon.yaml with every size shrunk, run
through the command line; files, finite numbers, the exact potential's phonons against the
analytic lattice sum, a rerun that reuses every stage and a changed field that reruns only
its stage; bad configurations give one line and exit 2."""

from __future__ import annotations

import copy
import json
import math
import pathlib

import numpy as np
import pytest
import yaml

from pgnfast.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "argon.yaml"
# sizes that shrink the example to well under a minute on one loaded core
SHRINK = {
    "data": {
        "n_cells": 2,
        "npt_steps": 100,
        "nvt_steps": 100,
        "ramp_steps": 200,
        "hold_steps": 0,
        "frame_every": 25,
        "trajectories": 1,
    },
    "models": {
        "nequip_epochs": 2,
        "direct_epochs": 2,
        "dtype": "float64",
        "nequip_num_layers": 1,
        "nequip_l_max": 1,
        "nequip_num_features": 4,
        "nequip_r_max": 5.0,
        "direct_r_max": 5.0,
        "direct_num_layers": 1,
        "direct_num_features": 8,
    },
    "phonons": {"n_cells": 2, "band_points": 5, "mesh": 4, "relax_n_cells": 2},
    "spectra": {
        "temperatures": [20.0],
        "n_cells": 2,
        "equilibration_steps": 10,
        "production_steps": 40,
        "window_size": 8,
        "window_step": 4,
    },
    "vacancy": {
        "n_cells": 2,
        "neb_images": 3,
        "string_images": 3,
        "fmax": 0.01,
        "models": ["exact"],
    },
    "drift": {"n_cells": 1, "steps": 30, "record_every": 5},
    "hops": {"n_cells": 2, "chunks": 1, "chunk_steps": 100, "equilibration_steps": 50},
    "model_hops": {
        "temperatures": [150.0],
        "chunks": 1,
        "chunk_steps": 100,
        "equilibration_steps": 20,
    },
}
PLOTS = (
    "dispersion_dos.png",
    "asymmetry.png",
    "spectra.png",
    "peaks.png",
    "vdos.png",
    "mep.png",
    "drift.png",
    "arrhenius.png",
)


def shrunk_example(seed: int) -> dict:
    """examples/argon.yaml with every size replaced by SHRINK's (and the data seeded)."""
    values = yaml.safe_load(EXAMPLE.read_text())
    for section, sizes in SHRINK.items():
        values.setdefault(section, {}).update(copy.deepcopy(sizes))
    values["data"]["seed"] = seed
    return values


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def test_example_loads_with_the_study_sizes():
    from pgnfast.systems.argon.config import ArgonRunConfig

    config = ArgonRunConfig.from_yaml(EXAMPLE)
    assert 4 * config.data.n_cells**3 == 256 and config.data.trajectories > 1
    assert config.vacancy.n_cells == 4 and len(config.hops.temperatures) >= 3
    assert config.to_dict()["hops"].get("lattice_constant") is None


def test_argon_command_shrunk_example_and_rerun(tmp_path, test_seed, capsys):
    from pgnfast.systems.argon.phonons import lj_direct_frequencies, lj_fcc_lattice_constant
    from pgnfast.systems.argon.reference import CUTOFF, EPSILON, SIGMA

    config_path = tmp_path / "argon.yaml"
    values = shrunk_example(test_seed % 1000)
    config_path.write_text(yaml.safe_dump(values))
    out = tmp_path / "out"
    argv = ["argon", "--config", str(config_path), "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    for name in ("report.md", "summary.json", "config.yaml", *PLOTS):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    models = summary["models"]
    assert set(models) == {"exact", "NequIP", "direct force"}
    for entry in models.values():
        assert _finite(entry["lattice_constant"]) and _finite(entry["hessian_asymmetry"])
        assert all(_finite(f) for point in ("X", "L") for f in entry["frequencies_thz"][point])
        assert "error" in entry["drift"] or _finite(entry["drift"]["drift_ev_per_atom_per_ns"])
    exact = models["exact"]
    a0 = lj_fcc_lattice_constant(EPSILON, SIGMA, CUTOFF)
    assert exact["lattice_constant"] == pytest.approx(a0, rel=1e-6)
    for point, q in (("X", (1.0, 0.0, 0.0)), ("L", (0.5, 0.5, 0.5))):
        direct = lj_direct_frequencies(
            2 * np.pi / a0 * np.array(q), exact["lattice_constant"], EPSILON, SIGMA, CUTOFF
        )
        assert exact["frequencies_thz"][point] == pytest.approx(direct, abs=1e-5)
        assert exact["frequency_error_percent"][point] == [0.0, 0.0, 0.0]
    assert exact["hessian_method"] == "analytic"
    assert models["direct force"]["hessian_method"] == "finite_differences"
    assert models["direct force"]["lattice_constant"] == exact["lattice_constant"]
    vacancy = exact["vacancy"]
    assert 0 < vacancy["migration_energy_neb"] < vacancy["formation_energy_constant_volume"]
    assert vacancy["saddle_negative_modes"] == 1
    assert "no energy" in models["direct force"]["vacancy"]["error"]
    assert "left out of vacancy.models" in models["NequIP"]["vacancy"]["error"]
    hops = summary["hops"]
    if "skipped" not in hops:
        assert set(hops["runs"]) == {f"{t:g}" for t in values["hops"]["temperatures"]}
        model_hops = summary["model_hops"]["models"]
        assert set(model_hops) == {"NequIP", "direct force"}
        for name, entry in model_hops.items():
            run = entry["runs"]["150"]
            assert run["time_ps"] == pytest.approx(0.5) and run["steps_per_second"] > 0
            assert entry["lattice_constant"] == models[name]["lattice_constant"]
            assert "harmonic_rate" not in run  # no vacancy study of either model here
    report = (out / "report.md").read_text()
    assert f"{exact['lattice_constant']:.5f}" in report
    for plot in PLOTS:
        assert f"]({plot})" in report
    from pgnfast.systems.argon.config import ArgonRunConfig
    from pgnfast.systems.argon.run import stage_keys

    written = ArgonRunConfig.from_yaml(out / "config.yaml")  # the run's config round-trips
    assert stage_keys(written) == stage_keys(ArgonRunConfig.from_yaml(config_path))
    capsys.readouterr()

    # a rerun reuses every stage; a changed drift size reruns the drift stage only
    assert main(argv) == 0
    statuses = {
        k: v["status"]
        for k, v in json.loads((out / "summary.json").read_text())["timings"]["stages"].items()
    }
    assert set(statuses.values()) == {"reused"}
    values["drift"]["steps"] = 40
    config_path.write_text(yaml.safe_dump(values))
    assert main(argv) == 0
    stages = json.loads((out / "summary.json").read_text())["timings"]["stages"]
    assert {k for k, v in stages.items() if v["status"] != "reused"} == {"drift"}
    exact_drift = json.loads((out / "summary.json").read_text())["models"]["exact"]["drift"]
    assert exact_drift["steps"] == 40


@pytest.mark.parametrize(
    "values, message",
    [
        ({"data": {"lattice": "bcc"}}, r"lattice must be one of \('fcc',\), got 'bcc'"),
        ({"vacancy": {"n_cell": 2}}, r"unknown argon config 'vacancy' keys \['n_cell'\]"),
        ({"phonon": {}}, r"unknown argon config keys \['phonon'\]"),
        ({"hops": {"lattice_constant": 5.0}}, r"unknown argon config 'hops' keys"),
        ({"model_hops": {"models": ["exact"]}}, r"model_hops.models must list distinct names"),
        ({"model_hops": {"chunk_steps": 75}}, r"must be a multiple of hops.frame_every \(50\)"),
    ],
)
def test_bad_config_is_one_line(tmp_path, capsys, values, message):
    import re

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(values))
    code = main(["argon", "--config", str(path), "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert error[0].startswith("pgnfast argon: error: ") and str(path) in error[0]
    assert re.search(message, error[0])
    assert not (tmp_path / "out").exists()
