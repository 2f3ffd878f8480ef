"""Training checkpoints and the EMA of the weights.

A checkpoint is written atomically (temporary file + os.replace: a crash never leaves half
a file) and holds only tensors, numbers, strings, lists and dicts, so it is read with
``torch.load(weights_only=True)`` (loading cannot run code). It records the configuration
and a fingerprint of the data, and a checksum of everything: resuming refuses a damaged
file (FileFormatError) and another run's checkpoint (ResumeMismatchError, naming the keys).
"""

from __future__ import annotations

import dataclasses
import hashlib
import numbers
import os

import torch

from .._atomic import atomic_path
from ..errors import FileFormatError, ResumeMismatchError

CHECKPOINT_KIND = "pgnfast-training-checkpoint"
CHECKPOINT_VERSION = 1
# configuration keys a resumed run may change: limits the run is continued under, the
# schedule's reaction (read from the config on resume) and how the run is executed
RESUME_MAY_CHANGE = (
    "data",  # where the frames are; their content is checked by the data fingerprint
    "max_epochs",
    "max_wall_time",
    "lr_patience",
    "lr_threshold",
    "early_stopping_patience",
    "run_dir",
    "progress",
    "plots",
    "num_threads",
    "device",
    "stop_after_steps",
    "checkpoint_every",
)
STATE_TYPES = {
    "epoch": numbers.Integral,
    "batch": numbers.Integral,
    "step": numbers.Integral,
    "history": list,
    "best_validation": numbers.Real,
    "best_epoch": numbers.Integral,
    "stale_epochs": numbers.Integral,
    "epoch_loss_sum": numbers.Real,
    "epoch_batches": numbers.Integral,
    "finished": bool,
}


def _update(digest, value) -> None:
    if isinstance(value, torch.Tensor):
        digest.update(f"T{value.dtype}{tuple(value.shape)}".encode())
        digest.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    elif isinstance(value, dict):
        digest.update(f"D{len(value)}".encode())
        for key in sorted(value, key=repr):
            _update(digest, key)
            _update(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(f"L{len(value)}".encode())
        for item in value:
            _update(digest, item)
    else:
        digest.update(f"{type(value).__name__}:{value!r};".encode())


def checksum(value) -> str:
    """sha256 of nested dicts, lists, tensors and plain values (tensor bytes included)."""
    digest = hashlib.sha256()
    _update(digest, value)
    return "sha256:" + digest.hexdigest()


def save_atomic(obj, path) -> None:
    """torch.save to path via a temporary file in the same folder and an atomic rename."""
    with atomic_path(path) as temporary:
        torch.save(obj, temporary)


def save_checkpoint(path, **parts) -> None:
    """Write a checkpoint of `parts` (model, optimizer, scheduler, ema, state, config,
    data_fingerprint) atomically, with its kind, version and checksum."""
    record = {"kind": CHECKPOINT_KIND, "format_version": CHECKPOINT_VERSION, **parts}
    record["checksum"] = checksum({k: v for k, v in record.items() if k != "checksum"})
    save_atomic(record, path)


def load_checkpoint(path, map_location="cpu") -> dict:
    """A checkpoint written by save_checkpoint (or by pgnfast before checksums), read with
    weights_only=True; FileFormatError naming the path when it is missing, empty,
    truncated, damaged or of another kind."""
    path = os.fspath(path)
    try:
        if os.path.getsize(path) == 0:
            raise FileFormatError(f"checkpoint {path} is empty")
        saved = torch.load(path, map_location=map_location, weights_only=True)
    except FileFormatError:
        raise
    except Exception as error:  # noqa: BLE001 - torch raises many kinds on a damaged file
        reason = str(error).splitlines()[0] if str(error) else ""
        raise FileFormatError(
            f"checkpoint {path} cannot be read (truncated, corrupt or written by an old "
            f"pgnfast that stored code objects): {type(error).__name__}: {reason}"
        ) from error
    if not isinstance(saved, dict) or saved.get("kind", CHECKPOINT_KIND) != CHECKPOINT_KIND:
        raise FileFormatError(f"{path} is not a pgnfast training checkpoint")
    if saved.get("format_version", CHECKPOINT_VERSION) != CHECKPOINT_VERSION:
        raise FileFormatError(
            f"checkpoint {path} has format version {saved.get('format_version')!r}; this "
            f"pgnfast reads version {CHECKPOINT_VERSION}"
        )
    if "checksum" in saved:
        try:
            actual = checksum({k: v for k, v in saved.items() if k != "checksum"})
        except (TypeError, ValueError, RuntimeError) as error:
            raise FileFormatError(f"checkpoint {path} is damaged: {error}") from error
        if actual != saved["checksum"]:
            raise FileFormatError(
                f"checkpoint {path} is damaged: its checksum does not match its contents"
            )
    for key, kind in (("model", dict), ("optimizer", dict), ("scheduler", dict)):
        if not isinstance(saved.get(key), kind):
            raise FileFormatError(f"checkpoint {path} has no {key} state")
    _check_state(saved.get("state"), path)
    if not isinstance(saved.get("config"), dict):
        raise FileFormatError(f"checkpoint {path} records no configuration")
    return saved


def _check_state(state, path) -> None:
    if not isinstance(state, dict):
        raise FileFormatError(f"checkpoint {path} has no training state")
    for key, kind in STATE_TYPES.items():
        value = state.get(key)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise FileFormatError(
                f"checkpoint {path}: training state {key!r} = {value!r} is not a {kind.__name__}"
            )


def check_resume(saved: dict, config, data_fingerprint: str, path) -> None:
    """Refuse to resume `saved` under another configuration (beyond RESUME_MAY_CHANGE) or
    another data set: ResumeMismatchError naming the differing keys."""
    defaults = {f.name: _field_default(f) for f in dataclasses.fields(config)}
    current, before = config.to_dict(), saved["config"]
    differ = sorted(
        key
        for key in current.keys() | before.keys()
        if key not in RESUME_MAY_CHANGE
        and _plain(before.get(key, defaults.get(key))) != _plain(current.get(key))
    )
    if differ:
        details = "; ".join(
            f"{key}: {before.get(key, defaults.get(key))!r} there, {current.get(key)!r} here"
            for key in differ
        )
        raise ResumeMismatchError(
            f"checkpoint {path} belongs to another configuration: keys {differ} differ "
            f"({details}). Only {list(RESUME_MAY_CHANGE)} may change on resume; use another "
            f"run_dir for a new run"
        )
    recorded = saved.get("data_fingerprint")
    if recorded is not None and recorded != data_fingerprint:
        raise ResumeMismatchError(
            f"checkpoint {path} was trained on another data set (data {current.get('data')!r} "
            f"now holds other frames or labels: fingerprint {data_fingerprint[:19]} here, "
            f"{recorded[:19]} there); use another run_dir for a new run"
        )


def restore(saved: dict, path, model, optimizer, scheduler, ema) -> dict:
    """Load a checked checkpoint into the run's objects; returns the training state.
    Contents that do not fit them raise FileFormatError naming the path and the part."""
    parts = [("model", model), ("optimizer", optimizer), ("scheduler", scheduler)]
    if ema is not None:
        parts.append(("ema", ema))
    for name, target in parts:
        try:
            target.load_state_dict(saved[name])
        except (KeyError, ValueError, TypeError, RuntimeError, IndexError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise FileFormatError(
                f"checkpoint {path}: its {name} state does not fit this run: {reason}"
            ) from error
    return saved["state"]


def _field_default(f):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _plain(value):
    """Tuples as lists, so a configuration compares equal after a file round trip."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class ExponentialMovingAverage:
    """EMA of a module's floating parameters: shadow = decay * shadow + (1 - decay) * param,
    with the warm-up decay min(decay, (1 + n) / (10 + n)) after n updates."""

    def __init__(self, module: torch.nn.Module, decay: float):
        self.decay = float(decay)
        self.updates = 0
        self.shadow = {name: p.detach().clone() for name, p in module.named_parameters()}

    @torch.no_grad()
    def update(self, module: torch.nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for name, p in module.named_parameters():
            self.shadow[name].mul_(decay).add_(p.detach(), alpha=1 - decay)

    @torch.no_grad()
    def swap(self, module: torch.nn.Module) -> None:
        """Exchange the module's parameters with the averages (call twice to undo)."""
        for name, p in module.named_parameters():
            current = p.detach().clone()
            p.copy_(self.shadow[name])
            self.shadow[name] = current

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        if set(state["shadow"]) != set(self.shadow):
            raise KeyError(f"EMA parameters {sorted(set(state['shadow']) ^ set(self.shadow))}")
        for name, value in state["shadow"].items():
            if value.shape != self.shadow[name].shape:
                raise ValueError(f"EMA parameter {name} has shape {tuple(value.shape)}")
        self.decay, self.updates = float(state["decay"]), int(state["updates"])
        self.shadow = {k: v.clone() for k, v in state["shadow"].items()}
