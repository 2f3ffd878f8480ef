"""Fingerprints of potentials: what a checkpoint records so a resume can refuse another one.

A fingerprint is a JSON-able dict ``{"class": "module.QualName", "parameters": {...},
"sha256": hex}``. Parameters are the potential's public attributes: numbers, strings and
short sequences as they are; arrays as their values when short, else as a sha256 of their
bytes (with dtype and shape); a torch module (a model) as a sha256 of its state_dict
tensors' bytes and its JSON-able hyperparameters; an object with ``to_dict()`` (a design) as
that dict; a nested potential (a wrapper's inner one) as its own fingerprint. Left out:
private attributes, ``last_*`` caches of the latest evaluation (warm starts), settings that
only choose how energies are computed (:data:`EXECUTION_SETTINGS`), the names in the
class's ``fingerprint_exclude``, and anything else (callables, caches, other objects).
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers

import numpy as np

EXECUTION_SETTINGS = frozenset({"backend", "neighbor_backend", "device", "skin", "verbose"})
"""Attribute (and hyperparameter) names that do not change the energies, only their cost."""

SHORT_ARRAY = 16  # arrays up to this many entries are recorded by value
_MAX_DEPTH = 8


def _sha256(*chunks: bytes) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def _scalar(value):
    """A JSON-able copy of a scalar, or None when `value` is not one."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else repr(number)  # "inf", "nan": comparable
    return None


def _array(value) -> object:
    array = np.ascontiguousarray(value)
    if array.dtype.kind not in "biuf":
        return None
    if array.size <= SHORT_ARRAY:
        return [_scalar(x) for x in array.reshape(-1).tolist()] + [f"shape {array.shape}"]
    header = f"{array.dtype.str} {array.shape}".encode()
    return f"sha256:{_sha256(header, array.tobytes())}"


def _module(module) -> str:
    """sha256 of a torch module's class, hyperparameters and state_dict tensors."""
    import torch

    chunks = [type(module).__qualname__.encode()]
    hyper = getattr(module, "hyperparameters", None)
    if isinstance(hyper, dict):
        kept = {k: v for k, v in hyper.items() if k not in EXECUTION_SETTINGS}
        chunks.append(json.dumps(kept, sort_keys=True, default=repr).encode())
    for name, tensor in sorted(module.state_dict().items()):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        chunks.append(f"{name} {flat.dtype} {tuple(tensor.shape)}".encode())
        chunks.append(flat.view(torch.uint8).numpy().tobytes())
    return f"sha256:{_sha256(*chunks)}"


def _is_potential(value) -> bool:
    return hasattr(value, "energies_batch") and hasattr(value, "receptive_field")


def _value(value, depth: int):
    """The fingerprint entry of one attribute value, or None to leave it out."""
    scalar = _scalar(value)
    if scalar is not None or value is None:
        return scalar
    if _is_potential(value):
        own = getattr(value, "fingerprint", None)
        return own() if callable(own) else potential_fingerprint(value, _depth=depth + 1)
    if isinstance(value, np.ndarray) or (
        isinstance(value, (list, tuple)) and all(_scalar(x) is not None for x in value)
    ):
        return _array(value) if len(value) else []
    if hasattr(value, "state_dict") and hasattr(value, "parameters"):  # a torch module
        return _module(value)
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        return _array(value.detach().cpu().numpy())
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        try:
            return json.loads(json.dumps(to_dict(), sort_keys=True, default=repr))
        except (TypeError, ValueError):
            return None
    return None


def potential_fingerprint(potential, *, _depth: int = 0) -> dict:
    """The fingerprint dict of any potential (see the module docstring)."""
    cls = type(potential)
    name = f"{cls.__module__}.{cls.__qualname__}"
    excluded = set(getattr(potential, "fingerprint_exclude", ())) | EXECUTION_SETTINGS
    parameters = {}
    if _depth < _MAX_DEPTH:
        attributes = getattr(potential, "__dict__", {})
        for key in sorted(attributes):
            if key.startswith("_") or key.startswith("last_") or key in excluded:
                continue
            entry = _value(attributes[key], _depth)
            if entry is not None or attributes[key] is None:
                parameters[key] = entry
    text = json.dumps({"class": name, "parameters": parameters}, sort_keys=True)
    return {"class": name, "parameters": parameters, "sha256": _sha256(text.encode())}


def fingerprint_differences(recorded: dict, current: dict, prefix: str = "") -> list[str]:
    """What differs between two fingerprints, one line each ("class A vs B", "epsilon: 1.0
    recorded, 2.0 now"); empty when they are equal."""
    if not isinstance(recorded, dict) or not isinstance(current, dict):
        return [f"{prefix or 'fingerprint'}: {recorded!r} recorded, {current!r} now"]
    where = f"{prefix}: " if prefix else ""
    if recorded.get("class") != current.get("class"):
        return [f"{where}class {recorded.get('class')} recorded, {current.get('class')} now"]
    old, new = recorded.get("parameters", {}), current.get("parameters", {})
    lines = []
    for key in sorted(set(old) | set(new)):
        name = f"{prefix}.{key}" if prefix else key
        if key not in old or key not in new:
            side = "recorded only" if key in old else "present only now"
            lines.append(f"{name}: {side}")
        elif isinstance(old[key], dict) and "class" in old[key]:
            lines.extend(fingerprint_differences(old[key], new[key], name))
        elif json.dumps(old[key], sort_keys=True) != json.dumps(new[key], sort_keys=True):
            lines.append(f"{name}: {_short(old[key])} recorded, {_short(new[key])} now")
    return lines


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def num_types_of(potential, _depth: int = 0) -> int | None:
    """The number of particle types a potential accepts, when it says: its ``num_types``, its
    model's, its design's ``n_types`` or, for a wrapper, its inner ``potential``'s (the
    smallest of those found); None when it does not tell."""
    found = []
    for owner, name in (
        (potential, "num_types"),
        (getattr(potential, "model", None), "num_types"),
        (getattr(potential, "design", None), "n_types"),
    ):
        value = getattr(owner, name, None) if owner is not None else None
        if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
            found.append(int(value))
    inner = getattr(potential, "potential", None)
    if inner is not None and inner is not potential and _depth < _MAX_DEPTH:
        nested = num_types_of(inner, _depth + 1)
        if nested is not None:
            found.append(nested)
    return min(found) if found else None
