"""`pgnfast glass convert | train | predict` on synthetic glasses whose barrier is a known
function of the local structure; predict on a user's own file; the example config."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from pgnfast.cli import main
from pgnfast.data.io import read_extxyz
from tests.systems.glass.bad_inputs_predict import barrier_model_file, user_glass_file
from tests.systems.glass.synthetic import glass_arrays, write_glass
from tests.train.per_atom_synthetic import packing, shell_label

ROOT = Path(__file__).resolve().parents[3]
TINY_MODEL = dict(r_max=4.5, num_layers=1, l_max=1, num_features=8, radial_mlp_width=16)


def _pickled_glass(path, rng):
    """A glass pickle in the released format whose barrier is the shell label (eV)."""
    positions, cell, types = packing(rng, sites_per_side=3)
    box = np.diag(cell).copy()
    arrays = glass_arrays(rng, n=len(positions))
    arrays["box"] = box
    arrays["positions"] = positions - box / 2  # the released files are centred on 0
    arrays["types"] = (types + 1).astype(np.int32)
    arrays["trajectory_start_velocities"] = 1.0 + 0.2 * shell_label(positions, cell, types)
    return write_glass(path, arrays)


def _tiny_example(tmp_path, **changes) -> Path:
    values = yaml.safe_load((ROOT / "examples" / "glass.yaml").read_text())
    values["model"].update(TINY_MODEL)
    values.update(max_epochs=25, learning_rate=0.02, ema_decay=0.9, checkpoint_every=0, **changes)
    path = tmp_path / "glass.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def test_convert_train_predict_round_trip(tmp_path, rng, capsys):
    for name in ("train0", "train1", "train2", "train3", "train6"):
        _pickled_glass(tmp_path / "pickles" / f"{name}.pickle", rng)
    assert main(["glass", "convert", str(tmp_path / "pickles"), str(tmp_path / "data")]) == 0
    config = _tiny_example(tmp_path)
    run_dir = tmp_path / "run"
    args = ["glass", "train", str(config), "--data", str(tmp_path / "data")]
    assert main([*args, "--run-dir", str(run_dir), "--no-progress"]) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert [
        row["structure"] for row in metrics["validation"]["per_atom"]["barrier"]["per_structure"]
    ] == [f"{tmp_path / 'data' / 'train6.extxyz'} frame 0"]
    assert metrics["validation"]["per_atom"]["barrier"]["pooled"]["pearson_r"] > 0.6
    assert metrics["train"]["num_structures"] == 4

    glass = tmp_path / "data" / "train6.extxyz"
    before = glass.read_bytes()
    capsys.readouterr()
    assert main(["glass", "predict", str(run_dir / "best_model.pt"), str(glass)]) == 0
    assert "predicted the barriers of 27 atoms" in capsys.readouterr().out
    assert glass.read_bytes() == before
    (written,) = read_extxyz(tmp_path / "data" / "train6.predicted.extxyz")
    (original,) = read_extxyz(glass)
    from pgnfast.systems.glass.predict import load_barrier_model, predict_barriers

    expected = predict_barriers(load_barrier_model(run_dir / "best_model.pt"), original)
    np.testing.assert_allclose(written.arrays["barrier"], expected, atol=1e-6)
    np.testing.assert_allclose(
        written.arrays["barrier_reference"], original.arrays["barrier"], atol=1e-7
    )
    np.testing.assert_allclose(written.positions, original.positions, atol=1e-7)
    assert metrics["validation"]["per_atom"]["barrier"]["pooled"]["rmse"] == pytest.approx(
        float(np.sqrt(np.mean((expected - original.arrays["barrier"]) ** 2))), rel=1e-4
    )


def test_predict_reads_a_users_glass_without_type_column(tmp_path, rng):
    from pgnfast.systems.glass.predict import load_barrier_model, predict_barriers, predict_file

    model = barrier_model_file(tmp_path / "model.pt")
    glass = user_glass_file(tmp_path / "mine.extxyz", rng)
    result = predict_file(model, glass, tmp_path / "out" / "predicted.extxyz")
    assert result["out"] == str(tmp_path / "out" / "predicted.extxyz")
    (written,) = read_extxyz(result["out"])
    (original,) = read_extxyz(glass)
    assert "barrier_reference" not in written.arrays
    expected = predict_barriers(load_barrier_model(model), original)
    assert np.ptp(expected) > 0
    np.testing.assert_allclose(written.arrays["barrier"], expected, atol=1e-6)
    # the types come from the symbols: swapping Cu and Zr changes the prediction
    swapped = original.copy()
    swapped.set_chemical_symbols(
        ["Zr" if s == "Cu" else "Cu" for s in swapped.get_chemical_symbols()]
    )
    assert not np.allclose(predict_barriers(load_barrier_model(model), swapped), expected)


def test_example_config_resolves_data_relative_to_itself(tmp_path):
    from pgnfast.systems.glass.train import glass_training_config

    config = glass_training_config(ROOT / "examples" / "glass.yaml")
    assert Path(config.data) == ROOT / "data" / "glass"
    assert config.per_atom_targets == {"barrier": 1.0} and config.split_key == "split"
    assert config.metadata["target_units"] == {"barrier": "eV"}
    override = glass_training_config(ROOT / "examples" / "glass.yaml", data=tmp_path / "d")
    assert override.data == str(tmp_path / "d")
