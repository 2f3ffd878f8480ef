"""The engine with the NequIP potential (skipped when pgnfast.nn is not importable)."""

from __future__ import annotations

import numpy as np
import pytest

import pgnfast.mc as mc
from pgnfast.mc.local import LocalEnergyChange, ReplicaState


def _model_potential():
    torch = pytest.importorskip("torch")
    try:
        from pgnfast.nn.model import NequIP
        from pgnfast.nn.potential import Potential
    except Exception as error:  # noqa: BLE001 - any import problem means "not available"
        pytest.skip(f"pgnfast.nn not importable: {error}")
    torch.manual_seed(0)
    model = NequIP(
        r_max=0.7, num_layers=2, l_max=1, num_features=8, num_bessel=4, radial_mlp_width=16
    ).double()
    return Potential(model)


def test_nequip_local_difference_equals_full_recomputation():
    potential = _model_potential()
    assert potential.receptive_field == pytest.approx(1.4)
    rng = np.random.default_rng(0)
    cell = np.eye(3) * 4.0
    positions = rng.random((40, 3)) * 4.0
    energies = potential.energies(positions, cell)
    state = ReplicaState(
        positions.copy(),
        np.asarray(energies, np.float64),
        mc.IncrementalCellList(positions, cell, 1.4),
    )
    evaluator = LocalEnergyChange(potential, cell, None)
    requests = []
    for _ in range(3):
        k = int(rng.integers(40))
        requests.append((state, k, positions[k] + rng.normal(0, 0.2, 3)))
    results = evaluator.evaluate(requests)  # one batched model call for the three clusters
    total = float(np.sum(energies))
    for (_, k, new), result in zip(requests, results):
        moved = positions.copy()
        moved[k] = new
        assert result.delta == pytest.approx(potential.energy(moved, cell) - total, abs=1e-9)


def test_nequip_runs_in_the_engine():
    potential = _model_potential()
    positions = np.random.default_rng(1).random((30, 3)) * 3.0
    pt = mc.ParallelTempering(
        potential, positions, np.eye(3) * 3.0, [1.0, 2.0], seed=0, equilibration_sweeps=1
    )
    summary = pt.run(2, quench_lowest=False)
    assert summary.sweeps == 2 and np.all(np.isfinite(summary.mean_energy))
    for state in pt.replicas:
        np.testing.assert_allclose(
            state.energy, potential.energy(state.positions, pt.cell), atol=1e-8
        )
