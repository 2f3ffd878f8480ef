// PME mesh spreading and gathering (contract: pgnfast/mesh_transfer.hpp). Indices are
// checked by the caller (check_mesh_indices) before either kernel runs, so nothing inside
// the OpenMP regions can fail.
#include "pgnfast/mesh_transfer.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>

namespace pgnfast {

int64_t check_mesh_indices(const int64_t* flat, int64_t n, int64_t nodes, int64_t mesh_size) {
  const int64_t total = n * nodes;
  for (int64_t e = 0; e < total; ++e)
    if (flat[e] < 0 || flat[e] >= mesh_size) return e;
  return -1;
}

void mesh_spread(const double* weights, const int64_t* flat, int64_t n, int64_t nodes,
                 const double* columns, int64_t k, double* mesh, int64_t mesh_size,
                 int num_threads) {
  std::memset(mesh, 0, sizeof(double) * static_cast<size_t>(k * mesh_size));
  const int threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num_threads, k)));
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t c = 0; c < k; ++c) {
    double* grid = mesh + c * mesh_size;
    for (int64_t a = 0; a < n; ++a) {
      const double value = columns[a * k + c];
      const double* w = weights + a * nodes;
      const int64_t* index = flat + a * nodes;
      for (int64_t p = 0; p < nodes; ++p) grid[index[p]] += w[p] * value;
    }
  }
}

void mesh_gather(const double* weights, const int64_t* flat, int64_t n, int64_t nodes,
                 const double* mesh, int64_t k, int64_t mesh_size, double* out,
                 int num_threads) {
#pragma omp parallel for num_threads(std::max(1, num_threads)) schedule(static)
  for (int64_t a = 0; a < n; ++a) {
    const double* w = weights + a * nodes;
    const int64_t* index = flat + a * nodes;
    for (int64_t c = 0; c < k; ++c) {
      const double* grid = mesh + c * mesh_size;
      double sum = 0.0;
      for (int64_t p = 0; p < nodes; ++p) sum += w[p] * grid[index[p]];
      out[a * k + c] = sum;
    }
  }
}

}  // namespace pgnfast
