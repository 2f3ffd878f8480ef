"""Input checks of tp_conv: the public entry's and the ones every compiled op runs itself.

Layout checks (tensor types, shapes, dtypes) cost nothing. Index values are checked with one
min/max reduction per index array (one device sync for all of them); an index tensor already
checked (the same object, unchanged since: torch's version counter) is not checked again, so
the layers of a model and the backward ops that reuse one graph pay once. Every message
comes from `pgnfast.validation.check_indices` (or names the argument and first bad edge the
same way) and is raised as `pgnfast.errors.InputError`.
"""

from __future__ import annotations

import numbers
import weakref

import torch

from ..errors import InputError
from ..validation import check_indices

__all__ = [
    "check_index_values",
    "check_layout",
    "check_tp_conv_inputs",
    "values_unknown",
    "raise_index_error",
]


def values_unknown(tensor: torch.Tensor) -> bool:
    """True while tracing (torch.compile, fake tensors): only shapes are known, not values."""
    return torch.compiler.is_compiling() or torch._subclasses.fake_tensor.is_fake(tensor)


class _CheckedIndices:
    """Index tensors whose values passed: id -> (weak reference, version, max value, sorted)."""

    def __init__(self, capacity: int = 64):
        self.capacity = capacity
        self.entries: dict[int, tuple] = {}

    def passed(self, index: torch.Tensor, size: int, need_sorted: bool) -> bool:
        entry = self.entries.get(id(index))
        if entry is None or index.is_inference():  # inference tensors have no version counter
            return False
        reference, version, high, is_sorted = entry
        return (
            reference() is index
            and version == index._version
            and high < size
            and (is_sorted or not need_sorted)
        )

    def add(self, index: torch.Tensor, high: int, is_sorted: bool) -> None:
        if index.is_inference():
            return
        if len(self.entries) >= self.capacity:
            self.entries.clear()
        key = id(index)
        forget = lambda _, key=key: self.entries.pop(key, None)  # noqa: E731
        self.entries[key] = (weakref.ref(index, forget), index._version, high, is_sorted)


_checked = _CheckedIndices()


def _first_decrease(index: torch.Tensor) -> int:
    return int(torch.nonzero(index[1:] < index[:-1])[0]) + 1


def check_index_values(items) -> None:
    """Refuse index values outside [0, size) and, where asked, a decreasing step.

    items: (index, size, name, need_sorted) tuples of 1-D integer tensors. One reduction per
    index, one sync for all; unchanged tensors that passed before are skipped."""
    pending = [
        (index, size, name, need_sorted)
        for index, size, name, need_sorted in items
        if index.numel() and not _checked.passed(index, size, need_sorted)
    ]
    if not pending:
        return
    stats = []
    for index, _, _, need_sorted in pending:
        low, high = torch.aminmax(index)
        drops = (index[1:] < index[:-1]).sum() if need_sorted else torch.zeros_like(high)
        stats.append(torch.stack((low, high, drops.to(high.dtype))))
    values = torch.stack(stats).tolist()
    for (index, size, name, need_sorted), (low, high, drops) in zip(pending, values):
        if low < 0 or high >= size:
            check_indices(index, size, name, index.shape[0])  # raises, naming the first edge
            raise InputError(f"{name} has an entry out of range for {size} rows")
        if drops:
            k = _first_decrease(index)
            raise InputError(
                f"{name} must be sorted non-decreasing: {name}[{k}] = {int(index[k])} "
                f"follows {name}[{k - 1}] = {int(index[k - 1])}"
            )
        _checked.add(index, high, need_sorted)


def raise_index_error(error: Exception | str, items):
    """Translate a refusal of a compiled kernel (an exception or a message) into InputError:
    the first bad index of `items` ((index, size, name, need_sorted) tuples) names the
    argument and the edge; failing that, the kernel's own message is raised."""
    check_index_values(items)
    cause = error if isinstance(error, BaseException) else None
    raise InputError(f"tp_conv: {error}") from cause


def _check_matrix(name: str, tensor, rows, columns: int, meaning: str) -> None:
    """A floating (rows, columns) tensor; rows None: any number of rows."""
    if not isinstance(tensor, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if not tensor.is_floating_point():
        raise InputError(f"{name} must be a floating-point tensor, got {tensor.dtype}")
    wrong_rows = tensor.dim() == 2 and rows is not None and tensor.shape[0] != rows
    if tensor.dim() != 2 or wrong_rows or tensor.shape[1] != columns:
        rows = "E" if rows is None else rows
        raise InputError(
            f"{name} must have shape ({rows}, {columns}) ({meaning}), got {tuple(tensor.shape)}"
        )


def _check_index_layout(index, name: str, length: int, any_integer: bool) -> None:
    if not isinstance(index, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor of integers, got {type(index).__name__}")
    wrong_kind = index.dtype == torch.bool or index.is_floating_point() or index.is_complex()
    if wrong_kind or index.dim() != 1 or index.shape[0] != length:
        check_indices(index, 0, name, length)  # raises: dtype or shape
    if not any_integer and index.dtype != torch.int64:
        raise InputError(f"{name} must be an int64 tensor, got {index.dtype}")


def check_layout(
    spec,
    node_features,
    edge_sh,
    edge_weights,
    senders,
    receivers,
    num_nodes,
    grad_output=None,
    *,
    any_integer: bool = False,
) -> None:
    """Types and shapes (no values): node_features (num_nodes, dim_in), edge_sh (E, dim_sh),
    edge_weights (E, weight_numel), senders and receivers (E,) integer (int64 unless
    any_integer), grad_output (num_nodes, dim_out) where given."""
    if isinstance(num_nodes, bool) or not isinstance(num_nodes, (numbers.Integral, torch.SymInt)):
        raise InputError(f"num_nodes must be an integer, got {num_nodes!r}")
    if num_nodes < 0:
        raise InputError(f"num_nodes must be >= 0, got {num_nodes}")
    _check_matrix("node_features", node_features, num_nodes, spec.dim_in, "num_nodes, spec.dim_in")
    _check_matrix("edge_sh", edge_sh, None, spec.dim_sh, "edges, spec.dim_sh")
    edges = edge_sh.shape[0]
    _check_matrix(
        "edge_weights",
        edge_weights,
        edges,
        spec.weight_numel,
        "edges as edge_sh, spec.weight_numel",
    )
    if grad_output is not None:
        _check_matrix("grad_output", grad_output, num_nodes, spec.dim_out, "num_nodes, dim_out")
    _check_index_layout(senders, "senders", edges, any_integer)
    _check_index_layout(receivers, "receivers", edges, any_integer)


def check_tp_conv_inputs(spec, node_features, edge_sh, edge_weights, senders, receivers, num_nodes):
    """The public entry's checks (layout, one device, index values); returns (senders,
    receivers) as int64. Values are not checked while torch.compile traces."""
    check_layout(
        spec, node_features, edge_sh, edge_weights, senders, receivers, num_nodes, any_integer=True
    )
    device = node_features.device
    for name, tensor in (
        ("edge_sh", edge_sh),
        ("edge_weights", edge_weights),
        ("senders", senders),
        ("receivers", receivers),
    ):
        if tensor.device != device:
            raise InputError(f"{name} is on {tensor.device}, node_features on {device}")
    if not values_unknown(senders):
        check_index_values(
            ((senders, num_nodes, "senders", False), (receivers, num_nodes, "receivers", False))
        )
    return senders.to(torch.int64), receivers.to(torch.int64)
