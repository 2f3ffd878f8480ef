"""The numpy-only unpickler: arrays round-trip, pickles that would run code are refused
before anything runs, damaged files raise FileFormatError naming the path."""

from __future__ import annotations

import builtins
import os
import pickle

import numpy as np
import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from pgnfast.data.safe_pickle import load_numpy_pickle
from pgnfast.errors import FileFormatError


def random_arrays(rng) -> dict:
    """A dict of random arrays of several dtypes and shapes, plus plain Python values."""
    n = int(rng.integers(1, 50))
    return {
        "positions": rng.normal(size=(n, 3)),
        "box": rng.uniform(5, 50, 3).astype(np.float32),
        "types": rng.integers(1, 3, n).astype(np.int32),
        "ids": rng.permutation(n).astype(np.uint16).reshape(n, 1),
        "transposed": rng.normal(size=(4, n)).T,
        "empty": np.zeros((0, 3)),
        "scalar": np.array(float(rng.normal())),
        "header": b"MATLAB 5.0 MAT-file",
        "version": "1.0",
        "nested": [rng.normal(size=2), (1, None, True)],
    }


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return a == b


@pytest.mark.parametrize("protocol", [3, 4, 5])
def test_a_dict_of_arrays_round_trips(tmp_path, rng, protocol):
    arrays = random_arrays(rng)
    path = tmp_path / "arrays.pickle"
    path.write_bytes(pickle.dumps(arrays, protocol=protocol))
    loaded = load_numpy_pickle(path)
    assert set(loaded) == set(arrays)
    for key, value in arrays.items():
        assert _same(value, loaded[key]), key


class _Hostile:
    """Pickles as a call of `function(*arguments)`."""

    def __init__(self, function, *arguments):
        self.function, self.arguments = function, arguments

    def __reduce__(self):
        return self.function, self.arguments


def _hostile_calls(marker):
    return {
        "os.system": _Hostile(os.system, f"echo x > {marker}"),
        "builtins.eval": _Hostile(builtins.eval, f"open({str(marker)!r}, 'w')"),
        "builtins.open": _Hostile(builtins.open, str(marker), "w"),
        "builtins.exec": _Hostile(builtins.exec, f"open({str(marker)!r}, 'w')"),
    }


@pytest.mark.parametrize("name", ["os.system", "builtins.eval", "builtins.open", "builtins.exec"])
def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path, rng, name):
    marker = tmp_path / "ran.txt"
    hostile = _hostile_calls(marker)[name]
    # behind a legitimate array, as a doctored data file would hide it
    payload = {"positions": rng.normal(size=(5, 3)), "box": hostile}
    path = tmp_path / "hostile.pickle"
    path.write_bytes(pickle.dumps(payload, protocol=4))
    function = name.split(".")[1]  # os.system pickles as posix.system on Linux
    with pytest.raises(FileFormatError, match=rf"hostile\.pickle .*\.{function}, .*refused"):
        load_numpy_pickle(path)
    assert not marker.exists(), "the pickle's code ran"


def test_numpy_globals_called_outside_their_array_role_are_refused(tmp_path):
    # a hand-written pickle calling _reconstruct with a huge shape (numpy itself always
    # passes (0,) and fills the array from the file's bytes)
    path = tmp_path / "big.pickle"
    text = b"\x80\x04cnumpy._core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
    text += b"J\x00\xca\x9a;\x85C\x01b\x87R."  # (ndarray, (10**9,), b"b")
    path.write_bytes(text)
    with pytest.raises(FileFormatError, match=r"big\.pickle.*not how numpy pickles"):
        load_numpy_pickle(path)


class _DtypeWithFlags:
    """Pickles as float64 whose state claims the flags of an object dtype (63)."""

    def __reduce__(self):
        return np.dtype, ("f8", False, True), (3, "<", None, None, None, -1, -1, 63)


def test_a_dtype_state_numpy_would_not_write_is_refused(tmp_path):
    # numpy's own dtype.__setstate__ would trust these flags and read floats as pointers
    path = tmp_path / "flags.pickle"
    path.write_bytes(pickle.dumps({"dtype": _DtypeWithFlags()}, protocol=4))
    with pytest.raises(FileFormatError, match=r"flags\.pickle .*float64: state .* not numpy's"):
        load_numpy_pickle(path)


def test_object_arrays_are_refused(tmp_path):
    path = tmp_path / "objects.pickle"
    path.write_bytes(pickle.dumps({"a": np.array([1, "x"], dtype=object)}, protocol=4))
    with pytest.raises(FileFormatError, match=r"objects\.pickle .*only plain numeric/text"):
        load_numpy_pickle(path)


def test_an_unlisted_numpy_global_is_refused(tmp_path):
    path = tmp_path / "scalar.pickle"
    path.write_bytes(pickle.dumps(np.float64(1.5), protocol=4))
    with pytest.raises(FileFormatError, match=r"scalar\.pickle.*multiarray\.scalar.*refused"):
        load_numpy_pickle(path)


@pytest.mark.parametrize("content", [b"", b"not a pickle at all", b"\x80\x04\x95"])
def test_empty_or_foreign_files_name_the_path(tmp_path, content):
    path = tmp_path / "glass.pickle"
    path.write_bytes(content)
    with pytest.raises(FileFormatError, match=r"glass\.pickle"):
        load_numpy_pickle(path)


def test_a_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileFormatError, match=r"nothing\.pickle"):
        load_numpy_pickle(tmp_path / "nothing.pickle")


def test_every_truncation_raises_file_format_error(tmp_path, rng, test_seed):
    data = pickle.dumps(random_arrays(rng), protocol=4)
    path = tmp_path / "cut.pickle"

    @seed(test_seed)
    @settings(max_examples=30, deadline=None, database=None)
    @given(st.integers(0, len(data) - 1))
    def check(length):
        path.write_bytes(data[:length])  # the STOP opcode is the last byte: always lost
        with pytest.raises(FileFormatError, match=r"cut\.pickle"):
            load_numpy_pickle(path)

    check()


def test_corrupted_bytes_raise_file_format_error_or_load_plain_data(tmp_path, rng, test_seed):
    data = pickle.dumps(random_arrays(rng), protocol=4)
    path = tmp_path / "corrupt.pickle"

    @seed(test_seed)
    @settings(max_examples=30, deadline=None, database=None)
    @given(st.data())
    def check(draw):
        damaged = bytearray(data)
        for _ in range(draw.draw(st.integers(1, 8))):
            damaged[draw.draw(st.integers(0, len(data) - 1))] = draw.draw(st.integers(0, 255))
        path.write_bytes(bytes(damaged))
        try:
            loaded = load_numpy_pickle(path)
        except FileFormatError as error:
            assert "corrupt.pickle" in str(error)
            return
        # damage inside an array's bytes or a string still unpickles: plain data only
        assert isinstance(loaded, (dict, list, tuple, np.ndarray, str, bytes, int, float))

    check()
