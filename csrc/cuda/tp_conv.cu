// Fused tensor-product convolution on CUDA devices. Contract: pgnfast/tp_conv.hpp.
//
// One thread block per segment (receiver for the forward op and the edge gradients, sender
// for the gradient w.r.t. node features); each thread owns output columns and sums, over the
// segment's edges, the CG entries listed for its column, reading the gathered rows through the
// read-only cache. Output rows are written once; no atomics, so results are deterministic.
#include <cuda_runtime.h>

#include "pgnfast/tp_conv.hpp"

namespace pgnfast {

namespace {

constexpr int kThreads = 128;

template <typename T>
__global__ void segment_conv_kernel(SegmentConvArgs<T> a, TPConvColumns<T> c) {
  const int64_t n = blockIdx.x;
  const int64_t begin = a.segment_ptr[n], end = a.segment_ptr[n + 1];
  for (int64_t col = threadIdx.x; col < a.output_dim; col += blockDim.x) {
    const int64_t q0 = c.column_table[3 * col], q1 = c.column_table[3 * col + 1];
    const int64_t u = c.column_table[3 * col + 2];
    T acc = T(0);
    for (int64_t j = begin; j < end; ++j) {
      const int64_t e = a.edge_order ? a.edge_order[j] : j;
      const T* x = a.input + a.gather[e] * a.input_dim;
      const T* y = a.sh + e * a.sh_dim;
      const T* w = a.weights + e * a.weight_dim;
      for (int64_t q = q0; q < q1; ++q) {
        const TPConvEntry& t = c.entries[q];
        acc += c.values[q] * __ldg(y + t.sh_col) * __ldg(w + t.weight_offset + u) *
               __ldg(x + t.in_offset + u * t.in_dim);
      }
    }
    a.output[n * a.output_dim + col] = acc;
  }
}

template <typename T>
__global__ void edge_grads_kernel(EdgeGradArgs<T> a, TPConvColumns<T> wc, TPConvColumns<T> sc) {
  const int64_t n = blockIdx.x;
  const int64_t begin = a.segment_ptr[n], end = a.segment_ptr[n + 1];
  const T* g = a.grad_output + n * a.output_dim;
  const int64_t columns = a.weight_dim + a.sh_dim;
  for (int64_t e = begin; e < end; ++e) {
    const T* x = a.node_features + a.senders[e] * a.input_dim;
    const T* y = a.sh + e * a.sh_dim;
    const T* w = a.weights + e * a.weight_dim;
    for (int64_t col = threadIdx.x; col < columns; col += blockDim.x) {
      T acc = T(0);
      if (col < a.weight_dim) {
        const int64_t q0 = wc.column_table[3 * col], q1 = wc.column_table[3 * col + 1];
        const int64_t u = wc.column_table[3 * col + 2];
        for (int64_t q = q0; q < q1; ++q) {
          const TPConvEntry& t = wc.entries[q];
          acc += wc.values[q] * __ldg(y + t.sh_col) * __ldg(x + t.in_offset + u * t.in_dim) *
                 __ldg(g + t.out_offset + u * t.out_dim);
        }
        a.grad_weights[e * a.weight_dim + col] = acc;
      } else {
        const int64_t b = col - a.weight_dim;
        const int64_t q0 = sc.column_table[3 * b], q1 = sc.column_table[3 * b + 1];
        for (int64_t q = q0; q < q1; ++q) {
          const TPConvEntry& t = sc.entries[q];
          T sum = T(0);
          for (int64_t u = 0; u < t.mul; ++u) {
            sum += __ldg(w + t.weight_offset + u) * __ldg(x + t.in_offset + u * t.in_dim) *
                   __ldg(g + t.out_offset + u * t.out_dim);
          }
          acc += sc.values[q] * sum;
        }
        a.grad_sh[e * a.sh_dim + b] = acc;
      }
    }
  }
}

}  // namespace

template <typename T>
int tp_conv_segments_cuda(const SegmentConvArgs<T>& args, const TPConvColumns<T>& columns,
                          void* stream) {
  if (args.num_segments == 0 || args.output_dim == 0) return 0;
  segment_conv_kernel<T><<<static_cast<unsigned>(args.num_segments), kThreads, 0,
                           static_cast<cudaStream_t>(stream)>>>(args, columns);
  return static_cast<int>(cudaGetLastError());
}

template <typename T>
int tp_conv_edge_grads_cuda(const EdgeGradArgs<T>& args, const TPConvColumns<T>& weight_columns,
                            const TPConvColumns<T>& sh_columns, void* stream) {
  if (args.num_segments == 0) return 0;
  edge_grads_kernel<T><<<static_cast<unsigned>(args.num_segments), kThreads, 0,
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
