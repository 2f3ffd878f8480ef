"""Convert the metallic-glass barrier pickles to extxyz:

    python -m pgnfast.systems.glass.convert_cli DATA_FOLDER OUT_FOLDER

(`add_arguments` and `run` also serve as a `pgnfast` command.)"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="folder of glass pickles (train0.pickle ... train6.pickle)")
    parser.add_argument("out", help="output folder: one extxyz per glass and manifest.json")


def run(args) -> int:
    from .convert import convert_glasses

    manifest = convert_glasses(args.data, args.out)
    print(
        f"{'glass':<10} {'split':<11} {'atoms':>6} {'Cu':>5} {'Zr':>5}  box (Angstrom)"
        f"          barrier mean, std (eV)"
    )
    for shard in manifest["shards"]:
        box = " x ".join(f"{x:.2f}" for x in shard["box"])
        print(
            f"{shard['glass']:<10} {shard['split']:<11} {shard['n_atoms']:>6} "
            f"{shard['n_cu']:>5} {shard['n_zr']:>5}  {box:<22}  "
            f"{shard['barrier_mean']:.3f}, {shard['barrier_std']:.3f}"
        )
    print(f"wrote {len(manifest['shards'])} glasses and manifest.json to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run as a script; pgnfast's errors print one line and exit with 2."""
    import sys

    from pgnfast.errors import PGNFastError

    parser = argparse.ArgumentParser(
        prog="python -m pgnfast.systems.glass.convert_cli",
        description="convert metallic-glass barrier pickles to extxyz with label columns",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except PGNFastError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
