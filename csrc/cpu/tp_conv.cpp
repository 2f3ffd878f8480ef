// Fused tensor-product convolution on the CPU (OpenMP). Contract: pgnfast/tp_conv.hpp.
//
// Layout trick: rows are stored mul_ir (channel-major), which makes the channel loop strided.
// Each thread keeps its accumulators and its per-edge operands ir_mul (component-major,
// channels contiguous), so every CG entry becomes one contiguous, vectorisable axpy over the
// channels; a row is converted back to mul_ir once, when it is written. One pass over the
// segments; no per-edge message is ever stored. The kernels (tp_conv_kernels.inc) are compiled
// twice, portable and AVX2+FMA, and the AVX2 build runs where the CPU has it (the project
// builds for x86-64-v2, which has no AVX).
#include "pgnfast/tp_conv.hpp"

#include <omp.h>

#include <algorithm>
#include <vector>

namespace pgnfast {

namespace portable {
#include "tp_conv_kernels.inc"
}  // namespace portable

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define PGNFAST_TP_CONV_AVX2 1
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
#include "tp_conv_kernels.inc"
}  // namespace avx2
#pragma GCC pop_options
#endif

namespace {

bool use_avx2() {
#ifdef PGNFAST_TP_CONV_AVX2
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return supported;
#else
  return false;
#endif
}

}  // namespace

template <typename T>
void tp_conv_segments(const SegmentConvArgs<T>& a, const TPConvPaths<T>& t) {
#ifdef PGNFAST_TP_CONV_AVX2
  if (use_avx2()) return avx2::segments_kernel<T>(a, t);
#endif
  portable::segments_kernel<T>(a, t);
}

template <typename T>
void tp_conv_edge_grads(const EdgeGradArgs<T>& a, const TPConvPaths<T>& t) {
#ifdef PGNFAST_TP_CONV_AVX2
  if (use_avx2()) return avx2::edge_grads_kernel<T>(a, t);
#endif
  portable::edge_grads_kernel<T>(a, t);
}

bool sorted_segments(const int64_t* keys, int64_t num_edges, int64_t num_segments,
                     int64_t* segment_ptr) {
  int64_t e = 0;
  for (int64_t n = 0; n < num_segments; ++n) {
    segment_ptr[n] = e;
    while (e < num_edges && keys[e] == n) ++e;
    if (e < num_edges && keys[e] < n) return false;  // unsorted (or negative)
  }
  segment_ptr[num_segments] = e;
  return e == num_edges;  // leftover edges: unsorted or key >= num_segments
}

bool counting_sort_segments(const int64_t* keys, int64_t num_edges, int64_t num_segments,
                            int64_t* segment_ptr, int64_t* order) {
  std::fill(segment_ptr, segment_ptr + num_segments + 1, int64_t(0));
  for (int64_t e = 0; e < num_edges; ++e) {
    const int64_t key = keys[e];
    if (key < 0 || key >= num_segments) return false;
    ++segment_ptr[key + 1];
  }
  for (int64_t n = 0; n < num_segments; ++n) segment_ptr[n + 1] += segment_ptr[n];
  std::vector<int64_t> next(segment_ptr, segment_ptr + num_segments);
  for (int64_t e = 0; e < num_edges; ++e) order[next[keys[e]]++] = e;
  return true;
}

template void tp_conv_segments<float>(const SegmentConvArgs<float>&, const TPConvPaths<float>&);
template void tp_conv_segments<double>(const SegmentConvArgs<double>&, const TPConvPaths<double>&);
template void tp_conv_edge_grads<float>(const EdgeGradArgs<float>&, const TPConvPaths<float>&);
template void tp_conv_edge_grads<double>(const EdgeGradArgs<double>&,
                                         const TPConvPaths<double>&);

}  // namespace pgnfast
