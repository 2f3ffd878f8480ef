// Particle-mesh transfer of PME: spreading point values onto a mesh through precomputed
// interpolation weights, and gathering mesh values back (the transpose).
#pragma once

#include <cstdint>

namespace pgnfast {

// Shapes: weights and flat (n, P) row-major (P interpolation nodes per point), columns
// (n, k), mesh (k, M). Returns the first bad (point * P + node) of flat (an index outside
// [0, M)), or -1 when every index is valid; nothing is written in that case.
int64_t check_mesh_indices(const int64_t* flat, int64_t n, int64_t nodes, int64_t mesh_size);

// mesh[c, flat[a, p]] += weights[a, p] * columns[a, c] (mesh zeroed first). Columns are
// split among threads, so no two threads write the same mesh entry.
void mesh_spread(const double* weights, const int64_t* flat, int64_t n, int64_t nodes,
                 const double* columns, int64_t k, double* mesh, int64_t mesh_size,
                 int num_threads);

// out[a, c] = sum_p weights[a, p] * mesh[c, flat[a, p]]; points split among threads.
void mesh_gather(const double* weights, const int64_t* flat, int64_t n, int64_t nodes,
                 const double* mesh, int64_t k, int64_t mesh_size, double* out,
                 int num_threads);

}  // namespace pgnfast
