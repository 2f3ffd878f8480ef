"""Sizes of the PGN study pipeline: one dataclass, the same for the demo and the full study.

Units: lengths nm, energies kT, temperatures in multiples of kT (beta = 1/T). Only sizes
change between `pgnfast demo` (`demo_config()`), its test (`tiny_config()`) and the full
study (`examples/study-pgn/*.yaml`, read with `StudyConfig.from_yaml`).
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict, dataclass, field

from pgnfast._config import check_keys, field_names, from_yaml
from pgnfast.dft.design import PGNDesign
from pgnfast.errors import InputError


def demo_design() -> dict:
    """The demo's bidisperse design: the default design (docs/dft.md) with a second, smaller
    core (radius 6.4 nm, size ratio 1.25) so the glass cannot crystallise (nm, chains/nm^2)."""
    return {
        "core_radius": [8.0, 6.4],
        "grafting_density": 1.0,
        "chain_length": 20,
        "kuhn_length": 1.0,
        "segment_volume": 0.5,
    }


@dataclass
class LabelSizes:
    """DFT labels. n_particles cores per configuration (the DFT's interaction reach needs
    N >= 64 for the demo design), n_configs configurations of `kind` (configurations.KINDS
    or "mixed"), type_fractions (None: equal), spacing (nm, None: a_min / 3), workers
    (local processes, None: one per core), scheduler (a dask.distributed address; then the
    labels run on that cluster)."""

    n_particles: int = 64
    n_configs: int = 200
    kind: str = "mixed"
    type_fractions: list | None = None
    spacing: float | None = None
    workers: int | None = None
    scheduler: str | None = None


@dataclass
class MCSizes:
    """Parallel tempering driven by the model. n_particles (larger than the DFT's), a
    geometric ladder of `count` temperatures from t_min to t_max (kT units), sweeps (each
    n_particles trial moves per replica), the first equilibration_sweeps tune step sizes
    and are left out of the statistics, frames every sample_every sweeps."""

    n_particles: int = 216
    t_min: float = 1.0
    t_max: float = 30.0
    count: int = 6
    sweeps: int = 60
    equilibration_sweeps: int = 20
    sample_every: int = 4
    checkpoint_every: int = 10


@dataclass
class CompareSizes:
    """Model-driven against DFT-driven Monte Carlo at the DFT's N, one temperature (kT
    units), the same start, seed and fixed step size (nm); `sweeps` of moves_per_sweep
    trial moves each, a frame after every sweep."""

    n_particles: int = 64
    temperature: float = 30.0
    step_size: float = 0.5
    sweeps: int = 8
    moves_per_sweep: int = 16


@dataclass
class CostSizes:
    """Cost per configuration at the DFT's N: n_configs test configurations, each timed
    `repeats` times with the model; batch: configurations per batched model call."""

    n_configs: int = 3
    repeats: int = 5
    batch: int = 16


@dataclass
class AnalysisSizes:
    """Structure analysis: g(r) bins (to half the box), S(q) up to q_max 1/nm in sq_bins
    bins, random_references random configurations for the high-temperature reference."""

    rdf_bins: int = 60
    q_max: float = 1.2
    sq_bins: int = 40
    random_references: int = 4


TRAIN_DEMO = {
    "model": {
        "r_max": 28.0,
        "num_layers": 1,
        "l_max": 1,
        "parity": True,
        "num_features": 16,
        "num_bessel": 8,
        "polynomial_cutoff_p": 6,
        "radial_mlp_depth": 1,
        "radial_mlp_width": 32,
        "backend": "auto",
    },
    "split": {"train": 0.8, "validation": 0.1, "test": 0.1},
    "batch_size": 4,
    "max_epochs": 80,
    "learning_rate": 0.01,
    "energy_weight": 1.0,
    "force_weight": 1.0,
    "lr_patience": 4,
    "early_stopping_patience": 10,
    "checkpoint_every": 200,
    "dtype": "float32",
}
# TrainConfig keys the pipeline sets itself (a `train:` section may not give them)
TRAIN_SET_BY_PIPELINE = (
    "data",
    "run_dir",
    "seed",
    "progress",
    "plots",
    "num_threads",
    "metadata",
    "units",
)


def _mapping(value, what: str) -> dict:
    """`value` (None: empty) as a dict copy; InputError naming `what` if it is no mapping."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a mapping of keys to values, got {type(value).__name__}")
    return copy.deepcopy(value)


def _train_settings(given) -> dict:
    """TRAIN_DEMO overridden by `given` (its model hyperparameters key by key), checked as
    pgnfast.train.TrainConfig checks them; keys that TrainConfig does not know, or that the
    pipeline sets itself, raise InputError."""
    from pgnfast.train.config import MODEL_KEYS, TrainConfig

    given = copy.deepcopy(check_keys(given, field_names(TrainConfig), "pipeline.train"))
    fixed = sorted(set(given) & set(TRAIN_SET_BY_PIPELINE))
    if fixed:
        raise InputError(
            f"pipeline.train keys {fixed} are set by the pipeline (data: its labels, run_dir: "
            "its train folder, seed: the pipeline's seed, ...); remove them"
        )
    train = copy.deepcopy(TRAIN_DEMO)
    train["model"].update(check_keys(given.pop("model", None), MODEL_KEYS, "pipeline.train.model"))
    train.update(given)
    try:
        TrainConfig.from_dict({**copy.deepcopy(train), "data": "labels"})
    except InputError as error:
        raise InputError(f"pipeline.train: {error}") from error
    return train


@dataclass
class PipelineConfig:
    """One design through the whole pipeline (labels -> model -> Monte Carlo -> structure).

    design: PGNDesign fields (nm, chains/nm^2). train: overrides of pgnfast.train.TrainConfig
    (model hyperparameters, split, epochs; the keys in TRAIN_SET_BY_PIPELINE, such as data,
    run_dir and seed, are set by the pipeline and refused here).
    threads: torch/Numba threads in this process. Models of a few hundred particles run
    fastest on one thread (more threads spin-wait for each other, badly so on a shared
    machine); labeling uses one process per core instead. None: all cores. seed: root seed.
    device: where the trained model runs for the cost measurement and Monte Carlo ("cpu",
    "cuda", "cuda:1").
    """

    name: str = "demo"
    seed: int = 0
    design: dict = field(default_factory=demo_design)
    labels: LabelSizes = field(default_factory=LabelSizes)
    train: dict = field(default_factory=lambda: copy.deepcopy(TRAIN_DEMO))
    mc: MCSizes = field(default_factory=MCSizes)
    compare: CompareSizes = field(default_factory=CompareSizes)
    cost: CostSizes = field(default_factory=CostSizes)
    analysis: AnalysisSizes = field(default_factory=AnalysisSizes)
    threads: int | None = 1
    device: str = "cpu"
    progress: bool = True

    _SECTIONS = {
        "labels": LabelSizes,
        "mc": MCSizes,
        "compare": CompareSizes,
        "cost": CostSizes,
        "analysis": AnalysisSizes,
    }

    def pgn_design(self) -> PGNDesign:
        return PGNDesign.from_dict(self.design)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> PipelineConfig:
        """Build from a (partial) dict; missing keys keep the demo's. Unknown keys, in the
        top level or a section, raise InputError naming the section."""
        values = copy.deepcopy(check_keys(values, field_names(cls), "pipeline"))
        for name, section in cls._SECTIONS.items():
            if name in values and not isinstance(values[name], section):
                given = check_keys(values[name], field_names(section), f"pipeline.{name}")
                values[name] = section(**given)
        if "train" in values:
            values["train"] = _train_settings(values["train"])
        if "design" in values:
            values["design"] = _mapping(values["design"], "pipeline.design")
        config = cls(**values)
        config.pgn_design()  # validate early
        return config

    @classmethod
    def from_yaml(cls, path) -> PipelineConfig:
        """Read a YAML file of PipelineConfig keys; errors name the file."""
        return from_yaml(cls, path)

    def section_hash(self, *names: str, extra=None) -> str:
        """sha256 (16 hex digits) of the named sections (and `extra`): a stage's identity."""
        data = self.to_dict()
        payload = {name: data[name] for name in names}
        payload["extra"] = extra
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def demo_config(*, seed: int = 0, quick: bool = False) -> PipelineConfig:
    """The `pgnfast demo` sizes (about 6-8 minutes on 2 cores); quick: about a third."""
    config = PipelineConfig(name="demo", seed=seed)
    if quick:
        config.labels.n_configs = 80
        config.train["max_epochs"] = 20
        config.mc.n_particles = 128
        config.mc.sweeps = 24
        config.mc.equilibration_sweeps = 8
        config.compare.sweeps = 3
    return config


def tiny_config(*, seed: int = 0) -> PipelineConfig:
    """Reduced sizes for the tests (every stage runs, in well under a minute)."""
    config = PipelineConfig(name="tiny", seed=seed, progress=False)
    config.labels.n_configs = 10
    config.labels.kind = "random"
    config.train.update(
        {"max_epochs": 2, "batch_size": 2, "split": {"train": 6, "validation": 2, "test": 2}}
    )
    config.train["model"].update({"num_features": 4, "radial_mlp_width": 8, "num_bessel": 4})
    config.mc = MCSizes(
        n_particles=80,
        count=3,
        sweeps=4,
        equilibration_sweeps=2,
        sample_every=1,
        checkpoint_every=1,
    )
    config.compare = CompareSizes(sweeps=2, moves_per_sweep=2)
    config.cost = CostSizes(n_configs=1, repeats=2, batch=2)
    config.analysis = AnalysisSizes(rdf_bins=20, sq_bins=10, random_references=1)
    return config


@dataclass
class StudyConfig:
    """`pgnfast study-pgn`: several designs through the same pipeline.

    output: folder (one sub-folder per design). designs: list of {name, design fields}.
    pipeline: the PipelineConfig sizes shared by every design (its design/name are set per
    design). scheduler: dask.distributed address for the labels (overrides
    pipeline.labels.scheduler).
    """

    output: str = "study-pgn"
    designs: list = field(default_factory=list)
    pipeline: dict = field(default_factory=dict)
    scheduler: str | None = None

    @classmethod
    def from_dict(cls, values: dict) -> StudyConfig:
        """Build from a dict (see the class docstring); unknown keys, no designs, designs
        without a distinct name and bad sizes raise InputError."""
        study = cls(**check_keys(values, field_names(cls), "study"))
        if not isinstance(study.designs, list) or not study.designs:
            raise InputError("a study needs at least one entry under designs: (a list)")
        names = []
        for index, entry in enumerate(study.designs):
            names.append(_mapping(entry, f"designs[{index}]").get("name"))
            if not names[-1] or names[-1] in names[:-1]:
                raise InputError(
                    f"every design needs a distinct name: designs[{index}] has name "
                    f"{names[-1]!r} (names so far {names})"
                )
        study.pipeline = _mapping(study.pipeline, "pipeline")
        study.pipelines()  # validate every design and the sizes
        return study

    @classmethod
    def from_yaml(cls, path) -> StudyConfig:
        """Read a study YAML file; errors name the file."""
        return from_yaml(cls, path)

    def pipelines(self) -> list[PipelineConfig]:
        """One PipelineConfig per design."""
        out = []
        for entry in self.designs:
            entry = dict(entry)
            name = entry.pop("name")
            values = copy.deepcopy(self.pipeline)
            values.update(name=name, design=entry)
            if self.scheduler:
                values["labels"] = {**(values.get("labels") or {}), "scheduler": self.scheduler}
            try:
                out.append(PipelineConfig.from_dict(values))
            except InputError as error:
                raise InputError(f"design {name!r}: {error}") from error
        return out
