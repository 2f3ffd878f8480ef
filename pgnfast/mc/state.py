"""Run state of :class:`pgnfast.mc.ParallelTempering`: statistics counters, checkpoints and
resuming, with the checks that a resume continues the same run.

A checkpoint records the potential's fingerprint (class, parameters, a hash of a model's
weights: :func:`pgnfast.potentials.fingerprint.potential_fingerprint`); resuming under
another potential, or a checkpoint from before fingerprints, raises
:class:`pgnfast.errors.ResumeMismatchError` naming what differs. A checkpoint whose content
is not that of an engine raises :class:`pgnfast.errors.FileFormatError` naming the file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..errors import FileFormatError, InputError, ResumeMismatchError
from ..potentials.fingerprint import fingerprint_differences, num_types_of, potential_fingerprint
from .checkpoint import checkpoint_path, load_checkpoint, save_checkpoint

# mode -> checkerboard argument
MODES = {"checkerboard": True, "local": False, "full": False, "hybrid": False}
# per-temperature state of hybrid moves (tuned during equilibration, then frozen)
HYBRID_ARRAYS = ("hybrid_time_steps", "hybrid_steps", "hybrid_trajectory_times")

# metadata key -> accepted Python types (JSON values)
_META_TYPES = {
    "sweeps_done": int,
    "has_types": bool,
    "seed": int,
    "temperatures_initial": list,
    "moves_per_sweep": int,
    "mode": str,
    "auto_step": bool,
    "equilibration_sweeps": int,
    "target_acceptance": (int, float),
    "tune_temperatures": bool,
    "exchange_every": int,
    "lowest_energy_sampled": (int, float),
    "replica_rngs": list,
    "exchange_rng": dict,
}


def fingerprint_of(potential) -> dict:
    """The potential's fingerprint as plain JSON values (its own ``fingerprint()`` if any)."""
    own = getattr(potential, "fingerprint", None)
    fingerprint = own() if callable(own) else potential_fingerprint(potential)
    return json.loads(json.dumps(fingerprint, sort_keys=True, default=repr))


def check_checkpoint(arrays: dict, meta: dict, path) -> None:
    """Refuse a checkpoint whose metadata or array shapes are not an engine's
    (FileFormatError naming the file and the first bad entry)."""
    for key, kinds in _META_TYPES.items():
        value = meta.get(key)
        if not isinstance(value, kinds) or (kinds is not bool and isinstance(value, bool)):
            raise FileFormatError(f"checkpoint {path}: metadata {key!r} is missing or malformed")
    batch = meta.get("max_batch_particles")
    if not (batch is None or batch == "auto" or (type(batch) is int and batch > 0)):
        raise FileFormatError(f"checkpoint {path}: metadata 'max_batch_particles' is malformed")
    if not isinstance(meta.get("timings", {}), dict):
        raise FileFormatError(f"checkpoint {path}: metadata 'timings' is malformed")
    if meta["mode"] not in MODES:
        raise FileFormatError(f"checkpoint {path}: unknown mode {meta['mode']!r}")
    k = len(meta["temperatures_initial"])
    positions = arrays.get("positions")
    if positions is None or positions.ndim != 3 or positions.shape[0] != k:
        shape = None if positions is None else positions.shape
        raise FileFormatError(
            f"checkpoint {path}: positions have shape {shape}, expected ({k}, N, 3)"
        )
    n = positions.shape[1]
    expected = {
        "positions": (k, n, 3),
        "energies": (k, n),
        "cell": (3, 3),
        "types": (n,),
        "lowest_positions": (n, 3),
        "exchange_temperatures": (k,),
        "exchange_replica_at": (k,),
        "exchange_temperature_of": (k,),
        "exchange_direction": (k,),
        "exchange_round_trips": (k,),
        "exchange_rounds": (),
    }
    for name in ("attempts", "accepts", "window_attempts", "window_accepts"):
        expected[f"exchange_{name}"] = (max(k - 1, 0),)
    for name in ParallelTemperingState._STAT_NAMES:
        expected.setdefault(name, (k,))
    if meta["mode"] == "hybrid":
        if not isinstance(meta.get("hybrid"), dict):
            raise FileFormatError(f"checkpoint {path}: metadata 'hybrid' is missing or malformed")
        expected.update({name: (k,) for name in HYBRID_ARRAYS})
        expected["hybrid_masses"] = (n,)
    for name, shape in expected.items():
        array = arrays.get(name)
        if array is None or array.shape != shape or array.dtype.kind not in "biuf":
            found = None if array is None else f"{array.dtype} {array.shape}"
            raise FileFormatError(
                f"checkpoint {path}: array {name!r} is {found}, expected shape {shape}"
            )
    for name in ("exchange_replica_at", "exchange_temperature_of"):
        if sorted(arrays[name].tolist()) != list(range(k)):
            raise FileFormatError(f"checkpoint {path}: {name} is not a permutation of 0..{k - 1}")
    if len(meta["replica_rngs"]) != k:
        raise FileFormatError(
            f"checkpoint {path}: {len(meta['replica_rngs'])} replica random streams for {k} "
            "replicas"
        )


def check_potential_matches(meta: dict, arrays: dict, potential, path) -> None:
    """Refuse to resume under another potential than the one the checkpoint recorded, or one
    that lacks the checkpoint's particle types."""
    recorded = meta.get("potential_fingerprint")
    if recorded is None:
        raise ResumeMismatchError(
            f"checkpoint {path} predates potential fingerprints, so pgnfast cannot tell "
            "whether it was run with this potential; start a new run"
        )
    differences = fingerprint_differences(recorded, fingerprint_of(potential))
    if differences:
        raise ResumeMismatchError(
            f"checkpoint {path} was written with another potential: {'; '.join(differences)}. "
            "Resume with the potential the run used, or start a new run"
        )
    n_types = num_types_of(potential)
    if meta["has_types"] and n_types is not None and len(arrays["types"]):
        highest = int(arrays["types"].max())
        if highest >= n_types:
            raise ResumeMismatchError(
                f"checkpoint {path} has particle type {highest}, but the potential has "
                f"{n_types} types"
            )


def check_resume_matches(engine, path, *, num_particles=None, temperatures=None) -> None:
    """Refuse a resumed engine whose number of particles or initial ladder differ from what
    the caller asked for (None: not checked)."""
    if num_particles is not None and int(num_particles) != engine.num_particles:
        raise ResumeMismatchError(
            f"checkpoint {path} holds {engine.num_particles} particles, but "
            f"{int(num_particles)} were asked for"
        )
    if temperatures is not None:
        asked = np.asarray(temperatures, dtype=np.float64)
        held = engine.temperatures_initial
        if asked.shape != held.shape or not np.allclose(asked, held, rtol=1e-9, atol=0.0):
            raise ResumeMismatchError(
                f"checkpoint {path} was run at temperatures {held.tolist()}, but "
                f"{asked.tolist()} were asked for"
            )


class ParallelTemperingState:
    """Counters, checkpoints and resuming of the engine."""

    _STAT_NAMES = (
        "stat_attempted",
        "stat_accepted",
        "stat_energy_sum",
        "stat_energy_sq_sum",
        "stat_samples",
        "total_attempted",
        "total_accepted",
        "step_sizes",
        "last_sweep_acceptance",
        "lowest_positions",
        "left_cell",
    )

    def _reset_statistics(self) -> None:
        k = len(self.temperatures_initial)
        self.stat_attempted = np.zeros(k, np.int64)
        self.stat_accepted = np.zeros(k, np.int64)
        self.stat_energy_sum = np.zeros(k)
        self.stat_energy_sq_sum = np.zeros(k)
        self.stat_samples = np.zeros(k, np.int64)
        self.total_attempted = np.zeros(k, np.int64)
        self.total_accepted = np.zeros(k, np.int64)
        self.left_cell = np.zeros(k, np.int64)  # checkerboard proposals rejected for leaving

    def reset_statistics(self) -> None:
        """Forget accumulated means and acceptance (e.g. after a manual equilibration)."""
        self._reset_statistics()

    def save_checkpoint(self, path) -> Path:
        """Write the complete state (positions, energies, RNG streams, counters) and the
        potential's fingerprint atomically.

        Collective in distributed subclasses: every process calls it, the root writes.
        """
        positions, energies, rng_states = self._all_replica_data()
        lowest_positions = self._lowest_positions()
        if not self.is_root:
            return self._after_checkpoint(Path(path))
        arrays = {
            "positions": positions,
            "energies": energies,
            "cell": self.cell,
            "types": self.types_or_zeros,
        }
        arrays.update(
            {
                name: np.asarray(getattr(self, name))
                for name in self._STAT_NAMES
                if name != "lowest_positions"
            }
        )
        arrays["lowest_positions"] = np.asarray(lowest_positions)
        arrays.update(
            {f"exchange_{k}": np.asarray(v) for k, v in self.exchange.state_dict().items()}
        )
        if self.moves == "hybrid":
            arrays.update({name: np.asarray(getattr(self, name)) for name in HYBRID_ARRAYS})
            arrays["hybrid_masses"] = self.hybrid_masses
        metadata = {
            "sweeps_done": self.sweeps_done,
            "has_types": self.types is not None,
            "seed": self.seed,
            "temperatures_initial": self.temperatures_initial.tolist(),
            "moves_per_sweep": self.moves_per_sweep,
            "mode": self.mode,
            "auto_step": self.auto_step,
            "equilibration_sweeps": self.equilibration_sweeps,
            "target_acceptance": self.tuner.target,
            "tune_temperatures": self.tune_temperatures,
            "exchange_every": self.exchange_every,
            "hybrid": self.hybrid_settings if self.moves == "hybrid" else None,
            "max_batch_particles": self.evaluator.max_batch_particles,
            "lowest_energy_sampled": self.lowest_energy_sampled,
            "replica_rngs": rng_states,
            "exchange_rng": self.exchange_rng.bit_generator.state,
            "receptive_field": self.receptive_field
            if math.isfinite(self.receptive_field)
            else "inf",
            "potential": repr(self.potential)[:500],
            "potential_fingerprint": fingerprint_of(self.potential),
            "timings": {k: v for k, v in self.timings.items()},
        }
        return self._after_checkpoint(save_checkpoint(path, arrays, metadata))

    def _after_checkpoint(self, path: Path) -> Path:
        """Hook run by every process once the root has written a checkpoint."""
        return path

    @classmethod
    def from_checkpoint(cls, path, potential, *, num_particles=None, temperatures=None, **kwargs):
        """Rebuild an engine from a checkpoint; continuing it repeats the uninterrupted run.

        potential must be the same one the run used (checked against the fingerprint the
        checkpoint recorded; its energies are not re-evaluated). num_particles, temperatures:
        what the caller expects (a ResumeMismatchError if the checkpoint differs). kwargs go
        to the constructor of a subclass (e.g. ``comm`` for the MPI backend).
        """
        arrays, meta = load_checkpoint(path)
        engine = cls._from_state(arrays, meta, potential, path=checkpoint_path(path), **kwargs)
        check_resume_matches(engine, path, num_particles=num_particles, temperatures=temperatures)
        return engine

    @classmethod
    def _from_state(cls, arrays, meta, potential, *, path="checkpoint", **kwargs):
        check_checkpoint(arrays, meta, path)
        check_potential_matches(meta, arrays, potential, path)
        mode = meta["mode"]
        hybrid = _recorded_hybrid(meta, arrays, kwargs, path)
        engine = cls(
            potential,
            arrays["positions"],
            arrays["cell"],
            meta["temperatures_initial"],
            types=arrays["types"] if meta["has_types"] else None,
            seed=meta["seed"],
            step_size="auto" if meta["auto_step"] else arrays["step_sizes"],
            moves_per_sweep=meta["moves_per_sweep"],
            checkerboard=MODES[mode],
            equilibration_sweeps=meta["equilibration_sweeps"],
            target_acceptance=meta["target_acceptance"],
            tune_temperatures=meta["tune_temperatures"],
            exchange_every=meta["exchange_every"],
            max_batch_particles=meta.get("max_batch_particles", "auto"),
            moves="hybrid" if hybrid is not None else "single",
            hybrid=hybrid,
            _initial_energies=list(arrays["energies"]),
            **kwargs,
        )
        if engine.mode != mode:
            raise ResumeMismatchError(
                f"checkpoint {path} was written in mode {mode!r}, rebuilt as {engine.mode!r}"
            )
        for name in cls._STAT_NAMES:
            setattr(engine, name, np.array(arrays[name]))
        if hybrid is not None:
            for name in HYBRID_ARRAYS:
                setattr(engine, name, np.array(arrays[name]))
        engine.exchange.load_state_dict(
            {k[len("exchange_") :]: v for k, v in arrays.items() if k.startswith("exchange_")}
        )
        engine.sweeps_done = int(meta["sweeps_done"])
        engine.lowest_energy_sampled = float(meta["lowest_energy_sampled"])
        try:
            for generator, state in zip(engine.replica_rngs, meta["replica_rngs"]):
                generator.bit_generator.state = state
            engine.exchange_rng.bit_generator.state = meta["exchange_rng"]
        except (TypeError, ValueError, KeyError) as error:
            raise FileFormatError(
                f"checkpoint {path}: a random stream state is malformed ({error})"
            ) from error
        engine.timings.update(meta.get("timings", {}))
        return engine


def _recorded_hybrid(meta: dict, arrays: dict, kwargs: dict, path):
    """The hybrid settings a checkpoint recorded (None for single-particle moves), after
    refusing what the caller asked for (``moves=``, ``hybrid=`` popped from kwargs) when it
    differs (ResumeMismatchError naming the setting)."""
    from .hybrid import check_hybrid

    asked_moves = kwargs.pop("moves", None)
    asked_hybrid = kwargs.pop("hybrid", None)
    recorded_moves = "hybrid" if meta["mode"] == "hybrid" else "single"
    if asked_moves is not None and asked_moves != recorded_moves:
        raise ResumeMismatchError(
            f"checkpoint {path} was run with {recorded_moves} moves, but {asked_moves!r} "
            "moves were asked for"
        )
    if recorded_moves == "single":
        if asked_hybrid is not None:
            raise ResumeMismatchError(
                f"checkpoint {path} was run with single-particle moves, but hybrid settings "
                "were given"
            )
        return None
    recorded = dict(meta["hybrid"])
    if not isinstance(recorded.get("masses"), (int, float)):
        recorded["masses"] = arrays["hybrid_masses"].tolist()
    k, n = len(meta["temperatures_initial"]), arrays["positions"].shape[1]
    try:
        recorded, _ = check_hybrid(recorded, n, k)
    except InputError as error:
        raise FileFormatError(
            f"checkpoint {path}: hybrid settings are malformed ({error})"
        ) from error
    if asked_hybrid is not None:
        asked, _ = check_hybrid(asked_hybrid, n, k)
        differences = [
            f"{key}: {_short(recorded[key])} recorded, {_short(asked[key])} now"
            for key in sorted(recorded)
            if asked[key] != recorded[key]
        ]
        if differences:
            raise ResumeMismatchError(
                f"checkpoint {path} was run with other hybrid settings: "
                f"{'; '.join(differences)}. Resume with the run's settings or start a new run"
            )
    return recorded


def _short(value) -> str:
    """repr of a setting, a long list cut to its length and first entries."""
    if isinstance(value, list) and len(value) > 4:
        return f"[{', '.join(repr(v) for v in value[:3])}, ... ({len(value)} values)]"
    return repr(value)
