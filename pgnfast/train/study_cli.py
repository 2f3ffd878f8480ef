"""`pgnfast study study.yaml`: train a grid over r_max, l_max and num_layers on one split.

study.yaml::

    base: {...training config (see examples/train.yaml)...}
    grid: {r_max: [0.8, 1.2], l_max: [0, 1, 2], num_layers: [1, 2, 4]}
    run_dir: study            # one sub-folder per grid point
    dask_scheduler: null      # address of a dask.distributed scheduler, else local series

Writes study/results.csv, study/results.md, one PNG of test error against each
hyperparameter (best over the others) and study/summary.md, a short generated reading of
the trends: r_max = interaction range, l_max > 0 = anisotropy, num_layers = body order.
"""

from __future__ import annotations

import csv
import itertools
import json
import os

from .._config import load_yaml

HYPERPARAMETERS = ("r_max", "l_max", "num_layers")
ERROR_KEY = "forces_rmse_kT_per_nm"
ENERGY_KEY = "energy_per_particle_rmse_kT"


def add_arguments(parser) -> None:
    parser.add_argument("config", help="study YAML (see examples/study.yaml)")
    parser.add_argument(
        "--dask-scheduler",
        default=None,
        help="dask.distributed scheduler address (default: run in series)",
    )


def _point_config(study: dict, point: dict) -> dict:
    base = dict(study["base"])
    base["model"] = {**base.get("model", {}), **point}
    name = "_".join(f"{k}{v}" for k, v in point.items())
    base["run_dir"] = os.path.join(study.get("run_dir", "study"), name)
    base.setdefault("progress", False)
    return base


def _train_point(config: dict) -> dict:
    from .fit import fit

    metrics = fit(config)
    return {
        "run_dir": config["run_dir"],
        **{k: config["model"][k] for k in HYPERPARAMETERS},
        "test": metrics.get("test", {}),
        "validation": metrics.get("validation", {}),
    }


def run_study(study: dict, dask_scheduler: str | None = None) -> list[dict]:
    """Train every grid point (same data, seed and split) and write the table, plots and
    summary; returns one row per point."""
    grid = study["grid"]
    keys = [k for k in HYPERPARAMETERS if k in grid]
    points = [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]
    configs = [_point_config(study, p) for p in points]
    for config in configs:  # fill hyperparameters not in the grid from the base model
        for key in HYPERPARAMETERS:
            config["model"].setdefault(key, {"r_max": 1.0, "l_max": 1, "num_layers": 4}[key])
    scheduler = dask_scheduler or study.get("dask_scheduler")
    if scheduler:
        from dask.distributed import Client

        with Client(scheduler) as client:
            rows = client.gather(client.map(_train_point, configs, pure=False))
    else:
        rows = [_train_point(c) for c in configs]
    write_report(rows, study.get("run_dir", "study"))
    return rows


def _flat(row: dict) -> dict:
    test = row["test"]
    return {
        "r_max": row["r_max"],
        "l_max": row["l_max"],
        "num_layers": row["num_layers"],
        "test_energy_per_particle_rmse_kT": test.get(ENERGY_KEY, float("nan")),
        "test_forces_rmse_kT_per_nm": test.get(ERROR_KEY, float("nan")),
        "test_energy_r2": test.get("energy_r2", float("nan")),
        "run_dir": row["run_dir"],
    }


def _best_by(rows, key, column):
    best = {}
    for row in rows:
        value = row[column]
        if row[key] not in best or value < best[row[key]]:
            best[row[key]] = value
    return dict(sorted(best.items()))


def summarize(rows: list[dict]) -> str:
    """A short reading of the trends (text generated from the numbers)."""
    flat = [_flat(r) for r in rows]
    column = (
        "test_forces_rmse_kT_per_nm"
        if all(r["test_forces_rmse_kT_per_nm"] == r["test_forces_rmse_kT_per_nm"] for r in flat)
        else "test_energy_per_particle_rmse_kT"
    )
    unit = "kT/nm (force RMSE)" if "forces" in column else "kT (energy per particle RMSE)"
    lines = [
        "# Hyperparameter study: what the trends say",
        "",
        f"Error measure: test {unit}, best over the other hyperparameters.",
        "",
    ]
    readings = {
        "r_max": (
            "interaction range",
            "the free energy depends on neighbors up to at least {best} nm",
            "a range of {best} nm already captures the interactions",
        ),
        "l_max": (
            "anisotropy",
            "angular (anisotropic) features matter: l_max = {best} "
            "beats the invariant l_max = 0 model",
            "an isotropic (l_max = 0) model is as good: the landscape looks effectively isotropic",
        ),
        "num_layers": (
            "effective body order",
            "more message-passing layers (higher effective body order) help up to {best}",
            "a single layer (low body order) is enough",
        ),
    }
    for key in HYPERPARAMETERS:
        best = _best_by(flat, key, column)
        if len(best) < 2:
            continue
        values = list(best)
        errors = [best[v] for v in values]
        winner = values[errors.index(min(errors))]
        gain = errors[0] / min(errors) if min(errors) > 0 else float("inf")
        name, grows, flat_text = readings[key]
        table = ", ".join(f"{v}: {e:.3g}" for v, e in best.items())
        text = (grows if winner != values[0] and gain > 1.1 else flat_text).format(best=winner)
        lines.append(
            f"- **{key}** ({name}): {table}. Going from {values[0]} to {winner} "
            f"changes the error by a factor {gain:.2f}; {text}."
        )
    return "\n".join(lines) + "\n"


def write_report(rows: list[dict], out_dir) -> None:
    """results.csv, results.md, error-vs-hyperparameter PNGs and summary.md in out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    flat = [_flat(r) for r in rows]
    with open(os.path.join(out_dir, "results.csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(flat[0]))
        writer.writeheader()
        writer.writerows(flat)
    header = "| r_max (nm) | l_max | layers | E/N RMSE (kT) | F RMSE (kT/nm) | E R^2 |"
    lines = [header, "|---|---|---|---|---|---|"]
    for r in flat:
        lines.append(
            f"| {r['r_max']} | {r['l_max']} | {r['num_layers']} | "
            f"{r['test_energy_per_particle_rmse_kT']:.4g} | "
            f"{r['test_forces_rmse_kT_per_nm']:.4g} | {r['test_energy_r2']:.4f} |"
        )
    with open(os.path.join(out_dir, "results.md"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    with open(os.path.join(out_dir, "results.json"), "w") as handle:
        json.dump(rows, handle, indent=2)
    from .plots import _pyplot

    plt = _pyplot()
    for key in HYPERPARAMETERS:
        fig, ax = plt.subplots(figsize=(4, 3))
        for column, label in (
            ("test_forces_rmse_kT_per_nm", "force RMSE (kT/nm)"),
            ("test_energy_per_particle_rmse_kT", "E/N RMSE (kT)"),
        ):
            best = _best_by(flat, key, column)
            ax.plot(list(best), list(best.values()), "o-", label=label)
        ax.set_xlabel(key)
        ax.set_ylabel("test error (best over others)")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, f"error_vs_{key}.png"), dpi=120)
        plt.close(fig)
    with open(os.path.join(out_dir, "summary.md"), "w") as handle:
        handle.write(summarize(rows))


def run(args) -> int:
    with open(args.config) as handle:
        study = load_yaml(handle)
    rows = run_study(study, args.dask_scheduler)
    print(summarize(rows))
    return 0
