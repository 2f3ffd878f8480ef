// Fused tensor-product convolution on the CPU (OpenMP). Contract: pgnfast/tp_conv.hpp.
//
// Layout trick: rows are stored mul_ir (channel-major), which makes the channel loop strided.
// Each thread keeps its accumulators and its per-edge operands ir_mul (component-major,
// channels contiguous), so every CG entry becomes one contiguous, vectorisable axpy over the
// channels; a row is converted back to mul_ir once, when it is written. One pass over the
// segments; no per-edge message is ever stored. The kernels (tp_conv_kernels.inc) are compiled
// twice, portable and AVX2+FMA, and the AVX2 build runs where the CPU has it (the project
// builds for x86-64-v2, which has no AVX).
//
// Every index and the path tables are checked here, before a kernel runs: the checks scan in
// parallel without throwing and the error is thrown afterwards, outside any OpenMP region.
#include "pgnfast/tp_conv.hpp"

#include <omp.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace pgnfast {

namespace {

// Per-thread scratch rows, allocated before the parallel region: an accumulator row of
// row_size values, then block_size + extra values; each thread's share padded to 64 bytes.
template <typename T>
struct ThreadScratch {
  int64_t row_size, block_size, stride;
  std::vector<T> buffer;

  ThreadScratch(int threads, int64_t row, int64_t block, int64_t extra)
      : row_size(std::max<int64_t>(row, 1)), block_size(std::max<int64_t>(block, 1)) {
    const int64_t per_line = 64 / static_cast<int64_t>(sizeof(T));
    const int64_t size = row_size + block_size + extra;
    stride = (size + per_line - 1) / per_line * per_line;
    buffer.assign(static_cast<size_t>(stride * threads), T(0));
  }
  T* row(int thread) { return buffer.data() + thread * stride; }
};

}  // namespace

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

int thread_count(int requested) { return requested > 0 ? requested : omp_get_max_threads(); }

std::string text(int64_t value) { return std::to_string(value); }

// index[0 .. count) must lie in [0, size); throws std::out_of_range naming the first bad entry.
void check_index(const int64_t* index, int64_t count, int64_t size, const char* name,
                 int threads) {
  int64_t first = count;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(min : first)
  for (int64_t e = 0; e < count; ++e) {
    if ((index[e] < 0 || index[e] >= size) && e < first) first = e;
  }
  if (first < count) {
    throw std::out_of_range(std::string(name) + "[" + text(first) + "] = " + text(index[first]) +
                            " is out of range for " + text(size) + " rows");
  }
}

// segment_ptr (segments + 1,) must be non-decreasing from 0 to at most `edges`.
void check_segments(const int64_t* segment_ptr, int64_t segments, int64_t edges) {
  if (segment_ptr[0] < 0) {
    throw std::invalid_argument("segment_ptr[0] = " + text(segment_ptr[0]) + " is negative");
  }
  for (int64_t n = 0; n < segments; ++n) {
    if (segment_ptr[n + 1] < segment_ptr[n]) {
      throw std::invalid_argument("segment_ptr[" + text(n + 1) + "] = " +
                                  text(segment_ptr[n + 1]) + " is less than segment_ptr[" +
                                  text(n) + "] = " + text(segment_ptr[n]));
    }
  }
  if (segment_ptr[segments] > edges) {
    throw std::invalid_argument("segment_ptr[" + text(segments) + "] = " +
                                text(segment_ptr[segments]) + " is beyond the " + text(edges) +
                                " edges");
  }
}

void check_fits(bool fits, const char* what, int64_t k) {
  if (!fits) {
    throw std::invalid_argument(std::string("tp_conv path table: ") + what + " of path " +
                                text(k) + " does not fit the arrays");
  }
}

// Every path's blocks, weights and CG entries, and the output blocks, fall inside the arrays.
template <typename T>
void check_tables(const TPConvPaths<T>& t, int64_t input_cols, int64_t sh_cols,
                  int64_t weight_cols, int64_t output_cols) {
  for (int64_t k = 0; k < t.num_paths; ++k) {
    const TPConvPath& p = t.paths[k];
    check_fits(p.mul >= 0 && p.in_dim >= 0 && p.out_dim >= 0, "the sizes", k);
    check_fits(p.in_start >= 0 && p.in_start + p.mul * p.in_dim <= input_cols, "the input", k);
    check_fits(p.out_start >= 0 && p.out_start + p.mul * p.out_dim <= output_cols, "the output",
               k);
    check_fits(p.weight_offset >= 0 && p.weight_offset + p.mul <= weight_cols, "the weights", k);
    check_fits(0 <= p.cg_begin && p.cg_begin <= p.cg_end && p.cg_end <= t.num_entries,
               "the CG entries", k);
    for (int64_t q = p.cg_begin; q < p.cg_end; ++q) {
      const int64_t* idx = t.cg_index + 3 * q;
      check_fits(0 <= idx[0] && idx[0] < p.in_dim && 0 <= idx[2] && idx[2] < p.out_dim &&
                     0 <= p.sh_start + idx[1] && p.sh_start + idx[1] < sh_cols,
                 "a CG entry", k);
    }
  }
  for (int64_t b = 0; b < t.num_out_blocks; ++b) {
    const TPConvBlock& block = t.out_blocks[b];
    check_fits(block.start >= 0 && block.mul >= 0 && block.dim >= 0 &&
                   block.start + block.mul * block.dim <= output_cols,
               "an output block", b);
  }
}

// The checks both kernels share: the path tables fit the arrays (the output has output_cols
// columns) and the segment pointers fit the edges (one row of sh per edge).
template <typename T>
void check_arrays(const TPConvPaths<T>& t, const MatrixView<const T>& input,
                  const MatrixView<const T>& sh, const MatrixView<const T>& weights,
                  int64_t output_cols, const int64_t* segment_ptr, int64_t segments) {
  check_tables(t, input.cols, sh.cols, weights.cols, output_cols);
  check_segments(segment_ptr, segments, sh.rows);
}

template <typename T>
int64_t largest_block(const TPConvPaths<T>& t) {
  int64_t size = 1;
  for (int64_t k = 0; k < t.num_paths; ++k) {
    size = std::max(size, t.paths[k].in_dim * t.paths[k].mul);
  }
  return size;
}

}  // namespace

template <typename T>
void tp_conv_segments(const SegmentConvArgs<T>& a, const TPConvPaths<T>& t) {
  const int threads = thread_count(a.num_threads);
  check_arrays(t, a.input, a.sh, a.weights, a.output.cols, a.segment_ptr, a.output.rows);
  if (a.edge_order) check_index(a.edge_order, a.sh.rows, a.sh.rows, "edge_order", threads);
  check_index(a.gather, a.sh.rows, a.input.rows, "gather", threads);
  ThreadScratch<T> scratch(threads, a.output.cols, largest_block(t), 0);
#ifdef PGNFAST_TP_CONV_AVX2
  if (use_avx2()) return avx2::segments_kernel<T>(a, t, threads, scratch);
#endif
  portable::segments_kernel<T>(a, t, threads, scratch);
}

template <typename T>
void tp_conv_edge_grads(const EdgeGradArgs<T>& a, const TPConvPaths<T>& t) {
  const int threads = thread_count(a.num_threads);
  check_arrays(t, a.node_features, a.sh, a.weights, a.grad_output.cols, a.segment_ptr,
               a.grad_output.rows);
  check_index(a.senders, a.sh.rows, a.node_features.rows, "senders", threads);
  int64_t max_mul = 1;
  for (int64_t k = 0; k < t.num_paths; ++k) max_mul = std::max(max_mul, t.paths[k].mul);
  ThreadScratch<T> edge_scratch(threads, a.grad_output.cols, largest_block(t), max_mul);
#ifdef PGNFAST_TP_CONV_AVX2
  if (use_avx2()) return avx2::edge_grads_kernel<T>(a, t, threads, edge_scratch);
#endif
  portable::edge_grads_kernel<T>(a, t, threads, edge_scratch);
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
