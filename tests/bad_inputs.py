"""The table of bad inputs: every public entry point, the bad input, the pgnfast exception it
raises and what its message says.

Cases are registered where they belong (`tests/<area>/bad_inputs.py` or
`tests/<area>/bad_inputs_<topic>.py`, with `@bad_input`);
`tests/test_bad_input_table.py` runs each one and checks that docs/bad-input.md is the table
rendered from them, so the document cannot drift from the code. After adding a case:

    python -m tests.bad_inputs --write
"""

from __future__ import annotations

import importlib
import pathlib
from collections.abc import Callable
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "bad-input.md"


@dataclass(frozen=True)
class BadInput:
    """One row: `call(rng, tmp_path)` must raise `error` with a message matching `message`
    (a regular expression, searched)."""

    id: str
    area: str
    entry: str
    bad_input: str
    error: type
    message: str
    call: Callable
    requires: str | None = None  # "cuda" or "triton": run only where that backend exists


CASES: list[BadInput] = []


def bad_input(entry: str, bad: str, error: type, message: str, *, requires: str | None = None):
    """Register the decorated `function(rng, tmp_path)` as a row of the table."""

    def register(function):
        area = function.__module__.split(".")[-2] if "." in function.__module__ else "root"
        case = BadInput(
            id=f"{area}:{function.__name__}",
            area=area,
            entry=entry,
            bad_input=bad,
            error=error,
            message=message,
            call=function,
            requires=requires,
        )
        if any(c.id == case.id for c in CASES):
            raise RuntimeError(f"duplicate bad-input case {case.id}")
        CASES.append(case)
        return function

    return register


def load_all() -> list[BadInput]:
    """Import every tests/**/bad_inputs*.py and return the cases, in file then definition
    order (whatever order other tests happened to import the area files in)."""
    for path in sorted((ROOT / "tests").rglob("bad_inputs*.py")):
        if path.parent == ROOT / "tests":
            continue
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        importlib.import_module(module)
    return sorted(CASES, key=lambda c: (c.call.__module__, c.call.__code__.co_firstlineno))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(cases) -> str:
    lines = [
        "# Bad input and what pgnfast says",
        "",
        "Every public entry point checks its input (shared checks: `pgnfast.validation` and",
        "`pgnfast.geometry`) and raises a pgnfast exception (`pgnfast.errors`, all derived",
        "from `PGNFastError`) whose message names the problem. Each row is run by",
        "`tests/test_bad_input_table.py`; the message column is the pattern the message must",
        "contain. This file is generated from the cases (`python -m tests.bad_inputs --write`).",
        "",
        "| entry point | bad input | exception | message |",
        "| --- | --- | --- | --- |",
    ]
    for case in cases:
        lines.append(
            f"| `{_cell(case.entry)}` | {_cell(case.bad_input)} | `{case.error.__name__}` "
            f"| `{_cell(case.message)}` |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    # run as a script, this file is __main__: the area files register their cases in the
    # imported tests.bad_inputs, so render from that module
    from tests import bad_inputs

    cases = bad_inputs.load_all()
    text = bad_inputs.render(cases)
    if "--write" in sys.argv:
        DOC.write_text(text)
        print(f"wrote {DOC.relative_to(ROOT)} ({len(cases)} cases)")
    else:
        print(text)
