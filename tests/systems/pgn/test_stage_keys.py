"""Stage keys: a stage's key changes exactly when a configuration field it reads (or one its
inputs read) changes, and a stage can read only the fields it declares."""

from __future__ import annotations

import dataclasses

import pytest

from pgnfast.systems.pgn import Pipeline, tiny_config
from pgnfast.systems.pgn.stages import (
    BY_NAME,
    MODULES,
    STAGES,
    ConfigView,
    UndeclaredFieldError,
    stage_keys,
)
from pgnfast.systems.pgn.stages.base import field_value


def _fields(config) -> list[str]:
    """Every dotted field of a PipelineConfig: each field of each section, dicts whole."""
    out = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out += [f"{f.name}.{g.name}" for g in dataclasses.fields(value)]
        else:
            out.append(f.name)
    return out


FIELDS = _fields(tiny_config())


def _other(value):
    """A different value of the same kind."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 1.5 + 0.25
    if isinstance(value, str):
        return value + "-other"
    if isinstance(value, list):
        return [*value, value[-1]]
    if isinstance(value, dict):
        return {**value, "added_key": 1}
    assert value is None, value
    return 2


def _with(config, dotted: str, value):
    """`config` with the dotted field set to `value` (a deep copy)."""
    config = dataclasses.replace(config)  # shallow: replace the touched section
    *sections, name = dotted.split(".")
    target = config
    for section in sections:
        copied = dataclasses.replace(getattr(target, section))
        setattr(target, section, copied)
        target = copied
    setattr(target, name, value)
    return config


def _reads_with_inputs(stage: str) -> set[str]:
    """The fields a stage reads and those every stage it depends on reads."""
    module = BY_NAME[stage]
    out = set(module.READS)
    for name in module.INPUTS:
        out |= _reads_with_inputs(name)
    return out


def test_declarations_name_real_fields_and_earlier_stages():
    for index, module in enumerate(MODULES):
        assert module.NAME == STAGES[index]
        assert set(module.READS) <= set(FIELDS), module.NAME
        assert set(module.SETTINGS) <= set(FIELDS), module.NAME
        assert not set(module.READS) & set(module.SETTINGS), module.NAME
        assert set(module.INPUTS) <= set(STAGES[:index]), module.NAME


@pytest.mark.parametrize("dotted", FIELDS)
def test_a_field_changes_exactly_the_keys_of_the_stages_that_read_it(dotted):
    config = tiny_config(seed=5)
    before = stage_keys(config)
    after = stage_keys(_with(config, dotted, _other(field_value(config, dotted))))
    changed = {stage for stage in STAGES if after[stage] != before[stage]}
    expected = {stage for stage in STAGES if dotted in _reads_with_inputs(stage)}
    assert changed == expected
    assert stage_keys(config) == before  # the original configuration is untouched


def test_nested_values_count_and_keys_repeat():
    config = tiny_config(seed=5)
    keys = stage_keys(config)
    assert stage_keys(tiny_config(seed=5)) == keys == Pipeline(config, "unused").keys()
    config.train["model"]["l_max"] = 0
    changed = stage_keys(config)
    assert [s for s in STAGES if changed[s] != keys[s]] == list(STAGES[1:])  # all but labels
    config = tiny_config(seed=5)
    config.design["grafting_density"] = 1.25
    assert all(stage_keys(config)[s] != keys[s] for s in STAGES)


def test_compare_reads_the_rdf_bins():
    """g(r) of the compare stage has analysis.rdf_bins bins: a changed bin count must rerun
    it (a key without the analysis section reused a stale result)."""
    config = tiny_config(seed=5)
    keys = stage_keys(config)
    config.analysis.rdf_bins += 4
    changed = stage_keys(config)
    assert [s for s in STAGES if changed[s] != keys[s]] == ["compare", "analysis"]


def test_the_view_shows_only_declared_fields():
    config = tiny_config(seed=5)
    view = ConfigView(config, ("seed", "mc.sweeps", "train", "design"), "probe")
    assert view.seed == 5 and view.mc.sweeps == config.mc.sweeps
    assert view.pgn_design() == config.pgn_design()
    with pytest.raises(UndeclaredFieldError, match=r"stage 'probe' reads config field 'mc\.count'"):
        field_value(view, "mc.count")
    with pytest.raises(UndeclaredFieldError, match="'analysis'"):
        field_value(view, "analysis")
    with pytest.raises(AttributeError, match="cannot change"):
        view.seed = 6
    copied = view.train
    copied["max_epochs"] = 1000  # a copy: the configuration (and its keys) stay as they were
    assert config.train["max_epochs"] != 1000


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_sees_its_declared_fields(stage):
    module = BY_NAME[stage]
    config = tiny_config(seed=5)
    view = ConfigView(config, module.READS + module.SETTINGS, stage)
    for dotted in module.READS + module.SETTINGS:
        assert field_value(view, dotted) == field_value(config, dotted)
    for dotted in sorted(set(FIELDS) - set(module.READS) - set(module.SETTINGS)):
        with pytest.raises(UndeclaredFieldError):
            field_value(view, dotted)
