"""The DFT's exceptions (re-exported by pgnfast.dft and pgnfast.dft.solver)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pgnfast.errors import InputError, PGNFastError

if TYPE_CHECKING:
    from .solver import DFTResult


class DFTInputError(InputError):
    """The configuration, cell, design or settings cannot be labeled (the message says why)."""


class CoreOverlapError(DFTInputError):
    """Two cores overlap by more than config.MAX_CORE_OVERLAP of the smaller radius."""


class NotConverged(PGNFastError, RuntimeError):
    """The dual solve stopped before the stopping rule; `.result` holds the partial DFTResult."""

    def __init__(self, message: str, result: DFTResult):
        super().__init__(message)
        self.result = result

    def __reduce__(self):  # picklable, so process-pool workers can raise it
        return type(self), (str(self), self.result)
