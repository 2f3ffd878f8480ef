// Fused tensor-product convolution on CUDA devices. Contract: pgnfast/tp_conv.hpp.
//
// One thread block per segment (receiver for the forward op and the edge gradients, sender
// for the gradient w.r.t. node features); each thread owns output columns and sums, over the
// segment's edges, the CG entries listed for its column, reading the gathered rows through the
// read-only cache. Output rows are written once; no atomics, so results are deterministic.
// An edge whose index is out of range adds nothing (edge gradients: zeros): the kernels never
// read out of bounds, and the callers report bad indices (pgnfast/ops/cuda.py).
#include <cuda_runtime.h>

#include "pgnfast/tp_conv.hpp"

namespace pgnfast {

namespace {

constexpr int kThreads = 128;

// Edges of segment n, clamped to [0, num_edges) so bad segment pointers read nothing.
__device__ inline void segment_range(const int64_t* segment_ptr, int64_t n, int64_t num_edges,
                                     int64_t& begin, int64_t& end) {
  begin = max(segment_ptr[n], int64_t(0));
  end = min(segment_ptr[n + 1], num_edges);
}

__device__ inline bool in_range(int64_t index, int64_t size) { return index >= 0 && index < size; }

template <typename T>
__global__ void segment_conv_kernel(SegmentConvArgs<T> a, TPConvColumns<T> c) {
  const int64_t n = blockIdx.x;
  int64_t begin, end;
  segment_range(a.segment_ptr, n, a.sh.rows, begin, end);
  for (int64_t col = threadIdx.x; col < a.output.cols; col += blockDim.x) {
    const int64_t q0 = c.column_table[3 * col], q1 = c.column_table[3 * col + 1];
    const int64_t u = c.column_table[3 * col + 2];
    T acc = T(0);
    for (int64_t j = begin; j < end; ++j) {
      const int64_t e = a.edge_order ? a.edge_order[j] : j;
      if (!in_range(e, a.sh.rows) || !in_range(a.gather[e], a.input.rows)) continue;
      const T* x = a.input.data + a.gather[e] * a.input.cols;
      const T* y = a.sh.data + e * a.sh.cols;
      const T* w = a.weights.data + e * a.weights.cols;
      for (int64_t q = q0; q < q1; ++q) {
        const TPConvEntry& t = c.entries[q];
        acc += c.values[q] * __ldg(y + t.sh_col) * __ldg(w + t.weight_offset + u) *
               __ldg(x + t.in_offset + u * t.in_dim);
      }
    }
    a.output.data[n * a.output.cols + col] = acc;
  }
}

template <typename T>
__global__ void edge_grads_kernel(EdgeGradArgs<T> a, TPConvColumns<T> wc, TPConvColumns<T> sc) {
  const int64_t n = blockIdx.x;
  int64_t begin, end;
  segment_range(a.segment_ptr, n, a.sh.rows, begin, end);
  const T* g = a.grad_output.data + n * a.grad_output.cols;
  const int64_t weight_dim = a.weights.cols, sh_dim = a.sh.cols;
  const int64_t columns = weight_dim + sh_dim;
  for (int64_t e = begin; e < end; ++e) {
    const bool valid = in_range(a.senders[e], a.node_features.rows);
    const T* x = a.node_features.data + (valid ? a.senders[e] : 0) * a.node_features.cols;
    const T* y = a.sh.data + e * sh_dim;
    const T* w = a.weights.data + e * weight_dim;
    for (int64_t col = threadIdx.x; col < columns; col += blockDim.x) {
      T acc = T(0);
      if (col < weight_dim) {
        const int64_t q0 = wc.column_table[3 * col], q1 = wc.column_table[3 * col + 1];
        const int64_t u = wc.column_table[3 * col + 2];
        for (int64_t q = q0; valid && q < q1; ++q) {
          const TPConvEntry& t = wc.entries[q];
          acc += wc.values[q] * __ldg(y + t.sh_col) * __ldg(x + t.in_offset + u * t.in_dim) *
                 __ldg(g + t.out_offset + u * t.out_dim);
        }
        a.grad_weights.data[e * weight_dim + col] = acc;
      } else {
        const int64_t b = col - weight_dim;
        const int64_t q0 = sc.column_table[3 * b], q1 = sc.column_table[3 * b + 1];
        for (int64_t q = q0; valid && q < q1; ++q) {
          const TPConvEntry& t = sc.entries[q];
          T sum = T(0);
          for (int64_t u = 0; u < t.mul; ++u) {
            sum += __ldg(w + t.weight_offset + u) * __ldg(x + t.in_offset + u * t.in_dim) *
                   __ldg(g + t.out_offset + u * t.out_dim);
          }
          acc += sc.values[q] * sum;
        }
        a.grad_sh.data[e * sh_dim + b] = acc;
      }
    }
  }
}

}  // namespace

template <typename T>
int tp_conv_segments_cuda(const SegmentConvArgs<T>& args, const TPConvColumns<T>& columns,
                          void* stream) {
  if (args.output.rows == 0 || args.output.cols == 0) return 0;
  segment_conv_kernel<T><<<static_cast<unsigned>(args.output.rows), kThreads, 0,
                           static_cast<cudaStream_t>(stream)>>>(args, columns);
  return static_cast<int>(cudaGetLastError());
}

template <typename T>
int tp_conv_edge_grads_cuda(const EdgeGradArgs<T>& args, const TPConvColumns<T>& weight_columns,
                            const TPConvColumns<T>& sh_columns, void* stream) {
  if (args.grad_output.rows == 0) return 0;
  edge_grads_kernel<T><<<static_cast<unsigned>(args.grad_output.rows), kThreads, 0,
                         static_cast<cudaStream_t>(stream)>>>(args, weight_columns, sh_columns);
  return static_cast<int>(cudaGetLastError());
}

template int tp_conv_segments_cuda<float>(const SegmentConvArgs<float>&,
                                          const TPConvColumns<float>&, void*);
template int tp_conv_segments_cuda<double>(const SegmentConvArgs<double>&,
                                           const TPConvColumns<double>&, void*);
template int tp_conv_edge_grads_cuda<float>(const EdgeGradArgs<float>&,
                                            const TPConvColumns<float>&,
                                            const TPConvColumns<float>&, void*);
template int tp_conv_edge_grads_cuda<double>(const EdgeGradArgs<double>&,
                                             const TPConvColumns<double>&,
                                             const TPConvColumns<double>&, void*);

}  // namespace pgnfast
