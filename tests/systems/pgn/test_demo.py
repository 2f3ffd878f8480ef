"""End to end: the demo pipeline at tiny sizes, its report, reruns and interrupted runs."""

from __future__ import annotations

import copy
import json
import math
import shutil

import numpy as np
import pytest

from pgnfast.analysis import radial_distribution, voronoi_indices
from pgnfast.geometry import minimum_image
from pgnfast.potentials import TabulatedPair
from pgnfast.systems.pgn import Pipeline, demo_config, run_pipeline, tiny_config
from pgnfast.systems.pgn.pair_fit import force_residual
from pgnfast.systems.pgn.run import PLOTS, read_trajectory
from pgnfast.systems.pgn.stages import compare as compare_stage
from pgnfast.systems.pgn.stages import pair_mc as pair_mc_stage
from pgnfast.systems.pgn.stages.helpers import half_box, pentagonal_face_fraction, random_melts
from pgnfast.train.data import read_frames
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
    pair = out["pair_mc"]["mc"]
    pair = {k: v for k, v in pair.items() if k not in ("moves_per_s", "sweeps_per_s")}
    out["pair_mc"] = {**out["pair_mc"], "mc": pair}
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
    for stage in ("labels", "train", "cost", "mc", "pair_mc", "compare", "analysis"):
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


def test_pair_stage_fits_on_the_training_split_and_runs_the_mc_stage_tempering(tiny_run):
    """The pair potential file loads, has the model's range and the residuals recorded for
    the model's held-out split; its tempering has the mc stage's sizes from the same start."""
    config, out, s = tiny_run
    pair = s["pair_mc"]
    potential = TabulatedPair.load(out / "pair_mc" / pair_mc_stage.POTENTIAL_FILE)
    assert potential.num_types == 2 and len(potential.knots) == pair_mc_stage.KNOTS
    assert potential.cutoff == pytest.approx(s["train"]["receptive_field_nm"], rel=1e-12)
    assert pair["cutoff_nm"] == potential.cutoff
    split = json.loads((out / "train" / "split.json").read_text())
    frames = read_frames(str(out / "labels" / "dataset"), units="pgn")
    assert pair["held_out_split"] == "test" and pair["fit_frames"] == len(split["train"])
    held_out = [frames[i] for i in split["test"]]
    assert pair["held_out_frames"] == len(held_out) == config.train["split"]["test"]
    expected = force_residual(potential, held_out)
    assert pair["force_residual_held_out"] == pytest.approx(expected, rel=1e-9)
    fit = force_residual(potential, [frames[i] for i in split["train"]])
    assert pair["force_residual_fit"] == pytest.approx(fit, rel=1e-9)
    assert 0 < fit < 1  # least squares beats zero force on the fitted frames
    model, pair_run = s["mc"], pair["mc"]
    for key in ("n_particles", "temperatures", "sweeps", "equilibration_sweeps", "box_nm"):
        assert pair_run[key] == model[key], key
    assert pair_run["mean_energy"] != model["mean_energy"]  # another potential
    first = [
        read_trajectory(out / stage / "trajectory_T00.extxyz")[0] for stage in ("mc", "pair_mc")
    ]
    assert np.array_equal(first[0].arrays["type"], first[1].arrays["type"])  # the same start


def test_pair_order_is_that_of_the_pair_frames(tiny_run):
    """One finite pentagonal share and <0,0,12,0> fraction per temperature for both runs,
    the pair run's recomputed from its trajectories; the report and plot say so."""
    config, out, s = tiny_run
    st, temperatures = s["analysis"], s["mc"]["temperatures"]
    pair = st["pair_model"]
    for values in (
        st["pentagonal_face_fraction"],
        st["pentagonal_face_fraction_stderr"],
        pair["pentagonal_face_fraction"],
        pair["pentagonal_face_fraction_stderr"],
        pair["icosahedral_fraction"],
        st["pentagonal_model_minus_pair"]["noise"],
    ):
        assert len(values) == len(temperatures)
        assert all(v is not None and math.isfinite(v) and v >= 0 for v in values), values
    after = config.mc.equilibration_sweeps
    for t, share in enumerate(pair["pentagonal_face_fraction"]):
        frames = read_trajectory(out / "pair_mc" / f"trajectory_T{t:02d}.extxyz", after)
        assert len(frames) == pair["frames_per_temperature"] >= 2
        shares = [pentagonal_face_fraction(voronoi_indices(f.positions, f.cell[:])) for f in frames]
        assert share == pytest.approx(np.mean(shares), rel=1e-12)
    difference = np.subtract(st["pentagonal_face_fraction"], pair["pentagonal_face_fraction"])
    assert st["pentagonal_model_minus_pair"]["difference"] == pytest.approx(difference.tolist())
    findings = (out / "report.md").read_text().split("## What this run shows")[1]
    assert "best pair model" in findings
    assert f"{s['pair_mc']['force_residual_held_out']:.3g}" in findings
    assert f"{pair['pentagonal_face_fraction'][0]:.3g}" in findings


@pytest.mark.parametrize(
    "differences, noises, pair_residual, expected",
    [
        ([0.05, 0.0], [0.01, 0.01], 0.6, "exceeds twice its block noise (0.01; at 1 of 2"),
        ([0.05, 0.0], [0.01, 0.01], 0.4, "may be the model's error rather than its many-body"),
        ([0.01, 0.05], [0.01, 0.01], 0.6, "but exceeds it at 1 of 2 temperatures: a hint"),
        ([-0.01, 0.0], [0.01, 0.01], 0.6, "(0.01) at every temperature: at this size the demo"),
        ([0.05, 0.0], [None, None], 0.6, "cannot tell the two models apart"),
    ],
)
def test_study_findings_compare_many_body_and_pair_against_block_noise(
    differences, noises, pair_residual, expected
):
    from pgnfast.systems.pgn.report import _study_findings

    summary = {
        "mc": {"n_particles": 216, "sweeps": 60, "temperatures": [1.0, 3.0]},
        "analysis": {
            "frames_per_temperature": 10,
            "pentagonal_face_fraction": [0.40 + differences[0], 0.39 + differences[1]],
            "pentagonal_face_fraction_lowest_T": 0.40 + differences[0],
            "pentagonal_face_fraction_random": 0.388,
            "pair_model": {"frames_per_temperature": 10, "pentagonal_face_fraction": [0.4, 0.39]},
            "pentagonal_model_minus_pair": {"difference": differences, "noise": noises},
        },
        "pair_mc": {"force_residual_held_out": pair_residual},
        "train": {"test": {"forces_rmse_kT_per_nm": 50.0, "forces_rms_label_kT_per_nm": 100.0}},
        "cost": {"log10_speedup_batched": 3.1, "n_particles": 64},
    }
    text = "\n".join(_study_findings(summary))
    assert expected in text
    assert "the model's 0.5" in text and f"held-out force residual {pair_residual}" in text
    assert ("model's error" in text) == (noises[0] is not None and pair_residual < 0.5)


def test_rerun_reuses_every_stage_with_the_same_numbers(tiny_run):
    config, out, first = tiny_run
    again = run_pipeline(config, out)
    assert {s["status"] for s in again["timings"]["stages"].values()} == {"reused"}
    assert "pair_mc" in again["timings"]["stages"]
    assert _physics(again) == _physics(first)
    assert again["timings"]["this_run_wall_s"] < first["timings"]["this_run_wall_s"]


def _unfinish(config, out, stages, emptied: str) -> None:
    """As if `stages` never finished, with the `emptied` stage's folder fresh but keyed."""
    records = json.loads((out / "stages.json").read_text())
    for stage in stages:
        records.pop(stage)
    (out / "stages.json").write_text(json.dumps(records))
    shutil.rmtree(out / emptied)
    (out / emptied).mkdir()
    (out / emptied / ".stage_key").write_text(Pipeline(config, out).keys()[emptied])


def _die_after_two_sweeps(monkeypatch):
    """Make every Monte Carlo run raise KeyboardInterrupt at its third sweep; returns the
    original sweep, to put back."""
    from pgnfast.mc import ParallelTempering

    original = ParallelTempering._sweep
    calls = {"n": 0}

    def sweep_then_die(self):
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt("simulated kill")
        original(self)

    monkeypatch.setattr(ParallelTempering, "_sweep", sweep_then_die)
    return original


def test_interrupted_run_resumes_to_the_same_numbers(tiny_run, monkeypatch):
    """Labels kept on disk are not relabeled; a Monte Carlo run killed after a checkpoint
    continues from it and ends exactly where the uninterrupted run ended."""
    config, out, first = tiny_run
    _unfinish(config, out, ("labels", "mc", "analysis"), emptied="mc")
    from pgnfast.mc import ParallelTempering

    original = _die_after_two_sweeps(monkeypatch)
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
        "pair_mc": "reused",  # it reads the mc sizes, not the mc stage
        "compare": "reused",
        "analysis": "resumed",
    }
    assert resumed["mc"]["resumed_from_sweep"] == 2
    expected = _physics(first)
    expected["labels"] = {**expected["labels"], "labeled_this_run": 0}
    expected["mc"] = {**expected["mc"], "resumed_from_sweep": 2}
    assert _physics(resumed) == expected


def test_interrupted_pair_stage_resumes_from_its_files(tiny_run, monkeypatch):
    """A pair run killed after a checkpoint reads its fitted potential back and continues
    to the uninterrupted run's numbers."""
    config, out, first = tiny_run
    _unfinish(config, out, ("pair_mc", "analysis"), emptied="pair_mc")

    from pgnfast.mc import ParallelTempering
    from pgnfast.systems.pgn import pair_fit

    original = _die_after_two_sweeps(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(config, out)
    assert (out / "pair_mc" / "checkpoint.npz").exists()
    assert (out / "pair_mc" / pair_mc_stage.POTENTIAL_FILE).exists()
    monkeypatch.setattr(ParallelTempering, "_sweep", original)

    def no_refit(*args, **kwargs):
        raise AssertionError("the pair potential was fitted again")

    monkeypatch.setattr(pair_fit, "fit_pair_potential", no_refit)
    resumed = run_pipeline(config, out)
    statuses = {k: v["status"] for k, v in resumed["timings"]["stages"].items()}
    assert statuses["pair_mc"] == statuses["analysis"] == "resumed"
    assert {statuses[k] for k in statuses if k not in ("pair_mc", "analysis")} == {"reused"}
    assert resumed["pair_mc"]["mc"]["resumed_from_sweep"] == 2
    expected = _physics(first)
    expected["pair_mc"]["mc"]["resumed_from_sweep"] = 2
    assert _physics(resumed)["pair_mc"] == expected["pair_mc"]
    assert resumed["analysis"] == first["analysis"]


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
    changed = copy.deepcopy(config)
    changed.mc.sweeps += 1  # the Monte Carlo sizes: both tempering runs and their analysis
    keys_after = Pipeline(changed, out).keys()
    assert [k for k in keys_before if keys_before[k] != keys_after[k]] == [
        "mc",
        "pair_mc",
        "analysis",
    ]
    changed.labels.workers = 1  # the executor does not change the labels
    changed.labels.n_configs += 1
    keys_after = Pipeline(changed, out).keys()
    assert all(keys_before[k] != keys_after[k] for k in keys_before)
