"""One package per system pgnfast serves. Each holds its data generation, workflow, report
and CLI command; it may import any lower layer of pgnfast, never another system.

- `pgn`: polymer-grafted nanoparticle glasses (nm, kT): DFT labels -> NequIP -> parallel
  tempering -> icosahedral order.
- `argon`: Lennard-Jones argon (Angstrom, eV, fs): the exact reference, LAMMPS or ASE
  molecular dynamics, the training-data protocol (phonons and vacancies to come).
- `glass`: Cu64Zr36 metallic-glass energy barriers (Angstrom, eV): safe reading of the
  released pickles, extxyz with per-atom labels (the per-atom model to come).
"""
