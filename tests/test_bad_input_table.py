"""Run every row of the bad-input table (docs/bad-input.md) and keep the document true."""

from __future__ import annotations

import importlib.util

import pytest

from pgnfast.errors import PGNFastError

from .bad_inputs import DOC, load_all, render

CASES = load_all()


def _available(requirement: str | None) -> bool:
    if requirement is None:
        return True
    if requirement == "cuda":
        import torch

        return torch.cuda.is_available()
    return importlib.util.find_spec(requirement) is not None


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_raises_its_documented_error(case, rng, tmp_path):
    if not _available(case.requires):
        pytest.skip(f"needs {case.requires}")
    assert issubclass(case.error, PGNFastError), f"{case.error} is not a pgnfast exception"
    with pytest.raises(case.error, match=case.message):
        case.call(rng, tmp_path)


def test_document_is_the_rendered_table():
    assert CASES, "no bad-input cases registered"
    assert DOC.read_text() == render(CASES), (
        "docs/bad-input.md is stale: python -m tests.bad_inputs --write"
    )
