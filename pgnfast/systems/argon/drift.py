"""NVE energy drift of argon MD with any pgnfast potential or model (issue 14).

The conserved quantity is kinetic plus potential energy. Which potential energy is a choice
the result names (``energy_source``):

- "model": the model's own energy (NequIP, or the exact potential driving itself): the
  energy its own forces conserve, so drift measures the integrator and the model's
  smoothness;
- "exact": the exact Lennard-Jones energy along the model's trajectory: the only choice
  for the direct-force model, which has no energy. A non-conservative force field has no
  conserved energy at all, and this drift measures how far its dynamics leave the exact
  energy surface.

The drift is the slope of a least-squares line through the total energy per atom against
time, in eV per atom per ns; the fluctuation is the RMS about that line. Note the exact
potential is cut at 8.5 Angstrom without a shift (as LAMMPS ``lj/cut``): each pair crossing
the cutoff makes its energy jump by 4 eps (2.5^-12 - 2.5^-6) ~ -1.7e-4 eV, a source of
fluctuation (and of drift at large timesteps) that no integrator removes.
Units Angstrom, eV, fs, amu, K.
"""

from __future__ import annotations

import numpy as np

from ...errors import InputError
from ...md.calculator import as_force_field
from ...validation import check_positive
from .reference import argon_lj

ENGINES = ("ase", "lammps")
ENERGY_SOURCES = ("auto", "model", "exact")
FS_PER_NS = 1e6


def drift_rate(time_fs, total_energy, num_atoms: int) -> dict:
    """Slope (eV per atom per ns), RMS about the line and largest deviation from the start
    (eV per atom) of a total-energy series (eV) against time (fs)."""
    time_fs = np.asarray(time_fs, np.float64)
    per_atom = np.asarray(total_energy, np.float64) / int(num_atoms)
    if len(time_fs) < 3 or len(time_fs) != len(per_atom):
        raise InputError(
            f"a drift needs at least 3 matching times and energies, got {len(time_fs)} and "
            f"{len(per_atom)}"
        )
    if not np.all(np.isfinite(per_atom)):
        raise InputError("the total energy is not finite along the run (the MD blew up?)")
    slope, intercept = np.polyfit(time_fs, per_atom, 1)
    residual = per_atom - (slope * time_fs + intercept)
    return {
        "drift_ev_per_atom_per_ns": float(slope * FS_PER_NS),
        "fluctuation_ev_per_atom": float(np.sqrt(np.mean(residual**2))),
        "max_deviation_ev_per_atom": float(np.max(np.abs(per_atom - per_atom[0]))),
    }


def nve_drift(
    atoms,
    source,
    *,
    timestep: float,
    steps: int,
    engine: str = "ase",
    energy: str = "auto",
    initial_temperature: float | None = None,
    record_every: int = 10,
    seed: int = 0,
    skin: float = 0.0,
    units=None,
) -> dict:
    """NVE (velocity Verlet) drift of `source` (a pgnfast potential, a NequIP or
    direct-force model, or a model file checked against `units`) from `atoms` (argon;
    velocities kept unless initial_temperature K is given, drawn for `seed`).

    engine: "ase" (ASE's VelocityVerlet) or "lammps" (``fix nve`` + ``fix external``).
    energy: "model" (the source's own energy), "exact" (the exact Lennard-Jones energy along
    the trajectory) or "auto" (the model's when it has one, else exact). timestep fs.

    Returns a dict: energy_source, drift_ev_per_atom_per_ns, fluctuation_ev_per_atom,
    max_deviation_ev_per_atom, timestep_fs, steps, duration_ps, engine, num_atoms,
    mean_temperature_k, and the series time_fs, total_energy_ev (lists)."""
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {ENGINES}, got {engine!r}")
    if energy not in ENERGY_SOURCES:
        raise InputError(f"energy must be one of {ENERGY_SOURCES}, got {energy!r}")
    timestep = check_positive(timestep, "timestep (fs)")
    field = as_force_field(source, units=units, skin=skin)
    if energy == "auto":
        energy = "model" if field.has_energy else "exact"
    if energy == "model" and not field.has_energy:
        raise InputError(
            f"energy='model' needs a model with an energy; {field.name} predicts forces only "
            f"(use energy='exact': the exact Lennard-Jones energy along its trajectory)"
        )
    options = dict(
        steps=steps,
        timestep=timestep,
        initial_temperature=initial_temperature,
        record_every=record_every,
        keep_positions=energy == "exact",
        seed=seed,
    )
    if engine == "ase":
        from ...md.ase_md import run_md

        record = run_md(atoms, field, **options)
    else:
        from ...md.fix_external import run_fix_external

        record = run_fix_external(atoms, field, **options)
    if energy == "exact":
        exact = argon_lj()
        potential = np.array(
            [
                exact.energy(positions, cell, None, atoms.pbc)
                for positions, cell in zip(record["positions"], record["cells"])
            ]
        )
    else:
        potential = record["potential_energy"]
    total = record["kinetic_energy"] + potential
    result = drift_rate(record["time_fs"], total, len(atoms))
    result.update(
        energy_source=energy,
        timestep_fs=timestep,
        steps=int(steps),
        duration_ps=float(steps * timestep / 1000.0),
        engine=engine,
        num_atoms=len(atoms),
        mean_temperature_k=float(np.mean(record["temperature"])),
        time_fs=record["time_fs"].tolist(),
        total_energy_ev=total.tolist(),
    )
    return result


__all__ = ["ENERGY_SOURCES", "drift_rate", "nve_drift"]
