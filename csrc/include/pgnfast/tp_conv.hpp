// pgnfast fused tensor-product convolution: the kernel contract shared by the CPU and CUDA code.
//
// One "segment convolution" covers both the forward op and the gradient with respect to the
// node features, and one "edge gradient" kernel gives the gradients with respect to the edge
// spherical harmonics and the edge weights. Every array is row-major and contiguous.
//
// Segment convolution. Segment n owns the edges edge_order[segment_ptr[n] .. segment_ptr[n+1])
// (edge_order == nullptr means the identity). For each such edge e and each path k:
//
//   output[n, out_start_k + u * out_dim_k + c] +=
//       sum over CG entries (a, b, c, v) of path k of
//           v * sh[e, sh_start_k + b] * weights[e, weight_offset_k + u]
//             * input[gather[e], in_start_k + u * in_dim_k + a]
//
// for every channel u < mul_k ("uvu" paths, mul_ir layout). The CG values v already include
// the path normalisation alpha_k. Forward: segments are receivers, gather = senders, input =
// node features, paths as given. Gradient w.r.t. node features: segments are senders (edges in
// sender order), gather = receivers, input = grad_output, and every path with its input and
// output roles swapped (CG entries (c, b, a, v)). Each output row is written once; segments
// with no edges get zeros. No atomics, so the result is deterministic.
//
// Edge gradients. Edges sorted by receiver, segment n = receiver n. For each edge e (sender s,
// receiver n) and path k, with G = grad_output, x = node features:
//   grad_weights[e, weight_offset_k + u] = sum_(a,b,c,v) v * sh[e, sh_start_k + b]
//                                            * x[s, in_k(u, a)] * G[n, out_k(u, c)]
//   grad_sh[e, sh_start_k + b] += sum_u weights[e, weight_offset_k + u]
//                                   * sum_(a,c,v) v * x[s, in_k(u, a)] * G[n, out_k(u, c)]
//
// Bad indices. The CPU functions check every index and the path tables before they write
// anything, and throw std::out_of_range ("gather[e] = v is out of range for R rows") or
// std::invalid_argument (segment pointers or path tables that do not fit the arrays); no
// exception leaves an OpenMP region. The CUDA kernels cannot report without a device sync, so
// they skip an edge whose indices are out of range (never reading out of bounds); their
// callers check indices first (pgnfast/ops/cuda.py).
//
// This header is torch-free and binding-free.
#pragma once

#include <cstdint>

namespace pgnfast {

// A row-major, contiguous (rows, cols) array; T is const for inputs.
template <typename T>
struct MatrixView {
  T* data;
  int64_t rows, cols;
};

// One "uvu" path: input block, spherical-harmonic block, output block (mul_ir layout, block
// starts are column offsets), its weight columns and its slice of the CG entry arrays.
// Exactly nine int64 values, so an (K, 9) int64 array can be viewed as TPConvPath[K].
struct TPConvPath {
  int64_t in_start, in_dim, sh_start, out_start, out_dim, mul, weight_offset, cg_begin, cg_end;
};

// One irrep block of an output row: column start, multiplicity, 2l+1. Three int64 values.
struct TPConvBlock {
  int64_t start, mul, dim;
};

// The path tables: K paths, CG entries cg_index (nnz, 3) = (input comp, sh comp, output comp)
// with values cg_value (nnz,), and the blocks of the output rows (every column belongs to one).
template <typename T>
struct TPConvPaths {
  const TPConvPath* paths;
  int64_t num_paths;
  const int64_t* cg_index;
  const T* cg_value;
  int64_t num_entries;
  const TPConvBlock* out_blocks;
  int64_t num_out_blocks;
};

// Edge e has the rows sh[e] and weights[e]; sh.rows == weights.rows is the number of edges.
template <typename T>
struct SegmentConvArgs {
  MatrixView<const T> input;    // (rows, input_dim), gathered by edge
  MatrixView<const T> sh;       // (E, sh_dim)
  MatrixView<const T> weights;  // (E, weight_dim)
  const int64_t* gather;        // (E,) input row of each edge
  const int64_t* edge_order;    // (E,) or nullptr
  const int64_t* segment_ptr;   // (output.rows + 1,)
  MatrixView<T> output;         // (num_segments, output_dim)
  int num_threads;              // 0: OpenMP default (CPU only)
};

template <typename T>
struct EdgeGradArgs {
  MatrixView<const T> node_features;  // (N, input_dim)
  MatrixView<const T> sh;             // (E, sh_dim)
  MatrixView<const T> weights;        // (E, weight_dim)
  MatrixView<const T> grad_output;    // (N, output_dim); segment n = receiver n
  const int64_t* senders;             // (E,)
  const int64_t* segment_ptr;         // (grad_output.rows + 1,) receiver segments
  MatrixView<T> grad_sh;              // (E, sh_dim)
  MatrixView<T> grad_weights;         // (E, weight_dim)
  int num_threads;
};

template <typename T>
void tp_conv_segments(const SegmentConvArgs<T>& args, const TPConvPaths<T>& paths);

template <typename T>
void tp_conv_edge_grads(const EdgeGradArgs<T>& args, const TPConvPaths<T>& paths);

// segment_ptr (num_segments + 1) of sorted keys; false when keys are unsorted or out of range.
bool sorted_segments(const int64_t* keys, int64_t num_edges, int64_t num_segments,
                     int64_t* segment_ptr);

// Stable counting sort of keys: segment_ptr (num_segments + 1) and order (num_edges) such that
// order[segment_ptr[n] .. segment_ptr[n+1]) are the edges with key n, ascending. False when a
// key is out of range.
bool counting_sort_segments(const int64_t* keys, int64_t num_edges, int64_t num_segments,
                            int64_t* segment_ptr, int64_t* order);

}  // namespace pgnfast

// ---- CUDA (csrc/cuda/tp_conv.cu) ----------------------------------------------------------
// The CUDA kernels are output-stationary: one thread block per segment, one thread per output
// column, each column summing over its own list of CG entries (no atomics, deterministic).
// A column's list is column_table[col] = (entry_begin, entry_end, channel u).
namespace pgnfast {

// One CG entry as the CUDA kernels read it (eight int64 values, (nnz, 8) arrays):
// input column in_offset + u * in_dim, SH column sh_col, weight column weight_offset + u,
// grad_output column out_offset + u * out_dim; mul bounds u where the kernel loops over it.
struct TPConvEntry {
  int64_t in_offset, in_dim, sh_col, weight_offset, out_offset, out_dim, mul, reserved;
};

template <typename T>
struct TPConvColumns {
  const int64_t* column_table;  // (columns, 3): entry_begin, entry_end, u
  const TPConvEntry* entries;
  const T* values;              // CG value * path weight per entry
};

// Segment convolution on the device (same SegmentConvArgs as the CPU, device pointers; the
// column tables cover the output.cols columns). Returns a cudaError_t value (0 = success).
template <typename T>
int tp_conv_segments_cuda(const SegmentConvArgs<T>& args, const TPConvColumns<T>& columns,
                          void* stream);

// Edge gradients on the device: weight columns (weight_dim tables, the kernel adds u) and SH
// columns (sh_dim tables whose u field is unused; the kernel loops u < mul per entry).
template <typename T>
int tp_conv_edge_grads_cuda(const EdgeGradArgs<T>& args, const TPConvColumns<T>& weight_columns,
                            const TPConvColumns<T>& sh_columns, void* stream);

}  // namespace pgnfast
