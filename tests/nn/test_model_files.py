"""Model files: metadata, units and type names recorded and checked, damaged files refused
with pgnfast exceptions (never another kind), weights_only loading."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, seed, settings
from hypothesis import strategies as st

import pgnfast
from pgnfast import errors
from pgnfast.nn.io import IncompatibleModelError, load_model, model_record, save_model
from pgnfast.testing import random_graph, small_model
from pgnfast.units import ATOMISTIC, PGN
from tests.corruption import damage


def _tiny(seed_value=0):
    return small_model(
        torch.float64, seed=seed_value, num_layers=1, l_max=1, num_features=2, radial_mlp_width=4
    )


def test_incompatible_model_error_is_the_pgnfast_one():
    assert IncompatibleModelError is errors.IncompatibleModelError
    assert issubclass(IncompatibleModelError, errors.PGNFastError)


def test_units_constant_and_defaults():
    from pgnfast.nn.model import UNITS

    assert UNITS == PGN
    model = _tiny()
    assert model.metadata == {} and model.units == PGN


def test_metadata_and_units_round_trip(tmp_path, test_seed):
    model = _tiny(test_seed % 2**31)
    model.units = dict(ATOMISTIC)
    metadata = {"pgn_design": {"core_radius": [6.0, 8.0], "chain_length": 20}, "note": "x"}
    save_model(model, tmp_path / "m.pt", metadata=metadata)
    loaded = load_model(tmp_path / "m.pt", units="atomistic", type_names=model.type_names)
    assert loaded.metadata == metadata and loaded.units == ATOMISTIC
    # the model's own metadata is the default, and it survives a second save
    save_model(loaded, tmp_path / "again.pt")
    assert load_model(tmp_path / "again.pt").metadata == metadata
    with pytest.raises(errors.UnitsError, match="Angstrom"):
        load_model(tmp_path / "m.pt", units="pgn")


def test_files_without_metadata_or_checksum_still_load(tmp_path, rng):
    model = _tiny(int(rng.integers(2**31)))
    record = model_record(model)
    for key in ("metadata", "checksum"):
        del record[key]
    torch.save(record, tmp_path / "old.pt")
    loaded = load_model(tmp_path / "old.pt", units="pgn")
    assert loaded.metadata == {}
    graph = random_graph(model, num_particles=6, box=1.0, seed=int(rng.integers(2**31)))
    assert torch.equal(loaded(graph)["energies"], model.eval()(graph)["energies"])


def test_loading_uses_weights_only(tmp_path, torch_load_calls):
    save_model(_tiny(), tmp_path / "m.pt")
    load_model(tmp_path / "m.pt")
    assert torch_load_calls == [True]


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(errors.FileFormatError, match="nothing.pt"):
        pgnfast.load_model(tmp_path / "nothing.pt")


def test_damaged_model_files_raise_pgnfast_errors(tmp_path, test_seed):
    path, damaged = tmp_path / "m.pt", tmp_path / "damaged.pt"
    save_model(_tiny(), path)
    data = path.read_bytes()

    @seed(test_seed)
    @settings(max_examples=30, deadline=None, database=None)
    @given(st.data())
    def check(draw):
        damaged.write_bytes(damage(data, draw.draw))
        try:
            model = load_model(damaged)
        except errors.PGNFastError:
            return
        assert isinstance(model, pgnfast.NequIP)  # damage the file format tolerates

    check()


def test_a_loaded_model_equals_the_saved_one_for_every_dtype(tmp_path, rng):
    for dtype in (torch.float32, torch.float64):
        model = _tiny(int(rng.integers(2**31))).to(dtype)
        save_model(model, tmp_path / "m.pt")
        loaded = load_model(tmp_path / "m.pt")
        assert loaded.dtype == dtype
        for key, value in model.state_dict().items():
            assert torch.equal(value, loaded.state_dict()[key]), key
    assert np.isfinite(float(loaded.energy_scale.sum()))
