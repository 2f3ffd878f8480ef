"""Atomic checkpoints: arrays in an .npz plus JSON metadata, written then renamed.

The new file is written next to the target, flushed and fsynced, the previous checkpoint is
kept as ``<path>.prev``, and the new one is moved into place with ``os.replace``, so a crash
at any moment leaves a complete checkpoint (the new one, or the previous one).

Reading never unpickles: the arrays are plain numeric .npy members (``allow_pickle=False``)
and the metadata is JSON. A file that cannot be read (empty, truncated, corrupt: the zip
CRC-32 of every member is checked) raises :class:`pgnfast.errors.FileFormatError` naming it.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .._atomic import atomic_path
from ..errors import FileFormatError

FORMAT_VERSION = 1
METADATA = "__metadata__"

# what numpy's and zipfile's readers raise on a damaged file
_READ_ERRORS = (
    OSError,
    ValueError,
    EOFError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    NotImplementedError,
    RuntimeError,  # zipfile: "encrypted, password required"
    OverflowError,
    MemoryError,
    struct.error,
    zlib.error,
    zipfile.BadZipFile,
)


def save_checkpoint(path, arrays: dict[str, np.ndarray], metadata: dict) -> Path:
    """Write arrays (name -> ndarray) and JSON-able metadata to `path` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    meta = dict(metadata, format_version=FORMAT_VERSION)
    np.savez(buffer, **{METADATA: np.frombuffer(json.dumps(meta).encode(), np.uint8)}, **arrays)
    with atomic_path(path, keep_previous=True) as temporary:
        temporary.write_bytes(buffer.getvalue())
    return path


def checkpoint_path(path) -> Path:
    """`path`, or `<path>.prev` when only the previous checkpoint exists."""
    path = Path(path)
    previous = path.with_name(path.name + ".prev")
    if not path.exists() and previous.exists():
        return previous
    return path


def load_checkpoint(path) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays, metadata) from `path`, falling back to `<path>.prev` if `path` is missing.

    Raises FileNotFoundError when neither exists and FileFormatError when the file cannot be
    read as a checkpoint of this format.
    """
    requested = Path(path)
    path = checkpoint_path(requested)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {requested} (nor {requested.name}.prev)")
    previous = path.with_name(path.name + ".prev")
    hint = (
        f"; the previous checkpoint {previous} may still be readable" if previous.exists() else ""
    )
    try:
        with open(path, "rb") as handle:
            content = handle.read()
        data = np.load(io.BytesIO(content), allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise FileFormatError(f"{path} is not a checkpoint (not an .npz archive){hint}")
        with data:
            if METADATA not in data.files:
                raise FileFormatError(f"{path} is not a checkpoint: it has no metadata{hint}")
            arrays = {name: data[name] for name in data.files if name != METADATA}
            raw = data[METADATA]
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise FileFormatError(f"{path}: the checkpoint metadata is not JSON bytes{hint}")
        metadata = json.loads(raw.tobytes().decode())
    except FileFormatError:
        raise
    except _READ_ERRORS as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise FileFormatError(
            f"cannot read checkpoint {path}: {type(error).__name__}: {error}{hint}"
        ) from error
    if not isinstance(metadata, dict):
        raise FileFormatError(f"{path}: the checkpoint metadata is not a JSON object{hint}")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise FileFormatError(
            f"unsupported checkpoint format in {path}: format_version "
            f"{metadata.get('format_version')!r}, this pgnfast reads {FORMAT_VERSION}"
        )
    return arrays, metadata
