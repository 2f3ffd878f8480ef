"""The engine with the NequIP potential (skipped only when torch or e3nn is not installed)."""

from __future__ import annotations

import numpy as np
import pytest

import pgnfast.mc as mc
from pgnfast.mc.local import LocalEnergyChange, ReplicaState


def _model_potential(seed: int = 0):
    torch = pytest.importorskip("torch")
    pytest.importorskip("e3nn")
    from pgnfast.nn.model import NequIP
    from pgnfast.nn.potential import Potential

    torch.manual_seed(seed)
    model = NequIP(
        r_max=0.7, num_layers=2, l_max=1, num_features=8, num_bessel=4, radial_mlp_width=16
    ).double()
    return Potential(model)


def test_nequip_local_difference_equals_full_recomputation(rng, test_seed):
    potential = _model_potential(test_seed % 2**31)
    assert potential.receptive_field == pytest.approx(1.4)
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


def test_nequip_runs_in_the_engine(rng, test_seed):
    potential = _model_potential(test_seed % 2**31)
    positions = rng.random((30, 3)) * 3.0
    pt = mc.ParallelTempering(
        potential, positions, np.eye(3) * 3.0, [1.0, 2.0], seed=test_seed, equilibration_sweeps=1
    )
    summary = pt.run(2, quench_lowest=False)
    assert summary.sweeps == 2 and np.all(np.isfinite(summary.mean_energy))
    for state in pt.replicas:
        np.testing.assert_allclose(
            state.energy, potential.energy(state.positions, pt.cell), atol=1e-8
        )
