"""Triton kernels, each beside the reference it is tested against.

Importing this package does not import Triton; each kernel module does, so a machine
without Triton can still use every other backend.
"""
