"""Per-glass statistics of the metallic-glass barrier data (issue 16): atoms, composition,
box and the per-atom barrier (eV) per glass and per type, with a histogram.

    python benchmarks/glass_data.py DATA_FOLDER [OUT_FOLDER]

DATA_FOLDER holds the glass pickles (train0.pickle ... train6.pickle, read with the safe
unpickler); OUT_FOLDER (default benchmarks/results/glass_data) receives glass_data.json,
glass_data.md and barrier_histogram.png.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from provenance import git_commit  # noqa: E402

from pgnfast.systems.glass import TYPE_NAMES, read_glass, split_of  # noqa: E402
from pgnfast.systems.glass.convert import glass_files  # noqa: E402

DEFAULT_OUT = Path(__file__).parent / "results" / "glass_data"


def glass_rows(folder) -> tuple[list[dict], dict]:
    """Statistics per glass and the barriers per glass (eV)."""
    rows, barriers = [], {}
    for path in glass_files(folder):
        glass = read_glass(path)
        row = {"glass": glass.name, "split": split_of(glass.name), **glass.statistics()}
        for type_index, symbol in enumerate(TYPE_NAMES):
            values = glass.barrier[glass.types == type_index]
            row[f"barrier_mean_{symbol}"] = float(values.mean()) if len(values) else None
            row[f"barrier_std_{symbol}"] = float(values.std()) if len(values) else None
            # within one type: pooled, the types' energy offset would dominate
            energies = glass.potential_energy[glass.types == type_index]
            row[f"r_barrier_potential_energy_{symbol}"] = (
                float(np.corrcoef(values, energies)[0, 1]) if len(values) > 1 else None
            )
        rows.append(row)
        barriers[glass.name] = (glass.barrier, glass.types)
    return rows, barriers


def table(rows) -> str:
    lines = [
        "| glass | split | atoms | Cu | Zr | box (Angstrom) | barrier mean (eV) | std | "
        "mean Cu | mean Zr | r(barrier, pot) Cu | Zr |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        box = " x ".join(f"{x:.2f}" for x in r["box"])
        lines.append(
            f"| {r['glass']} | {r['split']} | {r['n_atoms']} | {r['n_cu']} | {r['n_zr']} | "
            f"{box} | {r['barrier_mean']:.3f} | {r['barrier_std']:.3f} | "
            f"{r['barrier_mean_Cu']:.3f} | {r['barrier_mean_Zr']:.3f} | "
            f"{r['r_barrier_potential_energy_Cu']:.3f} | "
            f"{r['r_barrier_potential_energy_Zr']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def histogram(barriers: dict, path: Path) -> None:
    every = np.concatenate([b for b, _ in barriers.values()])
    bins = np.linspace(every.min(), every.max(), 61)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, (barrier, _) in barriers.items():
        style = "--" if split_of(name) == "validation" else "-"
        left.hist(barrier, bins, histtype="step", density=True, linestyle=style, label=name)
    left.set(xlabel="per-atom barrier (eV)", ylabel="density", title="per glass")
    left.legend(fontsize=8)
    for type_index, symbol in enumerate(TYPE_NAMES):
        pooled = np.concatenate([b[t == type_index] for b, t in barriers.values()])
        right.hist(pooled, bins, histtype="step", density=True, label=f"{symbol} ({len(pooled)})")
    right.set(xlabel="per-atom barrier (eV)", title="all glasses, by type")
    right.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="folder of glass pickles")
    parser.add_argument("out", nargs="?", default=str(DEFAULT_OUT), help="output folder")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, barriers = glass_rows(args.data)
    text = table(rows)
    print(text, end="")
    record = {
        "what": "per-glass statistics of the metallic-glass barrier data (eV, Angstrom)",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "command": "python benchmarks/glass_data.py DATA_FOLDER " + " ".join(sys.argv[2:]),
        "glasses": rows,
    }
    (out / "glass_data.json").write_text(json.dumps(record, indent=2))
    (out / "glass_data.md").write_text(text)
    histogram(barriers, out / "barrier_histogram.png")
    print(f"wrote glass_data.json, glass_data.md and barrier_histogram.png to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
