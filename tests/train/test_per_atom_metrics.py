"""Per-atom metrics and the standardised per-atom loss, against numpy and scipy."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from pgnfast.errors import InputError
from pgnfast.train.metrics import (
    pearson_r,
    per_atom_errors,
    per_atom_loss,
    per_atom_metrics,
)


def test_errors_match_numpy_and_scipy(rng):
    label = rng.normal(size=200)
    prediction = 0.7 * label + rng.normal(scale=0.5, size=200)
    errors = per_atom_errors(prediction, label)
    assert errors["pearson_r"] == pytest.approx(stats.pearsonr(prediction, label)[0], abs=1e-12)
    assert errors["rmse"] == pytest.approx(np.sqrt(np.mean((prediction - label) ** 2)))
    assert errors["mae"] == pytest.approx(np.mean(np.abs(prediction - label)))
    assert errors["num_atoms"] == 200
    # torch tensors (with grad) are accepted too
    tensor = torch.tensor(prediction, requires_grad=True)
    assert per_atom_errors(tensor, torch.tensor(label)) == errors


def test_pearson_r_is_nan_when_undefined(rng):
    values = rng.normal(size=20)
    assert math.isnan(pearson_r(np.full(20, 1.5), values))
    assert math.isnan(pearson_r(values, np.full(20, -3.0)))
    assert math.isnan(pearson_r([1.0], [2.0]))
    assert math.isnan(pearson_r([], []))
    assert pearson_r(values, 2 * values + 1) == pytest.approx(1.0)
    assert pearson_r(values, -values) == pytest.approx(-1.0)


def test_per_structure_matches_scipy_on_each_structure(rng):
    sizes = rng.integers(5, 40, size=4)
    batch = np.repeat(np.arange(4), sizes)
    label = rng.normal(size=batch.size)
    prediction = label + rng.normal(scale=0.8, size=batch.size)
    metrics = per_atom_metrics(prediction, label, batch)
    per_structure = metrics["per_structure"]
    np.testing.assert_array_equal(per_structure["structure"], np.arange(4))
    np.testing.assert_array_equal(per_structure["num_atoms"], sizes)
    for s in range(4):
        mine, theirs = prediction[batch == s], label[batch == s]
        assert per_structure["pearson_r"][s] == pytest.approx(
            stats.pearsonr(mine, theirs)[0], abs=1e-12
        )
        assert per_structure["rmse"][s] == pytest.approx(np.sqrt(np.mean((mine - theirs) ** 2)))
        assert per_structure["mae"][s] == pytest.approx(np.mean(np.abs(mine - theirs)))
    assert metrics["pooled"] == per_atom_errors(prediction, label)
    assert metrics["mean_over_structures"]["rmse"] == pytest.approx(np.mean(per_structure["rmse"]))
    single = per_atom_metrics(prediction, label)
    assert single["pooled"] == metrics["pooled"]
    assert single["per_structure"]["pearson_r"][0] == pytest.approx(metrics["pooled"]["pearson_r"])


def test_offsets_between_structures_separate_pooled_from_per_structure(rng):
    batch = np.repeat(np.arange(3), 50)
    offsets = np.array([-10.0, 0.0, 10.0])[batch]
    local = rng.normal(size=batch.size)
    noisy = local + rng.normal(scale=1.0, size=batch.size)
    # offsets predicted: they dominate the pooled r, not the per-structure one
    right = per_atom_metrics(offsets + noisy, offsets + local, batch)
    assert right["pooled"]["pearson_r"] > 0.98
    assert right["mean_over_structures"]["pearson_r"] < 0.9
    # offsets missed: per-structure r unchanged, pooled r and errors much worse
    missed = per_atom_metrics(noisy, offsets + local, batch)
    np.testing.assert_allclose(
        missed["per_structure"]["pearson_r"], right["per_structure"]["pearson_r"], atol=1e-12
    )
    assert missed["pooled"]["pearson_r"] < 0.3
    assert missed["pooled"]["rmse"] > 5 * right["pooled"]["rmse"]


def test_a_constant_structure_gives_a_nan_r_there_only(rng):
    batch = np.repeat([0, 1], 10)
    label = np.concatenate([np.full(10, 2.0), rng.normal(size=10)])
    prediction = rng.normal(size=20)
    metrics = per_atom_metrics(prediction, label, batch)
    r = metrics["per_structure"]["pearson_r"]
    assert math.isnan(r[0]) and not math.isnan(r[1])
    assert math.isnan(metrics["mean_over_structures"]["pearson_r"])
    assert not math.isnan(metrics["pooled"]["pearson_r"])


def test_bad_metric_inputs_are_refused(rng):
    values = rng.normal(size=6)
    with pytest.raises(InputError, match="6 values and label 5"):
        per_atom_errors(values, values[:5])
    with pytest.raises(InputError, match="per-atom label has a non-finite entry at flat index 2"):
        per_atom_errors(values, np.where(np.arange(6) == 2, np.nan, values))
    with pytest.raises(InputError, match=r"batch\[1\] = -1"):
        per_atom_metrics(values, values, np.array([0, -1, 0, 1, 1, 1]))
    with pytest.raises(InputError, match="batch must have shape"):
        per_atom_metrics(values, values, np.zeros(5, dtype=int))
    with pytest.raises(InputError, match="batch must be an integer"):
        per_atom_metrics(values, values, np.zeros(6))


def test_standardised_loss_matches_numpy(rng):
    n = 30
    labels = {"barrier": rng.normal(0.8, 0.3, n), "stress": rng.normal(-2.0, 5.0, n)}
    prediction = {k: v + rng.normal(size=n) for k, v in labels.items()}
    statistics = {"barrier": (0.8, 0.3), "stress": (-2.0, 5.0)}
    total, terms = per_atom_loss(
        {k: torch.tensor(v) for k, v in prediction.items()},
        {k: torch.tensor(v) for k, v in labels.items()},
        statistics,
        weights={"stress": 0.5},
    )
    expected = {k: np.mean(((prediction[k] - labels[k]) / statistics[k][1]) ** 2) for k in labels}
    for k in labels:
        assert float(terms[k]) == pytest.approx(expected[k])
    assert float(total) == pytest.approx(expected["barrier"] + 0.5 * expected["stress"])


def test_loss_refuses_mismatches(rng):
    value = torch.tensor(rng.normal(size=4))
    with pytest.raises(InputError, match="'barrier' has no prediction"):
        per_atom_loss({}, {"barrier": value}, {"barrier": (0.0, 1.0)})
    with pytest.raises(InputError, match="no \\(mean, std\\)"):
        per_atom_loss({"barrier": value}, {"barrier": value}, {})
    with pytest.raises(InputError, match="std must be > 0"):
        per_atom_loss({"barrier": value}, {"barrier": value}, {"barrier": (0.0, 0.0)})
    with pytest.raises(InputError, match="shape"):
        per_atom_loss({"barrier": value[:3]}, {"barrier": value}, {"barrier": (0.0, 1.0)})
    with pytest.raises(InputError, match="no per-atom labels"):
        per_atom_loss({"barrier": value}, {}, {"barrier": (0.0, 1.0)})
