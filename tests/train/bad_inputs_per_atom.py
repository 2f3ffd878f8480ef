"""Bad inputs of per-atom training: configurations and data."""

from __future__ import annotations

import numpy as np

from pgnfast.errors import FileFormatError, InputError
from tests.bad_inputs import bad_input
from tests.train.per_atom_synthetic import glass_atoms, write_glasses

TINY = dict(r_max=3.0, num_layers=1, l_max=0, num_features=2, radial_mlp_width=4, num_bessel=3)


def per_atom_config(data, run_dir, **overrides) -> dict:
    """A per-atom training configuration of a second or less (one epoch)."""
    values = dict(
        data=str(data),
        run_dir=str(run_dir),
        units="atomistic",
        type_names=["Cu", "Zr"],
        model=dict(TINY),
        per_atom_targets={"barrier": 1.0},
        energy_weight=0.0,
        force_weight=0.0,
        split_key="split",
        batch_size=1,
        max_epochs=1,
        progress=False,
        plots=False,
    )
    values.update(overrides)
    return values


def _fit(rng, tmp_path, frames=None, **overrides):
    from pgnfast.train import fit

    if frames is None:
        data = write_glasses(tmp_path / "g.extxyz", rng, ["train", "train", "validation"], 2)
    else:
        from pgnfast.data import write_extxyz

        data = write_extxyz(tmp_path / "g.extxyz", frames)
    return fit(per_atom_config(data, tmp_path / "run", **overrides))


def _config(**overrides):
    from pgnfast.train import TrainConfig

    return TrainConfig.from_dict(per_atom_config("g.extxyz", "run", **overrides))


@bad_input(
    "pgnfast.train.TrainConfig.from_dict",
    "per_atom_targets as a list, not {name: weight}",
    InputError,
    r"per_atom_targets must be a mapping of per-atom label names to loss weights",
)
def per_atom_targets_list(rng, tmp_path):
    _config(per_atom_targets=["barrier"])


@bad_input(
    "pgnfast.train.TrainConfig.from_dict",
    "a negative per-atom loss weight",
    InputError,
    r"per_atom_targets\.barrier must be a finite number >= 0, got -1\.0",
)
def per_atom_negative_weight(rng, tmp_path):
    _config(per_atom_targets={"barrier": -1.0})


@bad_input(
    "pgnfast.train.TrainConfig.from_dict",
    "a per-atom target name with a dot",
    InputError,
    r"per_atom_targets\[0\] = 'a\.b' is not a non-empty name without '\.'",
)
def per_atom_dotted_name(rng, tmp_path):
    _config(per_atom_targets={"a.b": 1.0})


@bad_input(
    "pgnfast.train.TrainConfig.from_dict",
    "subgraph_centres 0",
    InputError,
    r"subgraph_centres must be an integer >= 1, got 0",
)
def per_atom_zero_centres(rng, tmp_path):
    _config(subgraph_centres=0)


@bad_input(
    "pgnfast.train.TrainConfig.from_dict",
    "subgraph mini-batches with a force loss",
    InputError,
    r"subgraph_centres trains per-atom targets on subgraphs.*set energy_weight: 0 and "
    r"force_weight: 0",
)
def per_atom_subgraph_with_forces(rng, tmp_path):
    _config(subgraph_centres=16, force_weight=1.0)


@bad_input(
    "pgnfast.train.TrainConfig.from_dict",
    "subgraph mini-batches without per-atom targets",
    InputError,
    r"subgraph_centres needs per_atom_targets",
)
def per_atom_subgraph_without_targets(rng, tmp_path):
    _config(subgraph_centres=16, per_atom_targets={})


@bad_input(
    "pgnfast.train.TrainConfig.from_dict",
    "every loss weight 0",
    InputError,
    r"every loss weight is 0 .*nothing to train",
)
def per_atom_all_weights_zero(rng, tmp_path):
    _config(per_atom_targets={"barrier": 0.0})


@bad_input(
    "pgnfast.train.fit",
    "data without the per-atom target's column",
    FileFormatError,
    r"g\.extxyz frame 0: it has no per-atom label column 'barrier'",
)
def per_atom_missing_column(rng, tmp_path):
    frames = [glass_atoms(rng, 2, "train") for _ in range(2)]
    for atoms in frames:
        del atoms.arrays["barrier"]
    _fit(rng, tmp_path, frames)


@bad_input(
    "pgnfast.train.fit",
    "energy_weight > 0 on glasses without energies",
    FileFormatError,
    r"g\.extxyz frame 0: it has no energy",
)
def per_atom_energy_weight_without_energies(rng, tmp_path):
    _fit(rng, tmp_path, energy_weight=1.0)


@bad_input(
    "pgnfast.train.fit",
    "a per-atom label that is constant on the train split",
    InputError,
    r"per-atom label 'barrier' is constant \(1\.5\) on the train split",
)
def per_atom_constant_label(rng, tmp_path):
    frames = [glass_atoms(rng, 2, split) for split in ("train", "train", "validation")]
    for atoms in frames[:2]:
        atoms.arrays["barrier"][:] = 1.5
    _fit(rng, tmp_path, frames)


@bad_input(
    "pgnfast.train.fit",
    "split_key naming an info field the frames lack",
    InputError,
    r"split_key 'fold': frame 0 has no info 'fold'",
)
def per_atom_split_key_missing(rng, tmp_path):
    _fit(rng, tmp_path, split_key="fold")


@bad_input(
    "pgnfast.train.subgraph.StructureGraph.subgraph",
    "a centre index past the last atom",
    InputError,
    r"subgraph centres must be atom indices in \[0, 8\)",
)
def per_atom_subgraph_bad_centre(rng, tmp_path):
    from pgnfast.nn.graph import build_graph
    from pgnfast.train.subgraph import StructureGraph

    atoms = glass_atoms(rng, 2)
    graph = build_graph([(atoms.positions, atoms.cell[:], atoms.arrays["type"], True)], 3.0)
    StructureGraph(graph).subgraph(np.array([0, 8]), 2)


@bad_input(
    "pgnfast.train.TrainConfig.from_dict",
    "validation_criterion other than loss or pearson_r",
    InputError,
    r"validation_criterion must be one of \['loss', 'pearson_r'\], got 'r2'",
)
def unknown_validation_criterion(rng, tmp_path):
    _config(validation_criterion="r2")


@bad_input(
    "pgnfast.train.TrainConfig.from_dict",
    "validation_criterion pearson_r without a per-atom target of positive weight",
    InputError,
    r"validation_criterion: pearson_r needs a per-atom target of positive weight",
)
def pearson_criterion_without_targets(rng, tmp_path):
    _config(per_atom_targets={"barrier": 0.0}, energy_weight=1.0, validation_criterion="pearson_r")
