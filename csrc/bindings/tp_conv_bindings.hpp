// The tp_conv functions of both extension modules (pgnfast._cpu and pgnfast._cuda), written
// once: shape checks, the conversion of nanobind arrays into the kernel arguments of
// pgnfast/tp_conv.hpp, and the module definitions. A Backend type supplies what differs:
//
//   struct Backend {
//     using Device = nb::device::cpu;                       // or nb::device::cuda
//     template <typename T> using SegmentTables = ...;      // the tables argument's type
//     template <typename T> using EdgeTables = ...;
//     using Launch = int;                                   // num_threads, or a stream
//     static constexpr const char* launch_name = "num_threads";
//     template <typename T> static void segments(const SegmentConvArgs<T>&,
//                                                const SegmentTables<T>&, Launch);
//     template <typename T> static void edge_grads(const EdgeGradArgs<T>&,
//                                                  const EdgeTables<T>&, Launch);
//   };
//
// A shape mismatch throws std::invalid_argument (ValueError in Python) naming the array.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/tuple.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "pgnfast/tp_conv.hpp"

namespace pgnfast::bindings {

namespace nb = nanobind;

template <typename T, typename Device>
using InMatrix = nb::ndarray<const T, nb::ndim<2>, nb::c_contig, Device>;
template <typename T, typename Device>
using OutMatrix = nb::ndarray<T, nb::ndim<2>, nb::c_contig, Device>;
template <typename T, typename Device>
using InVector = nb::ndarray<const T, nb::ndim<1>, nb::c_contig, Device>;
template <typename Device>
using IndexVector = InVector<int64_t, Device>;
template <typename Device>
using IndexMatrix = InMatrix<int64_t, Device>;

template <typename T, typename Array>
MatrixView<T> view(const Array& array) {
  return {array.data(), static_cast<int64_t>(array.shape(0)),
          static_cast<int64_t>(array.shape(1))};
}

// `got` must equal `want`, or std::invalid_argument "function: name has got rows (or columns),
// expected want (why)".
inline void require_size(const char* function, const char* name, size_t got, size_t want,
                         const char* what, const char* why) {
  if (got != want) {
    throw std::invalid_argument(std::string(function) + ": " + name + " has " +
                                std::to_string(got) + " " + what + ", expected " +
                                std::to_string(want) + " (" + why + ")");
  }
}

inline void require_rows(const char* function, const char* name, size_t got, size_t want,
                         const char* why) {
  require_size(function, name, got, want, "rows", why);
}

template <typename Backend, typename T>
void segments(InMatrix<T, typename Backend::Device> input,
              InMatrix<T, typename Backend::Device> sh,
              InMatrix<T, typename Backend::Device> weights,
              IndexVector<typename Backend::Device> gather,
              std::optional<IndexVector<typename Backend::Device>> edge_order,
              IndexVector<typename Backend::Device> segment_ptr,
              typename Backend::template SegmentTables<T> tables,
              OutMatrix<T, typename Backend::Device> output, typename Backend::Launch launch) {
  const char* f = "tp_conv_segments";
  const size_t edges = sh.shape(0);
  require_rows(f, "weights", weights.shape(0), edges, "one per edge, as sh");
  require_rows(f, "gather", gather.shape(0), edges, "one per edge, as sh");
  if (edge_order) require_rows(f, "edge_order", edge_order->shape(0), edges, "one per edge");
  require_rows(f, "segment_ptr", segment_ptr.shape(0), output.shape(0) + 1,
               "output rows + 1");
  SegmentConvArgs<T> args{view<const T>(input),
                          view<const T>(sh),
                          view<const T>(weights),
                          gather.data(),
                          edge_order ? edge_order->data() : nullptr,
                          segment_ptr.data(),
                          view<T>(output),
                          0};
  Backend::template segments<T>(args, tables, launch);
}

template <typename Backend, typename T>
void edge_grads(InMatrix<T, typename Backend::Device> node_features,
                InMatrix<T, typename Backend::Device> sh,
                InMatrix<T, typename Backend::Device> weights,
                InMatrix<T, typename Backend::Device> grad_output,
                IndexVector<typename Backend::Device> senders,
                IndexVector<typename Backend::Device> segment_ptr,
                typename Backend::template EdgeTables<T> tables,
                OutMatrix<T, typename Backend::Device> grad_sh,
                OutMatrix<T, typename Backend::Device> grad_weights,
                typename Backend::Launch launch) {
  const char* f = "tp_conv_edge_grads";
  const size_t edges = sh.shape(0);
  require_rows(f, "weights", weights.shape(0), edges, "one per edge, as sh");
  require_rows(f, "senders", senders.shape(0), edges, "one per edge, as sh");
  require_rows(f, "grad_sh", grad_sh.shape(0), edges, "one per edge, as sh");
  require_rows(f, "grad_weights", grad_weights.shape(0), edges, "one per edge, as sh");
  require_size(f, "grad_sh", grad_sh.shape(1), sh.shape(1), "columns", "as sh");
  require_size(f, "grad_weights", grad_weights.shape(1), weights.shape(1), "columns",
               "as weights");
  require_rows(f, "segment_ptr", segment_ptr.shape(0), grad_output.shape(0) + 1,
               "grad_output rows + 1");
  EdgeGradArgs<T> args{view<const T>(node_features),
                       view<const T>(sh),
                       view<const T>(weights),
                       view<const T>(grad_output),
                       senders.data(),
                       segment_ptr.data(),
                       view<T>(grad_sh),
                       view<T>(grad_weights),
                       0};
  Backend::template edge_grads<T>(args, tables, launch);
}

template <typename Backend, typename T>
void def_tp_conv_for(nb::module_& m) {
  m.def("tp_conv_segments", &segments<Backend, T>, nb::arg("input"), nb::arg("sh"),
        nb::arg("weights"), nb::arg("gather"), nb::arg("edge_order").none(),
        nb::arg("segment_ptr"), nb::arg("tables"), nb::arg("output"),
        nb::arg(Backend::launch_name),
        "Fused segment tensor-product convolution (pgnfast/tp_conv.hpp); writes output.");
  m.def("tp_conv_edge_grads", &edge_grads<Backend, T>, nb::arg("node_features"), nb::arg("sh"),
        nb::arg("weights"), nb::arg("grad_output"), nb::arg("senders"), nb::arg("segment_ptr"),
        nb::arg("tables"), nb::arg("grad_sh"), nb::arg("grad_weights"),
        nb::arg(Backend::launch_name),
        "Per-edge gradients of the convolution w.r.t. sh and weights; writes both.");
}

// Define tp_conv_segments and tp_conv_edge_grads (float32 and float64) in module m.
template <typename Backend>
void def_tp_conv(nb::module_& m) {
  def_tp_conv_for<Backend, float>(m);
  def_tp_conv_for<Backend, double>(m);
}

}  // namespace pgnfast::bindings
