// nanobind module pgnfast._cpu: the OpenMP kernels, taking and returning numpy arrays.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/tuple.h>

#include <omp.h>

#include <memory>
#include <utility>

#include "pgnfast/cell_list.hpp"

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
}
