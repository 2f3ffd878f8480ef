// pgnfast cell-list neighbor search: the kernel contract shared by the CPU and CUDA code.
//
// Convention: for a pair k, vectors[k] = positions[j[k]] - positions[i[k]] + shifts[k] @ cell,
// where cell rows are the box vectors (nm) and shifts are integers. Every periodic image
// within the cutoff is listed, so cutoffs larger than the box work. Pairs come out sorted by
// i. Half lists keep i < j, or i == j with a positive shift (first non-zero component > 0).
//
// This header is torch-free and binding-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "pgnfast/large_memory.hpp"

namespace pgnfast {

// Binning of particles: a basis whose periodic rows are the cell's and whose free rows are
// orthonormal (see pgnfast/neighbors/_common.py::search_basis), the fractional coordinates of
// every particle in that basis (wrapped into [0, 1) along periodic directions, scaled into
// [0, 1] by the particles' extent along free directions), and the grid of cells.
struct CellGrid {
  double inverse_basis[3][3];  // frac = r @ inverse_basis
  double lower[3];             // free directions: frac = (proj - lower) / extent
  double extent[3];
  int32_t n_cells[3];
  int32_t n_search[3];         // neighbouring cells to visit on each side, per direction
  bool periodic[3];
};

// One found pair as kept between the search and the final copy.
struct PairEntry {
  int64_t j;
  int32_t shift[3];
};

struct CellListOptions {
  double cutoff = 0.0;
  bool half = false;
  bool self_interaction = false;
  int num_threads = 0;            // 0: OpenMP default
  double cells_per_cutoff = 1.0;  // cell edge ~ cutoff / cells_per_cutoff
  int64_t max_cells = 0;          // 0: automatic
};

// Output arrays (uninitialised heap arrays, so no time is spent zeroing them); ownership
// can be released to a binding. vectors are recomputed from the caller's positions so they
// follow the convention exactly: positions[j] - positions[i] + shifts @ cell.
struct CellListResult {
  int64_t pairs = 0;
  LargeArray<int64_t> i, j;
  LargeArray<int32_t> shifts;     // (pairs, 3)
  LargeArray<double> vectors;     // (pairs, 3)
  LargeArray<double> distances;   // (pairs,)
};

// positions: (n, 3) row-major float64; cell, basis: (3, 3) row-major float64 (basis rows =
// cell rows along periodic directions, orthonormal complement along free ones).
// Throws std::invalid_argument for bad input (cutoff or cells_per_cutoff not positive and
// finite, a non-finite position, a position more than 2^29 cells away, a singular basis)
// and AllocationError (a std::bad_alloc with a message) when memory runs out or the cutoff
// asks for an impossible number of periodic images. No exception escapes an OpenMP region:
// they are caught there and rethrown once the region has ended.
void cell_list_pairs(const double* positions, int64_t n, const double* cell, const double* basis,
                     const bool periodic[3], const CellListOptions& options,
                     CellListResult& result);

}  // namespace pgnfast
