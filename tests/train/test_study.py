"""The hyperparameter study: grid, table, plots and generated summary."""

import csv

from pgnfast.testing import write_synthetic_dataset
from pgnfast.train.study_cli import run_study, summarize


def test_study_grid_writes_table_plots_and_summary(tmp_path):
    data = tmp_path / "data.extxyz"
    write_synthetic_dataset(data, num_configs=12, num_particles=8, box=1.2, seed=2)
    study = {
        "base": dict(
            data=str(data),
            model=dict(num_features=4, radial_mlp_width=8, num_bessel=4),
            batch_size=4,
            max_epochs=1,
            split={"train": 8, "validation": 2, "test": 2},
            plots=False,
            progress=False,
        ),
        "grid": {"r_max": [0.6], "l_max": [0, 1], "num_layers": [1, 2]},
        "run_dir": str(tmp_path / "study"),
    }
    rows = run_study(study)
    assert len(rows) == 4
    with open(tmp_path / "study" / "results.csv") as handle:
        table = list(csv.DictReader(handle))
    assert {(r["l_max"], r["num_layers"]) for r in table} == {
        ("0", "1"),
        ("0", "2"),
        ("1", "1"),
        ("1", "2"),
    }
    for key in ("r_max", "l_max", "num_layers"):
        assert (tmp_path / "study" / f"error_vs_{key}.png").exists()
    summary = (tmp_path / "study" / "summary.md").read_text()
    assert "l_max" in summary and "num_layers" in summary


def test_summary_reads_trends():
    def row(l_max, layers, error):
        return {
            "run_dir": "x",
            "r_max": 1.0,
            "l_max": l_max,
            "num_layers": layers,
            "test": {"forces_rmse_kT_per_nm": error, "energy_per_particle_rmse_kT": 0.1},
        }

    text = summarize([row(0, 1, 4.0), row(1, 1, 1.0), row(0, 3, 3.0), row(1, 3, 0.5)])
    assert "anisotropic" in text and "higher effective body order" in text
    flat = summarize([row(0, 1, 1.0), row(1, 1, 1.0)])
    assert "effectively isotropic" in flat and "anisotropic" not in flat
    assert "anisotropic" in text and "effectively isotropic" not in text
