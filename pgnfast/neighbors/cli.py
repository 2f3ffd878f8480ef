"""`pgnfast neighbors FILE`: neighbor list of an extxyz/ASE-readable structure, with timings."""

from __future__ import annotations

import json
import time


def add_arguments(parser) -> None:
    parser.add_argument("structure", help="any file ASE can read (extxyz, cif, POSCAR, ...)")
    parser.add_argument("--cutoff", type=float, required=True, help="cutoff in nm")
    parser.add_argument(
        "--backend", default="auto", choices=["auto", "cpu", "cuda", "triton", "reference"]
    )
    parser.add_argument("--half", action="store_true", help="list each pair once")
    parser.add_argument("--index", default="-1", help="frame of a trajectory (default: last)")


def run(args) -> int:
    import ase.io
    import numpy as np

    from pgnfast import neighbor_list

    atoms = ase.io.read(args.structure, index=args.index)
    start = time.perf_counter()
    nl = neighbor_list(
        atoms.positions,
        np.asarray(atoms.cell),
        args.cutoff,
        pbc=tuple(atoms.pbc),
        half=args.half,
        backend=args.backend,
    )
    elapsed = time.perf_counter() - start
    counts = np.bincount(nl.i, minlength=len(atoms))
    print(
        json.dumps(
            {
                "particles": len(atoms),
                "pairs": len(nl),
                "seconds": elapsed,
                "neighbors_mean": float(counts.mean()) if len(atoms) else 0.0,
                "neighbors_max": int(counts.max()) if len(atoms) else 0,
                "shortest_distance": float(nl.distances.min()) if len(nl) else None,
            },
            indent=2,
        )
    )
    return 0
