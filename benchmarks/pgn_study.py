"""The PGN hyperparameter study (issue 17, part 1): one hyperparameter at a time around the
accurate model of docs/model.md (r_max 48 nm, 2 layers, l_max 2), same data, split, seed and
budget (a fixed number of epochs), the base point repeated with two more seeds for the noise.

    pgnfast label --design examples/design.yaml --n-particles 64 --n-configs 1300 \
        --workers 2 --seed 7 --out DATA
    python benchmarks/pgn_study.py DATA --runs RUNS [--epochs 20] [--only NAME ...]
    python benchmarks/pgn_study.py DATA --readings [--frames 400]

The second form measures on the labels what the hyperparameters are read against: the
best pair force's residual and the best pair + three-body fit's residual
(`pgnfast.systems.pgn.many_body`) -> benchmarks/results/pgn_study/readings.json.

Each point trains in RUNS/NAME (checkpointed: an interrupted point resumes where it stopped)
and, once finished, is recorded in benchmarks/results/pgn_study/ (results.json, results.md,
error_vs_<hyperparameter>.png, each run's metrics and config under runs/NAME/). A point
already recorded with the same config is skipped, so the study can be run a few points at a
time. Units: nm, kT.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "pgn_study"
BASE = {"r_max": 48.0, "l_max": 2, "num_layers": 2}
VARIATIONS = {
    "r_max": [24.0, 30.0, 36.0, 42.0, 54.0],
    "l_max": [0, 1, 3],
    "num_layers": [1, 3],
}
EXTRA_SEEDS = [1, 2]


def points() -> list[dict]:
    """Every point of the study: name, the model changes and the seed, in the order run."""
    out = [{"name": "base_seed0", "model": {}, "seed": 0}]
    out.append({"name": "l_max0", "model": {"l_max": 0}, "seed": 0})
    out.append({"name": "num_layers1", "model": {"num_layers": 1}, "seed": 0})
    out.append({"name": "r_max30", "model": {"r_max": 30.0}, "seed": 0})
    for key, values in VARIATIONS.items():
        for value in values:
            name = f"{key}{value:g}" if isinstance(value, float) else f"{key}{value}"
            if not any(p["name"] == name for p in out):
                out.append({"name": name, "model": {key: value}, "seed": 0})
    out += [{"name": f"base_seed{s}", "model": {}, "seed": s} for s in EXTRA_SEEDS]
    return out


def point_config(point: dict, data: Path, runs: Path, epochs: int, threads: int) -> dict:
    """The training config of a point: examples/accuracy.yaml with the point's changes."""
    config = yaml.safe_load((ROOT / "examples" / "accuracy.yaml").read_text())
    config = copy.deepcopy(config)
    config["data"] = str(data)
    config["run_dir"] = str(runs / point["name"])
    config["seed"] = point["seed"]
    config["model"].update(point["model"])
    config["max_epochs"] = epochs
    config["early_stopping_patience"] = epochs  # the same budget for every point
    config["max_wall_time"] = 36000
    config["num_threads"] = threads
    config["progress"] = False
    config["plots"] = False
    return config


def hyperparameters(config: dict) -> dict:
    model = config["model"]
    return {key: model[key] for key in BASE}


def recorded() -> dict:
    path = RESULTS / "results.json"
    return json.loads(path.read_text()) if path.exists() else {"runs": []}


def parameter_count(run_dir: Path) -> int:
    from pgnfast.nn.io import load_model

    model = load_model(run_dir / "best_model.pt", units="pgn")
    return int(sum(p.numel() for p in model.parameters()))


def run_point(point: dict, config: dict) -> dict:
    """Train (or resume) one point and return its row."""
    from pgnfast.train.fit import fit

    run_dir = Path(config["run_dir"])
    resume = (run_dir / "checkpoint.pt").exists()
    start, cpu_start = time.perf_counter(), time.process_time()
    metrics = fit(config, resume=resume)
    row = {
        "name": point["name"],
        "seed": point["seed"],
        **hyperparameters(config),
        "epochs": metrics.get("epochs"),
        "steps": metrics.get("steps"),
        "wall_s_last_session": time.perf_counter() - start,
        # CPU seconds of this process (one thread): unlike the wall time, not inflated by
        # other jobs sharing the machine or by a paused run
        "cpu_s_last_session": time.process_time() - cpu_start,
        "parameters": parameter_count(run_dir),
        # the data and run folders are this machine's: only their names are recorded
        "config": {**config, "data": Path(config["data"]).name, "run_dir": point["name"]},
    }
    for split in ("train", "validation", "test"):
        row[split] = metrics.get(split, {})
    keep = RESULTS / "runs" / point["name"]
    keep.mkdir(parents=True, exist_ok=True)
    for name in ("metrics.json", "history.json", "best_model.pt"):
        if (run_dir / name).exists():
            shutil.copy(run_dir / name, keep / name)
    return row


def write_table(rows: list[dict]) -> None:
    """results.md and error_vs_<hyperparameter>.png from the recorded rows."""
    lines = [
        "# PGN hyperparameter study (N = 64, 1000 train / 99 validation / 200 test)",
        "",
        "| run | seed | r_max (nm) | layers | l_max | params | epochs | test E R^2 "
        "| test E/particle RMSE (kT) | test F RMSE (kT/nm) | F RMSE / RMS | val F RMSE |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        test, val = row["test"], row["validation"]
        ratio = test["forces_rmse_kT_per_nm"] / test["forces_rms_label_kT_per_nm"]
        lines.append(
            f"| {row['name']} | {row['seed']} | {row['r_max']:g} | {row['num_layers']} "
            f"| {row['l_max']} | {row['parameters']} | {row['epochs']} "
            f"| {test['energy_r2']:.4f} | {test['energy_per_particle_rmse_kT']:.1f} "
            f"| {test['forces_rmse_kT_per_nm']:.1f} | {100 * ratio:.1f} % "
            f"| {val['forces_rmse_kT_per_nm']:.1f} |"
        )
    (RESULTS / "results.md").write_text("\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = [r for r in rows if r["name"].startswith("base_seed")]
    for key in BASE:
        chosen = [r for r in rows if r["name"].startswith(key)] + base[:1]
        if len(chosen) < 2:
            continue
        chosen.sort(key=lambda r: r[key])
        fig, ax = plt.subplots(figsize=(4.5, 3.4))
        ax.plot(
            [r[key] for r in chosen],
            [r["test"]["forces_rmse_kT_per_nm"] for r in chosen],
            "o-",
            label="test force RMSE",
        )
        if len(base) > 1:
            errors = [r["test"]["forces_rmse_kT_per_nm"] for r in base]
            ax.errorbar(
                [BASE[key]],
                [sum(errors) / len(errors)],
                yerr=[(max(errors) - min(errors)) / 2],
                fmt="s",
                color="k",
                label=f"base, {len(base)} seeds",
            )
        ax.set_xlabel(key + (" (nm)" if key == "r_max" else ""))
        ax.set_ylabel("force RMSE (kT/nm)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(RESULTS / f"error_vs_{key}.png", dpi=120)
        plt.close(fig)


def readings(data: Path, frames: int, triplet_cutoffs, pair_cutoff: float = 48.0) -> dict:
    """Pair and pair + three-body force residuals on the first `frames` labeled frames."""
    from pgnfast.data.io import read_dataset
    from pgnfast.systems.pgn.many_body import many_body_force_residual

    labeled = read_dataset(data, units="pgn")[:frames]
    start = time.perf_counter()
    out = many_body_force_residual(labeled, pair_cutoff, triplet_cutoffs)
    out["wall_s"] = time.perf_counter() - start
    out["data"] = data.name
    (RESULTS / "readings.json").write_text(json.dumps(out, indent=1))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="labeled data folder (pgnfast label --out)")
    parser.add_argument("--runs", type=Path, default=Path("runs/pgn_study"))
    parser.add_argument("--epochs", type=int, default=20, help="the budget of every point")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", nargs="*", help="names of the points to run")
    parser.add_argument("--readings", action="store_true", help="measure the labels instead")
    parser.add_argument("--frames", type=int, default=400, help="frames for --readings")
    parser.add_argument(
        "--triplet-cutoffs", type=float, nargs="+", default=[24.0, 30.0, 36.0], help="nm"
    )
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.readings:
        print(json.dumps(readings(args.data, args.frames, args.triplet_cutoffs), indent=1))
        return 0
    for point in points():
        if args.only and point["name"] not in args.only:
            continue
        config = point_config(
            point, args.data.resolve(), args.runs.resolve(), args.epochs, args.threads
        )
        table = recorded()
        done = [r for r in table["runs"] if r["name"] == point["name"]]
        same = {k: v for k, v in config.items() if k not in ("data", "run_dir", "num_threads")}
        if (
            done
            and {
                k: v
                for k, v in done[0]["config"].items()
                if k not in ("data", "run_dir", "num_threads")
            }
            == same
        ):
            print(f"{point['name']}: recorded, skipped", flush=True)
            continue
        print(
            f"{point['name']}: training {hyperparameters(config)} seed {point['seed']}", flush=True
        )
        row = run_point(point, config)
        table = recorded()
        table["runs"] = [r for r in table["runs"] if r["name"] != point["name"]] + [row]
        table["budget_epochs"] = args.epochs
        (RESULTS / "results.json").write_text(json.dumps(table, indent=1))
        write_table(table["runs"])
        print(
            f"{point['name']}: test force RMSE {row['test']['forces_rmse_kT_per_nm']:.1f} "
            f"kT/nm, {row['wall_s_last_session']:.0f} s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
