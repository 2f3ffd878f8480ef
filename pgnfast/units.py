"""Units per system. Kernels and models are unit-free; datasets and model files record the
units of their numbers, and readers check them against what the caller's system uses.

- PGN glasses: lengths in nm, energies in kT (`PGN`).
- Atomistic systems (argon, charges, metallic glasses): Angstrom, eV, fs, amu (`ATOMISTIC`).
"""

from __future__ import annotations

from .errors import UnitsError

PGN = {"length": "nm", "energy": "kT", "forces": "kT/nm", "stress": "kT/nm^3"}
ATOMISTIC = {
    "length": "Angstrom",
    "energy": "eV",
    "forces": "eV/Angstrom",
    "stress": "eV/Angstrom^3",
    "time": "fs",
    "mass": "amu",
}
SYSTEMS = {"pgn": PGN, "atomistic": ATOMISTIC}


def resolve(units) -> dict:
    """A units dict from a system name ("pgn", "atomistic") or a dict (copied)."""
    if isinstance(units, str):
        if units not in SYSTEMS:
            raise UnitsError(f"unknown unit system {units!r}; known: {sorted(SYSTEMS)}")
        return dict(SYSTEMS[units])
    if not isinstance(units, dict) or not {"length", "energy"} <= set(units):
        raise UnitsError(f"units must name at least length and energy, got {units!r}")
    return dict(units)


def check_units(recorded, expected, what: str) -> None:
    """Refuse `recorded` units (a dict, or None for files that predate the field) when their
    length or energy differ from `expected`; `what` names the file or data set."""
    if expected is None:
        return
    expected = resolve(expected)
    if recorded is None:
        raise UnitsError(f"{what} records no units; expected {expected}")
    for key in ("length", "energy"):
        if recorded.get(key) != expected[key]:
            raise UnitsError(
                f"{what} is in {recorded.get(key)} for {key}, expected {expected[key]} "
                f"(recorded units {recorded})"
            )
