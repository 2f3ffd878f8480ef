"""Bad inputs of training: configurations, data paths, datasets and checkpoints."""

from __future__ import annotations

from pgnfast.errors import (
    FileFormatError,
    InputError,
    ResumeMismatchError,
    UnitsError,
)
from tests.bad_inputs import bad_input

TINY_MODEL = dict(
    r_max=0.6, num_layers=1, l_max=1, num_features=2, radial_mlp_width=4, num_bessel=4
)


def tiny_config(data, run_dir, **overrides) -> dict:
    """A training configuration that runs in about a second (a one-layer model, one epoch
    of two steps, a checkpoint after every step)."""
    values = dict(
        data=str(data),
        run_dir=str(run_dir),
        model=dict(TINY_MODEL),
        batch_size=2,
        max_epochs=1,
        progress=False,
        plots=False,
        checkpoint_every=1,
        split={"train": 4, "validation": 2, "test": 2},
    )
    values.update(overrides)
    return values


def tiny_dataset(path, rng):
    """8 synthetic labeled configurations of 8 particles (seeded from rng)."""
    from pgnfast.testing import write_synthetic_dataset

    write_synthetic_dataset(path, 8, 8, box=1.2, seed=int(rng.integers(2**31)))
    return path


def interrupted_run(rng, tmp_path, **overrides):
    """A run stopped after one step (checkpoint written); returns its config dict."""
    from pgnfast.train import fit

    values = tiny_config(tiny_dataset(tmp_path / "data.extxyz", rng), tmp_path / "run", **overrides)
    assert fit({**values, "stop_after_steps": 1}) == {"interrupted": True, "step": 1}
    return values


# -- configuration ---------------------------------------------------------------------------


@bad_input(
    "pgnfast.train.TrainConfig.from_yaml",
    "an unknown key (a typo)",
    InputError,
    r"train\.yaml: unknown training config keys \['learning_rat'\]",
)
def config_unknown_key(rng, tmp_path):
    from pgnfast.train import TrainConfig

    (tmp_path / "train.yaml").write_text("data: d.extxyz\nmodel: {r_max: 1.0}\nlearning_rat: 0.1\n")
    TrainConfig.from_yaml(tmp_path / "train.yaml")


@bad_input(
    "pgnfast.train.TrainConfig.from_yaml",
    "a file that is not YAML",
    FileFormatError,
    r"config file .*train\.yaml is not valid YAML",
)
def config_not_yaml(rng, tmp_path):
    from pgnfast.train import TrainConfig

    (tmp_path / "train.yaml").write_text("data: [unclosed\nmodel: {r_max: 1.0\n")
    TrainConfig.from_yaml(tmp_path / "train.yaml")


@bad_input(
    "pgnfast.train.TrainConfig.from_yaml",
    "a missing file",
    FileFormatError,
    r"cannot read config file .*missing\.yaml",
)
def config_missing_file(rng, tmp_path):
    from pgnfast.train import TrainConfig

    TrainConfig.from_yaml(tmp_path / "missing.yaml")


@bad_input(
    "pgnfast.train.TrainConfig.from_yaml",
    "an unknown model hyperparameter",
    InputError,
    r"train\.yaml: unknown model keys \['num_heads'\]",
)
def config_unknown_model_key(rng, tmp_path):
    from pgnfast.train import TrainConfig

    (tmp_path / "train.yaml").write_text("data: d.extxyz\nmodel: {r_max: 1.0, num_heads: 2}\n")
    TrainConfig.from_yaml(tmp_path / "train.yaml")


@bad_input(
    "pgnfast.train.TrainConfig.from_dict",
    "a dtype that is not float32 or float64",
    InputError,
    r"dtype must be one of \['float32', 'float64'\], got 'float16'",
)
def config_bad_dtype(rng, tmp_path):
    from pgnfast.train import TrainConfig

    TrainConfig.from_dict(tiny_config("d.extxyz", tmp_path, dtype="float16"))


@bad_input(
    "pgnfast.train.TrainConfig.from_dict",
    "a batch size of 0",
    InputError,
    r"batch_size must be an integer >= 1, got 0",
)
def config_zero_batch_size(rng, tmp_path):
    from pgnfast.train import TrainConfig

    TrainConfig.from_dict(tiny_config("d.extxyz", tmp_path, batch_size=0))


@bad_input(
    "pgnfast.train.TrainConfig.from_dict",
    "a negative model.r_max",
    InputError,
    r"model\.r_max must be a finite number > 0",
)
def config_negative_r_max(rng, tmp_path):
    from pgnfast.train import TrainConfig

    TrainConfig.from_dict(tiny_config("d.extxyz", tmp_path, model={"r_max": -1.0}))


@bad_input(
    "pgnfast.train.TrainConfig.from_dict",
    "an unknown unit system",
    InputError,
    r"units: unknown unit system 'furlongs'",
)
def config_unknown_units(rng, tmp_path):
    from pgnfast.train import TrainConfig

    TrainConfig.from_dict(tiny_config("d.extxyz", tmp_path, units="furlongs"))


@bad_input(
    "pgnfast.train.TrainConfig.from_dict",
    "metadata that is not JSON-able",
    InputError,
    r"metadata must be JSON-able",
)
def config_bad_metadata(rng, tmp_path):
    from pgnfast.train import TrainConfig

    TrainConfig.from_dict(tiny_config("d.extxyz", tmp_path, metadata={"when": {1, 2}}))


# -- data ----------------------------------------------------------------------------------


@bad_input(
    "pgnfast.train.fit",
    "a data glob that matches nothing",
    FileFormatError,
    r"data '.*pgn_design0/\*\.extxyz' matches no file",
)
def fit_data_matches_nothing(rng, tmp_path):
    from pgnfast.train import fit

    fit(tiny_config(tmp_path / "data" / "pgn_design0" / "*.extxyz", tmp_path / "run"))


@bad_input(
    "pgnfast.train.fit",
    "a data folder with neither manifest.json nor extxyz files",
    FileFormatError,
    r"data folder .* holds no manifest\.json",
)
def fit_data_empty_folder(rng, tmp_path):
    from pgnfast.train import fit

    (tmp_path / "empty").mkdir()
    fit(tiny_config(tmp_path / "empty", tmp_path / "run"))


@bad_input(
    "pgnfast.train.fit",
    "a labeled dataset folder with a missing shard (the real error, not 'Not a BundleTrajectory')",
    FileFormatError,
    r"manifest\.json: shard 1 file .*s1\.extxyz is missing",
)
def fit_dataset_missing_shard(rng, tmp_path):
    from pgnfast.train import fit
    from tests.data.bad_inputs import labeled_frames, write_dataset

    folder = write_dataset(tmp_path / "ds", labeled_frames(rng, 8))
    (folder / "shards" / "s1.extxyz").unlink()
    fit(tiny_config(folder, tmp_path / "run"))


@bad_input(
    "pgnfast.train.fit",
    "a dataset recorded in other units than the config's",
    UnitsError,
    r"dataset .*ds is in Angstrom for length, expected nm",
)
def fit_dataset_other_units(rng, tmp_path):
    from pgnfast.train import fit
    from pgnfast.units import ATOMISTIC
    from tests.data.bad_inputs import labeled_frames, write_dataset

    folder = write_dataset(tmp_path / "ds", labeled_frames(rng, 8), units=ATOMISTIC)
    fit(tiny_config(folder, tmp_path / "run"))


@bad_input(
    "pgnfast.train.fit",
    "a frame without energy",
    FileFormatError,
    r"data\.extxyz frame 1: it has no energy",
)
def fit_frame_without_energy(rng, tmp_path):
    import ase.io

    from pgnfast.train import fit

    path = tiny_dataset(tmp_path / "data.extxyz", rng)
    frames = ase.io.read(path, index=":")
    frames[1].calc = None
    ase.io.write(path, frames, format="extxyz")
    fit(tiny_config(path, tmp_path / "run"))


@bad_input(
    "pgnfast.train.fit",
    "type_names fewer than the data's types",
    FileFormatError,
    r"s0\.extxyz frame 0: column 'type': particle \d+ has type 1, out of range",
)
def fit_types_beyond_type_names(rng, tmp_path):
    from pgnfast.train import fit
    from tests.data.bad_inputs import labeled_frames, write_dataset

    frames = labeled_frames(rng, 8)
    frames[0].arrays["type"][int(rng.integers(6))] = 1
    folder = write_dataset(tmp_path / "ds", frames)
    fit(tiny_config(folder, tmp_path / "run", type_names=["A"]))


@bad_input(
    "pgnfast.train.fit",
    "stress_weight > 0 on data without stress labels",
    InputError,
    r"stress_weight 1\.0 > 0 but .*data\.extxyz frame 0 has no stress label",
)
def fit_stress_weight_without_stress(rng, tmp_path):
    from pgnfast.train import fit

    fit(
        tiny_config(
            tiny_dataset(tmp_path / "data.extxyz", rng), tmp_path / "run", stress_weight=1.0
        )
    )


@bad_input(
    "pgnfast.train.data.samples_from_frames",
    "a stress label with 4 components",
    InputError,
    r"frame 2: stress must hold 6 Voigt components .* got shape \(4,\)",
)
def samples_stress_wrong_shape(rng, tmp_path):
    import ase.io

    from pgnfast.train.data import samples_from_frames

    frames = ase.io.read(tiny_dataset(tmp_path / "data.extxyz", rng), index=":")
    frames[2].info["stress"] = rng.normal(size=4)
    samples_from_frames(frames)


@bad_input(
    "pgnfast.train.TrainConfig.from_dict",
    "stress_weight with per-atom targets",
    InputError,
    r"stress_weight 2\.0 trains whole-structure stress; per-atom training",
)
def config_stress_with_per_atom_targets(rng, tmp_path):
    from pgnfast.train import TrainConfig

    TrainConfig.from_dict(
        tiny_config("d.extxyz", tmp_path, per_atom_targets={"barrier": 1.0}, stress_weight=2.0)
    )


# -- checkpoints and fine-tuning -----------------------------------------------------------


@bad_input(
    "pgnfast.train.fit(resume=True)",
    "another configuration than the checkpoint's",
    ResumeMismatchError,
    r"belongs to another configuration: keys \['learning_rate'\] differ",
)
def resume_other_config(rng, tmp_path):
    from pgnfast.train import fit

    values = interrupted_run(rng, tmp_path)
    fit({**values, "learning_rate": 0.5}, resume=True)


@bad_input(
    "pgnfast.train.fit(resume=True)",
    "another data set than the checkpoint's (same path)",
    ResumeMismatchError,
    r"was trained on another data set",
)
def resume_other_data(rng, tmp_path):
    from pgnfast.train import fit

    values = interrupted_run(rng, tmp_path)
    tiny_dataset(tmp_path / "data.extxyz", rng)  # new frames, same path
    fit(values, resume=True)


@bad_input(
    "pgnfast.train.fit(resume=True)",
    "a truncated checkpoint",
    FileFormatError,
    r"checkpoint .*checkpoint\.pt cannot be read \(truncated",
)
def resume_truncated_checkpoint(rng, tmp_path):
    from pgnfast.train import fit

    values = interrupted_run(rng, tmp_path)
    path = tmp_path / "run" / "checkpoint.pt"
    data = path.read_bytes()
    path.write_bytes(data[: int(rng.integers(1, len(data) // 2))])
    fit(values, resume=True)


@bad_input(
    "pgnfast.train.fit",
    "init_from a model of another architecture",
    InputError,
    r"init_from .*differs from this run in .*num_features \(3 there, 2 here\)",
)
def init_from_other_architecture(rng, tmp_path):
    from pgnfast import save_model
    from pgnfast.testing import small_model
    from pgnfast.train import fit

    other = small_model(num_types=1, **{**TINY_MODEL, "num_features": 3})
    save_model(other, tmp_path / "other.pt")
    path = tiny_dataset(tmp_path / "data.extxyz", rng)
    fit(tiny_config(path, tmp_path / "run", init_from=str(tmp_path / "other.pt")))
