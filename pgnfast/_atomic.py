"""Atomic file writes: write beside the target, fsync, rename. A crash at any moment leaves
the old file or the new one, never half a file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _default_mode() -> int:
    """The mode a plain open() gives a new file: 0o666 less the process's umask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_path(path, *, keep_previous: bool = False) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; when the block succeeds, the file is
    fsynced and renamed onto `path` (the old file kept as `<path>.prev` if asked)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        yield Path(temporary)
        descriptor = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        # mkstemp makes the file 0600; the result gets the mode any written file would
        os.chmod(temporary, _default_mode())
        if keep_previous and path.exists():
            os.replace(path, path.with_name(path.name + ".prev"))
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_json(path, value, *, indent: int = 2) -> Path:
    """Write JSON-able `value` to `path` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(value, indent=indent))
    return Path(path)
