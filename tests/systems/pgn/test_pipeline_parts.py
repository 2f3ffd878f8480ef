"""Parts of the pipeline: the hard-core rule, the configurations, the command line."""

from __future__ import annotations

import glob
import math
import re
from pathlib import Path

import numpy as np
import pytest

from pgnfast.dft.config import MAX_CORE_OVERLAP
from pgnfast.dft.core_exclusion import CoreExclusion
from pgnfast.errors import FileFormatError, InputError
from pgnfast.potentials import LennardJones
from pgnfast.systems.pgn import PipelineConfig, StudyConfig, demo_config, demo_design

ROOT = Path(__file__).parents[3]
EXAMPLES = sorted(glob.glob(str(ROOT / "examples" / "study-pgn" / "*.yaml")))


def _guarded(cutoff=20.0):
    design = demo_config().pgn_design()
    return CoreExclusion(LennardJones(cutoff=cutoff), design), design


def test_core_exclusion_flags_exactly_the_dft_overlaps(rng):
    guarded, design = _guarded()
    a0, a1 = design.radii
    limit = a0 + a1 - MAX_CORE_OVERLAP * min(a0, a1)  # nm, the DFT's refusal distance
    base = rng.uniform(20, 30, 3)
    cell = np.eye(3) * 100.0
    types = np.array([0, 1, 0])
    for gap, expected in ((-1e-6, True), (1e-6, False)):
        positions = np.array([base, base + [limit + gap, 0, 0], base + [60.0, 0, 0]])
        flags = guarded.overlapping(positions, cell, types)
        assert flags.tolist() == [expected, expected, False]
        energies = guarded.energies(positions, cell, types)
        assert np.isinf(energies[:2]).all() == expected and np.isfinite(energies[2])
        (batch,) = guarded.energies_batch([(positions, cell, types, True)])
        np.testing.assert_array_equal(batch, energies)
    # across the periodic boundary, and in a non-periodic cluster it is not an overlap
    positions = np.array([[1.0, 50, 50], [99.0, 50, 50], [50, 50, 50]])
    assert guarded.overlapping(positions, cell, types).tolist() == [True, True, False]
    assert not guarded.overlapping(positions, cell, types, pbc=False).any()


def test_core_exclusion_needs_the_wall_inside_the_receptive_field():
    with pytest.raises(ValueError, match="receptive field"):
        _guarded(cutoff=10.0)
    guarded, _ = _guarded(cutoff=16.5)
    assert guarded.receptive_field == 16.5


def test_config_round_trip_and_unknown_keys():
    config = demo_config(seed=7)
    again = PipelineConfig.from_dict(config.to_dict())
    assert again == config and again.section_hash("mc") == config.section_hash("mc")
    partial = PipelineConfig.from_dict({"mc": {"sweeps": 5}, "train": {"model": {"l_max": 0}}})
    assert partial.mc.sweeps == 5 and partial.mc.n_particles == demo_config().mc.n_particles
    assert partial.train["model"]["l_max"] == 0 and partial.train["model"]["r_max"] == 28.0
    with pytest.raises(InputError, match=r"unknown pipeline\.mc keys \['swepes'\]"):
        PipelineConfig.from_dict({"mc": {"swepes": 5}})
    with pytest.raises(InputError, match=r"unknown pipeline keys \['sizes'\]"):
        PipelineConfig.from_dict({"sizes": {}})
    with pytest.raises(InputError, match="core_radius"):
        PipelineConfig.from_dict({"design": {**demo_design(), "core_radius": [8.0, -1.0]}})
    with pytest.raises(InputError, match=r"pipeline\.train keys \['seed'\] are set by the"):
        PipelineConfig.from_dict({"train": {"seed": 4}})
    with pytest.raises(InputError, match=r"unknown pipeline\.train keys \['epochs'\]"):
        PipelineConfig.from_dict({"train": {"epochs": 4}})
    with pytest.raises(InputError, match=r"unknown pipeline\.train\.model keys \['lmax'\]"):
        PipelineConfig.from_dict({"train": {"model": {"lmax": 4}}})
    with pytest.raises(InputError, match=r"pipeline\.train: batch_size"):
        PipelineConfig.from_dict({"train": {"batch_size": 0}})


def test_config_files_name_the_file_and_section(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("seed: 3\nmc: {sweeps: 5}\n")
    assert PipelineConfig.from_yaml(path) == PipelineConfig.from_dict(
        {"seed": 3, "mc": {"sweeps": 5}}
    )
    path.write_text("seed: 3\nanalysis: {rdf_bin: 5}\n")
    with pytest.raises(InputError, match=re.escape(f"{path}: unknown pipeline.analysis keys")):
        PipelineConfig.from_yaml(path)
    study = tmp_path / "study.yaml"
    study.write_text("designs:\n  - {name: a, core_radius: 8.0}\npipeline: {mc: {sweps: 1}}\n")
    with pytest.raises(InputError, match=re.escape(f"{study}: design 'a': unknown pipeline.mc")):
        StudyConfig.from_yaml(study)
    study.write_text("- a\n- b\n")
    with pytest.raises(FileFormatError, match="must hold a mapping"):
        StudyConfig.from_yaml(study)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: Path(p).name)
def test_study_examples_are_valid(path):
    study = StudyConfig.from_yaml(path)
    pipelines = study.pipelines()
    assert len(pipelines) >= 2 and len({p.name for p in pipelines}) == len(pipelines)
    for pipeline in pipelines:
        design = pipeline.pgn_design()
        assert design.n_types == 2  # bidisperse everywhere
        assert pipeline.mc.n_particles > pipeline.labels.n_particles
        receptive = pipeline.train["model"]["r_max"] * pipeline.train["model"]["num_layers"]
        assert 2 * design.radii.max() <= receptive  # the core wall fits (CoreExclusion)
        assert math.isfinite(pipeline.mc.t_max) and pipeline.mc.t_max > pipeline.mc.t_min


def test_study_rejects_duplicate_names():
    design = demo_design()
    with pytest.raises(InputError, match=r"distinct name: designs\[1\] has name 'a'"):
        StudyConfig.from_dict({"designs": [{"name": "a", **design}, {"name": "a", **design}]})
    with pytest.raises(InputError, match=r"distinct name: designs\[0\] has name None"):
        StudyConfig.from_dict({"designs": [design]})
    with pytest.raises(InputError, match="at least one"):
        StudyConfig.from_dict({"designs": []})


def test_cli_lists_demo_and_study(capsys):
    from pgnfast.cli import main

    with pytest.raises(SystemExit):
        main(["study-pgn", "--help"])
    text = capsys.readouterr().out
    assert "--scheduler" in text and "--stages" in text
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = capsys.readouterr().out
    assert "--quick" in text and "--seed" in text and "--out" in text
