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
template <typename T>
using DeviceMatrix = nb::ndarray<T, nb::ndim<2>, nb::c_contig, nb::device::cuda>;
template <typename T>
using DeviceVector = nb::ndarray<T, nb::ndim<1>, nb::c_contig, nb::device::cuda>;
using DeviceIndex = nb::ndarray<int64_t, nb::ndim<1>, nb::c_contig, nb::device::cuda>;
using DeviceIndexMatrix = nb::ndarray<int64_t, nb::ndim<2>, nb::c_contig, nb::device::cuda>;

template <typename T>
pgnfast::TPConvColumns<T> column_tables(DeviceIndexMatrix table, DeviceIndexMatrix entries,
                                        DeviceVector<T> values, size_t columns) {
  if (table.shape(0) != columns || table.shape(1) != 3 || entries.shape(1) != 8 ||
      entries.shape(0) != values.shape(0))
    throw std::invalid_argument("tp_conv (cuda): malformed column tables");
  return {table.data(), reinterpret_cast<const pgnfast::TPConvEntry*>(entries.data()),
          values.data()};
}

template <typename T>
void tp_conv_segments(DeviceMatrix<T> input, DeviceMatrix<T> sh, DeviceMatrix<T> weights,
                      DeviceIndex gather, std::optional<DeviceIndex> edge_order,
                      DeviceIndex segment_ptr, DeviceIndexMatrix column_table,
                      DeviceIndexMatrix entries, DeviceVector<T> values, DeviceMatrix<T> output,
                      uintptr_t stream) {
  if (weights.shape(0) != sh.shape(0) || gather.shape(0) != sh.shape(0) ||
      segment_ptr.shape(0) != output.shape(0) + 1 ||
      (edge_order && edge_order->shape(0) != sh.shape(0)))
    throw std::invalid_argument("tp_conv_segments (cuda): inconsistent shapes");
  pgnfast::SegmentConvArgs<T> args{input.data(), static_cast<int64_t>(input.shape(1)),
                                   sh.data(), static_cast<int64_t>(sh.shape(1)),
                                   weights.data(), static_cast<int64_t>(weights.shape(1)),
                                   gather.data(), edge_order ? edge_order->data() : nullptr,
                                   segment_ptr.data(), static_cast<int64_t>(output.shape(0)),
                                   output.data(), static_cast<int64_t>(output.shape(1)), 0};
  auto columns = column_tables<T>(column_table, entries, values, output.shape(1));
  check(pgnfast::tp_conv_segments_cuda<T>(args, columns, reinterpret_cast<void*>(stream)),
        "tp_conv_segments");
}

template <typename T>
void tp_conv_edge_grads(DeviceMatrix<T> node_features, DeviceMatrix<T> sh,
                        DeviceMatrix<T> weights, DeviceMatrix<T> grad_output,
                        DeviceIndex senders, DeviceIndex segment_ptr,
                        DeviceIndexMatrix weight_table, DeviceIndexMatrix weight_entries,
                        DeviceVector<T> weight_values, DeviceIndexMatrix sh_table,
                        DeviceIndexMatrix sh_entries, DeviceVector<T> sh_values,
                        DeviceMatrix<T> grad_sh, DeviceMatrix<T> grad_weights, uintptr_t stream) {
  if (weights.shape(0) != sh.shape(0) || senders.shape(0) != sh.shape(0) ||
      grad_sh.shape(0) != sh.shape(0) || grad_weights.shape(0) != sh.shape(0) ||
      grad_sh.shape(1) != sh.shape(1) || grad_weights.shape(1) != weights.shape(1) ||
      segment_ptr.shape(0) != grad_output.shape(0) + 1)
    throw std::invalid_argument("tp_conv_edge_grads (cuda): inconsistent shapes");
  pgnfast::EdgeGradArgs<T> args{
      node_features.data(), static_cast<int64_t>(node_features.shape(1)),
      sh.data(), static_cast<int64_t>(sh.shape(1)),
      weights.data(), static_cast<int64_t>(weights.shape(1)),
      grad_output.data(), static_cast<int64_t>(grad_output.shape(1)),
      senders.data(), segment_ptr.data(), static_cast<int64_t>(grad_output.shape(0)),
      grad_sh.data(), grad_weights.data(), 0};
  auto weight_columns = column_tables<T>(weight_table, weight_entries, weight_values,
                                         weights.shape(1));
  auto sh_columns = column_tables<T>(sh_table, sh_entries, sh_values, sh.shape(1));
  check(pgnfast::tp_conv_edge_grads_cuda<T>(args, weight_columns, sh_columns,
                                            reinterpret_cast<void*>(stream)),
        "tp_conv_edge_grads");
}

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

  m.def("tp_conv_segments", &tp_conv_segments<float>, nb::arg("input"), nb::arg("sh"),
        nb::arg("weights"), nb::arg("gather"), nb::arg("edge_order").none(),
        nb::arg("segment_ptr"), nb::arg("column_table"), nb::arg("entries"), nb::arg("values"),
        nb::arg("output"), nb::arg("stream"),
        "Fused segment tensor-product convolution on the device (pgnfast/tp_conv.hpp).");
  m.def("tp_conv_segments", &tp_conv_segments<double>, nb::arg("input"), nb::arg("sh"),
        nb::arg("weights"), nb::arg("gather"), nb::arg("edge_order").none(),
        nb::arg("segment_ptr"), nb::arg("column_table"), nb::arg("entries"), nb::arg("values"),
        nb::arg("output"), nb::arg("stream"));
  m.def("tp_conv_edge_grads", &tp_conv_edge_grads<float>, nb::arg("node_features"),
        nb::arg("sh"), nb::arg("weights"), nb::arg("grad_output"), nb::arg("senders"),
        nb::arg("segment_ptr"), nb::arg("weight_table"), nb::arg("weight_entries"),
        nb::arg("weight_values"), nb::arg("sh_table"), nb::arg("sh_entries"),
        nb::arg("sh_values"), nb::arg("grad_sh"), nb::arg("grad_weights"), nb::arg("stream"),
        "Per-edge gradients w.r.t. sh and weights on the device.");
  m.def("tp_conv_edge_grads", &tp_conv_edge_grads<double>, nb::arg("node_features"),
        nb::arg("sh"), nb::arg("weights"), nb::arg("grad_output"), nb::arg("senders"),
        nb::arg("segment_ptr"), nb::arg("weight_table"), nb::arg("weight_entries"),
        nb::arg("weight_values"), nb::arg("sh_table"), nb::arg("sh_entries"),
        nb::arg("sh_values"), nb::arg("grad_sh"), nb::arg("grad_weights"), nb::arg("stream"));
}
