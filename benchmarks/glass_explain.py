"""Explanations of a per-atom barrier model on one glass and what they show (issue 16):
GNNExplainer edge masks (torch-geometric) for atoms of low, middle and high predicted
barrier; hop and distance distributions of the important edges' atoms against the receptive
field; H1 cycle counts of the important edges against random edge sets of the same size.

    python benchmarks/glass_explain.py MODEL GLASS.extxyz [--out OUT_FOLDER] [options]
    python benchmarks/glass_explain.py --symgnn CHECKPOINT GLASS.extxyz [...]
    python benchmarks/glass_explain.py --synthetic      # tiny random glass, untrained model

MODEL is a pgnfast model file with a per-atom target (default `barrier`) in Angstrom/eV and
type names Cu, Zr; GLASS.extxyz any periodic Cu/Zr frame (the `type` column or chemical
symbols). --symgnn: MODEL is instead a SymGNN checkpoint of benchmarks/glass_baselines.py
(its best epoch; explained with its sampled transformations held fixed). OUT_FOLDER
(default benchmarks/results/glass_explain) receives glass_explain.json, locations.png and
h1.png.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np
import torch
from provenance import git_commit

from pgnfast._atomic import write_json
from pgnfast.data.io import read_extxyz
from pgnfast.errors import FileFormatError
from pgnfast.nn.io import load_model
from pgnfast.systems.glass import TYPE_NAMES
from pgnfast.systems.glass.explain import explain_glass, explain_symgnn_glass
from pgnfast.systems.glass.topology import analyse_explanations, plot_h1, plot_locations
from pgnfast.units import ATOMISTIC
from pgnfast.validation import read_type_column

DEFAULT_OUT = Path(__file__).parent / "results" / "glass_explain"


def read_frame(path):
    """(positions (N, 3), cell (3, 3), types (N,)) of a one-frame periodic extxyz."""
    frames = read_extxyz(path)
    if len(frames) != 1:
        raise FileFormatError(f"{path} holds {len(frames)} frames, expected 1")
    atoms = frames[0]
    if not atoms.pbc.all():
        raise FileFormatError(f"{path}: a glass is periodic in all directions, got {atoms.pbc}")
    types = read_type_column(atoms, len(TYPE_NAMES), TYPE_NAMES)
    return atoms.positions.copy(), atoms.cell[:].copy(), types


def synthetic(seed: int):
    """A tiny random Cu64Zr36-like packing (160 atoms, 14 Angstrom box) and an untrained
    two-layer model with a barrier head: only to show the pipeline runs."""
    from pgnfast.nn.model import NequIP
    from pgnfast.testing import random_positions

    rng = np.random.default_rng(seed)
    box = 14.0
    positions = random_positions(160, box, rng, min_distance=2.3)
    types = (rng.uniform(size=len(positions)) < 0.36).astype(np.int64)
    torch.manual_seed(seed)
    model = NequIP(
        r_max=3.5,
        num_layers=2,
        l_max=1,
        num_features=8,
        num_bessel=6,
        radial_mlp_width=16,
        avg_num_neighbors=12.0,
        num_types=2,
        type_names=list(TYPE_NAMES),
        per_atom_targets=("barrier",),
        backend="auto",
    )
    model.units = dict(ATOMISTIC)
    model.set_per_atom_statistics({"barrier": (1.6, 0.3)})
    return model.eval(), (positions, np.eye(3) * box, types)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", help="model file (per-atom target, Angstrom/eV)")
    parser.add_argument("glass", nargs="?", help="one-frame periodic Cu/Zr extxyz")
    parser.add_argument("--synthetic", action="store_true", help="tiny random glass, untrained")
    parser.add_argument(
        "--symgnn", action="store_true", help="MODEL is a glass_baselines SymGNN checkpoint"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--target", default="barrier")
    parser.add_argument("--per-group", type=int, default=3, help="atoms per barrier band")
    parser.add_argument("--epochs", type=int, default=100, help="GNNExplainer epochs")
    parser.add_argument("--lr", type=float, default=0.01, help="GNNExplainer learning rate")
    parser.add_argument("--top-k", type=int, default=20, help="important edges per atom")
    parser.add_argument("--draws", type=int, default=200, help="random edge sets per atom")
    parser.add_argument("--min-persistence", type=float, default=0.5, help="Angstrom")
    parser.add_argument("--library", choices=("ripser", "gudhi"), default="ripser")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.synthetic:
        model, (positions, cell, types) = synthetic(args.seed)
        source = {"model": "untrained (synthetic)", "glass": "synthetic random packing"}
    else:
        if not (args.model and args.glass):
            parser.error("give MODEL and GLASS.extxyz, or --synthetic")
        if args.symgnn:
            from pgnfast.systems.glass.baselines import load_baseline

            model = load_baseline(args.model)
            if model.config["kind"] != "symgnn":
                parser.error(f"{args.model} holds a {model.config['kind']}, not a SymGNN")
        else:
            model = load_model(
                args.model, units=ATOMISTIC, type_names=TYPE_NAMES, per_atom_targets=(args.target,)
            )
        positions, cell, types = read_frame(args.glass)
        # the files are the user's: record their names, not where they lie
        source = {"model": Path(args.model).name, "glass": Path(args.glass).name}
    progress = not args.no_progress
    start = time.perf_counter()
    common = dict(
        per_group=args.per_group, epochs=args.epochs, lr=args.lr, seed=args.seed, progress=progress
    )
    if args.symgnn and not args.synthetic:
        result = explain_symgnn_glass(model, positions, cell, types, **common)
        num_layers, r_max = model.receptive_hops, model.config["cutoff"]
    else:
        result = explain_glass(model, positions, cell, types, target=args.target, **common)
        num_layers, r_max = model.num_layers, model.r_max
    explain_seconds = time.perf_counter() - start
    reach = num_layers * r_max
    bins = np.linspace(0.0, reach, 29)
    start = time.perf_counter()
    rows, summary = analyse_explanations(
        result.explanations,
        result.positions,
        result.cell,
        result.senders,
        result.receivers,
        top_k=args.top_k,
        draws=args.draws,
        distance_bins=bins,
        min_persistence=args.min_persistence,
        seed=args.seed,
        library=args.library,
        progress=progress,
    )
    topology_seconds = time.perf_counter() - start
    group_of = {atom: name for name, atoms in result.groups.items() for atom in atoms}
    for row, explanation in zip(rows, result.explanations):
        row["group"] = group_of[explanation.atom]
        row[f"predicted_{args.target}"] = explanation.prediction
    args.out.mkdir(parents=True, exist_ok=True)
    record = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "inputs": source,
        "atoms_in_glass": int(len(positions)),
        "box_Angstrom": np.diag(result.cell).tolist(),
        "model": {
            "kind": "symgnn" if args.symgnn else "nequip",
            "num_layers": num_layers,
            "r_max_Angstrom": r_max,
        },
        "settings": {k: v for k, v in vars(args).items() if k not in ("model", "glass", "out")},
        "receptive_field_radius_Angstrom": reach,
        "explain_seconds": explain_seconds,
        "topology_seconds": topology_seconds,
        "groups": result.groups,
        "summary": summary,
        "atoms": rows,
    }
    write_json(args.out / "glass_explain.json", record)
    plot_locations(summary, args.out / "locations.png")
    plot_h1(rows, summary, args.out / "h1.png")
    print(
        f"{len(rows)} atoms explained in {explain_seconds:.1f} s, topology in "
        f"{topology_seconds:.1f} s; mean hop important {summary['mean_hop_important']:.2f} vs "
        f"field {summary['mean_hop_field']:.2f}; H1 important {summary['h1_important_mean']:.2f}"
        f" vs uniform null {summary['h1_null_mean']:.2f} (p = {summary['h1_p_value']:.3g}) and "
        f"locality-matched null {summary['h1_null_matched_mean']:.2f} (p more "
        f"{summary['h1_p_value_matched']:.3g}, p fewer {summary['h1_p_value_matched_fewer']:.3g});"
        f" results in {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
