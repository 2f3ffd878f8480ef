"""One package per system pgnfast serves. Each holds its data generation, workflow, report
and CLI command; it may import any lower layer of pgnfast, never another system.

- `pgn`: polymer-grafted nanoparticle glasses (nm, kT): DFT labels -> NequIP -> parallel
  tempering -> icosahedral order.
"""
