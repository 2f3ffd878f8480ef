// nanobind module pgnfast._cuda: CUDA kernels taking device arrays through DLPack (torch
// CUDA tensors). Output buffers are allocated by the caller (torch), so this module never
// owns device memory; kernels run on the stream the caller passes (torch's current stream).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/tuple.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>

#include "pgnfast/cell_list_cuda.hpp"
#include "pgnfast/tp_conv.hpp"
#include "tp_conv_bindings.hpp"

namespace nb = nanobind;

namespace {

using F64 = nb::ndarray<double, nb::c_contig, nb::device::cuda>;
using I64 = nb::ndarray<int64_t, nb::c_contig, nb::device::cuda>;
using I32 = nb::ndarray<int32_t, nb::c_contig, nb::device::cuda>;

void check(int code, const char* what) {
  if (code != 0) throw std::runtime_error(std::string(what) + " failed with CUDA error " +
                                          std::to_string(code));
}

pgnfast::DeviceCellGrid make_grid(F64 positions, F64 sorted_positions, I64 sorted_index,
                                  I32 image, I64 cell_start, std::tuple<int, int, int> n_cells,
                                  std::tuple<int, int, int> n_search,
                                  std::tuple<bool, bool, bool> periodic,
                                  std::tuple<double, double, double, double, double, double,
                                             double, double, double> cell,
                                  double cutoff, bool half, bool self_interaction) {
  pgnfast::DeviceCellGrid g{};
  g.positions = positions.data();
  g.sorted_positions = sorted_positions.data();
  g.sorted_index = sorted_index.data();
  g.image = image.data();
  g.cell_start = cell_start.data();
  g.n = static_cast<int64_t>(positions.shape(0));
  g.n_cells[0] = std::get<0>(n_cells);
  g.n_cells[1] = std::get<1>(n_cells);
  g.n_cells[2] = std::get<2>(n_cells);
  g.n_search[0] = std::get<0>(n_search);
  g.n_search[1] = std::get<1>(n_search);
  g.n_search[2] = std::get<2>(n_search);
  g.periodic[0] = std::get<0>(periodic);
  g.periodic[1] = std::get<1>(periodic);
  g.periodic[2] = std::get<2>(periodic);
  const double values[9] = {std::get<0>(cell), std::get<1>(cell), std::get<2>(cell),
                            std::get<3>(cell), std::get<4>(cell), std::get<5>(cell),
                            std::get<6>(cell), std::get<7>(cell), std::get<8>(cell)};
  for (int k = 0; k < 9; ++k) g.cell[k] = values[k];
  g.cutoff = cutoff;
  g.half = half;
  g.self_interaction = self_interaction;
  return g;
}

// ---- fused tensor-product convolution (contract: pgnfast/tp_conv.hpp) ------------------
// The CUDA side of the shared tp_conv bindings (tp_conv_bindings.hpp): column tables
// (column_table (C, 3), entries (Q, 8), values (Q,)) on the device, and the caller's stream.
struct CudaTPConv {
  using Device = nb::device::cuda;
  using IndexMatrix = pgnfast::bindings::IndexMatrix<Device>;
  template <typename T>
  using Columns = std::tuple<IndexMatrix, IndexMatrix, pgnfast::bindings::InVector<T, Device>>;
  template <typename T>
  using SegmentTables = Columns<T>;
  template <typename T>
  using EdgeTables = std::tuple<Columns<T>, Columns<T>>;  // weight columns, SH columns
  using Launch = uintptr_t;
  static constexpr const char* launch_name = "stream";

  template <typename T>
  static pgnfast::TPConvColumns<T> column_tables(const Columns<T>& tables, size_t columns) {
    const auto& [table, entries, values] = tables;
    if (table.shape(0) != columns || table.shape(1) != 3 || entries.shape(1) != 8 ||
        entries.shape(0) != values.shape(0))
      throw std::invalid_argument("tp_conv (cuda): malformed column tables");
    return {table.data(), reinterpret_cast<const pgnfast::TPConvEntry*>(entries.data()),
            values.data()};
  }

  template <typename T>
  static void segments(const pgnfast::SegmentConvArgs<T>& args, const SegmentTables<T>& tables,
                       uintptr_t stream) {
    const auto columns = column_tables<T>(tables, static_cast<size_t>(args.output.cols));
    check(pgnfast::tp_conv_segments_cuda<T>(args, columns, reinterpret_cast<void*>(stream)),
          "tp_conv_segments");
  }

  template <typename T>
  static void edge_grads(const pgnfast::EdgeGradArgs<T>& args, const EdgeTables<T>& tables,
                         uintptr_t stream) {
    const auto weight_columns =
        column_tables<T>(std::get<0>(tables), static_cast<size_t>(args.weights.cols));
    const auto sh_columns = column_tables<T>(std::get<1>(tables), static_cast<size_t>(args.sh.cols));
    check(pgnfast::tp_conv_edge_grads_cuda<T>(args, weight_columns, sh_columns,
                                              reinterpret_cast<void*>(stream)),
          "tp_conv_edge_grads");
  }
};

}  // namespace

NB_MODULE(_cuda, m) {
  m.doc() = "pgnfast CUDA kernels";
  m.def(
      "cell_list_count",
      [](F64 positions, F64 sorted_positions, I64 sorted_index, I32 image, I64 cell_start,
         std::tuple<int, int, int> n_cells, std::tuple<int, int, int> n_search,
         std::tuple<bool, bool, bool> periodic,
         std::tuple<double, double, double, double, double, double, double, double, double> cell,
         double cutoff, bool half, bool self_interaction, I64 counts, uintptr_t stream) {
        auto g = make_grid(positions, sorted_positions, sorted_index, image, cell_start, n_cells,
                           n_search, periodic, cell, cutoff, half, self_interaction);
        check(pgnfast::cell_list_count_cuda(g, counts.data(), reinterpret_cast<void*>(stream)),
              "cell_list_count");
      });
  m.def(
      "cell_list_fill",
      [](F64 positions, F64 sorted_positions, I64 sorted_index, I32 image, I64 cell_start,
         std::tuple<int, int, int> n_cells, std::tuple<int, int, int> n_search,
         std::tuple<bool, bool, bool> periodic,
         std::tuple<double, double, double, double, double, double, double, double, double> cell,
         double cutoff, bool half, bool self_interaction, I64 offsets, I64 out_i, I64 out_j,
         I32 out_shifts, F64 out_vectors, F64 out_distances, uintptr_t stream) {
        auto g = make_grid(positions, sorted_positions, sorted_index, image, cell_start, n_cells,
                           n_search, periodic, cell, cutoff, half, self_interaction);
        check(pgnfast::cell_list_fill_cuda(g, offsets.data(), out_i.data(), out_j.data(),
                                           out_shifts.data(), out_vectors.data(),
                                           out_distances.data(), reinterpret_cast<void*>(stream)),
              "cell_list_fill");
      });

  pgnfast::bindings::def_tp_conv<CudaTPConv>(m);
}
