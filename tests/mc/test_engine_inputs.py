"""What the engine accepts: valid inputs at any scale, and the names kept where they were.
(Refused inputs are rows of tests/mc/bad_inputs.py.)"""

from __future__ import annotations

import numpy as np
import pytest

import pgnfast.mc as mc
from pgnfast.errors import InputError
from pgnfast.potentials import Harmonic, LennardJones


@pytest.mark.parametrize("box", [1e-3, 1.0, 1e3])
def test_a_valid_box_of_any_size_is_accepted(rng, test_seed, box):
    """The singular-cell test is relative to the cell's size: a 1e-3 nm box runs."""
    positions = rng.random((10, 3)) * box
    spring = 1.0 / box**2  # the same thermal spread relative to the box at every size
    engine = mc.ParallelTempering(
        Harmonic(spring, centers=positions),
        positions,
        np.eye(3) * box,
        [1.0, 2.0],
        types=np.arange(10),
        seed=test_seed,
        equilibration_sweeps=2,
    )
    summary = engine.run(3, quench_lowest=False)
    assert summary.sweeps == 3 and np.all(np.isfinite(summary.mean_energy))
    assert np.all(engine.step_sizes <= 0.25 * box)


def test_whole_float_types_are_accepted(rng):
    positions = rng.random((6, 3)) * 3.0
    engine = mc.ParallelTempering(
        Harmonic(1.0, centers=rng.random((2, 3))),
        positions,
        np.eye(3) * 3.0,
        [1.0],
        types=np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0]),
    )
    assert engine.types.dtype == np.int64 and engine.types.tolist() == [0, 1, 1, 0, 1, 0]


class _ShortDuringMoves(LennardJones):
    """Right on the whole system, one energy short on the clusters of local moves."""

    def energies(self, positions, cell, types=None, pbc=True):
        energies = super().energies(positions, cell, types, pbc)
        return energies if pbc else energies[:-1]


def test_wrong_energy_count_during_moves_is_named(rng, test_seed):
    positions = (np.stack(np.meshgrid(*[np.arange(5)] * 3), -1).reshape(-1, 3) + 0.5) * 1.3
    positions = positions + rng.normal(0, 0.05, positions.shape)
    engine = mc.ParallelTempering(
        _ShortDuringMoves(cutoff=1.5), positions, np.eye(3) * 6.5, [1.0], seed=test_seed
    )
    assert engine.mode == "local"
    with pytest.raises(mc.MonteCarloInputError, match=r"returned \d+ energies for \d+ particles"):
        engine.run(1, quench_lowest=False)


def test_errors_are_pgnfast_input_errors():
    assert issubclass(mc.MonteCarloInputError, InputError)
    assert issubclass(mc.CheckerboardError, InputError)


def test_moved_names_stay_importable():
    from pgnfast.geometry import face_widths
    from pgnfast.mc import cells, engine

    assert cells.face_widths is face_widths
    for name in ("MonteCarloInputError", "MonteCarloSummary", "ParallelTempering", "quench"):
        assert getattr(engine, name) is getattr(mc, name)
