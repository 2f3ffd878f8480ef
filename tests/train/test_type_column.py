"""Particle types reach training from the canonical `type` column (the labeler's and the
Monte Carlo writers'), the legacy `types` column of old files, or the chemical symbols."""

import ase
import numpy as np
import pytest

from pgnfast.errors import InputError
from pgnfast.train.data import samples_from_frames


def _frame(types, key, rng):
    atoms = ase.Atoms(
        numbers=np.ones(len(types), int),
        positions=rng.uniform(0, 5, (len(types), 3)),
        cell=np.eye(3) * 5,
        pbc=True,
    )
    atoms.new_array(key, np.asarray(types))
    atoms.info["energy"] = float(rng.normal())
    return atoms


def test_labeler_type_column_gives_two_types(rng):
    frames = [_frame([0, 1, 1, 0], "type", rng), _frame([1, 0, 0, 0], "type", rng)]
    samples, names = samples_from_frames(frames)
    assert names == ["type0", "type1"]
    assert samples[0].types.tolist() == [0, 1, 1, 0]
    assert samples[1].types.tolist() == [1, 0, 0, 0]


def test_legacy_types_column_is_read_and_text_columns_ignored(rng):
    frame = _frame([0, 1, 2], "types", rng)
    frame.new_array("type", np.array(["a", "b", "c"]))
    samples, names = samples_from_frames([frame])
    assert names == ["type0", "type1", "type2"] and samples[0].types.tolist() == [0, 1, 2]
    text_only = _frame([0, 0, 0], "types", rng)
    del text_only.arrays["types"]
    text_only.new_array("type", np.array(["x", "y", "z"]))
    samples, names = samples_from_frames([text_only])
    assert names == ["H"] and samples[0].types.tolist() == [0, 0, 0]


def test_canonical_type_column_wins_over_the_legacy_one(rng):
    frame = _frame([1, 0, 1], "type", rng)
    frame.new_array("types", np.array([0, 0, 0]))
    samples, names = samples_from_frames([frame])
    assert names == ["type0", "type1"] and samples[0].types.tolist() == [1, 0, 1]


def test_types_beyond_the_given_type_names_are_refused(rng):
    frames = [_frame([0, 1], "type", rng), _frame([0, 2], "type", rng)]
    with pytest.raises(InputError, match=r"frame 1: column 'type': particle 1 has type 2"):
        samples_from_frames(frames, type_names=["A", "B"])
