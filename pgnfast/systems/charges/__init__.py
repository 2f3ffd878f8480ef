"""Charged systems (Angstrom, eV, e): readers of the public long-range benchmark sets into
extxyz frames that `pgnfast train` reads (info `total_charge`, per-atom `charges`, info
`split`), and the interaction energies of a trained model (NequIP or NequIP-LR).

- `dimers`: the charged / polar / apolar molecular dimers in a periodic 30 Angstrom cell.
- `au2_mgo`: Au2 on MgO(001), undoped and Al-doped, converted from atomic units.
"""
