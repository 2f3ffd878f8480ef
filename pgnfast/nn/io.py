"""Model files: weights, hyperparameters, type names, units and versions in one file."""

from __future__ import annotations

import os

import torch

from .._atomic import atomic_path
from .model import UNITS, NequIP

FILE_KIND = "pgnfast-nequip-model"
FORMAT_VERSION = 1  # bump when the state-dict layout or hyperparameter meaning changes
SUPPORTED_FORMAT_VERSIONS = (1,)


class IncompatibleModelError(RuntimeError):
    """The file was written by a pgnfast version whose model format this one cannot read."""


def _package_version() -> str:
    from .. import __version__

    return __version__


def model_record(model: NequIP) -> dict:
    """The dictionary a model file holds (tensors on CPU)."""
    return {
        "kind": FILE_KIND,
        "format_version": FORMAT_VERSION,
        "pgnfast_version": _package_version(),
        "hyperparameters": dict(model.hyperparameters),
        "type_names": list(model.type_names),
        "units": dict(UNITS),
        "dtype": str(model.dtype).replace("torch.", ""),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }


def save_model(model: NequIP, path) -> None:
    """Write model to path atomically (temporary file in the same folder, then rename)."""
    with atomic_path(path) as temporary:
        torch.save(model_record(model), temporary)


def model_from_record(record: dict, source: str = "record") -> NequIP:
    """Rebuild a model from model_record output; raises IncompatibleModelError."""
    if not isinstance(record, dict) or record.get("kind") != FILE_KIND:
        raise IncompatibleModelError(f"{source} is not a pgnfast NequIP model file")
    version = record.get("format_version")
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise IncompatibleModelError(
            f"{source} has model format version {version} (written by pgnfast "
            f"{record.get('pgnfast_version', '?')}); this pgnfast {_package_version()} reads "
            f"format versions {SUPPORTED_FORMAT_VERSIONS}. Load it with a matching pgnfast "
            f"version, or retrain."
        )
    hyper = dict(record["hyperparameters"])
    dtype = getattr(torch, record.get("dtype", "float32"))
    model = NequIP(**hyper).to(dtype)
    model.load_state_dict(record["state_dict"])
    return model


def load_model(path, *, map_location="cpu") -> NequIP:
    """Read a model written by save_model (in eval mode, on map_location)."""
    path = os.fspath(path)
    record = torch.load(path, map_location=map_location, weights_only=True)
    return model_from_record(record, source=path).to(map_location).eval()
