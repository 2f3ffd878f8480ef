"""pgnfast's exceptions: every error a public entry point raises on bad input or a bad file
derives from `PGNFastError`, so callers (and the CLI) can catch pgnfast's own errors apart
from bugs. Each also derives from the builtin it refines (ValueError, RuntimeError, ...),
so older ``except ValueError`` code keeps working.
"""

from __future__ import annotations


class PGNFastError(Exception):
    """Base class of every error pgnfast raises on purpose."""


class InputError(PGNFastError, ValueError):
    """Invalid input at a public entry point; the message names the argument and the problem
    (and the first bad index where there is one)."""


class FileFormatError(PGNFastError, ValueError):
    """A file that cannot be read: empty, truncated, corrupt or of another kind. The message
    names the path."""


class IncompatibleModelError(PGNFastError, RuntimeError):
    """A model file or checkpoint that does not fit what the caller expects (format version,
    hyperparameters, dtype, units, type names)."""


class ResumeMismatchError(PGNFastError, ValueError):
    """A checkpoint that belongs to another run (another potential, configuration or data
    set) than the one asked to resume it."""


class UnitsError(PGNFastError, ValueError):
    """Data or a model recorded in other units than the caller's system uses."""


class MemoryLimitError(PGNFastError, MemoryError):
    """An allocation estimated beyond the memory limit the user set; the message names the
    estimate and the limit."""


class PGNFastWarning(UserWarning):
    """Every warning pgnfast issues (a fallback backend, a physics caveat). The test suite
    turns these into errors, so a test meets only the warnings it expects."""
