"""Bad inputs of the metallic-glass data: source pickles with a missing key, a wrong shape,
foreign types, a NaN label, code to run, or no pickle at all."""

from __future__ import annotations

import os
import pickle

import numpy as np

from pgnfast.errors import FileFormatError, InputError
from tests.bad_inputs import bad_input
from tests.systems.glass.synthetic import glass_arrays, write_glass


def _read(tmp_path, arrays):
    from pgnfast.systems.glass import read_glass

    return read_glass(write_glass(tmp_path / "train0.pickle", arrays))


@bad_input(
    "pgnfast.systems.glass.read_glass",
    "a glass pickle without its barrier key",
    FileFormatError,
    r"train0\.pickle: train0 has no key 'trajectory_start_velocities'",
)
def glass_missing_key(rng, tmp_path):
    arrays = glass_arrays(rng)
    del arrays["trajectory_start_velocities"]
    _read(tmp_path, arrays)


@bad_input(
    "pgnfast.systems.glass.read_glass",
    "positions of shape (N, 2)",
    FileFormatError,
    r"train0\.pickle: train0: key 'positions' must have shape \(N, 3\), got \(\d+, 2\)",
)
def glass_positions_wrong_shape(rng, tmp_path):
    arrays = glass_arrays(rng)
    arrays["positions"] = arrays["positions"][:, :2]
    _read(tmp_path, arrays)


@bad_input(
    "pgnfast.systems.glass.read_glass",
    "a label with one value too few",
    FileFormatError,
    r"key 'von' \(von_mises\) must have shape \(\d+,\) \(one value per atom\)",
)
def glass_label_wrong_length(rng, tmp_path):
    arrays = glass_arrays(rng)
    arrays["von"] = arrays["von"][:-1]
    _read(tmp_path, arrays)


@bad_input(
    "pgnfast.systems.glass.read_glass",
    "an atom of type 3 (only 1 = Cu and 2 = Zr exist)",
    FileFormatError,
    r"key 'types': atom \d+ has type 3, expected 1 \(Cu\) or 2 \(Zr\)",
)
def glass_type_outside_cu_zr(rng, tmp_path):
    arrays = glass_arrays(rng)
    arrays["types"][int(rng.integers(len(arrays["types"])))] = 3
    _read(tmp_path, arrays)


@bad_input(
    "pgnfast.systems.glass.read_glass",
    "a NaN barrier",
    FileFormatError,
    r"key 'trajectory_start_velocities' \(barrier\) has a non-finite entry at flat index \d+",
)
def glass_nan_barrier(rng, tmp_path):
    arrays = glass_arrays(rng)
    arrays["trajectory_start_velocities"][int(rng.integers(len(arrays["types"])))] = np.nan
    _read(tmp_path, arrays)


@bad_input(
    "pgnfast.systems.glass.read_glass",
    "a file that is not a pickle",
    FileFormatError,
    r"pickle \S*train0\.pickle is truncated or corrupt",
)
def glass_not_a_pickle(rng, tmp_path):
    from pgnfast.systems.glass import read_glass

    path = tmp_path / "train0.pickle"
    path.write_text("box positions types\n" + " ".join(map(str, rng.normal(size=6))))
    read_glass(path)


class _RunsCode:
    def __reduce__(self):
        return os.system, ("echo pwned",)


@bad_input(
    "pgnfast.systems.glass.read_glass",
    "a pickle that would run os.system",
    FileFormatError,
    r"train0\.pickle references the global \w+\.system, which is refused",
)
def glass_pickle_runs_code(rng, tmp_path):
    from pgnfast.systems.glass import read_glass

    arrays = glass_arrays(rng)
    arrays["box"] = _RunsCode()
    path = tmp_path / "train0.pickle"
    path.write_bytes(pickle.dumps(arrays, protocol=4))
    read_glass(path)


@bad_input(
    "pgnfast.systems.glass.glass_from_arrays",
    "a box length of 0",
    InputError,
    r"glass: key 'box' has length 0\.0 along axis 1, not > 0",
)
def glass_zero_box(rng, tmp_path):
    from pgnfast.systems.glass import glass_from_arrays

    arrays = glass_arrays(rng)
    arrays["box"][1] = 0.0
    glass_from_arrays(arrays)


@bad_input(
    "pgnfast.systems.glass.convert_glasses",
    "a data folder without glass pickles",
    FileFormatError,
    r"data folder \S+ holds no \*\.pickle glass files",
)
def glass_empty_folder(rng, tmp_path):
    from pgnfast.systems.glass import convert_glasses

    (tmp_path / "data").mkdir()
    convert_glasses(tmp_path / "data", tmp_path / "out")


@bad_input(
    "pgnfast.systems.glass.read_glass",
    "two atoms with the same id",
    FileFormatError,
    r"key 'pos' \(atom ids\): atom \d+ repeats the id \d+",
)
def glass_repeated_atom_id(rng, tmp_path):
    arrays = glass_arrays(rng)
    arrays["pos"][5] = arrays["pos"][2]
    _read(tmp_path, arrays)


@bad_input(
    "pgnfast.systems.glass.read_glass_extxyz",
    "a glass in a triclinic cell",
    FileFormatError,
    r"g\.extxyz: g: the cell must be orthorhombic \(diagonal\)",
)
def glass_extxyz_triclinic(rng, tmp_path):
    from pgnfast.data import write_extxyz
    from pgnfast.systems.glass import glass_to_atoms, read_glass_extxyz

    atoms = glass_to_atoms(_read(tmp_path, glass_arrays(rng)))
    cell = atoms.cell[:]
    cell[1, 0] = 0.3 * cell[0, 0]
    atoms.set_cell(cell)
    atoms.info["glass"] = "g"
    read_glass_extxyz(write_extxyz(tmp_path / "g.extxyz", [atoms]))
