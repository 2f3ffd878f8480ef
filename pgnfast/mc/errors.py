"""The Monte Carlo engine's input error (re-exported by :mod:`pgnfast.mc`)."""

from __future__ import annotations

from ..errors import InputError


class MonteCarloInputError(InputError):
    """Invalid input to the Monte Carlo engine (overlaps, NaN, bad ladder, bad box)."""
