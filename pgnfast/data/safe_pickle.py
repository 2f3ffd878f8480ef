"""Read pickled numpy arrays without running the pickle's code.

`pickle.load` calls whatever global a file names, so a pickle from elsewhere can run any
code. `load_numpy_pickle` admits only the globals numpy's own array pickles reference:
`_reconstruct` (numpy.core.multiarray or numpy._core.multiarray), `numpy.ndarray`,
`numpy.dtype`, and for protocol 5 `_frombuffer` (numpy.core.numeric or
numpy._core.numeric). Dicts, lists, tuples, strings, bytes, numbers, None and bools need no
global. Any other global (os.system, builtins.eval, a class) is refused before anything is
looked up or imported, so nothing it names runs.

Even the admitted names never reach numpy's own unpickling code (whose dtype and array
`__setstate__` trust the flags and sizes they are given): they resolve to checked builders
that accept only what numpy writes for plain arrays (numeric, bool, bytes and text dtypes;
no object, structured or datetime dtypes) and make each array with np.frombuffer from
exactly as many bytes as its shape needs. Numpy scalars pickled alone (np.float64(1.0)) are
refused: store 0-d arrays or Python numbers. Pickle protocols 3 to 5 (what Python 3 writes)
are read; protocols 0-2 store bytes through `_codecs.encode` and are refused.
"""

from __future__ import annotations

import io
import pickle
import pickletools
import warnings
from pathlib import Path

import numpy as np

from ..errors import FileFormatError

__all__ = ["ALLOWED_GLOBALS", "load_numpy_pickle"]

ALLOWED_GLOBALS = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),  # numpy < 2
        ("numpy._core.multiarray", "_reconstruct"),  # numpy >= 2
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.numeric", "_frombuffer"),  # pickle protocol 5
        ("numpy._core.numeric", "_frombuffer"),
    }
)
"""The (module, name) pairs a numpy-array pickle may reference."""


class _RefusedGlobal(pickle.UnpicklingError):
    def __init__(self, module: str, name: str):
        super().__init__(f"{module}.{name}")
        self.module, self.name = module, name


class _NdarrayMarker:
    """Stands for `numpy.ndarray` in the file: only an argument of `_reconstruct`."""


class _DtypeSpec:
    """A dtype being unpickled: numpy's (spec, align, copy) arguments, then its state
    (version 3, byteorder, subarray, names, fields, itemsize, alignment, flags). Built as
    np.dtype(spec) in the given byte order, only for an unstructured, non-object spec whose
    state matches what numpy records for it."""

    def __init__(self, spec, align=False, copy=False):
        if not isinstance(spec, str):
            raise pickle.UnpicklingError(f"dtype spec must be a string, got {spec!r}")
        self.base = np.dtype(spec)
        if self.base.hasobject or self.base.names is not None or self.base.subdtype:
            raise pickle.UnpicklingError(f"dtype {spec!r}: only plain numeric/text dtypes")
        self.dtype = None

    def __setstate__(self, state):
        base = self.base
        if not isinstance(state, tuple) or len(state) != 8 or state[0] != 3:
            raise pickle.UnpicklingError(f"dtype {base}: unexpected state {state!r}")
        _, order, subarray, names, fields, itemsize, alignment, flags = state
        if (
            order not in ("<", ">", "|", "=")
            or (subarray, names, fields) != (None, None, None)
            or itemsize not in (-1, base.itemsize)
            or alignment not in (-1, base.alignment)
            or flags != base.flags
        ):
            raise pickle.UnpicklingError(f"dtype {base}: state {state!r} is not numpy's")
        self.dtype = base.newbyteorder(order) if order in "<>" else base


def _resolve_dtype(dtype) -> np.dtype:
    if not isinstance(dtype, _DtypeSpec) or dtype.dtype is None:
        raise pickle.UnpicklingError(f"expected a pickled dtype, got {type(dtype).__name__}")
    return dtype.dtype


def _array_from_bytes(buffer, dtype, shape, order: str) -> np.ndarray:
    """A writeable array (a copy) of `shape` from raw bytes; sizes must agree exactly."""
    if not isinstance(shape, tuple) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise pickle.UnpicklingError(f"array shape {shape!r} is not a tuple of sizes")
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    # released on leaving the block, even on error: a bytearray must not outlive its view
    with memoryview(buffer) as view:
        if view.nbytes != need:
            raise pickle.UnpicklingError(
                f"array of shape {shape} and dtype {dtype} needs {need} bytes, the file has "
                f"{view.nbytes}"
            )
        return np.frombuffer(view, dtype=dtype).reshape(shape, order=order).copy(order="K")


class _ArraySpec:
    """An array being unpickled: `_reconstruct(ndarray, (0,), b"b")`, then its state
    (version 1, shape, dtype, is_fortran, raw bytes) builds `array`."""

    def __init__(self, subtype, shape, dtype):
        if subtype is not _NdarrayMarker or tuple(shape) != (0,) or dtype != b"b":
            raise pickle.UnpicklingError(
                f"_reconstruct called with {subtype!r}, {shape!r}, {dtype!r}: not how numpy "
                f"pickles an array"
            )
        self.array = None

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) != 5 or state[0] != 1:
            raise pickle.UnpicklingError("array state is not numpy's (version 1, 5 fields)")
        _, shape, dtype, is_fortran, raw = state
        if not isinstance(raw, (bytes, bytearray)) or not isinstance(is_fortran, bool):
            raise pickle.UnpicklingError("array data must be raw bytes (object arrays refused)")
        order = "F" if is_fortran else "C"
        self.array = _array_from_bytes(raw, _resolve_dtype(dtype), shape, order)


def _from_buffer(buffer, dtype, shape, order, axis_order=None):
    """numpy's `_frombuffer` (protocol 5): an array copied from the pickled bytes."""
    if not isinstance(buffer, (bytes, bytearray, pickle.PickleBuffer)) or order not in "CFK":
        raise pickle.UnpicklingError(f"_frombuffer called on a {type(buffer).__name__}")
    dtype = _resolve_dtype(dtype)
    if order == "K" and axis_order is not None:
        if sorted(axis_order) != list(range(len(shape))):
            raise pickle.UnpicklingError(f"_frombuffer axis order {axis_order!r}")
        return _array_from_bytes(buffer, dtype, shape, "C").transpose(axis_order)
    return _array_from_bytes(buffer, dtype, shape, "C" if order == "K" else order)


class _NumpyUnpickler(pickle.Unpickler):
    """An Unpickler whose find_class resolves only ALLOWED_GLOBALS, to pgnfast's own
    checked builders (never importing the module the file names), and refuses every other
    global."""

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise _RefusedGlobal(module, name)
        return {
            "_reconstruct": _ArraySpec,
            "ndarray": _NdarrayMarker,
            "dtype": _DtypeSpec,
            "_frombuffer": _from_buffer,
        }[name]

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are not allowed")


def _finish(value, seen: dict):
    """`value` with every array and dtype being unpickled replaced by the real one."""
    if isinstance(value, _ArraySpec):
        if value.array is None:
            raise pickle.UnpicklingError("an array without its data")
        return value.array
    if isinstance(value, _DtypeSpec):
        return _resolve_dtype(value)
    if isinstance(value, (list, dict, tuple)) and id(value) in seen:
        return seen[id(value)]
    if isinstance(value, list):
        seen[id(value)] = value
        value[:] = [_finish(item, seen) for item in value]
    elif isinstance(value, dict):
        seen[id(value)] = value
        items = [(_finish(k, seen), _finish(v, seen)) for k, v in value.items()]
        value.clear()
        value.update(items)
    elif isinstance(value, tuple):
        seen[id(value)] = finished = tuple(_finish(item, seen) for item in value)
        return finished
    return value


def load_numpy_pickle(path):
    """The object pickled in `path` (a dict, list or tuple of numpy arrays and plain Python
    values), loaded without running code from the file.

    Raises FileFormatError naming the path: for a global other than numpy's array
    reconstruction (naming the refused global), and for a missing, empty, truncated or
    corrupt file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise FileFormatError(f"cannot read pickle {path}: {error.strerror or error}") from error
    if not data:
        raise FileFormatError(f"pickle {path} is empty")
    try:
        with warnings.catch_warnings():
            # numpy's pickles load silently; a warning (a deprecated dtype alias, a bad
            # escape in a damaged string) means a file from elsewhere or a damaged one
            warnings.simplefilter("error")
            # the opcodes and their lengths first: a damaged length fails here, before the
            # unpickler would allocate what it announces
            for _ in pickletools.genops(data):
                pass
            return _finish(_NumpyUnpickler(io.BytesIO(data)).load(), {})
    except _RefusedGlobal as refused:
        raise FileFormatError(
            f"pickle {path} references the global {refused.module}.{refused.name}, which is "
            f"refused: only numpy arrays are loaded (allowed: numpy's _reconstruct, "
            f"numpy.ndarray, numpy.dtype, numpy's _frombuffer)"
        ) from None
    except Exception as error:  # noqa: BLE001 - a damaged pickle fails in many ways
        reason = str(error).splitlines()[0] if str(error) else ""
        raise FileFormatError(
            f"pickle {path} is truncated or corrupt: {type(error).__name__}: {reason}"
        ) from error
