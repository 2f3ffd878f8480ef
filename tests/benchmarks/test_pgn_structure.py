"""benchmarks/pgn_structure.py end to end at a tiny size: run, resume (the same chain as a
straight run), refusal of another run's folder, analyze (JSON with finite numbers, plots)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "pgn_structure.py"
DESIGN = Path(__file__).resolve().parents[2] / "examples" / "design_bidisperse.yaml"
POTENTIAL = "builtin:lennard_jones:epsilon=1,sigma=17,cutoff=30,shift=true"


def _script():
    spec = importlib.util.spec_from_file_location("pgn_structure", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(script, runs, name, sweeps, t_max="3", seed=0):
    return script.main(
        ["run", name, "--potential", POTENTIAL, "--design", str(DESIGN), "--n", "32",
         "--t-min", "0.5", "--t-max", t_max, "--replicas", "3", "--sweeps", str(sweeps),
         "--equilibration", "6", "--sample-every", "2", "--checkpoint-every", "4",
         "--seed", str(seed), "--runs", str(runs), "--no-progress"]
    )  # fmt: skip


def test_run_resume_and_analyze(tmp_path, test_seed, capsys):
    script = _script()
    runs, seed = tmp_path / "runs", test_seed % 1000
    assert _run(script, runs, "split", 14, seed=seed) == 0
    folder = runs / "split"
    names = ["checkpoint.npz", "log.jsonl", "run.json"]
    names += [f"trajectory_T{t:02d}.extxyz" for t in range(3)]
    assert all((folder / name).exists() for name in names)
    assert _run(script, runs, "split", 24, seed=seed) == 0  # resumes at sweep 14
    assert _run(script, runs, "straight", 24, seed=seed) == 0
    split, straight = (np.load(runs / n / "checkpoint.npz") for n in ("split", "straight"))
    np.testing.assert_array_equal(split["positions"], straight["positions"])
    record = json.loads((folder / "run.json").read_text())
    assert record["sweeps_done"] == 24 and len(record["commands"]) == 2
    assert len((folder / "log.jsonl").read_text().splitlines()) == 24
    capsys.readouterr()
    assert _run(script, runs, "split", 30, t_max="4", seed=seed) == 2
    assert "t_max: 3.0 recorded, 4.0 now" in capsys.readouterr().err

    out = tmp_path / "out"
    code = script.main(
        ["analyze", "split", "straight", "--runs", str(runs), "--out", str(out), "--blocks", "2",
         "--discard", "0", "--references", "2", "--hard-sphere-sweeps", "3", "--q-max", "0.5",
         "--sq-bins", "10", "--rdf-bins", "20", "--max-vectors", "2000", "--no-progress"]
    )  # fmt: skip
    assert code == 0
    assert (out / "order_vs_temperature.png").stat().st_size > 0
    assert (out / "structure_lowest_T.png").stat().st_size > 0
    results = json.loads((out / "structure.json").read_text())
    assert set(results["runs"]) == {"split", "straight"} and len(results["references"]) == 1
    for run in results["runs"].values():
        assert run["sweeps"] == 24 and run["production_sweeps"] == 18 and run["cpu_s"] > 0
        assert run["round_trips_production"] >= 0 and len(run["swap_acceptance_all"]) == 2
        assert all(0 <= a <= 1 for a in run["swap_acceptance_production"])
        for at_t in run["per_temperature"]:
            assert at_t["frames"] == 9 and at_t["blocks"] == 2
            for key in ("icosahedral_fraction", "pentagonal_face_fraction", "w6_mean"):
                assert np.isfinite(at_t[key]["mean"]) and np.isfinite(at_t[key]["stderr"])
            assert np.all(np.isfinite(at_t["s_low_q"]["mean"]))
            assert 0 < at_t["s_q_to_zero"]["mean"] < 10
    split_t0 = results["runs"]["split"]["per_temperature"][0]
    straight_t0 = results["runs"]["straight"]["per_temperature"][0]
    assert split_t0["w6_mean"] == straight_t0["w6_mean"]  # the same frames
    reference = next(iter(results["references"].values()))
    spheres = reference["hard_spheres"]
    phi = spheres["volume_fraction"]
    assert 0.15 < phi < 0.25 and spheres["min_gap_nm"] >= 0
    assert reference["random"]["frames"] == 2


def _tiny_run(script, name: str, potential, tmp_path, sweeps: int) -> dict:
    """`run NAME` of 32 cores, 2 replicas, `sweeps` sweeps; its run.json record."""
    code = script.main(
        ["run", name, "--potential", str(potential), "--design", str(DESIGN), "--n", "32",
         "--t-min", "1", "--t-max", "2", "--replicas", "2", "--sweeps", str(sweeps),
         "--equilibration", "1", "--runs", str(tmp_path / "runs"), "--no-progress"]
    )  # fmt: skip
    assert code == 0
    return json.loads((tmp_path / "runs" / name / "run.json").read_text())


def test_run_with_a_model_file_adds_the_core_exclusion(tmp_path):
    from pgnfast.dft.core_exclusion import CoreExclusion
    from pgnfast.dft.design import PGNDesign
    from pgnfast.nn.io import save_model
    from pgnfast.testing import small_model

    script = _script()
    model_path = tmp_path / "model.pt"
    save_model(small_model(r_max=18.0, avg_num_neighbors=4.0), model_path)
    design = PGNDesign.from_yaml(DESIGN)
    potential = script.load_potential(str(model_path), design)
    assert isinstance(potential, CoreExclusion) and potential.receptive_field == 36.0
    record = _tiny_run(script, "model", model_path, tmp_path, sweeps=2)
    assert record["sweeps_done"] == 2 and np.all(np.isfinite(record["summary"]["mean_energy"]))
    assert script.main(["run", "x", "--potential", str(tmp_path / "missing.table"),
                        "--design", str(DESIGN), "--t-min", "1", "--t-max", "2",
                        "--sweeps", "1", "--runs", str(tmp_path / "runs")]) == 2  # fmt: skip


def test_run_with_a_tabulated_pair_file(tmp_path):
    from pgnfast.potentials.tabulated import TabulatedPair

    script = _script()
    table = tmp_path / "pair.json"
    r = np.linspace(12.0, 30.0, 10)
    repulsion = 2.0 * np.exp(-(r - 12.0) / 4.0)  # kT/nm, one row per type pair (0,0) (0,1) (1,1)
    TabulatedPair.uniform(12.0, 30.0, [repulsion, 0.8 * repulsion, 0.6 * repulsion]).save(table)
    record = _tiny_run(script, "pair", table, tmp_path, sweeps=3)
    assert record["sweeps_done"] == 3 and np.all(np.isfinite(record["summary"]["mean_energy"]))
    table.write_text("{}")
    assert script.main(["run", "pair2", "--potential", str(table), "--design", str(DESIGN),
                        "--t-min", "1", "--t-max", "2", "--sweeps", "1",
                        "--runs", str(tmp_path / "runs")]) == 2  # fmt: skip
