"""The charged-dimers long-range benchmark (issue 15): NequIP-LR, with one charge
constraint per structure (the published model) and with one per molecule
(charge_constraint "fragments"), against a short-range NequIP with the same cutoff, trained
on the shorter separations of each molecular pair and tested on the longest, where no atom
pair between the molecules lies within the cutoff.

    python benchmarks/charged_dimers.py DATA_FOLDER [--work FOLDER] [--out FOLDER]
        [--r-max 4.0] [--budget SECONDS] [--max-epochs N] [--energy-weight W]
        [--threads 1] [--resume] [--reuse KIND ...]

DATA_FOLDER holds the dimer files train-id*.xyz (one pair type each, ten separations).
Per pair type the 2 longest separations are the test split, the next 2 the validation split
(which chooses the best epoch), the other 6 the training split. The converted data set and
the runs go to --work (default: a folder under the system's temporary folder); --out
(default benchmarks/results/charged_dimers) receives charged_dimers.json,
interaction_vs_separation.png and the best model files. The models train through
pgnfast.train.fit (float64, the same r_max, seed and max_wall_time = --budget, one after the
other); --resume continues the runs in --work; --reuse KIND takes that model's file and
training record from an earlier record in --out instead of training it again (the record
says so). Units: Angstrom, eV, e.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import shutil
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
from pgnfast.nn.io import load_model  # noqa: E402
from pgnfast.systems.charges.dimers import (  # noqa: E402
    closest_intermolecular_distances,
    interaction_energies,
    read_dimers,
    write_dimer_dataset,
)
from pgnfast.train import fit  # noqa: E402
from pgnfast.train.checkpoint import load_checkpoint  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = Path(__file__).parent / "results" / "charged_dimers"
DEFAULT_WORK = Path(tempfile.gettempdir()) / "pgnfast-charged-dimers"
SPLITS = ("train", "validation", "test")
MODELS = ("nequip_lr_fragments", "nequip_lr", "nequip")
LABELS = {
    "nequip_lr_fragments": "NequIP-LR, charge per molecule",
    "nequip_lr": "NequIP-LR, total charge",
    "nequip": "NequIP (short-range)",
}
COLOURS = {"nequip_lr_fragments": "tab:green", "nequip_lr": "tab:red", "nequip": "tab:blue"}
# shared training settings: 36 training frames, small batches, a long patience (the
# validation frames are few); max_wall_time stops both runs
TRAINING = dict(
    units="atomistic",
    split_key="split",
    seed=0,
    dtype="float64",
    batch_size=2,
    learning_rate=5e-3,
    max_epochs=3000,
    ema_decay=0.99,
    energy_weight=1.0,
    force_weight=1.0,
    lr_patience=15,
    lr_factor=0.5,
    early_stopping_patience=80,
    checkpoint_every=100,
    progress=False,
)


def training_config(kind: str, data: Path, run_dir: Path, args) -> dict:
    """The fit() config of one model: examples/charges.yaml's NequIP-LR (charge_weight 0:
    the data has no per-atom charges; kind nequip_lr_fragments keeps each molecule's
    charge), or a short-range NequIP with as many interaction blocks (4), the same features
    and the same r_max (Angstrom)."""
    charges = read_yaml(ROOT / "examples" / "charges.yaml")
    lr_model = {**charges["model"], "r_max": args.r_max}
    if kind == "nequip_lr":
        model = lr_model
    elif kind == "nequip_lr_fragments":
        model = {**lr_model, "charge_constraint": "fragments"}
    else:
        shared = ("l_max", "parity", "num_features", "num_bessel", "polynomial_cutoff_p")
        model = {key: lr_model[key] for key in shared}
        model.update(
            kind="nequip",
            r_max=args.r_max,
            num_layers=lr_model["charge_layers"] + lr_model["energy_layers"],
            radial_mlp_depth=lr_model["radial_mlp_depth"],
            radial_mlp_width=lr_model["radial_mlp_width"],
        )
    values = {**TRAINING, "data": str(data), "run_dir": str(run_dir), "model": model}
    values.update(
        max_wall_time=args.budget, num_threads=args.threads, energy_weight=args.energy_weight
    )
    if args.max_epochs is not None:
        values["max_epochs"] = args.max_epochs
    if kind.startswith("nequip_lr"):
        values["charge_weight"] = 0.0
    return values


def _mae(values) -> float | None:
    values = np.asarray(values, float)
    return float(np.mean(np.abs(values))) if values.size else None


def add_changes(rows) -> None:
    """Add to each row the change of the interaction energy (eV) since the longest training
    separation of its pair type (`reference_change`, `<model>_change`): free of the offset
    E(A alone) + E(B alone), which the dimer-only training data never fixes for a charged
    molecule (the molecules are rigid, so the change is that of the dimer energy)."""
    for label in {row["label"] for row in rows}:
        group = [row for row in rows if row["label"] == label]
        anchor = max((r for r in group if r["split"] == "train"), key=lambda r: r["distance"])
        for row in group:
            for key in ("reference", *MODELS):
                row[f"{key}_change"] = row[key] - anchor[key]


def summaries(rows, suffix: str = "") -> dict:
    """MAE (eV) of each model's interaction energy (suffix "") or of its change since the
    longest training separation (suffix "_change") per split, over all pair types and per
    pair type; zero_prediction: the MAE of predicting 0 (what NequIP does beyond r_max)."""
    out = {}
    reference = f"reference{suffix}"
    for split in SPLITS:
        chosen = [row for row in rows if row["split"] == split]
        entry = {"frames": len(chosen)}
        for kind in (*MODELS, "zero_prediction"):
            name = f"{kind}{suffix}"
            errors = [row.get(name, 0.0) - row[reference] for row in chosen]
            entry[f"{kind}_mae_eV"] = _mae(errors)
            entry[f"{kind}_mae_eV_per_pair"] = {
                label: _mae([e for e, r in zip(errors, chosen) if r["label"] == label])
                for label in sorted({r["label"] for r in chosen})
            }
        out[split] = entry
    return out


def training_record(run_dir: Path) -> dict:
    """Epochs, best epoch, stop reason and training seconds (summed over epochs, over every
    resumed part) from a run's final checkpoint."""
    state = load_checkpoint(run_dir / "checkpoint.pt")["state"]
    keys = ("epoch", "step", "best_epoch", "best_validation", "stop_reason", "wall_time")
    return {key: state.get(key) for key in keys}


def plot(rows, r_max: float, path: Path, suffix: str = "") -> None:
    """One panel per pair type: interaction energy (eV; suffix "_change": its change since
    the longest training separation) against separation (Angstrom)."""
    labels = list(dict.fromkeys(row["label"] for row in rows))
    fig, axes = plt.subplots(2, 3, figsize=(12, 7), squeeze=False)
    markers = {"train": "o", "validation": "s", "test": "^"}
    for ax, label in zip(axes.flat, labels):
        chosen = sorted((r for r in rows if r["label"] == label), key=lambda r: r["distance"])
        distance = [r["distance"] for r in chosen]
        first = label == labels[0]
        reference = [r[f"reference{suffix}"] for r in chosen]
        ax.plot(distance, reference, "k-", lw=1.5, label="reference" if first else None)
        for kind, colour in COLOURS.items():
            values = [r[f"{kind}{suffix}"] for r in chosen]
            ax.plot(distance, values, "-", color=colour, lw=1, alpha=0.6)
            for split, marker in markers.items():
                points = [r for r in chosen if r["split"] == split]
                ax.scatter(
                    [r["distance"] for r in points],
                    [r[f"{kind}{suffix}"] for r in points],
                    marker=marker,
                    color=colour,
                    s=22,
                    label=f"{LABELS[kind]}, {split}" if first else None,
                )
        # separations past which no A-B atom pair is within r_max (NequIP's interaction is 0)
        beyond = [r["distance"] for r in chosen if r["closest_intermolecular"] > r_max]
        if beyond:
            ax.axvline(min(beyond), color="grey", ls=":", lw=1)
        ax.axhline(0.0, color="grey", lw=0.5)
        charges = f"{chosen[0]['chargeA']:+.0f}/{chosen[0]['chargeB']:+.0f} e"
        ax.set_title(f"{label} ({charges})", fontsize=10)
        ax.set_xlabel("separation (Angstrom)")
        what = "change since last train point" if suffix else "interaction energy"
        ax.set_ylabel(f"{what} (eV)")
    for ax in list(axes.flat)[len(labels) :]:
        ax.axis("off")
    fig.legend(loc="lower center", ncol=4, fontsize=8)
    fig.suptitle(
        f"charged dimers, r_max {r_max} Angstrom: dotted line = closest A-B atom pair beyond "
        "r_max; markers o train, s validation, ^ test",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.07, 1, 0.96))
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="folder of the dimer files train-id*.xyz")
    parser.add_argument("--work", default=str(DEFAULT_WORK), help="converted data and runs")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--r-max", type=float, default=4.0, help="cutoff of both (Angstrom)")
    parser.add_argument("--budget", type=float, default=1500.0, help="seconds per model")
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument(
        "--energy-weight", type=float, default=1.0, help="loss weight on energy per atom"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument(
        "--reuse",
        nargs="*",
        default=[],
        choices=MODELS,
        help="models whose file and training record are taken from the record in --out",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    work, out = Path(args.work), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    data = write_dimer_dataset(args.data, work / "data")
    frames = read_dimers(args.data)
    closest = closest_intermolecular_distances(frames)
    test_closest = min(c for c, f in zip(closest, frames) if f.info["split"] == "test")
    if not args.r_max < test_closest:
        parser.error(
            f"--r-max {args.r_max} reaches the closest A-B atom pair of a test frame "
            f"({test_closest:.2f} Angstrom): the test would not probe beyond the cutoff"
        )
    print(f"{len(frames)} frames; closest A-B pair of the test frames {test_closest:.2f} A")

    earlier = {}
    if args.reuse:
        previous = json.loads((out / "charged_dimers.json").read_text())
        earlier = {
            kind: {"commit": previous["commit"], **entry}
            for kind, entry in previous["training"].items()
        }
        missing = [kind for kind in args.reuse if kind not in earlier]
        if missing:
            parser.error(f"--reuse {missing}: the record in {out} has no such model")
    metrics, wall, predictions, states, training = {}, {}, {}, {}, {}
    for kind in MODELS:
        if kind in args.reuse:
            model = load_model(out / f"best_model_{kind}.pt", units="atomistic")
            predictions[kind] = interaction_energies(model, frames)
            training[kind] = {**earlier[kind], "reused_from_earlier_record": True}
            print(f"reused {LABELS[kind]} from {out.name} (commit {earlier[kind]['commit']})")
            continue
        run_dir = work / f"run_{kind}"
        config = training_config(kind, data, run_dir, args)
        print(f"training {LABELS[kind]} (budget {args.budget:.0f} s) in {run_dir.name}", flush=True)
        started = time.perf_counter()
        metrics[kind] = fit(config, resume=args.resume)
        wall[kind] = time.perf_counter() - started
        model = load_model(run_dir / "best_model.pt", units="atomistic")
        predictions[kind] = interaction_energies(model, frames)
        shutil.copy(run_dir / "best_model.pt", out / f"best_model_{kind}.pt")
        states[kind] = training_record(run_dir)
        done = metrics[kind]
        print(
            f"  {done['epochs']} epochs ({wall[kind]:.0f} s), best epoch {done['best_epoch']}, "
            f"validation force RMSE {done['validation']['forces_rmse_eV_per_Angstrom']:.4f} "
            "eV/A",
            flush=True,
        )
        training[kind] = {
            "commit": git_commit(),
            "config": training_config(kind, Path("data"), Path(f"run_{kind}"), args),
            "this_call_wall_time_s": wall[kind],
            "final_state": states[kind],
            "fit_metrics": {split: metrics[kind].get(split) for split in SPLITS},
        }

    rows = []
    for index, atoms in enumerate(frames):
        info = atoms.info
        row = {key: info[key] for key in ("label", "split", "distance", "chargeA", "chargeB")}
        row.update(
            closest_intermolecular=float(closest[index]),
            within_cutoff=bool(closest[index] < args.r_max),
            reference=float(info["inter_energy"]),
            **{kind: float(predictions[kind][index]) for kind in MODELS},
        )
        rows.append(row)
    add_changes(rows)
    summary = summaries(rows)
    plot(rows, args.r_max, out / "interaction_vs_separation.png")
    plot(rows, args.r_max, out / "interaction_change_vs_separation.png", "_change")

    record = {
        "benchmark": "charged dimers: NequIP-LR (total or per-molecule charge constraint) vs "
        "short-range NequIP beyond the cutoff",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        "data": Path(args.data).name,
        "units": {"length": "Angstrom", "energy": "eV", "charge": "e"},
        "r_max_angstrom": args.r_max,
        "closest_intermolecular_test_min_angstrom": float(test_closest),
        "split_rule": "per pair type by separation: 2 longest test, next 2 validation, 6 train",
        "budget_s_per_model": args.budget,
        "training": training,
        "interaction_energy_summary": summary,
        "interaction_change_summary": summaries(rows, "_change"),
        "frames": rows,
    }
    text = json.dumps(record, indent=2)
    # the data and work folders are the user's: record base names only
    text = re.sub(r'"(?:/[^"/\s]+)+/([^"/\s]+)', r'"\1', text)
    text = re.sub(r" (?:/[^ \"/]+)+/([^ \"/]+)", r" \1", text)
    (out / "charged_dimers.json").write_text(text)
    for split in SPLITS:
        entry = summary[split]
        errors = ", ".join(f"{k} {entry[f'{k}_mae_eV']:.4f}" for k in (*MODELS, "zero_prediction"))
        print(f"{split:>10}: interaction MAE (eV) {errors}", flush=True)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
