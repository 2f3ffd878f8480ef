"""`ArgonRunConfig`: every size of `pgnfast argon`, one section per stage.

Sections: ``data`` (:class:`~.data.ArgonDataConfig`), ``models``
(:class:`~.models.ArgonModelsConfig`), ``phonons`` (:class:`PhononSettings`), ``spectra``
(:class:`~.spectra.SpectraConfig`), ``vacancy`` (:class:`VacancySettings`), ``drift``
(:class:`DriftSettings`), ``hops`` (:class:`~.hops.HopRunConfig` without its lattice
constant, which is the exact potential's relaxed 0 K one) and ``model_hops``
(:class:`ModelHopSettings`: the models' hop runs). ``threads`` and ``progress``
change how the stages run, not what they compute, so they are left out of the stage keys.
:meth:`ArgonRunConfig.default` fits a 2-core laptop in about 15 minutes,
:meth:`ArgonRunConfig.quick` in about 5; ``examples/argon.yaml`` gives the study's sizes.
Units Angstrom, eV, fs, amu, K, bar.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..._config import check_keys, field_names, from_yaml
from ...errors import InputError
from ...validation import check_positive, check_seed
from .data import ArgonDataConfig, _count
from .hops import HopRunConfig, short_hop_config
from .models import ArgonModelsConfig
from .spectra import SpectraConfig

TUPLE_FIELDS = (
    "temperatures",
    "bounds",
    "models",
)  # YAML lists -> tuples (hashable, as the defaults)
HOPS_FIXED = ("lattice_constant",)  # set from the exact potential's 0 K relaxation


@dataclass(frozen=True)
class PhononSettings:
    """0 K phonons: supercell n x n x n conventional cells (force constants), band points per
    segment, DOS mesh and smearing (THz), the lattice-constant search (bounds Angstrom,
    `relax_n_cells` cells) and the finite-difference step (Angstrom) of forces-only models."""

    n_cells: int = 4
    band_points: int = 51
    mesh: int = 16
    dos_sigma: float = 0.05
    bounds: tuple = (4.8, 6.0)
    relax_n_cells: int = 3
    step: float = 1e-3

    def __post_init__(self):
        for name in ("n_cells", "relax_n_cells", "band_points", "mesh"):
            _count(getattr(self, name), f"phonons.{name}", 2 if name == "band_points" else 1)
        check_positive(self.dos_sigma, "phonons.dos_sigma (THz)")
        check_positive(self.step, "phonons.step (Angstrom)")
        if len(self.bounds) != 2 or not 0 < self.bounds[0] < self.bounds[1]:
            raise InputError(f"phonons.bounds must be (low, high) Angstrom, got {self.bounds!r}")


@dataclass(frozen=True)
class VacancySettings:
    """The vacancy at 0 K: n x n x n cells, NEB and string images, the bands' force tolerance
    (eV/Angstrom), the temperatures (K) of the harmonic rates and the models studied (those
    with an energy: "exact", "NequIP")."""

    n_cells: int = 3
    neb_images: int = 7
    string_images: int = 9
    fmax: float = 1e-3
    temperatures: tuple = (60.0, 80.0)
    models: tuple = ("exact", "NequIP")

    def __post_init__(self):
        unknown = set(self.models) - {"exact", "NequIP"}
        if unknown or not self.models:
            raise InputError(
                f"vacancy.models must list some of ('exact', 'NequIP') (models with an "
                f"energy), got {self.models!r}"
            )
        _count(self.n_cells, "vacancy.n_cells", 2)
        _count(self.neb_images, "vacancy.neb_images", 3)
        _count(self.string_images, "vacancy.string_images", 3)
        check_positive(self.fmax, "vacancy.fmax (eV/Angstrom)")
        if not self.temperatures:
            raise InputError("vacancy.temperatures must list at least one temperature (K)")
        for t in self.temperatures:
            check_positive(t, "vacancy.temperatures (K)")


@dataclass(frozen=True)
class DriftSettings:
    """NVE drift: n x n x n cells at each model's 0 K lattice constant, velocities drawn at
    `temperature` K, `steps` of `timestep` fs (velocity Verlet, ASE), energy every
    `record_every` steps."""

    n_cells: int = 3
    temperature: float = 20.0
    timestep: float = 5.0
    steps: int = 1000
    record_every: int = 10
    seed: int = 0

    def __post_init__(self):
        _count(self.n_cells, "drift.n_cells", 1)
        check_positive(self.temperature, "drift.temperature (K)")
        check_positive(self.timestep, "drift.timestep (fs)")
        _count(self.record_every, "drift.record_every", 1)
        if _count(self.steps, "drift.steps", 1) < 3 * self.record_every:
            raise InputError("drift.steps must give at least 3 records (3 x record_every)")
        check_seed(self.seed)


MODEL_HOP_NAMES = ("NequIP", "direct force")


@dataclass(frozen=True)
class ModelHopSettings:
    """Vacancy hop runs with the trained models (LAMMPS fix external): for each of `models`
    ("NequIP", "direct force"), at each of `temperatures` K, `equilibration_steps` untracked
    and `chunks` checkpointed chunks of `chunk_steps` steps, with a Verlet skin of `skin`
    Angstrom; cell, ensemble, timestep, tracking and seed come from the `hops` section. Each
    model runs at its own 0 K lattice constant (the direct-force model at the exact one)."""

    models: tuple = MODEL_HOP_NAMES
    temperatures: tuple = (165.0,)
    equilibration_steps: int = 500
    chunk_steps: int = 1000
    chunks: int = 4
    skin: float = 1.0

    def __post_init__(self):
        unknown = [m for m in self.models if m not in MODEL_HOP_NAMES]
        if unknown or len(set(self.models)) != len(self.models):
            raise InputError(
                f"model_hops.models must list distinct names of {MODEL_HOP_NAMES}, got "
                f"{list(self.models)}"
            )
        if not self.temperatures:
            raise InputError("model_hops.temperatures must list at least one temperature (K)")
        for t in self.temperatures:
            check_positive(t, "model_hops.temperatures (K)")
        _count(self.equilibration_steps, "model_hops.equilibration_steps", 0)
        _count(self.chunk_steps, "model_hops.chunk_steps", 1)
        _count(self.chunks, "model_hops.chunks", 1)
        check_positive(self.skin, "model_hops.skin (Angstrom)")


def _default_hops() -> HopRunConfig:
    return short_hop_config()


@dataclass(frozen=True)
class ArgonRunConfig:
    """Every size of `pgnfast argon` (see the module docstring)."""

    data: ArgonDataConfig = field(default_factory=ArgonDataConfig)
    models: ArgonModelsConfig = field(default_factory=ArgonModelsConfig)
    phonons: PhononSettings = field(default_factory=PhononSettings)
    spectra: SpectraConfig = field(
        default_factory=lambda: SpectraConfig(
            temperatures=(20.0, 60.0),
            n_cells=2,
            equilibration_steps=200,
            production_steps=600,
            window_size=100,
        )
    )
    vacancy: VacancySettings = field(default_factory=VacancySettings)
    drift: DriftSettings = field(default_factory=lambda: DriftSettings(n_cells=2))
    hops: HopRunConfig = field(default_factory=_default_hops)
    model_hops: ModelHopSettings = field(default_factory=ModelHopSettings)
    threads: int | None = None
    progress: bool = True

    SECTIONS = {
        "data": ArgonDataConfig,
        "models": ArgonModelsConfig,
        "phonons": PhononSettings,
        "spectra": SpectraConfig,
        "vacancy": VacancySettings,
        "drift": DriftSettings,
        "hops": HopRunConfig,
        "model_hops": ModelHopSettings,
    }

    def __post_init__(self):
        for name, cls in self.SECTIONS.items():
            if not isinstance(getattr(self, name), cls):
                raise InputError(f"{name} must be a {cls.__name__}")
        if self.model_hops.chunk_steps % self.hops.frame_every:
            raise InputError(
                f"model_hops.chunk_steps ({self.model_hops.chunk_steps}) must be a multiple of "
                f"hops.frame_every ({self.hops.frame_every})"
            )
        if self.threads is not None:
            _count(self.threads, "threads", 1)

    @classmethod
    def default(cls) -> ArgonRunConfig:
        """The default sizes (about 15 minutes on a 2-core laptop)."""
        return cls()

    @classmethod
    def quick(cls) -> ArgonRunConfig:
        """`--quick` sizes (about 5 minutes on a 2-core laptop): 32-atom training frames, tiny
        models, 2 x 2 x 2 phonon and spectra cells, one short temperature, a 31-atom vacancy,
        a 107-atom hop run of 100 ps."""
        return cls(
            data=ArgonDataConfig(
                n_cells=2,
                npt_steps=200,
                nvt_steps=200,
                ramp_steps=800,
                hold_steps=400,
                frame_every=50,
            ),
            models=ArgonModelsConfig.quick(),
            phonons=PhononSettings(n_cells=2, band_points=21, mesh=8, relax_n_cells=2),
            spectra=SpectraConfig(
                temperatures=(20.0,),
                n_cells=2,
                equilibration_steps=100,
                production_steps=400,
                window_size=60,
                window_step=5,
            ),
            vacancy=VacancySettings(n_cells=2, neb_images=5, string_images=5, temperatures=(80.0,)),
            drift=DriftSettings(n_cells=2, steps=300),
            hops=short_hop_config(n_cells=3, chunks=5, chunk_steps=4000, equilibration_steps=500),
            model_hops=ModelHopSettings(equilibration_steps=100, chunk_steps=200, chunks=2),
        )

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values["hops"] = {k: v for k, v in values["hops"].items() if k not in HOPS_FIXED}
        return values

    @classmethod
    def from_dict(cls, values, base: ArgonRunConfig | None = None) -> ArgonRunConfig:
        """A config from a mapping {section: {field: value}, threads, progress}, over `base`
        (default sizes when None); unknown sections or fields raise InputError."""
        base = base or cls.default()
        values = check_keys(values, [*cls.SECTIONS, "threads", "progress", "quick"], "argon config")
        if values.pop("quick", False):
            base = cls.quick()
        changes = {}
        for name, section in cls.SECTIONS.items():
            if name not in values:
                continue
            allowed = field_names(section) - (set(HOPS_FIXED) if name == "hops" else set())
            given = check_keys(values.pop(name), allowed, f"argon config {name!r}")
            given = {k: tuple(v) if k in TUPLE_FIELDS else v for k, v in given.items()}
            try:
                changes[name] = dataclasses.replace(getattr(base, name), **given)
            except TypeError as error:
                raise InputError(f"argon config {name!r}: {error}") from error
        return dataclasses.replace(base, **changes, **values)

    @classmethod
    def from_yaml(cls, path) -> ArgonRunConfig:
        """A config from a YAML file (see :meth:`from_dict`; the file is named in errors)."""
        return from_yaml(cls, path)


__all__ = [
    "ArgonRunConfig",
    "DriftSettings",
    "ModelHopSettings",
    "PhononSettings",
    "VacancySettings",
]
