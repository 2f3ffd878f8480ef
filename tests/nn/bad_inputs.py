"""Bad inputs of the model layer: model files, Potential, build_graph and PGNCalculator."""

from __future__ import annotations

import ase
import numpy as np
import torch

from pgnfast.errors import FileFormatError, IncompatibleModelError, InputError, UnitsError
from pgnfast.testing import random_positions, small_model
from tests.bad_inputs import bad_input


def _model(rng):
    """A tiny two-type float64 model (r_max 0.6 nm)."""
    return small_model(
        torch.float64,
        seed=int(rng.integers(2**31)),
        num_layers=1,
        l_max=1,
        num_features=2,
        radial_mlp_width=4,
        num_bessel=4,
    )


def _system(rng, n=10, box=1.2):
    """(positions (n, 3) nm, cell, types in {0, 1}) of a random periodic system."""
    positions = random_positions(n, box, rng, min_distance=0.25)
    return positions, np.eye(3) * box, rng.integers(0, 2, n)


def _saved(rng, tmp_path, change=None, checksum=True):
    """A model file whose record `change(record)` edited (re-checksummed unless told)."""
    from pgnfast.nn.io import model_record, record_checksum

    record = model_record(_model(rng))
    if change is not None:
        change(record)
        if checksum:
            record["checksum"] = record_checksum(record)
    path = tmp_path / "model.pt"
    torch.save(record, path)
    return path


def _atoms(rng, model):
    positions, cell, types = _system(rng)
    atoms = ase.Atoms(positions=positions, cell=cell, pbc=True, numbers=np.ones(len(types)))
    atoms.new_array("type", types)
    from pgnfast.calculators import PGNCalculator

    atoms.calc = PGNCalculator(model)
    return atoms


# -- model files ---------------------------------------------------------------------------


@bad_input(
    "pgnfast.load_model", "an empty file", FileFormatError, r"model file .*model\.pt is empty"
)
def load_model_empty_file(rng, tmp_path):
    from pgnfast import load_model

    (tmp_path / "model.pt").write_bytes(b"")
    load_model(tmp_path / "model.pt")


@bad_input(
    "pgnfast.load_model",
    "a truncated file",
    FileFormatError,
    r"model file .*model\.pt cannot be read \(truncated",
)
def load_model_truncated_file(rng, tmp_path):
    from pgnfast import load_model, save_model

    path = tmp_path / "model.pt"
    save_model(_model(rng), path)
    data = path.read_bytes()
    path.write_bytes(data[: int(rng.integers(1, len(data) // 2))])
    load_model(path)


@bad_input(
    "pgnfast.load_model",
    "a file whose weights were damaged (bytes changed)",
    FileFormatError,
    r"model\.pt is damaged: its checksum does not match",
)
def load_model_damaged_weights(rng, tmp_path):
    from pgnfast import load_model

    def damage(record):
        state = record["state_dict"]
        names = sorted(k for k, v in state.items() if v.is_floating_point() and v.numel())
        name = names[int(rng.integers(len(names)))]
        state[name] = state[name] + 1.0

    load_model(_saved(rng, tmp_path, damage, checksum=False))


@bad_input(
    "pgnfast.load_model",
    "an unknown hyperparameter (a file from a newer pgnfast)",
    IncompatibleModelError,
    r"unknown hyperparameters \['attention_heads'\]",
)
def load_model_unknown_hyperparameter(rng, tmp_path):
    from pgnfast import load_model

    load_model(_saved(rng, tmp_path, lambda r: r["hyperparameters"].update(attention_heads=4)))


@bad_input("pgnfast.load_model", "a bad dtype string", IncompatibleModelError, r"dtype 'float128'")
def load_model_bad_dtype(rng, tmp_path):
    from pgnfast import load_model

    load_model(_saved(rng, tmp_path, lambda r: r.update(dtype="float128")))


@bad_input(
    "pgnfast.load_model(units=...)",
    "a model recorded in other units",
    UnitsError,
    r"model file .* is in Angstrom for length, expected nm",
)
def load_model_other_units(rng, tmp_path):
    from pgnfast import load_model, save_model
    from pgnfast.units import ATOMISTIC

    model = _model(rng)
    model.units = dict(ATOMISTIC)
    save_model(model, tmp_path / "model.pt")
    load_model(tmp_path / "model.pt", units="pgn")


@bad_input(
    "pgnfast.load_model(type_names=...)",
    "a model with other type names",
    IncompatibleModelError,
    r"has type names \['type0', 'type1'\]; expected \['A', 'B'\]",
)
def load_model_other_type_names(rng, tmp_path):
    from pgnfast import load_model, save_model

    save_model(_model(rng), tmp_path / "model.pt")
    load_model(tmp_path / "model.pt", type_names=["A", "B"])


@bad_input("pgnfast.save_model", "metadata that is not JSON-able", InputError, r"JSON-able")
def save_model_bad_metadata(rng, tmp_path):
    from pgnfast import save_model

    save_model(_model(rng), tmp_path / "model.pt", metadata={"design": object()})


# -- Potential -----------------------------------------------------------------------------


@bad_input(
    "pgnfast.Potential.energy",
    "two particles at the same position",
    InputError,
    r"particles 2 and 7 coincide",
)
def potential_coincident_particles(rng, tmp_path):
    from pgnfast import Potential

    positions, cell, types = _system(rng)
    positions[7] = positions[2]
    Potential(_model(rng)).energy(positions, cell, types)


@bad_input(
    "pgnfast.Potential.energy_forces",
    "float types that are not whole numbers",
    InputError,
    r"types must be whole numbers: particle 3 has type 0\.5",
)
def potential_float_types(rng, tmp_path):
    from pgnfast import Potential

    positions, cell, types = _system(rng)
    types = types.astype(float)
    types[3] = 0.5
    Potential(_model(rng)).energy_forces(positions, cell, types)


@bad_input(
    "pgnfast.Potential.energies",
    "a type the model does not have",
    InputError,
    r"types: particle 4 has type 2, out of range \(there are 2 types",
)
def potential_type_out_of_range(rng, tmp_path):
    from pgnfast import Potential

    positions, cell, types = _system(rng)
    types[4] = 2
    Potential(_model(rng)).energies(positions, cell, types)


@bad_input("pgnfast.Potential", "a negative skin", InputError, r"skin must be a finite number >= 0")
def potential_negative_skin(rng, tmp_path):
    from pgnfast import Potential

    Potential(_model(rng), skin=-float(rng.uniform(0.01, 1.0)))


@bad_input("pgnfast.Potential", "a NaN skin", InputError, r"skin must be a finite number >= 0")
def potential_nan_skin(rng, tmp_path):
    from pgnfast import Potential

    Potential(_model(rng), skin=float("nan"))


@bad_input(
    "pgnfast.Potential.energy",
    "a cell of shape (2, 3)",
    InputError,
    r"cell must have shape \(3, 3\)",
)
def potential_cell_wrong_shape(rng, tmp_path):
    from pgnfast import Potential

    positions, cell, types = _system(rng)
    Potential(_model(rng)).energy(positions, cell[:2], types)


@bad_input(
    "pgnfast.Potential.energy",
    "types of the wrong length",
    InputError,
    r"types must have shape \(10,\), got \(9,\)",
)
def potential_types_wrong_length(rng, tmp_path):
    from pgnfast import Potential

    positions, cell, types = _system(rng)
    Potential(_model(rng)).energy(positions, cell, types[:9])


@bad_input(
    "pgnfast.Potential.energy (skin > 0)",
    "NaN positions",
    InputError,
    r"positions has a non-finite entry at flat index 16",
)
def potential_nan_positions(rng, tmp_path):
    from pgnfast import Potential

    positions, cell, types = _system(rng)
    positions[5, 1] = np.nan
    Potential(_model(rng), skin=0.1).energy(positions, cell, types)


@bad_input(
    "pgnfast.Potential.energies_batch",
    "NaN positions in the second system",
    InputError,
    r"system 1: positions has a non-finite entry",
)
def potential_batch_nan_positions(rng, tmp_path):
    from pgnfast import Potential

    first, second = _system(rng), _system(rng)
    second[0][0, 0] = np.inf
    Potential(_model(rng)).energies_batch([(*first, True), (*second, True)])


# -- build_graph ---------------------------------------------------------------------------


@bad_input(
    "pgnfast.nn.build_graph",
    "a particle on a periodic image of another",
    InputError,
    r"particles 0 and 5 coincide \(periodic image",
)
def build_graph_coincident_image(rng, tmp_path):
    from pgnfast.nn import build_graph

    positions, cell, types = _system(rng)
    positions[5] = positions[0] + cell[1]
    build_graph([(positions, cell, types, True)], 0.6)


@bad_input(
    "pgnfast.nn.build_graph(dtype=float32)",
    "two particles 1e-9 nm apart (one position in float32)",
    InputError,
    r"particles 1 and 3 coincide: distance 1e-09, within the float32 resolution",
)
def build_graph_coincident_in_float32(rng, tmp_path):
    from pgnfast.nn import build_graph

    positions, cell, types = _system(rng)
    positions[3] = positions[1] + 1e-9
    build_graph([(positions, cell, types, True)], 0.6, dtype=torch.float32)


@bad_input(
    "pgnfast.nn.build_graph(num_types=...)",
    "a negative type",
    InputError,
    r"types: particle 0 has type -1, out of range",
)
def build_graph_negative_type(rng, tmp_path):
    from pgnfast.nn import build_graph

    positions, cell, types = _system(rng)
    types[0] = -1
    build_graph([(positions, cell, types, True)], 0.6, num_types=2)


@bad_input("pgnfast.nn.build_graph", "a singular periodic cell", InputError, r"cell is singular")
def build_graph_singular_cell(rng, tmp_path):
    from pgnfast.nn import build_graph

    positions, cell, types = _system(rng)
    cell[2] = cell[0]
    build_graph([(positions, cell, types, True)], 0.6)


# -- PGNCalculator -------------------------------------------------------------------------


@bad_input(
    "pgnfast.calculators.PGNCalculator",
    "two atoms at the same position",
    InputError,
    r"particles 1 and 6 coincide",
)
def calculator_coincident_atoms(rng, tmp_path):
    atoms = _atoms(rng, _model(rng))
    positions = atoms.positions
    positions[6] = positions[1]
    atoms.positions = positions
    atoms.get_potential_energy()


@bad_input(
    "pgnfast.calculators.PGNCalculator",
    "a type column with a type the model does not have",
    InputError,
    r"column 'type': particle 2 has type 5, out of range",
)
def calculator_type_out_of_range(rng, tmp_path):
    atoms = _atoms(rng, _model(rng))
    atoms.arrays["type"][2] = 5
    atoms.get_forces()


@bad_input(
    "pgnfast.calculators.PGNCalculator",
    "no type column and symbols that are not the model's type names (two-type model)",
    InputError,
    r"no 'type' column .* cannot tell the 2 types apart",
)
def calculator_no_type_column(rng, tmp_path):
    atoms = _atoms(rng, _model(rng))
    del atoms.arrays["type"]
    atoms.get_potential_energy()


@bad_input(
    "pgnfast.calculators.PGNCalculator",
    "NaN positions",
    InputError,
    r"positions has a non-finite entry",
)
def calculator_nan_positions(rng, tmp_path):
    atoms = _atoms(rng, _model(rng))
    positions = atoms.positions
    positions[int(rng.integers(len(atoms))), 0] = np.nan
    atoms.positions = positions
    atoms.get_potential_energy()


@bad_input(
    "pgnfast.calculators.PGNCalculator(units=...)",
    "a model file in other units than asked for",
    UnitsError,
    r"is in nm for length, expected Angstrom",
)
def calculator_other_units(rng, tmp_path):
    from pgnfast import save_model
    from pgnfast.calculators import PGNCalculator

    save_model(_model(rng), tmp_path / "model.pt")
    PGNCalculator(tmp_path / "model.pt", units="atomistic")
