"""End to end: the demo pipeline at tiny sizes, its report, reruns and interrupted runs."""

from __future__ import annotations

import copy
import json
import math
import shutil

import numpy as np
import pytest

from pgnfast.analysis import radial_distribution
from pgnfast.geometry import minimum_image
from pgnfast.systems.pgn import Pipeline, demo_config, run_pipeline, tiny_config
from pgnfast.systems.pgn.run import PLOTS, read_trajectory
from pgnfast.systems.pgn.stages import compare as compare_stage
from pgnfast.systems.pgn.stages.helpers import half_box, random_melts
from tests.conftest import derived_seed

REPORT_FILES = ["report.md", "summary.json", "config.yaml", "stages.json", *PLOTS]
TIMING_KEYS = {"timings", "cost"}  # wall-clock measurements: differ between runs


def _numbers(value, path=""):
    """(path, number) for every number in a nested summary."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _numbers(item, f"{path}[{index}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, value


def _physics(summary: dict) -> dict:
    """The summary without wall-clock measurements (which differ between runs)."""
    out = {k: v for k, v in summary.items() if k not in TIMING_KEYS}
    out["labels"] = {k: v for k, v in out["labels"].items() if k != "dft_seconds_per_label"}
    out["mc"] = {k: v for k, v in out["mc"].items() if k not in ("moves_per_s", "sweeps_per_s")}
    return out


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, request):
    """The tiny pipeline, once for the module, seeded from the suite's root seed."""
    out = tmp_path_factory.mktemp("demo") / "pgnfast-demo"
    seed = derived_seed(request.config.pgnfast_root_seed, f"{__name__}::tiny_run") % 100_000
    print(f"tiny pipeline seed {seed}")
    config = tiny_config(seed=seed)
    summary = run_pipeline(config, out)
    return config, out, summary


def test_demo_design_is_bidisperse():
    design = demo_config().pgn_design()
    assert design.n_types == 2 and len(set(design.radii.tolist())) == 2
    assert tiny_config().pgn_design() == design


def test_every_report_file_exists(tiny_run):
    _, out, summary = tiny_run
    for name in REPORT_FILES:
        path = out / name
        assert path.exists() and path.stat().st_size > 0, name
        if name.endswith(".png"):
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert json.loads((out / "summary.json").read_text()) == summary
    report = (out / "report.md").read_text()
    test = summary["train"]["test"]
    assert f"{test['energy_per_particle_rmse_kT']:.3g}" in report
    assert f"{summary['cost']['speedup_batched']:.3g}" in report
    assert f"{summary['compare']['gr_difference_model_vs_dft']:.3g}" in report
    for stage in ("labels", "train", "cost", "mc", "compare", "analysis"):
        assert f"| {stage} | ran |" in report
    assert "## What this run shows of the PGN study" in report
    for share in summary["analysis"]["pentagonal_face_fraction"]:
        assert f"{share:.3g}" in report.split("## What this run shows")[1]


@pytest.mark.parametrize(
    "shares, random_share, expected",
    [
        ([0.30, 0.25], 0.20, "rises above the random reference on cooling"),
        ([0.22, 0.25], 0.20, "lies above the random reference but does not grow"),
        ([0.18, 0.25], 0.20, "does not rise above the random reference"),
    ],
)
def test_study_findings_say_what_the_pentagonal_share_shows(shares, random_share, expected):
    from pgnfast.systems.pgn.report import _study_findings

    summary = {
        "mc": {"n_particles": 64, "sweeps": 10, "temperatures": [0.5, 1.0]},
        "analysis": {
            "pentagonal_face_fraction": shares,
            "pentagonal_face_fraction_lowest_T": shares[0],
            "pentagonal_face_fraction_random": random_share,
        },
        "cost": {"log10_speedup_batched": 3.1, "n_particles": 64},
    }
    text = "\n".join(_study_findings(summary))
    assert expected in text
    assert "docs/study.md" in text


def test_summary_numbers_are_finite_and_sane(tiny_run):
    config, _, s = tiny_run
    numbers = list(_numbers(s))
    assert len(numbers) > 60
    bad = [(path, v) for path, v in numbers if not math.isfinite(v)]
    assert not bad, bad
    labels = s["labels"]
    assert labels["n_labeled"] + labels["n_failed"] == config.labels.n_configs
    assert labels["n_labeled"] >= 4 and labels["labeled_this_run"] == labels["n_labeled"]
    assert labels["dft_seconds_per_label"] > 0 and labels["force_rms_kT_per_nm"] > 0
    test = s["train"]["test"]
    assert test["num_configurations"] == config.train["split"]["test"]
    for key in (
        "energy_per_particle_rmse_kT",
        "energy_per_particle_mae_kT",
        "forces_rmse_kT_per_nm",
        "forces_mae_kT_per_nm",
    ):
        assert test[key] > 0
    assert test["energy_per_particle_mae_kT"] <= test["energy_per_particle_rmse_kT"]
    assert s["train"]["n_parameters"] > 0
    cost = s["cost"]
    assert cost["n_particles"] == config.labels.n_particles
    assert 0 < cost["model_seconds_per_config"] < cost["dft_seconds_per_config"]
    assert cost["speedup"] > 1 and cost["speedup_batched"] > 1
    mc = s["mc"]
    assert mc["n_particles"] == config.mc.n_particles > config.labels.n_particles
    assert mc["sweeps"] == config.mc.sweeps
    temperatures = np.array(mc["temperatures"])
    assert len(temperatures) == config.mc.count and np.all(np.diff(temperatures) > 0)
    assert np.all((np.array(mc["acceptance"]) >= 0) & (np.array(mc["acceptance"]) <= 1))
    swaps = np.array(mc["swap_acceptance"])
    assert len(swaps) == config.mc.count - 1 and np.all((swaps >= 0) & (swaps <= 1))
    compare = s["compare"]
    assert compare["frames_per_run"] == config.compare.sweeps
    # a root mean square error is at least the size of the mean error
    bias = compare["energy_per_particle_bias_on_dft_frames_kT"]
    assert compare["energy_per_particle_rmse_on_dft_frames_kT"] >= abs(bias) * (1 - 1e-12)
    for value in compare["acceptance"].values():
        assert 0 <= value <= 1
    st = s["analysis"]
    fractions = st["icosahedral_fraction"] + [st["icosahedral_fraction_random"]]
    assert all(0 <= f <= 1 for f in fractions) and len(st["icosahedral_fraction"]) == len(
        temperatures
    )
    box = mc["box_nm"]
    assert 0 < st["gr_first_peak_nm"] < box / 2 and st["gr_first_peak_height"] > 0
    assert 0 < st["sq_peak_per_nm"] <= config.analysis.q_max
    timings = s["timings"]
    assert all(stage["wall_s"] > 0 and stage["cpu_s"] >= 0 for stage in timings["stages"].values())
    assert timings["this_run_wall_s"] >= timings["stages_wall_s"] * 0.99


def test_gr_differences_are_those_of_the_saved_frames(tiny_run):
    """The compare stage's numbers, recomputed from its trajectories and its start."""
    config, out, s = tiny_run
    frames = {
        name: read_trajectory(out / "compare" / name / "trajectory_T00.extxyz")
        for name in compare_stage.RUNS
    }
    assert all(len(f) == config.compare.sweeps for f in frames.values())
    (start,) = random_melts(config, config.compare.n_particles, 1, compare_stage.SEED_OFFSET)
    cell = start.cell[:]
    r_max, bins = half_box(cell), config.analysis.rdf_bins

    def g(positions):
        return radial_distribution(positions, cell, r_max, bins)[1]

    g_runs = {name: g(np.stack([f.positions for f in fs])) for name, fs in frames.items()}
    expected = {
        "gr_difference_model_vs_dft": np.abs(g_runs["model"] - g_runs["dft"]).mean(),
        "gr_difference_model_vs_model_other_seed": np.abs(
            g_runs["model"] - g_runs["model_other_seed"]
        ).mean(),
        "gr_difference_dft_vs_start": np.abs(g_runs["dft"] - g(start.positions)).mean(),
    }
    for key, value in expected.items():
        assert s["compare"][key] == pytest.approx(value, rel=1e-12, abs=1e-15), key

    # the DFT-driven run moved away from its start exactly when it accepted a move (frames
    # are stored wrapped and rounded to the extxyz precision, hence the minimum image and
    # a tolerance far below any Monte Carlo step)
    def displacement(frame):
        return np.abs(minimum_image(frame.positions - start.positions, cell)).max()

    moved = any(displacement(f) > 1e-5 for f in frames["dft"])
    assert moved == (s["compare"]["acceptance"]["dft"] > 0)


def test_rerun_reuses_every_stage_with_the_same_numbers(tiny_run):
    config, out, first = tiny_run
    again = run_pipeline(config, out)
    assert {s["status"] for s in again["timings"]["stages"].values()} == {"reused"}
    assert _physics(again) == _physics(first)
    assert again["timings"]["this_run_wall_s"] < first["timings"]["this_run_wall_s"]


def test_interrupted_run_resumes_to_the_same_numbers(tiny_run, monkeypatch):
    """Labels kept on disk are not relabeled; a Monte Carlo run killed after a checkpoint
    continues from it and ends exactly where the uninterrupted run ended."""
    config, out, first = tiny_run
    records = json.loads((out / "stages.json").read_text())
    for stage in ("labels", "mc", "analysis"):
        records.pop(stage)  # as if these stages never finished
    (out / "stages.json").write_text(json.dumps(records))
    shutil.rmtree(out / "mc")
    (out / "mc").mkdir()
    (out / "mc" / ".stage_key").write_text(Pipeline(config, out).keys()["mc"])

    from pgnfast.mc import ParallelTempering

    original = ParallelTempering._sweep
    calls = {"n": 0}

    def sweep_then_die(self):
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt("simulated kill")
        original(self)

    monkeypatch.setattr(ParallelTempering, "_sweep", sweep_then_die)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(config, out)
    assert (out / "mc" / "checkpoint.npz").exists()
    records = json.loads((out / "stages.json").read_text())
    assert "mc" not in records and "analysis" not in records
    assert records["labels"]["status"] == "resumed"  # every shard was on disk already
    assert records["labels"]["results"]["labeled_this_run"] == 0
    monkeypatch.setattr(ParallelTempering, "_sweep", original)

    resumed = run_pipeline(config, out)
    statuses = {k: v["status"] for k, v in resumed["timings"]["stages"].items()}
    assert statuses == {
        "labels": "reused",
        "train": "reused",
        "cost": "reused",
        "mc": "resumed",
        "compare": "reused",
        "analysis": "resumed",
    }
    assert resumed["mc"]["resumed_from_sweep"] == 2
    expected = _physics(first)
    expected["labels"] = {**expected["labels"], "labeled_this_run": 0}
    expected["mc"] = {**expected["mc"], "resumed_from_sweep": 2}
    assert _physics(resumed) == expected


def test_changed_sizes_rerun_only_the_stages_they_feed(tiny_run, tmp_path):
    config, out, _ = tiny_run
    before = json.loads((out / "summary.json").read_text())  # the last run in `out`
    changed = copy.deepcopy(config)
    changed.analysis.rdf_bins = 24  # g(r) bins of the compare and analysis stages
    keys_before, keys_after = Pipeline(config, out).keys(), Pipeline(changed, out).keys()
    assert [k for k in keys_before if keys_before[k] != keys_after[k]] == ["compare", "analysis"]
    copied = tmp_path / "copy"
    shutil.copytree(out, copied)
    rerun = run_pipeline(changed, copied)
    statuses = {k: v["status"] for k, v in rerun["timings"]["stages"].items()}
    reran = {"compare", "analysis"}
    assert statuses == {name: "ran" if name in reran else "reused" for name in statuses}
    assert set(statuses) == set(keys_before)
    assert rerun["mc"] == before["mc"] and rerun["train"] == before["train"]
    assert rerun["compare"]["acceptance"] == before["compare"]["acceptance"]  # same moves
    changed.labels.workers = 1  # the executor does not change the labels
    changed.labels.n_configs += 1
    keys_after = Pipeline(changed, out).keys()
    assert all(keys_before[k] != keys_after[k] for k in keys_before)
