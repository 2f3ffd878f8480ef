"""Damaged copies of files for the corruption tests (hypothesis draws what to damage)."""

from __future__ import annotations

from hypothesis import strategies as st


def damage(data: bytes, draw) -> bytes:
    """Truncate `data` or overwrite a few of its bytes, as `draw` (hypothesis data) says."""
    if draw(st.booleans()):
        return data[: draw(st.integers(0, len(data) - 1))]
    damaged = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        damaged[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(damaged)
