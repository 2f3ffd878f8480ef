"""Atomic checkpoints: arrays in an .npz plus JSON metadata, written then renamed.

The new file is written next to the target, flushed and fsynced, the previous checkpoint is
kept as ``<path>.prev``, and the new one is moved into place with ``os.replace``, so a crash
at any moment leaves a complete checkpoint (the new one, or the previous one).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from .._atomic import atomic_path

FORMAT_VERSION = 1


def save_checkpoint(path, arrays: dict[str, np.ndarray], metadata: dict) -> Path:
    """Write arrays (name -> ndarray) and JSON-able metadata to `path` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    meta = dict(metadata, format_version=FORMAT_VERSION)
    np.savez(buffer, __metadata__=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
    with atomic_path(path, keep_previous=True) as temporary:
        temporary.write_bytes(buffer.getvalue())
    return path


def load_checkpoint(path) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays, metadata) from `path`, falling back to `<path>.prev` if `path` is missing."""
    path = Path(path)
    if not path.exists() and path.with_name(path.name + ".prev").exists():
        path = path.with_name(path.name + ".prev")
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files if name != "__metadata__"}
        metadata = json.loads(bytes(data["__metadata__"]).decode())
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"unsupported checkpoint format in {path}")
    return arrays, metadata
