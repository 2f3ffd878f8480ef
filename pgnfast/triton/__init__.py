"""Triton kernels, each beside the reference it is tested against.

A pure kernel layer: the modules here take plain tensors (already validated, binned,
laid out) and import nothing from pgnfast.neighbors or pgnfast.ops; those packages
validate the input, prepare it and call in. Importing this package does not import Triton;
each kernel module does, so a machine without Triton can still use every other backend.
"""
