"""`label`: the labeling farm. Units: nm, kT.

Every configuration is hashed (positions, cell, types, design, solver settings); its label
goes to shards/<hash>.extxyz by atomic rename, so a rerun skips finished work and a crash
loses nothing already written. manifest.json lists the shards and the failures (invalid or
unconverged configurations are reported there, never stored as labels). Work runs on a
local process pool (default, Numba threads pinned per worker) or any
concurrent.futures.Executor, such as a dask.distributed Client's get_executor().
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing
import os
import time
from pathlib import Path

import numpy as np

from pgnfast.dft.design import PGNDesign

from .._atomic import write_json
from ..errors import InputError
from ..units import PGN
from ..validation import read_type_column
from .io import labeled_frame, write_extxyz


def content_hash(atoms, design: PGNDesign, settings: dict) -> str:
    """sha256 (first 20 hex digits) of a configuration plus everything its label depends on."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(atoms.positions, dtype=np.float64).tobytes())
    digest.update(np.ascontiguousarray(atoms.cell[:], dtype=np.float64).tobytes())
    digest.update(np.ascontiguousarray(_types(atoms), dtype=np.int64).tobytes())
    digest.update(json.dumps([design.to_dict(), settings], sort_keys=True).encode())
    return digest.hexdigest()[:20]


def _types(atoms, n_types: int | None = None):
    """The particle types (the `type` column, or a legacy name; zeros when neither exists
    and the design has one type)."""
    return read_type_column(atoms, n_types)


def _pin_threads(threads: int) -> None:
    """Limit a worker's OpenMP/BLAS threads. Numba's are limited per task with
    numba.set_num_threads: setting NUMBA_NUM_THREADS here would clash with a Numba already
    imported by the worker (it refuses a new value once its threads exist)."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)


def label_one(atoms, design: PGNDesign, settings: dict, threads: int | None = None):
    """Label one configuration: ("ok", frame) or ("failed", reason). Runs in a worker."""
    import numba

    from pgnfast.dft import DFTInputError, NotConverged, solve

    if threads:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    key = content_hash(atoms, design, settings)
    try:
        types = _types(atoms, design.n_types) if design.n_types > 1 else None
        result = solve(atoms.positions, atoms.cell[:], design, types=types, **settings)
    except NotConverged as err:
        return key, "failed", f"not converged: {err}"
    except DFTInputError as err:
        return key, "failed", f"invalid input: {err}"
    return key, "ok", labeled_frame(atoms, result, design, key)


def _write_manifest(out: Path, shards: dict, failures: dict, design: PGNDesign, settings):
    manifest = {
        "units": dict(PGN),
        "design": design.to_dict(),
        "settings": settings,
        "shards": [{"hash": k, "file": f"shards/{k}.extxyz"} for k in shards],
        "failures": [{"hash": k, "reason": v} for k, v in failures.items()],
    }
    write_json(out / "manifest.json", manifest, indent=1)


def label(
    configurations,
    design: PGNDesign,
    out_dir,
    *,
    executor=None,
    workers=None,
    spacing=None,
    tol=1e-10,
    progress=True,
) -> Path:
    """Label `configurations` (ase.Atoms, nm) with the PGN DFT into the dataset `out_dir`.

    executor: any concurrent.futures.Executor (e.g. dask Client.get_executor()); default a
    local process pool of `workers` processes (default: one per core, one Numba thread each).
    Already labeled configurations (same hash) are skipped. Returns out_dir; failures are
    listed in out_dir/manifest.json and summarised in a warning, never stored as labels.
    """
    out = Path(out_dir)
    (out / "shards").mkdir(parents=True, exist_ok=True)
    settings = {"spacing": spacing, "tol": tol}
    configurations = list(configurations)
    _check_configurations(configurations, design)
    keys = [content_hash(a, design, settings) for a in configurations]
    shards = {k: True for k in keys if (out / "shards" / f"{k}.extxyz").exists()}
    failures: dict[str, str] = {}
    todo = [(k, a) for k, a in zip(keys, configurations) if k not in shards]
    todo = list({k: a for k, a in todo}.values())  # duplicates are labeled once
    own_pool = executor is None
    cores = os.cpu_count() or 1
    if own_pool:
        workers = workers or cores
        executor = cf.ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_pin_threads,
            initargs=(max(1, cores // workers),),
        )
    threads = max(1, cores // (workers or cores))
    try:
        _run(executor, todo, design, settings, threads, out, shards, failures, progress)
    finally:
        ordered = {k: True for k in keys if k in shards}
        _write_manifest(out, ordered, failures, design, settings)
        if own_pool:
            executor.shutdown(wait=True, cancel_futures=True)
    if failures:
        import warnings

        warnings.warn(
            f"{len(failures)} configurations were not labeled (see {out / 'manifest.json'})",
            RuntimeWarning,
            stacklevel=2,
        )
    return out


def _check_configurations(configurations, design: PGNDesign) -> None:
    """InputError naming the first configuration that is no ase.Atoms or whose types do not
    fit the design."""
    import ase

    for index, atoms in enumerate(configurations):
        if not isinstance(atoms, ase.Atoms):
            raise InputError(
                f"configuration {index} must be an ase.Atoms, got {type(atoms).__name__}"
            )
        try:
            read_type_column(atoms, design.n_types)
        except InputError as error:
            raise InputError(f"configuration {index}: {error}") from error


def _run(executor, todo, design, settings, threads, out, shards, failures, progress):
    from tqdm.auto import tqdm

    futures = [executor.submit(label_one, a, design, settings, threads) for a in todo]
    bar = tqdm(total=len(futures), unit="config", disable=not progress, desc="labeling")
    start = time.perf_counter()
    try:
        for future in cf.as_completed(futures):
            key, status, payload = future.result()
            if status == "ok":
                write_extxyz(out / "shards" / f"{key}.extxyz", [payload])
                shards[key] = True
            else:
                failures[key] = payload
            bar.update(1)
            bar.set_postfix(
                failed=len(failures), rate=f"{bar.n / max(time.perf_counter() - start, 1e-9):.2f}/s"
            )
    finally:
        bar.close()
