// CUDA cell-list kernels (contract in csrc/include/pgnfast/cell_list_cuda.hpp).
//
// One thread per particle, launched over the cell-sorted order so neighbouring threads read
// the same cells. Each thread walks its stencil of (2 n_search + 1)^3 cells, wrapping along
// periodic directions with the integer image it crossed; pass 1 counts, pass 2 writes at
// the prefix-summed offset of the particle. Distances are checked in float64.
#include <cuda_runtime.h>

#include "pgnfast/cell_list_cuda.hpp"

namespace pgnfast {
namespace {

__device__ __forceinline__ int floor_div(int a, int b) {
  const int q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

__device__ __forceinline__ bool positive_shift(int sx, int sy, int sz) {
  if (sx != 0) return sx > 0;
  if (sy != 0) return sy > 0;
  return sz > 0;
}

// Visit every pair (i, j, shift) of sorted slot `a`; Sink is called with (j, sx, sy, sz).
template <typename Sink>
__device__ void for_each_pair(const DeviceCellGrid& g, int64_t a, Sink&& sink) {
  const int64_t i = g.sorted_index[a];
  const double xi = g.sorted_positions[3 * a];
  const double yi = g.sorted_positions[3 * a + 1];
  const double zi = g.sorted_positions[3 * a + 2];
  const int si0 = g.image[3 * i], si1 = g.image[3 * i + 1], si2 = g.image[3 * i + 2];
  // home cell from the slot: cell_start is sorted, binary search for the owning cell
  const int64_t n_total = (int64_t)g.n_cells[0] * g.n_cells[1] * g.n_cells[2];
  int64_t lo = 0, hi = n_total;
  while (hi - lo > 1) {
    const int64_t mid = (lo + hi) / 2;
    if (g.cell_start[mid] <= a) lo = mid; else hi = mid;
  }
  const int h0 = (int)(lo / ((int64_t)g.n_cells[1] * g.n_cells[2]));
  const int h1 = (int)((lo / g.n_cells[2]) % g.n_cells[1]);
  const int h2 = (int)(lo % g.n_cells[2]);
  const double cutoff2 = g.cutoff * g.cutoff;
  for (int dx = -g.n_search[0]; dx <= g.n_search[0]; ++dx) {
    int c0 = h0 + dx, q0 = 0;
    if (g.periodic[0]) { q0 = floor_div(c0, g.n_cells[0]); c0 -= q0 * g.n_cells[0]; }
    else if (c0 < 0 || c0 >= g.n_cells[0]) continue;
    for (int dy = -g.n_search[1]; dy <= g.n_search[1]; ++dy) {
      int c1 = h1 + dy, q1 = 0;
      if (g.periodic[1]) { q1 = floor_div(c1, g.n_cells[1]); c1 -= q1 * g.n_cells[1]; }
      else if (c1 < 0 || c1 >= g.n_cells[1]) continue;
      for (int dz = -g.n_search[2]; dz <= g.n_search[2]; ++dz) {
        int c2 = h2 + dz, q2 = 0;
        if (g.periodic[2]) { q2 = floor_div(c2, g.n_cells[2]); c2 -= q2 * g.n_cells[2]; }
        else if (c2 < 0 || c2 >= g.n_cells[2]) continue;
        const int64_t c = ((int64_t)c0 * g.n_cells[1] + c1) * g.n_cells[2] + c2;
        const double ox = q0 * g.cell[0] + q1 * g.cell[3] + q2 * g.cell[6] - xi;
        const double oy = q0 * g.cell[1] + q1 * g.cell[4] + q2 * g.cell[7] - yi;
        const double oz = q0 * g.cell[2] + q1 * g.cell[5] + q2 * g.cell[8] - zi;
        const int64_t end = g.cell_start[c + 1];
        for (int64_t b = g.cell_start[c]; b < end; ++b) {
          const double vx = g.sorted_positions[3 * b] + ox;
          const double vy = g.sorted_positions[3 * b + 1] + oy;
          const double vz = g.sorted_positions[3 * b + 2] + oz;
          if (vx * vx + vy * vy + vz * vz >= cutoff2) continue;
          const int64_t j = g.sorted_index[b];
          if (g.half && j < i) continue;
          const int sx = q0 + si0 - g.image[3 * j];
          const int sy = q1 + si1 - g.image[3 * j + 1];
          const int sz = q2 + si2 - g.image[3 * j + 2];
          if (j == i) {
            const bool zero = sx == 0 && sy == 0 && sz == 0;
            if (zero ? !g.self_interaction : (g.half && !positive_shift(sx, sy, sz))) continue;
          }
          sink(j, sx, sy, sz);
        }
      }
    }
  }
}

__global__ void count_kernel(DeviceCellGrid g, int64_t* counts) {
  const int64_t a = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (a >= g.n) return;
  int64_t count = 0;
  for_each_pair(g, a, [&](int64_t, int, int, int) { ++count; });
  counts[g.sorted_index[a]] = count;
}

__global__ void fill_kernel(DeviceCellGrid g, const int64_t* offsets, int64_t* out_i,
                            int64_t* out_j, int32_t* out_shifts, double* out_vectors,
                            double* out_distances) {
  const int64_t a = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (a >= g.n) return;
  const int64_t i = g.sorted_index[a];
  int64_t slot = offsets[i];
  const double* ri = g.positions + 3 * i;
  for_each_pair(g, a, [&](int64_t j, int sx, int sy, int sz) {
    const double* rj = g.positions + 3 * j;
    double v[3];
    for (int k = 0; k < 3; ++k)
      v[k] = rj[k] - ri[k] + (sx * g.cell[k] + sy * g.cell[3 + k] + sz * g.cell[6 + k]);
    out_i[slot] = i;
    out_j[slot] = j;
    out_shifts[3 * slot] = sx;
    out_shifts[3 * slot + 1] = sy;
    out_shifts[3 * slot + 2] = sz;
    out_vectors[3 * slot] = v[0];
    out_vectors[3 * slot + 1] = v[1];
    out_vectors[3 * slot + 2] = v[2];
    out_distances[slot] = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    ++slot;
  });
}

constexpr int kThreads = 128;

// The grid handed over from Python must describe a real grid: the kernels index cell_start
// with these numbers and never check them (a bad grid would read out of bounds).
bool valid_grid(const DeviceCellGrid& g) {
  if (g.n < 0 || !(g.cutoff > 0.0)) return false;
  for (int d = 0; d < 3; ++d)
    if (g.n_cells[d] < 1 || g.n_search[d] < 0) return false;
  return g.n == 0 || (g.positions && g.sorted_positions && g.sorted_index && g.image &&
                      g.cell_start);
}

}  // namespace

int cell_list_count_cuda(const DeviceCellGrid& grid, int64_t* counts, void* stream) {
  if (!valid_grid(grid)) return static_cast<int>(cudaErrorInvalidValue);
  if (grid.n == 0) return 0;
  const unsigned blocks = (unsigned)((grid.n + kThreads - 1) / kThreads);
  count_kernel<<<blocks, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(grid, counts);
  return (int)cudaGetLastError();
}

int cell_list_fill_cuda(const DeviceCellGrid& grid, const int64_t* offsets, int64_t* out_i,
                        int64_t* out_j, int32_t* out_shifts, double* out_vectors,
                        double* out_distances, void* stream) {
  if (!valid_grid(grid)) return static_cast<int>(cudaErrorInvalidValue);
  if (grid.n == 0) return 0;
  const unsigned blocks = (unsigned)((grid.n + kThreads - 1) / kThreads);
  fill_kernel<<<blocks, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      grid, offsets, out_i, out_j, out_shifts, out_vectors, out_distances);
  return (int)cudaGetLastError();
}

}  // namespace pgnfast
