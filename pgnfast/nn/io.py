"""Model files: weights, hyperparameters, type names, units, metadata and versions in one
file, read back with ``torch.load(weights_only=True)`` (a model file cannot run code).

Errors: an unreadable, empty or truncated file raises `FileFormatError` naming the path; a
file that reads but does not fit (another format version, unknown hyperparameters, a bad
dtype, other type names, missing per-atom targets) raises `IncompatibleModelError`; other
units raise `UnitsError`. Per-atom targets are a hyperparameter (recorded only when a model
has them) and their heads and standardisation travel in the state dict.

A NequIP-LR model (`pgnfast.nn.nequip_lr.NequIPLR`) is written with the kind
"pgnfast-nequip-lr-model" and the same fields, checksum and checks, and loads back as
NequIP-LR; files of the kind "pgnfast-nequip-model" load as NequIP, as before.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os

import torch

from .._atomic import atomic_path
from ..errors import FileFormatError, IncompatibleModelError, InputError
from ..units import check_units
from .model import UNITS, NequIP
from .nequip_lr import NequIPLR

__all__ = [
    "FILE_KIND",
    "FORMAT_VERSION",
    "IncompatibleModelError",
    "load_model",
    "model_from_record",
    "model_record",
    "save_model",
]

FILE_KIND = "pgnfast-nequip-model"
FILE_KIND_LR = "pgnfast-nequip-lr-model"
FORMAT_VERSION = 1  # bump when the state-dict layout or hyperparameter meaning changes
SUPPORTED_FORMAT_VERSIONS = (1,)
DTYPES = ("float16", "bfloat16", "float32", "float64")
HYPERPARAMETERS = tuple(
    name for name in inspect.signature(NequIP.__init__).parameters if name != "self"
)
HYPERPARAMETERS_LR = tuple(
    name
    for name in inspect.signature(NequIPLR.__init__).parameters
    if name not in ("self", "units")
)
MODEL_KINDS = {FILE_KIND: (NequIP, HYPERPARAMETERS), FILE_KIND_LR: (NequIPLR, HYPERPARAMETERS_LR)}
# Integer hyperparameters beyond these bounds mark a damaged file, not a model (building it
# would exhaust memory or time before the weights could be compared).
INTEGER_BOUNDS = {
    "num_layers": (1, 64),
    "l_max": (0, 12),
    "num_features": (1, 1 << 14),
    "num_bessel": (1, 1 << 12),
    "polynomial_cutoff_p": (1, 1 << 10),
    "radial_mlp_depth": (0, 64),
    "radial_mlp_width": (1, 1 << 16),
    "num_types": (1, 1 << 16),
    "node_descriptors": (0, 1 << 16),
    "charge_layers": (1, 64),
    "energy_layers": (1, 64),
    "charge_embedding_size": (1, 1 << 12),
}


def _package_version() -> str:
    from .. import __version__

    return __version__


def json_metadata(metadata, what: str = "metadata") -> dict:
    """`metadata` (a dict or None) as plain JSON data (a copy); InputError if it is not a
    dict or not JSON-able."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InputError(f"{what} must be a dict, got {type(metadata).__name__}")
    try:
        return json.loads(json.dumps(metadata, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise InputError(f"{what} must be JSON-able (str keys, plain values): {error}") from error


def record_checksum(record: dict) -> str:
    """sha256 of everything a model record says (fields and weight bytes), so a damaged file
    is refused instead of giving a silently different model."""
    fields = {k: v for k, v in record.items() if k not in ("state_dict", "checksum")}
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True, default=repr).encode())
    for key in sorted(record["state_dict"]):
        tensor = record["state_dict"][key]
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return "sha256:" + digest.hexdigest()


def model_record(model, metadata=None, *, kind: str | None = None) -> dict:
    """The dictionary a model file holds (tensors on CPU). metadata: a JSON-able dict
    (default: the model's own `metadata`); kind: the file kind (default: that of a NequIP
    or NequIP-LR model; other models, e.g. the direct-force one, name theirs)."""
    metadata = getattr(model, "metadata", {}) if metadata is None else metadata
    if kind is None:
        kind = FILE_KIND_LR if isinstance(model, NequIPLR) else FILE_KIND
    record = {
        "kind": kind,
        "format_version": FORMAT_VERSION,
        "pgnfast_version": _package_version(),
        "hyperparameters": dict(model.hyperparameters),
        "type_names": list(model.type_names),
        "units": dict(getattr(model, "units", UNITS)),
        "dtype": str(model.dtype).replace("torch.", ""),
        "metadata": json_metadata(metadata),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    record["checksum"] = record_checksum(record)
    return record


def save_model(model: NequIP | NequIPLR, path, metadata=None) -> None:
    """Write model to path atomically (temporary file in the same folder, then rename).
    metadata: a JSON-able dict stored in the file (default: model.metadata)."""
    write_record(model_record(model, metadata), path)


def write_record(record: dict, path) -> None:
    """Write a model-file record to `path` atomically (temporary file, then rename)."""
    with atomic_path(path) as temporary:
        torch.save(record, temporary)


def _field(record: dict, key: str, kind, source: str):
    value = record.get(key)
    if not isinstance(value, kind):
        raise IncompatibleModelError(
            f"{source}: field {key!r} must be a {getattr(kind, '__name__', kind)}, "
            f"got {type(value).__name__}"
        )
    return value


def _check_hyperparameters(hyper: dict, source: str) -> None:
    for name, (low, high) in INTEGER_BOUNDS.items():
        value = hyper.get(name, low)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise IncompatibleModelError(
                f"{source}: hyperparameter {name} = {value!r} is not an integer in "
                f"[{low}, {high}] (a damaged file?)"
            )
    targets = hyper.get("per_atom_targets", [])
    if not isinstance(targets, (list, tuple)) or not all(isinstance(t, str) for t in targets):
        raise IncompatibleModelError(
            f"{source}: hyperparameter per_atom_targets = {targets!r} is not a list of names"
        )
    r_max = hyper.get("r_max")
    if (
        isinstance(r_max, bool)
        or not isinstance(r_max, (int, float))
        or not math.isfinite(r_max)
        or r_max <= 0
    ):
        raise IncompatibleModelError(f"{source}: hyperparameter r_max = {r_max!r} is not > 0")


def model_from_record(record: dict, source: str = "record") -> NequIP | NequIPLR:
    """Rebuild a model (NequIP or NequIP-LR, by the record's kind) from model_record output;
    raises IncompatibleModelError."""
    kind = record.get("kind") if isinstance(record, dict) else None
    if not isinstance(kind, str) or kind not in MODEL_KINDS:
        raise IncompatibleModelError(f"{source} is not a pgnfast NequIP model file")
    model_class, known = MODEL_KINDS[kind]
    version = record.get("format_version")
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise IncompatibleModelError(
            f"{source} has model format version {version} (written by pgnfast "
            f"{record.get('pgnfast_version', '?')}); this pgnfast {_package_version()} reads "
            f"format versions {SUPPORTED_FORMAT_VERSIONS}. Load it with a matching pgnfast "
            f"version, or retrain."
        )
    state = _field(record, "state_dict", dict, source)
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise FileFormatError(f"{source} is damaged: its state_dict holds non-tensors")
    try:
        checksum = record_checksum(record) if "checksum" in record else None
    except (TypeError, ValueError, RuntimeError) as error:
        raise FileFormatError(f"{source} is damaged: {error}") from error
    if checksum != record.get("checksum"):
        raise FileFormatError(
            f"{source} is damaged: its checksum does not match its contents (a partial copy or "
            f"a corrupted disk); use another copy or retrain"
        )
    hyper = dict(_field(record, "hyperparameters", dict, source))
    unknown = sorted(str(k) for k in set(hyper) - set(known))
    if unknown:
        raise IncompatibleModelError(
            f"{source} has unknown hyperparameters {unknown} (written by pgnfast "
            f"{record.get('pgnfast_version', '?')}); this pgnfast knows {list(known)}"
        )
    _check_hyperparameters(hyper, source)
    dtype_name = record.get("dtype", "float32")
    if dtype_name not in DTYPES:
        raise IncompatibleModelError(
            f"{source} has dtype {dtype_name!r}; expected one of {list(DTYPES)}"
        )
    units = record.get("units", dict(UNITS))
    if not isinstance(units, dict):
        raise IncompatibleModelError(f"{source}: field 'units' must be a dict, got {units!r}")
    metadata = record.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise IncompatibleModelError(f"{source}: field 'metadata' must be a dict")
    try:
        model = model_class(**hyper).to(getattr(torch, dtype_name))
    except (TypeError, ValueError, KeyError, RuntimeError) as error:
        raise IncompatibleModelError(
            f"{source}: cannot build the model it describes: {error}"
        ) from error
    try:
        model.load_state_dict(state)
    except (TypeError, ValueError, KeyError, RuntimeError, AttributeError) as error:
        raise IncompatibleModelError(
            f"{source}: its weights do not fit its hyperparameters: {error}"
        ) from error
    model.units = dict(units)
    model.metadata = dict(metadata)
    return model


def read_model_record(path, *, map_location="cpu") -> dict:
    """The raw record of a model file (torch.load with weights_only=True); FileFormatError
    naming the path when the file is missing, empty, truncated or not a torch file."""
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
    except OSError as error:
        raise FileFormatError(
            f"cannot read model file {path}: {error.strerror or error}"
        ) from error
    if size == 0:
        raise FileFormatError(f"model file {path} is empty")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many kinds on a damaged file
        raise FileFormatError(
            f"model file {path} cannot be read (truncated, corrupt or not a pgnfast model file): "
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        ) from error


def load_model(
    path, *, units=None, type_names=None, per_atom_targets=None, map_location="cpu"
) -> NequIP | NequIPLR:
    """Read a model written by save_model (in eval mode, on map_location): NequIP, or
    NequIP-LR for a NequIP-LR file.

    units: the unit system the caller works in (a name such as "pgn" or a dict); a model
    recorded in other units raises UnitsError. type_names: the particle type names the
    caller expects, in order; others raise IncompatibleModelError. per_atom_targets: the
    per-atom target names the caller needs (any order, a subset of the model's); a name the
    model lacks raises IncompatibleModelError. `model.metadata` is the
    file's metadata dict ({} for files written before it existed) and `model.units` its
    recorded units.
    """
    path = os.fspath(path)
    record = read_model_record(path, map_location=map_location)
    model = model_from_record(record, source=path)
    if units is not None:
        check_units(record.get("units"), units, f"model file {path}")
    if type_names is not None and list(type_names) != list(model.type_names):
        raise IncompatibleModelError(
            f"model file {path} has type names {model.type_names}; expected {list(type_names)}"
        )
    if per_atom_targets is not None:
        if isinstance(per_atom_targets, str):
            per_atom_targets = (per_atom_targets,)
        missing = [name for name in per_atom_targets if name not in model.per_atom_targets]
        if missing:
            raise IncompatibleModelError(
                f"model file {path} has no per-atom target {missing[0]!r}; its per-atom "
                f"targets are {list(model.per_atom_targets)}"
            )
    return model.to(map_location).eval()
