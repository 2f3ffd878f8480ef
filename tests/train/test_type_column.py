"""Particle types reach training from the labeler's `type` column (bidisperse designs)."""

import ase
import numpy as np

from pgnfast.train.data import samples_from_frames


def _frame(types, key):
    rng = np.random.default_rng()
    atoms = ase.Atoms(
        numbers=np.ones(len(types), int),
        positions=rng.uniform(0, 5, (len(types), 3)),
        cell=np.eye(3) * 5,
        pbc=True,
    )
    atoms.new_array(key, np.asarray(types))
    atoms.info["energy"] = float(rng.normal())
    return atoms


def test_labeler_type_column_gives_two_types():
    frames = [_frame([0, 1, 1, 0], "type"), _frame([1, 0, 0, 0], "type")]
    samples, names = samples_from_frames(frames)
    assert names == ["type0", "type1"]
    assert samples[0].types.tolist() == [0, 1, 1, 0]
    assert samples[1].types.tolist() == [1, 0, 0, 0]


def test_types_column_still_preferred_and_strings_ignored():
    frame = _frame([0, 1, 2], "types")
    frame.new_array("type", np.array(["a", "b", "c"]))
    samples, names = samples_from_frames([frame])
    assert names == ["type0", "type1", "type2"] and samples[0].types.tolist() == [0, 1, 2]
    text_only = _frame([0, 0, 0], "types")
    del text_only.arrays["types"]
    text_only.new_array("type", np.array(["x", "y", "z"]))
    samples, names = samples_from_frames([text_only])
    assert names == ["H"] and samples[0].types.tolist() == [0, 0, 0]
