"""Bad inputs of barrier prediction and glass training configs: a structure that is not a
periodic Cu/Zr glass, a model without a barrier head or in other units, an output path
that is the input, a glass config in other units or without the barrier target."""

from __future__ import annotations

import json

import ase

from pgnfast.errors import IncompatibleModelError, InputError, UnitsError
from tests.bad_inputs import bad_input
from tests.train.per_atom_synthetic import glass_atoms


def barrier_model_file(path, *, targets=("barrier",), units="atomistic", type_names=("Cu", "Zr")):
    """A small untrained model file with per-atom heads `targets`, recorded in `units`."""
    import torch

    from pgnfast.nn.io import save_model
    from pgnfast.nn.model import NequIP
    from pgnfast.units import resolve

    torch.manual_seed(0)
    model = NequIP(
        r_max=3.5,
        num_layers=2,
        l_max=1,
        num_features=4,
        radial_mlp_width=8,
        num_bessel=4,
        num_types=len(type_names),
        type_names=list(type_names),
        per_atom_targets=targets,
    )
    model.units = resolve(units)
    save_model(model, path)
    return path


def user_glass_file(path, rng, *, pbc=True, symbols=None, units=None):
    """A user's extxyz: symbols and positions only (no type column, no labels)."""
    from pgnfast.data import write_extxyz

    labeled = glass_atoms(rng, 2)
    atoms = ase.Atoms(
        symbols=symbols or labeled.get_chemical_symbols(),
        positions=labeled.positions,
        cell=labeled.cell,
        pbc=pbc,
    )
    if units is not None:
        atoms.info["units"] = json.dumps(units)
    return write_extxyz(path, [atoms])


def _predict(tmp_path, rng, model=None, **glass):
    from pgnfast.systems.glass.predict import predict_file

    model = model or barrier_model_file(tmp_path / "model.pt")
    return predict_file(model, user_glass_file(tmp_path / "g.extxyz", rng, **glass))


@bad_input(
    "pgnfast.systems.glass.predict.predict_file",
    "a structure that is not periodic along z",
    InputError,
    r"g\.extxyz frame 0 is not periodic in all directions \(pbc \[True, True, False\]\)",
)
def predict_not_periodic(rng, tmp_path):
    _predict(tmp_path, rng, pbc=(True, True, False))


@bad_input(
    "pgnfast.systems.glass.predict.predict_file",
    "an atom of another element (Al)",
    InputError,
    r"g\.extxyz frame 0: atom 3 is Al; the barrier model knows only \['Cu', 'Zr'\]",
)
def predict_unknown_element(rng, tmp_path):
    symbols = ["Cu", "Zr", "Cu", "Al", "Zr", "Cu", "Cu", "Zr"]
    _predict(tmp_path, rng, symbols=symbols)


@bad_input(
    "pgnfast.systems.glass.predict.predict_file",
    "a model without a barrier head",
    IncompatibleModelError,
    r"model\.pt has no per-atom target 'barrier'; its per-atom targets are \['von_mises'\]",
)
def predict_model_without_barrier(rng, tmp_path):
    _predict(tmp_path, rng, barrier_model_file(tmp_path / "model.pt", targets=("von_mises",)))


@bad_input(
    "pgnfast.systems.glass.predict.predict_file",
    "a model in nm and kT (a PGN model)",
    UnitsError,
    r"model file \S*model\.pt is in nm for length, expected Angstrom",
)
def predict_model_in_pgn_units(rng, tmp_path):
    _predict(tmp_path, rng, barrier_model_file(tmp_path / "model.pt", units="pgn"))


@bad_input(
    "pgnfast.systems.glass.predict.predict_file",
    "a model of other types (Ni, Nb)",
    IncompatibleModelError,
    r"model\.pt has type names \['Ni', 'Nb'\]; expected \['Cu', 'Zr'\]",
)
def predict_model_other_types(rng, tmp_path):
    _predict(tmp_path, rng, barrier_model_file(tmp_path / "model.pt", type_names=("Ni", "Nb")))


@bad_input(
    "pgnfast.systems.glass.predict.predict_file",
    "a glass file that records nm units",
    UnitsError,
    r"g\.extxyz frame 0 is in nm for length, expected Angstrom",
)
def predict_glass_in_nm(rng, tmp_path):
    from pgnfast.units import PGN

    _predict(tmp_path, rng, units=PGN)


@bad_input(
    "pgnfast.systems.glass.predict.predict_file",
    "--out naming the input file",
    InputError,
    r"--out \S*g\.extxyz is the input file; predict writes a copy, never over it",
)
def predict_out_is_input(rng, tmp_path):
    from pgnfast.systems.glass.predict import predict_file

    glass = user_glass_file(tmp_path / "g.extxyz", rng)
    predict_file(barrier_model_file(tmp_path / "model.pt"), glass, glass)


@bad_input(
    "pgnfast.systems.glass.train.glass_training_config",
    "a glass config in PGN units",
    InputError,
    r"glass\.yaml: units: glass barriers are in Angstrom and eV \(units: atomistic\), got nm",
)
def predict_train_config_pgn_units(rng, tmp_path):
    from pgnfast.systems.glass.train import glass_training_config

    (tmp_path / "glass.yaml").write_text("data: d\nunits: pgn\nmodel: {r_max: 5.0}\n")
    glass_training_config(tmp_path / "glass.yaml")


@bad_input(
    "pgnfast.systems.glass.train.glass_training_config",
    "a glass config that does not train the barrier",
    InputError,
    r"per_atom_targets must train 'barrier', got \['von_mises'\]",
)
def predict_train_config_no_barrier(rng, tmp_path):
    from pgnfast.systems.glass.train import glass_training_config

    weight = float(rng.uniform(0.5, 2.0))
    glass_training_config(
        {"data": "d", "model": {"r_max": 5.0}, "per_atom_targets": {"von_mises": weight}}
    )


@bad_input(
    "pgnfast.systems.glass.train.glass_training_config",
    "a glass config with no data and no --data",
    InputError,
    r"glass\.yaml: no data: give the folder written by `pgnfast glass convert`",
)
def predict_train_config_no_data(rng, tmp_path):
    from pgnfast.systems.glass.train import glass_training_config

    (tmp_path / "glass.yaml").write_text(f"model: {{r_max: {rng.uniform(4, 6):.2f}}}\n")
    glass_training_config(tmp_path / "glass.yaml")
