"""Helpers shared by the neighbor-list tests (`rng` and `test_seed` come from the root
conftest)."""

import numpy as np

from pgnfast.neighbors.reference import canonical_order


def canonical(nl):
    """(i, j, shifts, vectors, distances) as float64 numpy, sorted canonically."""
    arrays = [np.asarray(x.detach().cpu() if hasattr(x, "detach") else x) for x in nl]
    i, j, s, v, d = arrays
    order = np.lexsort((s[:, 2], s[:, 1], s[:, 0], j, i))
    return i[order], j[order], s[order], v[order].astype(float), d[order].astype(float)


def assert_same_pairs(a, b, atol=1e-12):
    ia, ja, sa, va, da = canonical(a)
    ib, jb, sb, vb, db = canonical(b)
    assert len(ia) == len(ib), f"{len(ia)} pairs against {len(ib)}"
    np.testing.assert_array_equal(ia, ib)
    np.testing.assert_array_equal(ja, jb)
    np.testing.assert_array_equal(sa, sb)
    np.testing.assert_allclose(va, vb, rtol=0, atol=atol)
    np.testing.assert_allclose(da, db, rtol=0, atol=atol)


def random_cell(rng, length, skew):
    """A random (possibly rotated, sheared) cell with rows of about `length`."""
    cell = np.diag(rng.uniform(0.8, 1.2, 3) * length)
    cell += rng.uniform(-skew, skew, (3, 3)) * length * np.triu(np.ones((3, 3)), 1)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return cell @ q


__all__ = ["assert_same_pairs", "canonical", "canonical_order", "random_cell"]
