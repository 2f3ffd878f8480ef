"""Sizes of the PGN study pipeline: one dataclass, the same for the demo and the full study.

Units: lengths nm, energies kT, temperatures in multiples of kT (beta = 1/T). Only sizes
change between `pgnfast demo` (`demo_config()`), its test (`tiny_config()`) and the full
study (`examples/study-pgn/*.yaml`, read with `StudyConfig.from_yaml`).
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict, dataclass, field, fields

import yaml

from pgnfast.dft.design import PGNDesign


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


@dataclass
class PipelineConfig:
    """One design through the whole pipeline (labels -> model -> Monte Carlo -> structure).

    design: PGNDesign fields (nm, chains/nm^2). train: overrides of pgnfast.train.TrainConfig
    (model hyperparameters, split, epochs; data, run_dir and seed are set by the pipeline).
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
        """Build from a (partial) dict; unknown keys raise, missing ones keep the demo's."""
        values = copy.deepcopy(values)
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown pipeline keys {sorted(unknown)}; expected {sorted(known)}")
        for name, section in cls._SECTIONS.items():
            if name in values and not isinstance(values[name], section):
                given = dict(values[name] or {})
                allowed = {f.name for f in fields(section)}
                bad = set(given) - allowed
                if bad:
                    raise ValueError(
                        f"unknown {name} keys {sorted(bad)}; expected {sorted(allowed)}"
                    )
                values[name] = section(**given)
        if "train" in values:
            train = copy.deepcopy(TRAIN_DEMO)
            given = dict(values["train"] or {})
            train["model"] = {**train["model"], **given.pop("model", {})}
            train.update(given)
            values["train"] = train
        config = cls(**values)
        config.pgn_design()  # validate early
        return config

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
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown study keys {sorted(unknown)}; expected {sorted(known)}")
        study = cls(**values)
        if not study.designs:
            raise ValueError("a study needs at least one entry under designs:")
        names = [d.get("name") for d in study.designs]
        if any(not n for n in names) or len(set(names)) != len(names):
            raise ValueError(f"every design needs a distinct name, got {names}")
        study.pipelines()  # validate every design and the sizes
        return study

    @classmethod
    def from_yaml(cls, path) -> StudyConfig:
        with open(path) as handle:
            return cls.from_dict(yaml.safe_load(handle) or {})

    def pipelines(self) -> list[PipelineConfig]:
        """One PipelineConfig per design."""
        out = []
        for entry in self.designs:
            entry = dict(entry)
            name = entry.pop("name")
            values = copy.deepcopy(self.pipeline)
            values.update(name=name, design=entry)
            if self.scheduler:
                values.setdefault("labels", {})
                values["labels"] = {**values["labels"], "scheduler": self.scheduler}
            out.append(PipelineConfig.from_dict(values))
        return out
