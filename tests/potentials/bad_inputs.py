"""Bad inputs of the pair potentials (pgnfast.potentials, the PGN pair fit), run by
tests/test_bad_input_table.py."""

from __future__ import annotations

import numpy as np

from pgnfast.errors import FileFormatError, InputError
from tests.bad_inputs import bad_input


@bad_input(
    "pgnfast.potentials.TabulatedPair",
    "a cutoff not beyond the inner knot",
    InputError,
    r"cutoff must be larger than inner: cutoff \d+ nm <= inner \d+ nm",
)
def tabulated_cutoff_not_beyond_inner(rng, tmp_path):
    from pgnfast.potentials import TabulatedPair

    inner = float(rng.integers(20, 30))
    TabulatedPair([inner, inner - 5.0], rng.normal(size=2))


@bad_input(
    "pgnfast.potentials.TabulatedPair",
    "NaN among the knot forces",
    InputError,
    r"pair_forces must be finite: row 1 \(type pair \(0, 1\)\), knot \d+ is nan",
)
def tabulated_nan_force(rng, tmp_path):
    from pgnfast.potentials import TabulatedPair

    forces = rng.normal(size=(3, 5))
    forces[1, rng.integers(5)] = np.nan
    TabulatedPair(np.linspace(10.0, 30.0, 5), forces)


@bad_input(
    "pgnfast.potentials.TabulatedPair.energies",
    "particle types beyond the potential's",
    InputError,
    r"types: particle 2 has type 2, out of range \(there are 2 types: 0\.\.1\)",
)
def tabulated_type_out_of_range(rng, tmp_path):
    from pgnfast.potentials import TabulatedPair

    potential = TabulatedPair(np.linspace(1.0, 3.0, 5), rng.normal(size=(3, 5)))
    positions = rng.uniform(0.0, 10.0, (6, 3))
    potential.energies(positions, np.eye(3) * 10.0, types=np.array([0, 1, 2, 0, 1, 0]))


@bad_input(
    "pgnfast.potentials.TabulatedPair.load",
    "a file that is not a tabulated pair potential",
    FileFormatError,
    r"is not a tabulated pair potential file",
)
def tabulated_load_other_file(rng, tmp_path):
    from pgnfast.potentials import TabulatedPair

    path = tmp_path / "model.json"
    path.write_text('{"format": "something else"}')
    TabulatedPair.load(path)


@bad_input(
    "pgnfast.systems.pgn.pair_fit.fit_pair_potential",
    "no frames to fit",
    InputError,
    r"is empty: need labeled ase.Atoms frames",
)
def pair_fit_without_frames(rng, tmp_path):
    from pgnfast.systems.pgn.pair_fit import fit_pair_potential

    fit_pair_potential([], cutoff=float(rng.uniform(20.0, 40.0)))
