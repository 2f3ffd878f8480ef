"""Argon training data: the fcc lattice and the molecular-dynamics protocol of the study
(issue 14): 4x4x4 fcc cells (256 atoms), NPT at 10 K and 137.3 bar, NVT at 10 K, then the
temperature ramped from 10 K to 105 K and held there, a frame every 100 steps, several
independent seeded trajectories. Every size is configurable; the defaults fit a laptop.

The ramp runs at constant pressure by default (``ramp_ensemble="npt"``). The study ramps at
constant volume, but at the volume of the 10 K crystal the crystal does not melt: measured
with LAMMPS (256 atoms, 40 ps ramps), its structure factor order is still 0.85-0.9 at the
end of NVT ramps to 105, 130 and even 160 K. At 137.3 bar a 40 ps ramp to 105 K followed by
a 20 ps hold at 105 K melts every trajectory tried (order below 0.1, the volume per atom up
from 37 to 50 Angstrom^3), which gives the crystal and liquid frames the study trains on.
``ramp_ensemble="nvt"`` keeps the study's literal protocol.

The engine is LAMMPS (``lj/cut``) when it can be loaded, else ASE's integrators with
pgnfast's Lennard-Jones (``engine="auto"``). Every frame's labels (energy, forces,
per-atom energies, the virial stress) are recomputed by pgnfast's Lennard-Jones. Units
Angstrom, eV, fs, amu, K, bar.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import ase
import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator
from ase.stress import full_3x3_to_voigt_6_stress

from ..._atomic import write_json
from ...data.io import write_extxyz
from ...errors import InputError
from ...geometry import fractional
from ...md.protocol import MDSettings, Stage
from ...units import ATOMISTIC
from ...validation import TYPE_COLUMN, check_positive, check_seed
from .reference import MASS, SYMBOL, argon_lj, lammps_pair_commands

LATTICES = ("fcc",)
ENGINES = ("auto", "lammps", "ase")
RAMP_ENSEMBLES = ("npt", "nvt")
FCC_BASIS = np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5]])
DATASET_FORMAT = "pgnfast-argon-md"


def _count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def lattice_sites(n_cells: int, lattice_constant: float, lattice: str = "fcc"):
    """(positions (4 n^3, 3) Angstrom, cell (3, 3)) of n x n x n conventional cubic cells."""
    if lattice not in LATTICES:
        raise InputError(f"lattice must be one of {LATTICES}, got {lattice!r}")
    n = _count(n_cells, "n_cells", 1)
    a = check_positive(lattice_constant, "lattice_constant (Angstrom)")
    grid = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), axis=-1).reshape(-1, 1, 3)
    positions = ((grid + FCC_BASIS[None]).reshape(-1, 3)) * a
    return positions, np.eye(3) * (n * a)


def fcc_lattice(n_cells: int, lattice_constant: float, lattice: str = "fcc") -> ase.Atoms:
    """Argon atoms on an fcc lattice of n x n x n conventional cells (4 n^3 atoms),
    periodic, lattice constant in Angstrom."""
    positions, cell = lattice_sites(n_cells, lattice_constant, lattice)
    return ase.Atoms(
        symbols=[SYMBOL] * len(positions),
        positions=positions,
        cell=cell,
        pbc=True,
        masses=np.full(len(positions), MASS),
    )


def crystal_order(positions, cell, n_cells: int, lattice: str = "fcc") -> float:
    """Mean |structure factor amplitude| over the fcc reciprocal vectors (1,1,1) and (2,0,0)
    types, taken in the supercell's own (possibly strained) axes: near exp(-k^2 <u^2> / 6)
    (about 0.9) for the crystal at 10 K, about 1/sqrt(N) for a liquid. Invariant under
    drift of the whole system."""
    if lattice not in LATTICES:
        raise InputError(f"lattice must be one of {LATTICES}, got {lattice!r}")
    n = _count(n_cells, "n_cells", 1)
    scaled = fractional(np.asarray(positions, np.float64), np.asarray(cell, np.float64))
    vectors = np.array(
        [[1, 1, 1], [1, 1, -1], [1, -1, 1], [-1, 1, 1], [2, 0, 0], [0, 2, 0], [0, 0, 2]]
    )
    phases = 2.0 * np.pi * n * scaled @ vectors.T  # (N, 7)
    return float(np.mean(np.abs(np.exp(1j * phases).mean(axis=0))))


def lattice_msd(positions, cell, n_cells: int, lattice: str = "fcc") -> float:
    """Mean squared displacement (Angstrom^2) of atom k from lattice site k (the order of
    :func:`lattice_sites`), sites scaled to `cell`, nearest periodic image, the mean
    displacement (drift) removed: a fraction of an Angstrom^2 in the crystal, several
    Angstrom^2 and growing once atoms leave their sites (melting)."""
    sites, site_cell = lattice_sites(n_cells, 1.0, lattice)
    cell = np.asarray(cell, np.float64)
    positions = np.asarray(positions, np.float64)
    if positions.shape != sites.shape:
        raise InputError(
            f"positions must have shape {sites.shape} ({n_cells}^3 {lattice} cells), got "
            f"{positions.shape}"
        )
    steps = fractional(positions, cell) - fractional(sites, site_cell)
    steps -= np.round(steps)
    steps -= steps.mean(axis=0)
    displacements = steps @ cell
    return float(np.mean(np.einsum("ik,ik->i", displacements, displacements)))


@dataclass(frozen=True)
class ArgonDataConfig:
    """The data protocol's sizes (Angstrom, K, bar, fs). Defaults: 256 atoms, 2 seeded
    trajectories of 1000 (NPT) + 1000 (NVT) + 8000 (ramp) + 4000 (hold at melt_temperature)
    steps of 5 fs, a frame every 100 steps; the ramp and the hold run in `ramp_ensemble`
    ("npt" at `pressure`, or "nvt" at the NPT stage's final volume); thermostat and
    barostat damping times default to 100 and 1000 timesteps."""

    n_cells: int = 4
    lattice: str = "fcc"
    lattice_constant: float = 5.26
    temperature: float = 10.0
    pressure: float = 137.3
    melt_temperature: float = 105.0
    npt_steps: int = 1000
    nvt_steps: int = 1000
    ramp_steps: int = 8000
    hold_steps: int = 4000
    ramp_ensemble: str = "npt"
    timestep: float = 5.0
    frame_every: int = 100
    trajectories: int = 2
    seed: int = 0
    engine: str = "auto"
    thermostat_damping: float | None = None
    barostat_damping: float | None = None

    def __post_init__(self):
        lattice_sites(self.n_cells, self.lattice_constant, self.lattice)
        check_positive(self.temperature, "temperature (K)")
        check_positive(self.melt_temperature, "melt_temperature (K)")
        if not isinstance(self.pressure, (int, float)) or not math.isfinite(self.pressure):
            raise InputError(f"pressure must be a finite number (bar), got {self.pressure!r}")
        for name in ("npt_steps", "nvt_steps", "ramp_steps", "hold_steps"):
            _count(getattr(self, name), name, 0)
        if self.npt_steps + self.nvt_steps + self.ramp_steps + self.hold_steps == 0:
            raise InputError(
                "npt_steps, nvt_steps, ramp_steps and hold_steps are all 0: nothing to run"
            )
        if self.ramp_ensemble not in RAMP_ENSEMBLES:
            raise InputError(
                f"ramp_ensemble must be one of {RAMP_ENSEMBLES}, got {self.ramp_ensemble!r}"
            )
        check_positive(self.timestep, "timestep (fs)")
        _count(self.frame_every, "frame_every", 1)
        _count(self.trajectories, "trajectories", 1)
        check_seed(self.seed)
        if self.engine not in ENGINES:
            raise InputError(f"engine must be one of {ENGINES}, got {self.engine!r}")
        self.md_settings(0)

    def md_settings(self, seed: int) -> MDSettings:
        """The integration settings of the trajectory with `seed`."""
        return MDSettings(
            timestep=self.timestep,
            frame_every=self.frame_every,
            seed=seed,
            thermostat_damping=self.thermostat_damping,
            barostat_damping=self.barostat_damping,
        )

    def stages(self) -> list[Stage]:
        """NPT at `temperature` and `pressure`, NVT at `temperature`, a ramp to
        `melt_temperature` and a hold there in `ramp_ensemble` (stages of 0 steps left out)."""
        melt = self.ramp_ensemble
        pressure = self.pressure if melt == "npt" else None
        stages = [
            Stage("npt", self.npt_steps, self.temperature, pressure=self.pressure, name="npt"),
            Stage("nvt", self.nvt_steps, self.temperature, name="nvt"),
            Stage(
                melt,
                self.ramp_steps,
                self.temperature,
                self.melt_temperature,
                pressure=pressure,
                name="ramp",
            ),
            Stage(melt, self.hold_steps, self.melt_temperature, pressure=pressure, name="hold"),
        ]
        return [stage for stage in stages if stage.steps > 0]

    def trajectory_seeds(self) -> list[int]:
        """One independent seed per trajectory, derived from `seed`."""
        children = np.random.SeedSequence(self.seed).spawn(self.trajectories)
        return [int(child.generate_state(1)[0]) for child in children]


def resolve_engine(engine: str) -> str:
    """ "lammps" or "ase" for `engine` ("auto": LAMMPS when it loads)."""
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine != "auto":
        return engine
    from ...md.lammps import lammps_available

    return "lammps" if lammps_available() else "ase"


def label(frame: ase.Atoms, potential=None) -> ase.Atoms:
    """`frame` with energy, forces, per-atom energies and (for a fully periodic cell) the
    virial stress of pgnfast's Lennard-Jones (eV, eV/Angstrom, eV/Angstrom^3: dE/d strain /
    volume, ASE's sign, no kinetic part) as a SinglePointCalculator and the `type` column
    (all 0)."""
    from ...md.calculator import pair_results

    potential = potential or argon_lj()
    periodic = bool(np.all(frame.pbc))
    results = pair_results(potential, frame.positions, frame.cell[:], frame.pbc, stress=periodic)
    labeled = frame.copy()
    labeled.new_array(TYPE_COLUMN, np.zeros(len(frame), np.int64))
    labeled.calc = SinglePointCalculator(
        labeled,
        energy=float(results["energy"]),
        forces=np.asarray(results["forces"]),
        energies=np.asarray(results["energies"]),
        **({"stress": full_3x3_to_voigt_6_stress(results["stress"])} if periodic else {}),
    )
    return labeled


def run_trajectory(config: ArgonDataConfig, seed: int) -> list:
    """Labeled frames of one trajectory of the protocol from the perfect lattice."""
    engine = resolve_engine(config.engine)
    start = fcc_lattice(config.n_cells, config.lattice_constant, config.lattice)
    settings = config.md_settings(seed)
    if engine == "lammps":
        from ...md.lammps_md import run_lammps

        frames = run_lammps(start, config.stages(), lammps_pair_commands(), settings)
    else:
        from ...md.ase_md import run_ase
        from ...md.calculator import PotentialCalculator

        frames = run_ase(start, config.stages(), PotentialCalculator(argon_lj()), settings)
    potential = argon_lj()
    labeled = [label(frame, potential) for frame in frames]
    for frame in labeled:
        frame.info.update({"engine": engine, "seed": int(seed)})
    return labeled


def generate_dataset(config: ArgonDataConfig, out, *, progress: bool = False) -> Path:
    """Run every trajectory and write the dataset folder `out`: shards/trajectory_KKK.extxyz
    and manifest.json (shards, units Angstrom/eV, engine, the config). Returns `out`.
    progress: a tqdm bar over the trajectories."""
    if not isinstance(config, ArgonDataConfig):
        raise InputError(f"config must be an ArgonDataConfig, got {type(config).__name__}")
    out = Path(out)
    engine = resolve_engine(config.engine)
    config = dataclasses.replace(config, engine=engine)
    shards = []
    from tqdm import tqdm

    seeds = config.trajectory_seeds()
    for index, seed in enumerate(tqdm(seeds, desc="argon MD", disable=not progress)):
        frames = run_trajectory(config, seed)
        for frame in frames:
            frame.info["trajectory"] = index
        name = f"shards/trajectory_{index:03d}.extxyz"
        write_extxyz(out / name, frames)
        shards.append({"file": name, "frames": len(frames), "seed": seed})
    write_json(
        out / "manifest.json",
        {
            "format": DATASET_FORMAT,
            "units": dict(ATOMISTIC),
            "potential": repr(argon_lj()),
            "engine": engine,
            "config": dataclasses.asdict(config),
            "shards": shards,
        },
    )
    return out


__all__ = [
    "ArgonDataConfig",
    "crystal_order",
    "fcc_lattice",
    "generate_dataset",
    "label",
    "lattice_msd",
    "lattice_sites",
    "resolve_engine",
    "run_trajectory",
]
