"""Run :class:`~pgnfast.md.protocol.Stage` lists in LAMMPS (``units metal``), collecting
frames in memory (see :mod:`pgnfast.md.protocol` for the protocol and its units)."""

from __future__ import annotations

import ase
import ase.units
import numpy as np

from ..errors import InputError
from .lammps import new_lammps
from .lammps_frames import gather, load_frame, read_box
from .protocol import MDSettings, check_stages, chunks, frame_info, velocity_seed

PS_PER_FS = 1e-3
# LAMMPS metal velocities (Angstrom/ps) to ASE's (Angstrom per ASE time unit)
ASE_VELOCITY_PER_LAMMPS = 1.0 / (1000.0 * ase.units.fs)


def _fix(stage, settings: MDSettings) -> str:
    tdamp = settings.tdamp * PS_PER_FS
    temperatures = f"temp {stage.temperature!r} {stage.final_temperature!r} {tdamp!r}"
    if stage.ensemble == "npt":
        pdamp = settings.pdamp * PS_PER_FS
        pressure = float(stage.pressure)
        return f"fix pgnfast_md all npt {temperatures} iso {pressure!r} {pressure!r} {pdamp!r}"
    return f"fix pgnfast_md all nvt {temperatures}"


def run_lammps(atoms, stages, pair_commands, settings: MDSettings | None = None) -> list:
    """Frames (ase.Atoms copies of `atoms` with the run's positions, cell and velocities;
    ``info`` names stage, step and target temperature) of an MD run through `stages` under
    the LAMMPS pair style `pair_commands`. `atoms` gives the start (positions Angstrom,
    cell, pbc, masses amu per chemical symbol)."""
    stages = check_stages(stages)
    settings = settings or MDSettings()
    if not isinstance(atoms, ase.Atoms) or len(atoms) == 0:
        raise InputError("atoms must be a non-empty ase.Atoms (the start of the run)")
    symbols = sorted(set(atoms.get_chemical_symbols()))
    types = np.array([symbols.index(s) for s in atoms.get_chemical_symbols()])
    masses = [float(atoms.get_masses()[types == k][0]) for k in range(len(symbols))]
    lmp = new_lammps(units="metal")
    frames = []
    try:
        rotation = load_frame(
            lmp, atoms.positions, atoms.cell[:], atoms.pbc, types=types, masses=masses
        )
        lmp.commands_list(list(pair_commands))
        lmp.commands_list(
            [
                f"timestep {settings.timestep * PS_PER_FS!r}",
                "thermo_style custom step temp pe press",
                "thermo 0",
                f"velocity all create {stages[0].temperature!r} {velocity_seed(settings.seed)} "
                "mom yes rot no dist gaussian",
            ]
        )
        current = None
        stage_start = 0
        for index, done, size, step, take in chunks(stages, settings.frame_every):
            stage = stages[index]
            if current != index:
                if current is not None:
                    lmp.command("unfix pgnfast_md")
                stage_start = step - size
                lmp.command(_fix(stage, settings))
                current = index
            lmp.command(f"run {size} start {stage_start} stop {stage_start + stage.steps} post no")
            if take:
                origin, cell = read_box(lmp)
                frame = atoms.copy()
                frame.set_cell(cell @ rotation.T, scale_atoms=False)
                frame.positions = (gather(lmp, "x") - origin) @ rotation.T
                frame.set_velocities(gather(lmp, "v") @ rotation.T * ASE_VELOCITY_PER_LAMMPS)
                frame.info.update(frame_info(index, stage, step, stage.target(done + size)))
                frames.append(frame)
    finally:
        lmp.close()
    return frames


__all__ = ["run_lammps"]
