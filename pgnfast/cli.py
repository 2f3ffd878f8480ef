"""`pgnfast <command>`: the command-line entry point.

Each command lives in its own module exposing `add_arguments(parser)` and `run(args) -> int`;
only the chosen command's module is imported, so `pgnfast --help` stays fast. pgnfast's own
errors (bad input, unreadable files, mismatched resumes) print one line and exit with 2;
`--traceback` shows the whole traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

# command -> (module, one-line help)
COMMANDS = {
    "demo": (
        "pgnfast.systems.pgn.demo",
        "run the whole pipeline in miniature on the embedded default design",
    ),
    "neighbors": ("pgnfast.neighbors.cli", "build a neighbor list for an extxyz file and time it"),
    "label": ("pgnfast.systems.pgn.label_cli", "label configurations with the PGN classical DFT"),
    "train": ("pgnfast.train.cli", "train a NequIP model from a YAML config"),
    "study": ("pgnfast.train.study_cli", "hyperparameter study over r_max, l_max, num_layers"),
    "mc": ("pgnfast.mc.cli", "parallel-tempering Monte Carlo from a YAML config"),
    "study-pgn": ("pgnfast.systems.pgn.study_cli", "the full PGN study over several designs"),
    "argon": (
        "pgnfast.systems.argon.cli",
        "Lennard-Jones argon: train models, phonons, the vacancy and hop rates, with a report",
    ),
    "glass": (
        "pgnfast.systems.glass.cli",
        "metallic-glass energy barriers: convert, train, predict, explain",
    ),
    "glass-convert": (
        "pgnfast.systems.glass.convert_cli",
        "convert the metallic-glass barrier pickles to extxyz with per-atom labels",
    ),
}


def _available_commands() -> dict[str, tuple[str, str]]:
    found = {}
    for name, (module, help_text) in COMMANDS.items():
        if importlib.util.find_spec(module.rsplit(".", 1)[0]) is None:
            continue
        try:
            if importlib.util.find_spec(module) is None:
                continue
        except ModuleNotFoundError:
            continue
        found[name] = (module, help_text)
    return found


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # --traceback is accepted anywhere on the line, before or after the command
    show_traceback = "--traceback" in argv
    argv = [a for a in argv if a != "--traceback"]
    commands = _available_commands()
    parser = argparse.ArgumentParser(prog="pgnfast", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument(
        "--traceback",
        action="store_true",
        help="on a pgnfast error, print the whole traceback instead of one line",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module, help_text) in commands.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(module).add_arguments(p)
    args = parser.parse_args(argv)
    if args.version:
        from pgnfast import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help()
        return 1
    from pgnfast.errors import PGNFastError

    try:
        return int(importlib.import_module(commands[args.command][0]).run(args) or 0)
    except PGNFastError as error:
        if show_traceback:
            raise
        print(f"pgnfast {args.command}: error: {error}", file=sys.stderr)
        print("(run with --traceback for the details)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
