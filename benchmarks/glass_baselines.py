"""Baselines for the per-atom energy barriers of the metallic glasses (issue 16) on the
paper's split (train0-5 train, train6 validation): ridge on radial densities, SchNet and
SymGNN, with train and validation metrics (Pearson r, RMSE, MAE in eV; per glass and
pooled), side by side with pgnfast's NequIP when its metrics are given.

    python benchmarks/glass_baselines.py DATA_FOLDER [--budget tiny|full] [--out OUT]
        [--models ridge,schnet,symgnn] [--threads 1] [--max-minutes M] [--epochs N]
        [--nequip NEQUIP_METRICS.json] [--resume]

DATA_FOLDER holds train0.pickle ... train6.pickle (read with the safe unpickler). --budget
tiny runs every baseline at toy sizes in minutes (it shows the pipeline works; its numbers
say nothing about the models); full runs the paper's sizes (hours on one CPU core: see
docs/glass-baselines.md); --max-minutes and --epochs bound each neural baseline.
Neural baselines checkpoint every epoch into --work (default: a folder under the system's
temporary folder, never the repository) and continue from there with --resume.
--nequip takes benchmarks/glass_nequip.py's JSON (or any {"train": {"pearson_r", "rmse",
"mae"}, "validation": {...}}) of pgnfast's NequIP on the same split; by default that
script's record is read when present. Writes OUT/glass_baselines_<budget>.json and .png
(default OUT: benchmarks/results/glass_baselines); the baselines of an existing record there
that this run does not rerun are kept, each with its own date, commit and command.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from provenance import git_commit  # noqa: E402

from pgnfast._atomic import write_json  # noqa: E402
from pgnfast.systems.glass import read_glass, split_of  # noqa: E402
from pgnfast.systems.glass.baselines import (  # noqa: E402
    RadialDescriptor,
    SchNetNode,
    SymGNN,
    TrainConfig,
    design_matrix,
    evaluate_predictions,
    fit_model,
    fit_ridge,
    glass_graph,
    predict,
    radial_descriptors,
)
from pgnfast.systems.glass.convert import glass_files  # noqa: E402

DEFAULT_OUT = Path(__file__).parent / "results" / "glass_baselines"
DEFAULT_NEQUIP = Path(__file__).parent / "results" / "glass_barriers" / "glass_nequip.json"
MODELS = ("ridge", "schnet", "symgnn")
BUDGETS = {
    "tiny": {
        "cutoff": 5.0,
        "ridge": {"r_max": 8.0, "n_centres": 25, "lambdas": [1e-2, 1.0, 1e2, 1e4]},
        "schnet": {"hidden": 16, "filters": 16, "interactions": 2, "gaussians": 16},
        "symgnn": {"hidden": 8, "head_width": 2, "num_samples": 1, "eval_samples": 2},
        "train": {"epochs": 1, "learning_rate": 1e-3, "centres_per_step": 4, "max_minutes": 3.0},
        "eval_repeats": 1,
    },
    "full": {
        "cutoff": 5.0,  # the released code's graph
        "ridge": {"r_max": 8.0, "n_centres": 49, "lambdas": list(np.logspace(-3, 5, 17))},
        "schnet": {"hidden": 64, "filters": 64, "interactions": 4, "gaussians": 50},
        "symgnn": {"hidden": 32, "num_samples": 2, "eval_samples": 8, "dropout": 0.25},
        "train": {"epochs": 300, "learning_rate": 1e-3, "centres_per_step": None},
        "eval_repeats": 4,
    },
}


def load_split(folder):
    """(training glasses, validation glasses) of the paper's split."""
    glasses = [read_glass(path) for path in glass_files(folder)]
    train = [g for g in glasses if split_of(g.name) == "train"]
    validation = [g for g in glasses if split_of(g.name) == "validation"]
    if not train or not validation:
        raise SystemExit(f"{folder}: need training and validation glasses (train0-5, train6)")
    return train, validation


def run_ridge(train, validation, settings) -> dict:
    descriptor = RadialDescriptor(r_max=settings["r_max"], n_centres=settings["n_centres"])
    start = time.perf_counter()

    def design(glass):
        return design_matrix(
            radial_descriptors(glass.positions, glass.types, glass.cell, descriptor), glass.types
        )

    train_designs = [design(g)[0] for g in train]
    validation_design, penalised = design(validation[0])
    train_labels = np.concatenate([g.barrier for g in train])
    model, scan = fit_ridge(
        np.vstack(train_designs),
        train_labels,
        validation_design,
        validation[0].barrier,
        penalised,
        settings["lambdas"],
    )
    predictions = {
        "train": [model.predict(d) for d in train_designs],
        "validation": [model.predict(validation_design)],
    }
    return {
        "settings": {**settings, "lambdas": [float(x) for x in settings["lambdas"]]},
        "chosen": {"lambda": model.lam},
        "lambda_scan": scan,
        "seconds": time.perf_counter() - start,
        **_metrics(predictions, train, validation),
        "_predictions": predictions,
    }


def _metrics(predictions, train, validation) -> dict:
    return {
        "train": evaluate_predictions(
            predictions["train"], [g.barrier for g in train], [g.name for g in train]
        ),
        "validation": evaluate_predictions(
            predictions["validation"],
            [g.barrier for g in validation],
            [g.name for g in validation],
        ),
    }


def run_neural(kind, train, validation, budget, work, resume) -> dict:
    cutoff = budget["cutoff"]
    train_graphs = [glass_graph(g, cutoff) for g in train]
    validation_graphs = [glass_graph(g, cutoff) for g in validation]
    torch.manual_seed(0)
    settings = dict(budget[kind], cutoff=cutoff)
    model = SchNetNode(**settings) if kind == "schnet" else SymGNN(**settings)
    config = TrainConfig(eval_repeats=budget["eval_repeats"], **budget["train"])
    start = time.perf_counter()
    fit = fit_model(
        model,
        train_graphs,
        validation_graphs,
        config,
        checkpoint=work / f"{kind}_{budget['name']}.pt",
        resume=resume,
    )
    repeats = budget["eval_repeats"]
    timed = time.perf_counter()
    predictions = {
        "train": [predict(model, g, repeats) for g in train_graphs],
        "validation": [predict(model, g, repeats) for g in validation_graphs],
    }
    seconds_per_glass = (time.perf_counter() - timed) / (len(train) + len(validation))
    return {
        "model": model.config,
        "train_config": config.__dict__,
        "edges_per_glass": [g.n_edges for g in train_graphs + validation_graphs],
        "fit": fit,
        "prediction_seconds_per_glass": seconds_per_glass,
        "seconds": time.perf_counter() - start,
        **_metrics(predictions, train, validation),
        "_predictions": predictions,
    }


def plot(results, validation, nequip, path) -> None:
    names = list(results) + (["nequip"] if nequip else [])
    # baselines kept from an earlier record have no predictions: bars only
    shown = [name for name in results if "_predictions" in results[name]]
    figure, axes = plt.subplots(1, 1 + len(shown), figsize=(4.2 * (1 + len(shown)), 4))
    axes = np.atleast_1d(axes)
    rows = {n: results[n] for n in results}
    if nequip:
        rows["nequip"] = {
            "train": {"pooled": nequip["train"]},
            "validation": {"pooled": nequip["validation"]},
        }
    x = np.arange(len(names))
    for offset, split in ((-0.2, "train"), (0.2, "validation")):
        values = [rows[n][split]["pooled"]["pearson_r"] for n in names]
        axes[0].bar(x + offset, values, 0.4, label=split)
    axes[0].set_xticks(x, names)
    axes[0].set(ylabel="pooled Pearson r", title="per-atom barrier")
    axes[0].legend(fontsize=8)
    labels = validation[0].barrier
    for axis, name in zip(axes[1:], shown):
        predicted = results[name]["_predictions"]["validation"][0]
        axis.scatter(labels, predicted, s=2, alpha=0.3)
        r = results[name]["validation"]["pooled"]["pearson_r"]
        axis.set(
            xlabel="barrier (eV)",
            ylabel="predicted (eV)",
            title=f"{name} on {validation[0].name}: r = {r:.3f}",
        )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="folder of glass pickles train0..train6")
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="tiny")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--max-minutes", type=float, help="wall-clock budget per neural baseline (minutes)"
    )
    parser.add_argument("--epochs", type=int, help="epochs per neural baseline (default: budget's)")
    parser.add_argument(
        "--nequip",
        help="JSON of pgnfast NequIP metrics on the same split (default: glass_nequip.py's "
        "record in benchmarks/results/glass_barriers when present)",
    )
    parser.add_argument("--resume", action="store_true", help="continue neural checkpoints")
    parser.add_argument(
        "--work",
        default=str(Path(tempfile.gettempdir()) / "pgnfast-glass-baselines"),
        help="folder of the training checkpoints",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    models = [m for m in args.models.split(",") if m]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise SystemExit(f"unknown models {unknown}; choose from {MODELS}")
    budget = dict(BUDGETS[args.budget], name=args.budget)
    budget["train"] = dict(budget["train"])
    if args.max_minutes is not None:
        budget["train"]["max_minutes"] = args.max_minutes
    if args.epochs is not None:
        budget["train"]["epochs"] = args.epochs
    train, validation = load_split(args.data)
    results = {}
    for name in models:
        print(f"{name} ({args.budget}) ...", flush=True)
        if name == "ridge":
            results[name] = run_ridge(train, validation, budget["ridge"])
        else:
            results[name] = run_neural(name, train, validation, budget, work, args.resume)
        row = results[name]
        print(
            f"  train r {row['train']['pooled']['pearson_r']:.3f}  validation r "
            f"{row['validation']['pooled']['pearson_r']:.3f}  rmse "
            f"{row['validation']['pooled']['rmse']:.4f} eV  ({row['seconds']:.0f} s)"
        )
    nequip = _nequip(args.nequip)
    stem = f"glass_baselines_{args.budget}"
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    command = "python benchmarks/glass_baselines.py DATA_FOLDER " + " ".join(
        _without_paths(sys.argv[2:])
    )
    for row in results.values():
        row.update(date=now, commit=git_commit(), command=command, threads=args.threads)
    kept = _kept_baselines(out / f"{stem}.json", set(models))
    results = {**kept, **results}
    plot(results, validation, nequip, out / f"{stem}.png")
    record = {
        "what": "per-atom barrier baselines on the paper's split (train0-5 train, train6 "
        "validation); metrics in eV",
        "date": now,
        "commit": git_commit(),
        "command": command,
        "kept_from_earlier_runs": sorted(kept),
        "machine": {
            "processor": platform.processor(),
            "threads": args.threads,
            "note": "shared, loaded machine: timings are upper bounds",
        },
        "budget": args.budget,
        "cutoff_angstrom": budget["cutoff"],
        "train_glasses": [g.name for g in train],
        "validation_glasses": [g.name for g in validation],
        "baselines": {
            n: {k: v for k, v in r.items() if not k.startswith("_")} for n, r in results.items()
        },
        "nequip": nequip,
    }
    write_json(out / f"{stem}.json", json.loads(json.dumps(record, default=_plain)))
    print(f"wrote {stem}.json and {stem}.png to {out}")
    return 0


def _without_paths(arguments) -> list:
    """The command-line arguments with the folders of --out, --work and --nequip replaced
    by their names (the record must not carry paths of the machine it ran on)."""
    out, hide = [], {"--out": "OUT", "--work": "WORK", "--nequip": "NEQUIP"}
    for index, argument in enumerate(arguments):
        name = argument.split("=", 1)[0]
        if name in hide and "=" in argument:
            out.append(f"{name}={hide[name]}")
        elif index and arguments[index - 1] in hide:
            out.append(hide[arguments[index - 1]])
        else:
            out.append(argument)
    return out


def _kept_baselines(path, rerun: set) -> dict:
    """The baselines of an existing record at `path` that this run does not rerun, each
    with the date, commit and command of the run that produced it (so one slow baseline
    can be rerun or added alone)."""
    if not path.exists():
        return {}
    record = json.loads(path.read_text())
    kept = {}
    for name, row in record.get("baselines", {}).items():
        if name not in rerun:
            for key in ("date", "commit", "command"):
                row.setdefault(key, record.get(key))
            row.setdefault("threads", record.get("machine", {}).get("threads"))
            kept[name] = row
    return kept


def _nequip(path) -> dict | None:
    """Pooled train and validation metrics of pgnfast's NequIP: from `path`, else from
    benchmarks/glass_nequip.py's record when it exists (None without either)."""
    path = Path(path) if path else DEFAULT_NEQUIP
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    pooled = {}
    for split in ("train", "validation"):
        values = record[split]
        pooled[split] = values.get("pooled", values)
    return {"source": Path(path).name, **pooled}


def _plain(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


if __name__ == "__main__":
    raise SystemExit(main())
