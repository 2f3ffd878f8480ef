"""Run under ``mpiexec -n 2 python -m tests.mc.mpi_runner OUT``: MPI parallel tempering of the
engines in :mod:`tests.mc.mpi_cases`, written as checkpoints for test_mpi.py to compare."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pgnfast.mc import JsonLinesLog, TrajectoryWriter, cli
from pgnfast.mc.mpi import MPIParallelTempering

from .mpi_cases import CASES, SPLIT, TOTAL, cli_config


def main(out: Path) -> None:
    for name, make in CASES.items():
        engine = make(MPIParallelTempering)
        rank = engine.comm.Get_rank()
        (out / f"{name}_owned_{rank}.json").write_text(json.dumps(engine.owned))
        writers = [JsonLinesLog(out / f"{name}_log.jsonl"), TrajectoryWriter(out / name, every=2)]
        engine.run(SPLIT, checkpoint=out / f"{name}_split.npz", checkpoint_every=3, writers=writers)
        resumed = MPIParallelTempering.from_checkpoint(out / f"{name}_split.npz", engine.potential)
        summary = resumed.run(TOTAL - SPLIT, checkpoint=out / f"{name}_final.npz")
        if rank == 0:
            (out / f"{name}_summary.json").write_text(json.dumps(summary.as_dict()))
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    config = cli_config(out / "cli", "mpi")
    cli.run(parser.parse_args([str(config), "--no-progress"]))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
