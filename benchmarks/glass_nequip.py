"""The per-atom NequIP barrier model on the metallic-glass data (issue 16): convert, train
under a time budget, record train / validation Pearson r, RMSE and MAE, and time the
prediction of one 8000-atom glass on the fused CPU backend.

    python benchmarks/glass_nequip.py DATA_FOLDER [--budget SECONDS] [--work FOLDER]
        [--config examples/glass.yaml] [--max-epochs N] [--threads N] [--out FOLDER]

DATA_FOLDER holds train0.pickle ... train6.pickle (the paper's split: train0-5 train,
train6 validation). The converted extxyz files and the training run go to --work (default:
a folder under the system's temporary folder, never the repository); --out (default
benchmarks/results/glass_barriers) receives glass_nequip.json and parity_validation.png.
--resume continues the run in --work (a larger --budget continues a run stopped by it).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
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

from pgnfast._config import read_yaml  # noqa: E402
from pgnfast.data.io import read_extxyz  # noqa: E402
from pgnfast.systems.glass.convert import convert_glasses  # noqa: E402
from pgnfast.systems.glass.predict import load_barrier_model, predict_barriers  # noqa: E402
from pgnfast.systems.glass.train import glass_training_config, train_glass_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = Path(__file__).parent / "results" / "glass_barriers"
DEFAULT_WORK = Path(tempfile.gettempdir()) / "pgnfast-glass-nequip"


def _summary(metrics: dict, split: str) -> dict | None:
    if split not in metrics:
        return None
    barrier = metrics[split]["per_atom"]["barrier"]
    return {
        "pooled": barrier["pooled"],
        "mean_over_glasses": barrier["mean_over_structures"],
        "per_glass": barrier["per_structure"],
    }


def time_prediction(model_path, glass_path, repeats: int = 3) -> dict:
    """Seconds to predict every barrier of one glass (neighbour list, graph and model; the
    model file already loaded), first call and best of `repeats`, with the CPU time of
    each call (the work, independent of other processes sharing the cores)."""
    model = load_barrier_model(model_path, backend="cpu")
    (atoms,) = read_extxyz(glass_path)
    times, cpu_times, predicted = [], [], None
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        predicted = predict_barriers(model, atoms)
        times.append(time.perf_counter() - started)
        cpu_times.append(time.process_time() - cpu_started)
    return {
        "glass": Path(glass_path).name,
        "atoms": len(atoms),
        "threads": torch.get_num_threads(),
        "backend": model.backend,
        "dtype": str(model.dtype).replace("torch.", ""),
        "first_s": times[0],
        "best_s": min(times),
        "all_s": times,
        "cpu_s": cpu_times,
        "note": "wall times on a shared machine; cpu_s is the process's CPU time (the work)",
        "predicted": predicted,
        "labels": np.asarray(atoms.arrays["barrier"]),
    }


def parity_plot(labels, predicted, r: float, path: Path, note: str) -> None:
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.scatter(labels, predicted, s=2, alpha=0.3)
    low = float(min(labels.min(), predicted.min()))
    high = float(max(labels.max(), predicted.max()))
    ax.plot([low, high], [low, high], "k--", lw=1)
    ax.set_xlabel("ART barrier, train6 (eV)")
    ax.set_ylabel("NequIP per-atom prediction (eV)")
    ax.set_title(f"validation glass train6: Pearson r = {r:.3f}\n{note}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="folder of train0.pickle ... train6.pickle")
    parser.add_argument("--config", default=str(ROOT / "examples" / "glass.yaml"))
    parser.add_argument("--budget", type=float, default=3600.0, help="training seconds")
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--work", default=str(DEFAULT_WORK), help="converted data and run")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--resume", action="store_true")
    parser.add_argument(
        "--model",
        default=None,
        help="JSON of model hyperparameters to override, e.g. '{\"num_layers\": 2}'",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    work, out = Path(args.work), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    convert_glasses(args.data, work / "extxyz")
    convert_s = time.perf_counter() - started

    values = read_yaml(args.config)
    values["model"] = {**values.get("model", {}), **json.loads(args.model or "{}")}
    values.update(max_wall_time=args.budget, progress=False)
    if args.max_epochs is not None:
        values["max_epochs"] = args.max_epochs
    if args.threads:
        values["num_threads"] = args.threads
    config = glass_training_config(values, data=work / "extxyz", run_dir=work / "run")
    started = time.perf_counter()
    metrics = train_glass_model(config, resume=args.resume)
    train_s = time.perf_counter() - started

    timing = time_prediction(work / "run" / "best_model.pt", work / "extxyz" / "train6.extxyz")
    predicted, labels = timing.pop("predicted"), timing.pop("labels")
    validation = _summary(metrics, "validation")
    note = f"{metrics.get('epochs')} epochs, training budget {args.budget:.0f} s"
    parity_plot(
        labels, predicted, validation["pooled"]["pearson_r"], out / "parity_validation.png", note
    )
    record = {
        "benchmark": "per-atom NequIP barrier model, metallic glass Cu64Zr36 (issue 16)",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
        },
        "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        "split": {"train": [f"train{i}" for i in range(6)], "validation": ["train6"]},
        "budget_s": args.budget,
        "hyperparameters": {
            "model": config.model,
            **{
                key: getattr(config, key)
                for key in (
                    "dtype",
                    "batch_size",
                    "subgraph_centres",
                    "learning_rate",
                    "ema_decay",
                    "max_epochs",
                    "seed",
                )
            },
        },
        "convert_s": convert_s,
        "train_s": train_s,
        "epochs": metrics.get("epochs"),
        "steps": metrics.get("steps"),
        "best_epoch": metrics.get("best_epoch"),
        "stop_reason": metrics.get("stop_reason"),
        "train": _summary(metrics, "train"),
        "validation": validation,
        "predict_8000_atoms": timing,
        "reference": {"SymGNN_test_r": 0.786, "SchNet_test_r": 0.759},
    }
    text = json.dumps(record, indent=2)
    # the data and work folders are the user's: record file names only
    text = re.sub(r'"(?:/[^"/\s]+)+/([^"/\s]+)', r'"\1', text)
    text = re.sub(r" (?:/[^ \"/]+)+/([^ \"/]+)", r" \1", text)
    (out / "glass_nequip.json").write_text(text)
    print(
        f"validation r {validation['pooled']['pearson_r']:.3f}, RMSE "
        f"{validation['pooled']['rmse']:.3f} eV after {metrics.get('epochs')} epochs "
        f"({train_s:.0f} s); predict {timing['atoms']} atoms: {timing['best_s']:.3f} s "
        f"({timing['threads']} threads); wrote {out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
