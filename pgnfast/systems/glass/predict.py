"""Per-atom barrier prediction (`pgnfast glass predict MODEL GLASS.extxyz [--out OUT]`).

Reads any periodic extxyz of Cu and Zr atoms (a converted glass or a user's own; every
frame), predicts every atom's barrier (eV) with a model trained by `pgnfast glass train`
on the fused CPU backend, and writes a copy of the file with the prediction in the
per-atom column `barrier` (by default beside the input as GLASS.predicted.extxyz; the
input is never overwritten). A `barrier` column already in the input (the reference
labels of a converted glass) is kept in the copy as `barrier_reference`.

Types come from the chemical symbols (Cu, Zr), so a file without pgnfast's `type` column
works. Errors: a frame that is not periodic in all three directions or holds another
element (InputError, naming the frame and the atom), units recorded in the file other than
Angstrom/eV (UnitsError), a model without a `barrier` head or with other type names
(IncompatibleModelError), a model in other units (UnitsError).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from ...data.io import read_extxyz, write_extxyz
from ...errors import InputError
from ...nn.graph import build_graph
from ...nn.io import load_model
from ...units import ATOMISTIC, check_units
from .data import TYPE_NAMES

__all__ = ["default_output", "load_barrier_model", "predict_barriers", "predict_file"]

TARGET = "barrier"
REFERENCE_COLUMN = "barrier_reference"


def load_barrier_model(path, *, backend: str = "cpu"):
    """A model file with a `barrier` head, Cu/Zr types and Angstrom/eV units, on the CPU
    with the given tp_conv backend (default the fused CPU kernels)."""
    model = load_model(
        path, units="atomistic", type_names=list(TYPE_NAMES), per_atom_targets=(TARGET,)
    )
    model.backend = backend
    return model.eval()


def structure_types(atoms, where: str) -> np.ndarray:
    """(N,) types (0 Cu, 1 Zr) from the chemical symbols; InputError naming the first atom
    of another element, or a frame that is not periodic in all directions."""
    if not all(atoms.pbc):
        raise InputError(
            f"{where} is not periodic in all directions (pbc {atoms.pbc.tolist()}): barrier "
            f"models take periodic glasses with a cell"
        )
    symbols = np.array(atoms.get_chemical_symbols())
    unknown = ~np.isin(symbols, TYPE_NAMES)
    if unknown.any():
        atom = int(np.flatnonzero(unknown)[0])
        raise InputError(
            f"{where}: atom {atom} is {symbols[atom]}; the barrier model knows only "
            f"{list(TYPE_NAMES)}"
        )
    return (symbols == TYPE_NAMES[1]).astype(np.int64)


def _check_frame_units(atoms, where: str) -> None:
    units = atoms.info.get("units")
    if units is None:
        return
    if isinstance(units, str):
        try:
            units = json.loads(units)
        except ValueError as error:
            raise InputError(f"{where}: info 'units' is not JSON: {units[:60]!r}") from error
    if not isinstance(units, dict):
        raise InputError(f"{where}: info 'units' must be a mapping, got {units!r}")
    check_units(units, ATOMISTIC, where)


def predict_barriers(model, atoms, where: str = "structure") -> np.ndarray:
    """(N,) predicted barriers (eV) of one periodic Cu/Zr structure (ase.Atoms)."""
    types = structure_types(atoms, where)
    graph = build_graph(
        [(atoms.positions, atoms.cell[:], types, True)],
        model.r_max,
        dtype=model.dtype,
        num_types=model.num_types,
    )
    with torch.inference_mode():
        out = model(graph, compute_forces=False, create_graph=False)
    return out["per_atom"][TARGET].double().numpy()


def default_output(path) -> Path:
    """GLASS.predicted.extxyz beside GLASS.extxyz."""
    path = Path(path)
    return path.with_name(f"{path.stem}.predicted{path.suffix or '.extxyz'}")


def predict_file(model_path, glass_path, out=None, *, backend: str = "cpu") -> dict:
    """Predict the barriers of every frame of `glass_path` and write the copy to `out`
    (default: default_output). Returns {"out", "atoms", "frames", "seconds" (wall time of
    the neighbour lists and model, all frames), "cpu_seconds" (the process's CPU time
    over the same span: the work, whatever else the machine runs), "load_seconds",
    "threads"}. InputError when `out` is the
    input file."""
    glass_path = Path(glass_path)
    out = default_output(glass_path) if out is None else Path(out)
    if out.exists() and os.path.samefile(out, glass_path) or out.resolve() == glass_path.resolve():
        raise InputError(f"--out {out} is the input file; predict writes a copy, never over it")
    started = time.perf_counter()
    model = load_barrier_model(model_path, backend=backend)
    frames = read_extxyz(glass_path)
    load_seconds = time.perf_counter() - started
    predictions, seconds, cpu_seconds = [], 0.0, 0.0
    for index, atoms in enumerate(frames):
        where = f"{glass_path} frame {index}"
        _check_frame_units(atoms, where)
        structure_types(atoms, where)
        started, cpu_started = time.perf_counter(), time.process_time()
        predictions.append(predict_barriers(model, atoms, where))
        seconds += time.perf_counter() - started
        cpu_seconds += time.process_time() - cpu_started
    for atoms, barrier in zip(frames, predictions):
        if TARGET in atoms.arrays:
            atoms.new_array(REFERENCE_COLUMN, np.asarray(atoms.arrays.pop(TARGET), np.float64))
        atoms.new_array(TARGET, barrier)
        atoms.info["barrier_model"] = os.fspath(model_path)
        atoms.info["units"] = json.dumps(ATOMISTIC)
    write_extxyz(out, frames)
    return {
        "out": os.fspath(out),
        "atoms": int(sum(len(a) for a in frames)),
        "frames": len(frames),
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "load_seconds": load_seconds,
        "threads": torch.get_num_threads(),
    }
