"""pgnfast._atomic: a write either replaces the file whole or leaves the old one, and the
new file gets the permissions a plain write would give it."""

from __future__ import annotations

import json
import os

import pytest

from pgnfast._atomic import atomic_path, write_json


def test_written_file_has_the_mode_of_a_plain_write(tmp_path, rng):
    value = {"x": float(rng.normal())}
    path = write_json(tmp_path / "a.json", value)
    plain = tmp_path / "plain.json"
    plain.write_text("{}")
    assert json.loads(path.read_text()) == value
    assert os.stat(path).st_mode & 0o777 == os.stat(plain).st_mode & 0o777


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, rng):
    path = write_json(tmp_path / "a.json", {"old": int(rng.integers(100))})
    before = path.read_text()
    with pytest.raises(RuntimeError):
        with atomic_path(path) as temporary:
            temporary.write_text("half")
            raise RuntimeError("crash mid-write")
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_keep_previous(tmp_path, rng):
    first, second = ({"v": int(v)} for v in rng.integers(0, 100, 2))
    write_json(tmp_path / "a.json", first)
    with atomic_path(tmp_path / "a.json", keep_previous=True) as temporary:
        temporary.write_text(json.dumps(second))
    assert json.loads((tmp_path / "a.json").read_text()) == second
    assert json.loads((tmp_path / "a.json.prev").read_text()) == first
