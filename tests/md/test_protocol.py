"""The stage protocol: chunks end at every frame, ramps are linear."""

from __future__ import annotations

import pytest

from pgnfast.md.protocol import MDSettings, Stage, chunks, velocity_seed


def test_chunks_cover_the_stages_and_end_at_every_frame(rng):
    stages = [
        Stage("npt", int(rng.integers(0, 250)), 10.0, pressure=1.0),
        Stage("nvt", int(rng.integers(1, 250)), 10.0, 50.0),
    ]
    every = int(rng.integers(1, 60))
    pieces = list(chunks(stages, every))
    total = sum(stage.steps for stage in stages)
    assert sum(size for _, _, size, _, _ in pieces) == total
    frame_steps = [step for *_, step, take in pieces if take]
    assert frame_steps == list(range(every, total + 1, every))
    for index, done, size, _, _ in pieces:
        assert done + size <= stages[index].steps


def test_ramp_is_linear():
    stage = Stage("nvt", 100, 10.0, 105.0)
    assert stage.target(0) == 10.0 and stage.target(100) == 105.0
    assert stage.target(50) == pytest.approx(57.5)


def test_settings_defaults_and_seeds(test_seed):
    settings = MDSettings(timestep=4.0, seed=test_seed)
    assert settings.tdamp == 400.0 and settings.pdamp == 4000.0
    assert velocity_seed(test_seed) == velocity_seed(test_seed)
    assert 1 <= velocity_seed(test_seed) < 2**31 - 1
