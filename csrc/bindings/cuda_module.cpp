// nanobind module pgnfast._cuda: CUDA kernels taking device arrays through DLPack (torch
// CUDA tensors). Output buffers are allocated by the caller (torch), so this module never
// owns device memory; kernels run on the stream the caller passes (torch's current stream).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/tuple.h>

#include <stdexcept>
#include <string>
#include <tuple>

#include "pgnfast/cell_list_cuda.hpp"

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
}
