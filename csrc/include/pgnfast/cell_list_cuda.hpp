// CUDA cell-list neighbor search: same contract as cell_list.hpp. The binning (sorting the
// particles by cell) is done by the caller (pgnfast/neighbors/binning.py, in torch on the
// GPU); these kernels scan the stencil of every particle in two passes, count then fill, so
// the output is sorted by i and deterministic (no atomics).
#pragma once

#include <cstdint>

namespace pgnfast {

struct DeviceCellGrid {
  const double* positions;         // (n, 3) the caller's positions, original order
  const double* sorted_positions;  // (n, 3) wrapped positions in cell order
  const int64_t* sorted_index;     // (n,) original index of each sorted slot
  const int32_t* image;            // (n, 3) wrap count per original index
  const int64_t* cell_start;       // (n_cells + 1,)
  int64_t n;
  int32_t n_cells[3];
  int32_t n_search[3];
  bool periodic[3];
  double cell[9];                  // rows are box vectors
  double cutoff;
  bool half;
  bool self_interaction;
};

// counts[i] = number of pairs with first index i (original order). Returns a CUDA error code
// (cudaErrorInvalidValue, launching nothing, for a grid with n < 0, a cutoff <= 0, fewer than
// one cell or a negative reach along some direction).
int cell_list_count_cuda(const DeviceCellGrid& grid, int64_t* counts, void* stream);

// Writes the pairs of particle i at offsets[i] .. offsets[i] + counts[i].
int cell_list_fill_cuda(const DeviceCellGrid& grid, const int64_t* offsets, int64_t* out_i,
                        int64_t* out_j, int32_t* out_shifts, double* out_vectors,
                        double* out_distances, void* stream);

}  // namespace pgnfast
