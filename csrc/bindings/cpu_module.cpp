// nanobind module pgnfast._cpu: the OpenMP kernels, taking and returning numpy arrays.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/tuple.h>

#include <omp.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "pgnfast/cell_list.hpp"
#include "pgnfast/mesh_transfer.hpp"
#include "pgnfast/tp_conv.hpp"
#include "tp_conv_bindings.hpp"

namespace nb = nanobind;

namespace {

using Matrix3 = nb::ndarray<const double, nb::shape<3, 3>, nb::c_contig, nb::device::cpu>;
using Points = nb::ndarray<const double, nb::shape<-1, 3>, nb::c_contig, nb::device::cpu>;

// Hand a heap array to numpy without copying: the capsule owns it from now on.
template <typename T>
nb::ndarray<nb::numpy, T> to_numpy(pgnfast::LargeArray<T>&& data,
                                   std::initializer_list<size_t> shape) {
  T* raw = data.release();
  nb::capsule owner(raw, [](void* p) noexcept { pgnfast::free_large(p); });
  return nb::ndarray<nb::numpy, T>(raw, shape, owner);
}

nb::tuple cell_list(Points positions, Matrix3 cell, Matrix3 basis, std::tuple<bool, bool, bool> pbc,
                    double cutoff, bool half, bool self_interaction, int num_threads,
                    double cells_per_cutoff) {
  pgnfast::CellListOptions options;
  options.cutoff = cutoff;
  options.half = half;
  options.self_interaction = self_interaction;
  options.num_threads = num_threads;
  options.cells_per_cutoff = cells_per_cutoff;
  const bool periodic[3] = {std::get<0>(pbc), std::get<1>(pbc), std::get<2>(pbc)};
  pgnfast::CellListResult result;
  {
    nb::gil_scoped_release release;
    pgnfast::cell_list_pairs(positions.data(), static_cast<int64_t>(positions.shape(0)),
                             cell.data(), basis.data(), periodic, options, result);
  }
  const size_t pairs = static_cast<size_t>(result.pairs);
  return nb::make_tuple(to_numpy(std::move(result.i), {pairs}),
                        to_numpy(std::move(result.j), {pairs}),
                        to_numpy(std::move(result.shifts), {pairs, 3}),
                        to_numpy(std::move(result.vectors), {pairs, 3}),
                        to_numpy(std::move(result.distances), {pairs}));
}

// ---- fused tensor-product convolution (contract: pgnfast/tp_conv.hpp) ------------------
using Index1 = nb::ndarray<const int64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using Index1Out = nb::ndarray<int64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

// The CPU side of the shared tp_conv bindings (tp_conv_bindings.hpp): path tables
// (paths (K, 9), cg_index (nnz, 3), cg_value (nnz,), out_blocks (B, 3)) and a thread count.
struct CpuTPConv {
  using Device = nb::device::cpu;
  using IndexMatrix = pgnfast::bindings::IndexMatrix<Device>;
  template <typename T>
  using SegmentTables = std::tuple<IndexMatrix, IndexMatrix,
                                   pgnfast::bindings::InVector<T, Device>, IndexMatrix>;
  template <typename T>
  using EdgeTables = SegmentTables<T>;
  using Launch = int;
  static constexpr const char* launch_name = "num_threads";

  template <typename T>
  static pgnfast::TPConvPaths<T> path_tables(const SegmentTables<T>& tables) {
    const auto& [paths, cg_index, cg_value, out_blocks] = tables;
    if (paths.shape(1) != 9 || cg_index.shape(1) != 3 || out_blocks.shape(1) != 3 ||
        cg_index.shape(0) != cg_value.shape(0))
      throw std::invalid_argument("tp_conv: malformed path tables");
    return {reinterpret_cast<const pgnfast::TPConvPath*>(paths.data()),
            static_cast<int64_t>(paths.shape(0)),
            cg_index.data(),
            cg_value.data(),
            static_cast<int64_t>(cg_value.shape(0)),
            reinterpret_cast<const pgnfast::TPConvBlock*>(out_blocks.data()),
            static_cast<int64_t>(out_blocks.shape(0))};
  }

  template <typename T>
  static void segments(pgnfast::SegmentConvArgs<T> args, const SegmentTables<T>& tables,
                       int num_threads) {
    run(args, tables, num_threads, &pgnfast::tp_conv_segments<T>);
  }

  template <typename T>
  static void edge_grads(pgnfast::EdgeGradArgs<T> args, const EdgeTables<T>& tables,
                         int num_threads) {
    run(args, tables, num_threads, &pgnfast::tp_conv_edge_grads<T>);
  }

  // kernel(args, path tables) on num_threads threads, without the GIL
  template <typename Args, typename T>
  static void run(Args args, const SegmentTables<T>& tables, int num_threads,
                  void (*kernel)(const Args&, const pgnfast::TPConvPaths<T>&)) {
    args.num_threads = num_threads;
    const auto paths = path_tables<T>(tables);
    nb::gil_scoped_release release;
    kernel(args, paths);
  }
};

void require_segment_pointers(const Index1Out& segment_ptr) {
  if (segment_ptr.shape(0) == 0)
    throw std::invalid_argument("segment_ptr must have num_segments + 1 >= 1 entries");
}

bool sorted_segments(Index1 keys, Index1Out segment_ptr) {
  require_segment_pointers(segment_ptr);
  const int64_t segments = static_cast<int64_t>(segment_ptr.shape(0)) - 1;
  nb::gil_scoped_release release;
  return pgnfast::sorted_segments(keys.data(), static_cast<int64_t>(keys.shape(0)), segments,
                                  segment_ptr.data());
}

bool counting_sort_segments(Index1 keys, Index1Out segment_ptr, Index1Out order) {
  require_segment_pointers(segment_ptr);
  const int64_t segments = static_cast<int64_t>(segment_ptr.shape(0)) - 1;
  if (order.shape(0) != keys.shape(0))
    throw std::invalid_argument("counting_sort_segments: order must match keys");
  nb::gil_scoped_release release;
  return pgnfast::counting_sort_segments(keys.data(), static_cast<int64_t>(keys.shape(0)),
                                         segments, segment_ptr.data(), order.data());
}

// ---- PME mesh transfer (contract: pgnfast/mesh_transfer.hpp) -----------------------------
using Rows = nb::ndarray<const double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using IndexRows = nb::ndarray<const int64_t, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using RowsOut = nb::ndarray<double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;

void check_transfer(const Rows& weights, const IndexRows& flat, int64_t n, int64_t mesh_size) {
  if (weights.shape(0) != flat.shape(0) || weights.shape(1) != flat.shape(1))
    throw std::invalid_argument("mesh transfer: weights and flat must have one shape (n, P)");
  if (static_cast<int64_t>(weights.shape(0)) != n)
    throw std::invalid_argument("mesh transfer: one row of weights per point");
  const int64_t bad = pgnfast::check_mesh_indices(flat.data(), n,
                                                  static_cast<int64_t>(flat.shape(1)), mesh_size);
  if (bad >= 0)
    throw std::out_of_range("mesh transfer: flat index of point " +
                            std::to_string(bad / static_cast<int64_t>(flat.shape(1))) +
                            " is outside the mesh of " + std::to_string(mesh_size) + " points");
}

void mesh_spread(Rows weights, IndexRows flat, Rows columns, RowsOut mesh, int num_threads) {
  const int64_t n = static_cast<int64_t>(columns.shape(0));
  const int64_t k = static_cast<int64_t>(columns.shape(1));
  if (static_cast<int64_t>(mesh.shape(0)) != k)
    throw std::invalid_argument("mesh_spread: mesh must be (k, M) for columns (n, k)");
  const int64_t size = static_cast<int64_t>(mesh.shape(1));
  check_transfer(weights, flat, n, size);
  nb::gil_scoped_release release;
  pgnfast::mesh_spread(weights.data(), flat.data(), n, static_cast<int64_t>(flat.shape(1)),
                       columns.data(), k, mesh.data(), size, num_threads);
}

void mesh_gather(Rows weights, IndexRows flat, Rows mesh, RowsOut out, int num_threads) {
  const int64_t n = static_cast<int64_t>(out.shape(0));
  const int64_t k = static_cast<int64_t>(out.shape(1));
  if (static_cast<int64_t>(mesh.shape(0)) != k)
    throw std::invalid_argument("mesh_gather: mesh must be (k, M) for out (n, k)");
  const int64_t size = static_cast<int64_t>(mesh.shape(1));
  check_transfer(weights, flat, n, size);
  nb::gil_scoped_release release;
  pgnfast::mesh_gather(weights.data(), flat.data(), n, static_cast<int64_t>(flat.shape(1)),
                       mesh.data(), k, size, out.data(), num_threads);
}

}  // namespace

NB_MODULE(_cpu, m) {
  m.doc() = "pgnfast CPU kernels (C++17, OpenMP)";
  m.def("cell_list", &cell_list, nb::arg("positions"), nb::arg("cell"), nb::arg("basis"),
        nb::arg("pbc"), nb::arg("cutoff"), nb::arg("half") = false,
        nb::arg("self_interaction") = false, nb::arg("num_threads") = 0,
        nb::arg("cells_per_cutoff") = 1.0,
        "Cell-list pairs (i, j, shifts, vectors, distances) sorted by i; float64 positions (N, "
        "3) nm, cell and search basis (3, 3) with box vectors as rows.");
  m.def("max_threads", []() { return omp_get_max_threads(); });
  m.def(
      "memory_cache_info",
      []() {
        const pgnfast::LargeMemoryInfo info = pgnfast::large_memory_info();
        nb::dict out;
        out["cached_bytes"] = info.cached_bytes;
        out["live_bytes"] = info.live_bytes;
        out["limit_bytes"] = info.limit_bytes;
        out["hits"] = info.hits;
        out["misses"] = info.misses;
        return out;
      },
      "Large-array cache: bytes held for reuse, bytes in use, limit, hits and misses.");
  m.def("set_memory_cache_limit", &pgnfast::set_large_memory_limit, nb::arg("bytes"),
        "Most bytes of freed large arrays kept for reuse (0 disables the cache).");
  m.def("empty_memory_cache", &pgnfast::empty_large_memory_cache,
        "Give every cached block back to the OS.");
  pgnfast::bindings::def_tp_conv<CpuTPConv>(m);
  m.def("sorted_segments", &sorted_segments, nb::arg("keys"), nb::arg("segment_ptr"),
        "Fill segment_ptr (S+1,) from sorted int64 keys; False if unsorted or out of range.");
  m.def("mesh_spread", &mesh_spread, nb::arg("weights"), nb::arg("flat"), nb::arg("columns"),
        nb::arg("mesh"), nb::arg("num_threads") = 1,
        "PME spreading: mesh (k, M) = sum over points a and nodes p of weights[a, p] * "
        "columns[a, :] at flat[a, p]; float64, weights and flat (n, P), columns (n, k).");
  m.def("mesh_gather", &mesh_gather, nb::arg("weights"), nb::arg("flat"), nb::arg("mesh"),
        nb::arg("out"), nb::arg("num_threads") = 1,
        "PME gathering: out (n, k) = sum over nodes p of weights[a, p] * mesh[:, flat[a, p]].");
  m.def("counting_sort_segments", &counting_sort_segments, nb::arg("keys"),
        nb::arg("segment_ptr"), nb::arg("order"),
        "Stable counting sort of int64 keys into segment_ptr (S+1,) and order (E,).");
}
