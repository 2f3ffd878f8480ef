"""Torch ops with pluggable backends. ``tp_conv``: the NequIP tensor-product convolution."""

from .convolution import (
    BACKENDS,
    BackendFallbackWarning,
    TPConvSpec,
    available_backends,
    prepare_backend,
    register_backend,
    resolve_backend,
    tp_conv,
)

__all__ = [
    "BACKENDS",
    "BackendFallbackWarning",
    "TPConvSpec",
    "available_backends",
    "prepare_backend",
    "register_backend",
    "resolve_backend",
    "tp_conv",
]
