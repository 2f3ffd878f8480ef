"""Loading dataclass configurations from dicts and YAML files, with one way of refusing
unknown keys and of naming the file a bad value came from."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .errors import FileFormatError, InputError


def check_keys(values, allowed, what: str) -> dict:
    """`values` as a dict whose keys are all in `allowed`; else an InputError naming the
    unknown keys and the allowed ones. `what` names the section ("training config")."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise InputError(f"{what} must be a mapping of keys to values, got {type(values).__name__}")
    unknown = set(values) - set(allowed)
    if unknown:
        raise InputError(f"unknown {what} keys {sorted(unknown)}; expected {sorted(allowed)}")
    return dict(values)


def field_names(cls) -> set[str]:
    """Names of a dataclass's fields."""
    return {f.name for f in dataclasses.fields(cls)}


def yaml_loader():
    """yaml.SafeLoader that also reads YAML 1.2 floats written without a dot (``1e5``,
    ``-2E-3``), which PyYAML's YAML 1.1 rules would leave as strings."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )
    return Loader


def load_yaml(stream):
    """One YAML document from a string or open file, read by `yaml_loader()` (a
    yaml.SafeLoader: plain data only; 1e5 is a float)."""
    loader = yaml_loader()(stream)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_yaml(path) -> dict:
    """A YAML mapping from `path` (safe loading, see load_yaml); a missing, unreadable or
    non-mapping file raises FileFormatError naming the path."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise FileFormatError(
            f"cannot read config file {path}: {error.strerror or error}"
        ) from error
    try:
        values = load_yaml(text)
    except yaml.YAMLError as error:
        raise FileFormatError(f"config file {path} is not valid YAML: {error}") from error
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise FileFormatError(
            f"config file {path} must hold a mapping, got {type(values).__name__}"
        )
    return values


def from_yaml(cls, path):
    """`cls.from_dict(read_yaml(path))`, naming the file in any InputError it raises."""
    values = read_yaml(path)
    try:
        return cls.from_dict(values)
    except InputError as error:
        raise InputError(f"{path}: {error}") from error
