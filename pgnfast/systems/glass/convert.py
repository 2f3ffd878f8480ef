"""A folder of glass pickles (train0.pickle ... train6.pickle) converted to a dataset folder
of extxyz files, one glass per file, with the paper's split recorded.

The output folder holds `<glass>.extxyz` per glass and `manifest.json` in the layout of
`pgnfast.data` dataset folders (`shards`, `units`), so `pgnfast.data.read_dataset(folder,
units="atomistic")` reads it too; the manifest adds `split` (split -> glass names) and, per
glass, its split, source file, the source's SHA-256 and its statistics (Glass.statistics).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from ..._atomic import write_json
from ...data.io import MANIFEST
from ...errors import FileFormatError, InputError
from ...units import ATOMISTIC
from .data import read_glass, write_glass_extxyz

__all__ = ["SPLIT", "convert_glasses", "split_of"]

SPLIT = {
    "train": tuple(f"train{i}" for i in range(6)),
    "validation": ("train6",),
}
"""The paper's split of the released glasses (its two test glasses are not released)."""


def split_of(name: str) -> str:
    """The split a glass belongs to ("train", "validation"), "unassigned" for a glass the
    paper's split does not name (a user's own)."""
    for split, names in SPLIT.items():
        if name in names:
            return split
    return "unassigned"


def _natural_key(path: Path):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.stem)]


def glass_files(folder) -> list[Path]:
    """The *.pickle files of `folder` in natural order (train2 before train10)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"data folder {folder} is not a folder")
    files = sorted(folder.glob("*.pickle"), key=_natural_key)
    if not files:
        raise FileFormatError(f"data folder {folder} holds no *.pickle glass files")
    return files


def convert_glasses(data_folder, out_folder) -> dict:
    """Convert every *.pickle glass of `data_folder` (read safely, checked) to
    `out_folder/<name>.extxyz` and write `out_folder/manifest.json`; returns the manifest.
    Nothing is written when a glass cannot be read (FileFormatError naming its file)."""
    files = glass_files(data_folder)
    glasses = [(read_glass(path), path) for path in files]
    out = Path(out_folder)
    shards, splits = [], {}
    for glass, source in glasses:
        split = split_of(glass.name)
        file = f"{glass.name}.extxyz"
        write_glass_extxyz(glass, out / file, split=split)
        splits.setdefault(split, []).append(glass.name)
        shards.append(
            {
                "file": file,
                "glass": glass.name,
                "split": split,
                "source": source.name,
                "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
                **glass.statistics(),
            }
        )
    manifest = {"shards": shards, "failures": [], "units": dict(ATOMISTIC), "split": splits}
    write_json(out / MANIFEST, manifest)
    return manifest
