// OpenMP cell-list neighbor search (contract in csrc/include/pgnfast/cell_list.hpp).
//
// Particles are binned into a grid of cells about cutoff / cells_per_cutoff wide (measured
// between faces, so triclinic cells are handled), sorted by cell, and every cell scans a
// stencil of neighbouring cells; a stencil entry that leaves the grid along a periodic
// direction wraps around and carries the integer image it crossed, so any number of images
// (cutoff larger than the box) is found. Threads fill private buffers; pairs are then copied
// into their final place, sorted by i, so the output does not depend on the thread count.
// All large arrays come from pgnfast/large_memory.hpp (freed blocks are reused).
//
// No exception leaves an OpenMP region (that would call std::terminate and kill Python):
// each region catches into a FirstError, the other threads skip their remaining work, and
// the error is rethrown after the region, so the binding raises MemoryError / ValueError.
#include "pgnfast/cell_list.hpp"

#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <stdexcept>
#include <string>

namespace pgnfast {

namespace {

// Small systems are latency-bound: one thread per this many particles at most
// (pgnfast/neighbors/cpu.py mirrors it as PARTICLES_PER_THREAD).
constexpr int64_t kParticlesPerThread = 4096;
// Bound on periodic images and stencil reach per direction, so shifts (image differences
// plus stencil images) stay well inside int32.
constexpr double kMaxImage = double(int64_t(1) << 29);
// Most stencil cells per home cell (a stencil entry is 48 bytes, per thread).
constexpr double kMaxStencil = double(int64_t(1) << 32);

// A double in %.4g form for error messages.
std::string number(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", x);
  return text;
}

// The first exception thrown by any thread of an OpenMP region, rethrown after the region.
class FirstError {
 public:
  bool failed() const { return failed_.load(std::memory_order_relaxed); }
  // Call from a catch block.
  void capture() noexcept {
    bool expected = false;
    if (failed_.compare_exchange_strong(expected, true)) error_ = std::current_exception();
  }
  // Call after the region (its closing barrier makes error_ visible).
  void rethrow_if_failed() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
};

// A growable array of trivially copyable entries backed by allocate_large.
template <typename T>
class PairBuffer {
 public:
  void reserve(size_t capacity) {
    if (capacity <= capacity_) return;
    LargeArray<T> grown = make_large<T>(capacity);
    if (size_) std::memcpy(grown.get(), data_.get(), size_ * sizeof(T));
    data_ = std::move(grown);
    capacity_ = capacity;
  }
  void clear() { size_ = 0; }
  void push_back(const T& value) {
    if (size_ == capacity_) reserve(capacity_ ? 2 * capacity_ : 1024);
    data_[size_++] = value;
  }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  const T* data() const { return data_.get(); }

 private:
  LargeArray<T> data_;
  size_t size_ = 0, capacity_ = 0;
};

double determinant3(const double* m) {
  return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
         m[2] * (m[3] * m[7] - m[4] * m[6]);
}

void invert3(const double* m, double* inv) {
  const double det = determinant3(m);
  if (det == 0.0 || !std::isfinite(det)) throw std::invalid_argument("search basis is singular");
  const double s = 1.0 / det;
  inv[0] = (m[4] * m[8] - m[5] * m[7]) * s;
  inv[1] = (m[2] * m[7] - m[1] * m[8]) * s;
  inv[2] = (m[1] * m[5] - m[2] * m[4]) * s;
  inv[3] = (m[5] * m[6] - m[3] * m[8]) * s;
  inv[4] = (m[0] * m[8] - m[2] * m[6]) * s;
  inv[5] = (m[2] * m[3] - m[0] * m[5]) * s;
  inv[6] = (m[3] * m[7] - m[4] * m[6]) * s;
  inv[7] = (m[1] * m[6] - m[0] * m[7]) * s;
  inv[8] = (m[0] * m[4] - m[1] * m[3]) * s;
}

inline int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// First non-zero component positive: the half-list rule for a particle and its own image.
inline bool positive_shift(int32_t sx, int32_t sy, int32_t sz) {
  if (sx != 0) return sx > 0;
  if (sy != 0) return sy > 0;
  return sz > 0;
}

struct StencilEntry {
  int64_t cell;
  int32_t image[3];
  double offset[3];  // image @ cell
};

// Room for a full stencil, or an AllocationError that says how large it was.
void reserve_stencil(std::vector<StencilEntry>& stencil, double cells) {
  try {
    stencil.reserve(static_cast<size_t>(cells));
  } catch (const std::exception&) {  // std::bad_alloc or std::length_error
    throw AllocationError("cell list: no memory for a stencil of " + number(cells) +
                          " cells (" + number(cells * sizeof(StencilEntry)) +
                          " bytes per thread); the cutoff reaches too many periodic images");
  }
}

}  // namespace

void cell_list_pairs(const double* positions, int64_t n, const double* cell, const double* basis,
                     const bool periodic[3], const CellListOptions& options,
                     CellListResult& result) {
  const double cutoff = options.cutoff;
  if (!(cutoff > 0.0) || !std::isfinite(cutoff))
    throw std::invalid_argument("cutoff must be a positive finite number, got " +
                                number(cutoff));
  if (!(options.cells_per_cutoff > 0.0) || !std::isfinite(options.cells_per_cutoff))
    throw std::invalid_argument("cells_per_cutoff must be a positive finite number, got " +
                                number(options.cells_per_cutoff));
  if (n < 0) throw std::invalid_argument("particle count must be >= 0");
  result = CellListResult{};
  result.i = make_large<int64_t>(0);
  result.j = make_large<int64_t>(0);
  result.shifts = make_large<int32_t>(0);
  result.vectors = make_large<double>(0);
  result.distances = make_large<double>(0);
  if (n == 0) return;

  double inverse[9];
  invert3(basis, inverse);

  // fractional coordinates, wrapped along periodic directions
  std::vector<double> frac(3 * n);
  std::vector<int32_t> image(3 * n);
  std::vector<double> wrapped(3 * n);
  double lower[3] = {0, 0, 0}, upper[3] = {1, 1, 1};
  for (int d = 0; d < 3; ++d) {
    if (!periodic[d]) {
      lower[d] = INFINITY;
      upper[d] = -INFINITY;
    }
  }
  for (int64_t p = 0; p < n; ++p) {
    const double* r = positions + 3 * p;
    int32_t s[3] = {0, 0, 0};
    for (int d = 0; d < 3; ++d) {
      double f = r[0] * inverse[0 * 3 + d] + r[1] * inverse[1 * 3 + d] + r[2] * inverse[2 * 3 + d];
      if (!std::isfinite(f))
        throw std::invalid_argument("positions[" + std::to_string(p) + "] is not finite");
      if (periodic[d]) {
        const double fl = std::floor(f);
        if (std::fabs(fl) > kMaxImage)
          throw std::invalid_argument("positions[" + std::to_string(p) + "] lies " +
                                      number(fl) +
                                      " cell lengths from the cell (at most 2^29 supported)");
        s[d] = static_cast<int32_t>(fl);
        f -= fl;
        if (f >= 1.0) {  // f was a hair below an integer: it sits on the next cell's face
          f = 0.0;
          s[d] += 1;  // so the wrapped position agrees with its bin
        }
      } else {
        lower[d] = std::min(lower[d], f);
        upper[d] = std::max(upper[d], f);
      }
      frac[3 * p + d] = f;
      image[3 * p + d] = s[d];
    }
    for (int c = 0; c < 3; ++c) {
      wrapped[3 * p + c] = r[c] - (s[0] * cell[0 * 3 + c] + s[1] * cell[1 * 3 + c] +
                                   s[2] * cell[2 * 3 + c]);
    }
  }

  // grid: cells at least cutoff / cells_per_cutoff wide, between faces
  double width[3];
  int64_t n_cells[3];
  int64_t n_search[3];
  for (int d = 0; d < 3; ++d) {
    if (periodic[d]) {
      const double norm = std::sqrt(inverse[0 * 3 + d] * inverse[0 * 3 + d] +
                                    inverse[1 * 3 + d] * inverse[1 * 3 + d] +
                                    inverse[2 * 3 + d] * inverse[2 * 3 + d]);
      width[d] = 1.0 / norm;
    } else {
      width[d] = upper[d] - lower[d];  // free rows of the basis are unit vectors
    }
    const double cells = std::floor(width[d] * options.cells_per_cutoff / cutoff);
    n_cells[d] = std::max<int64_t>(1, static_cast<int64_t>(std::min(cells, 1e6)));
  }
  const int64_t max_cells =
      options.max_cells > 0 ? options.max_cells : std::max<int64_t>(64, 2 * n);
  double total = static_cast<double>(n_cells[0]) * n_cells[1] * n_cells[2];
  if (total > max_cells) {
    const double scale = std::cbrt(max_cells / total);
    for (int d = 0; d < 3; ++d)
      n_cells[d] = std::max<int64_t>(1, static_cast<int64_t>(n_cells[d] * scale));
  }
  double stencil_cells = 1.0;
  for (int d = 0; d < 3; ++d) {
    double reach = width[d] > 0 ? std::ceil(cutoff * n_cells[d] / width[d]) : 0.0;
    if (!periodic[d]) reach = std::min(reach, static_cast<double>(n_cells[d] - 1));
    if (!(reach <= kMaxImage))  // also catches NaN
      throw AllocationError("cell list: the cutoff " + number(cutoff) +
                            " spans more than 2^29 cells along direction " +
                            std::to_string(d) + "; too many periodic images to list");
    n_search[d] = std::max<int64_t>(static_cast<int64_t>(reach), periodic[d] ? 1 : 0);
    stencil_cells *= static_cast<double>(2 * n_search[d] + 1);
  }
  if (stencil_cells > kMaxStencil)
    throw AllocationError("cell list: every cell would search a stencil of " +
                          number(stencil_cells) +
                          " cells (cutoff far beyond the box); too many periodic images");
  const int64_t n_total = n_cells[0] * n_cells[1] * n_cells[2];

  // counting sort of particles by cell
  std::vector<int64_t> bin(3 * n);
  std::vector<int64_t> cell_of(n);
  std::vector<int64_t> cell_start(n_total + 1, 0);
  for (int64_t p = 0; p < n; ++p) {
    int64_t b[3];
    for (int d = 0; d < 3; ++d) {
      double f = frac[3 * p + d];
      if (!periodic[d]) f = width[d] > 0 ? (f - lower[d]) / width[d] : 0.0;
      b[d] = std::min<int64_t>(n_cells[d] - 1, std::max<int64_t>(0, (int64_t)(f * n_cells[d])));
      bin[3 * p + d] = b[d];
    }
    cell_of[p] = (b[0] * n_cells[1] + b[1]) * n_cells[2] + b[2];
    cell_start[cell_of[p] + 1]++;
  }
  for (int64_t c = 0; c < n_total; ++c) cell_start[c + 1] += cell_start[c];
  std::vector<int64_t> sorted_index(n);
  std::vector<double> sorted_pos(3 * n);
  {
    std::vector<int64_t> fill(cell_start.begin(), cell_start.end() - 1);
    for (int64_t p = 0; p < n; ++p) {
      const int64_t slot = fill[cell_of[p]]++;
      sorted_index[slot] = p;
      for (int c = 0; c < 3; ++c) sorted_pos[3 * slot + c] = wrapped[3 * p + c];
    }
  }

  const double cutoff2 = cutoff * cutoff;
  const bool half = options.half;
  const bool self_interaction = options.self_interaction;
  const int requested = options.num_threads > 0 ? options.num_threads : omp_get_max_threads();
  const int threads = static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(requested, n / kParticlesPerThread)));

  // per particle: which thread buffer holds its pairs, where, how many
  std::vector<int32_t> owner(n);
  std::vector<int64_t> start(n), count(n);
  // Expected pairs for a uniform density over the grid's volume, so the thread buffers
  // rarely grow (a grown buffer is copied once and faults in twice the memory).
  double volume = std::fabs(determinant3(basis));
  for (int d = 0; d < 3; ++d)
    if (!periodic[d]) volume *= std::max(width[d], cutoff);
  const double sphere = 4.0 / 3.0 * M_PI * cutoff * cutoff * cutoff;
  const double per_particle = std::min<double>(static_cast<double>(n) * 27.0,
                                               static_cast<double>(n) / volume * sphere + 1.0);
  // (capped below size_t's range; a reserve that large fails and is reported)
  const size_t expected = static_cast<size_t>(std::min(
      1e18, 1.1 * per_particle * static_cast<double>(n) * (half ? 0.5 : 1.0) / threads)) + 1024;
  std::vector<PairBuffer<PairEntry>> buffers(threads);

  FirstError search_error;
#pragma omp parallel num_threads(threads)
  {
    const int tid = omp_get_thread_num();
    PairBuffer<PairEntry>& buf = buffers[tid];
    std::vector<StencilEntry> stencil;
    const int64_t sx = n_search[0], sy = n_search[1], sz = n_search[2];
    try {
      buf.reserve(expected);
      reserve_stencil(stencil, stencil_cells);
    } catch (...) {
      search_error.capture();
    }

#pragma omp for schedule(dynamic, 16)
    for (int64_t home = 0; home < n_total; ++home) {
      const int64_t first = cell_start[home], last = cell_start[home + 1];
      if (first == last || search_error.failed()) continue;
      try {
        const int64_t h[3] = {home / (n_cells[2] * n_cells[1]), (home / n_cells[2]) % n_cells[1],
                              home % n_cells[2]};
        stencil.clear();
        for (int64_t dx = -sx; dx <= sx; ++dx) {
          for (int64_t dy = -sy; dy <= sy; ++dy) {
            for (int64_t dz = -sz; dz <= sz; ++dz) {
              const int64_t delta[3] = {dx, dy, dz};
              int64_t c[3];
              StencilEntry e;
              bool inside = true;
              for (int d = 0; d < 3; ++d) {
                const int64_t raw = h[d] + delta[d];
                if (periodic[d]) {
                  const int64_t q = floor_div(raw, n_cells[d]);
                  c[d] = raw - q * n_cells[d];
                  e.image[d] = static_cast<int32_t>(q);
                } else {
                  if (raw < 0 || raw >= n_cells[d]) inside = false;
                  c[d] = raw;
                  e.image[d] = 0;
                }
              }
              if (!inside) continue;
              e.cell = (c[0] * n_cells[1] + c[1]) * n_cells[2] + c[2];
              if (cell_start[e.cell] == cell_start[e.cell + 1]) continue;
              for (int k = 0; k < 3; ++k)
                e.offset[k] = e.image[0] * cell[0 * 3 + k] + e.image[1] * cell[1 * 3 + k] +
                              e.image[2] * cell[2 * 3 + k];
              stencil.push_back(e);
            }
          }
        }
        for (int64_t a = first; a < last; ++a) {
          const int64_t i = sorted_index[a];
          const double xi = sorted_pos[3 * a], yi = sorted_pos[3 * a + 1],
                       zi = sorted_pos[3 * a + 2];
          const int32_t* si = &image[3 * i];
          owner[i] = tid;
          start[i] = static_cast<int64_t>(buf.size());
          for (const StencilEntry& e : stencil) {
            const double ox = e.offset[0] - xi, oy = e.offset[1] - yi, oz = e.offset[2] - zi;
            const int64_t b_end = cell_start[e.cell + 1];
            for (int64_t b = cell_start[e.cell]; b < b_end; ++b) {
              const double vx = sorted_pos[3 * b] + ox;
              const double vy = sorted_pos[3 * b + 1] + oy;
              const double vz = sorted_pos[3 * b + 2] + oz;
              if (vx * vx + vy * vy + vz * vz >= cutoff2) continue;
              const int64_t j = sorted_index[b];
              if (half && j < i) continue;
              const int32_t* sj = &image[3 * j];
              PairEntry entry;
              entry.j = j;
              entry.shift[0] = e.image[0] + si[0] - sj[0];
              entry.shift[1] = e.image[1] + si[1] - sj[1];
              entry.shift[2] = e.image[2] + si[2] - sj[2];
              if (j == i) {
                const bool zero = entry.shift[0] == 0 && entry.shift[1] == 0 && entry.shift[2] == 0;
                if (zero ? !self_interaction
                         : (half && !positive_shift(entry.shift[0], entry.shift[1],
                                                    entry.shift[2])))
                  continue;
              }
              buf.push_back(entry);
            }
          }
          count[i] = static_cast<int64_t>(buf.size()) - start[i];
        }
      } catch (...) {
        search_error.capture();
      }
    }
  }
  search_error.rethrow_if_failed();

  // pairs sorted by i: exclusive prefix sum of counts, then parallel copies that also
  // compute the vectors from the caller's positions
  std::vector<int64_t> offset(n + 1, 0);
  for (int64_t p = 0; p < n; ++p) offset[p + 1] = offset[p] + count[p];
  const int64_t total_pairs = offset[n];
  result.pairs = total_pairs;
  result.i = make_large<int64_t>(total_pairs);
  result.j = make_large<int64_t>(total_pairs);
  result.shifts = make_large<int32_t>(3 * total_pairs);
  result.vectors = make_large<double>(3 * total_pairs);
  result.distances = make_large<double>(total_pairs);
  int64_t* out_i = result.i.get();
  int64_t* out_j = result.j.get();
  int32_t* out_s = result.shifts.get();
  double* out_v = result.vectors.get();
  double* out_d = result.distances.get();
  // visited in cell order, like the search: consecutive particles then read the same
  // neighbours' positions (cache hits) and their buffers front to back
  // plain loads and stores: nothing here throws today, caught all the same so that no
  // later change can let an exception leave the region
  FirstError copy_error;
#pragma omp parallel for schedule(static, 256) num_threads(threads)
  for (int64_t slot = 0; slot < n; ++slot) {
    if (copy_error.failed()) continue;
    try {
      const int64_t p = sorted_index[slot];
      const PairEntry* src = buffers[owner[p]].data() + start[p];
      const int64_t dst = offset[p], m = count[p];
      const double* ri = positions + 3 * p;
      for (int64_t k = 0; k < m; ++k) {
        const PairEntry& e = src[k];
        const double* rj = positions + 3 * e.j;
        double v[3];
        for (int c = 0; c < 3; ++c)
          v[c] = rj[c] - ri[c] + (e.shift[0] * cell[c] + e.shift[1] * cell[3 + c] +
                                  e.shift[2] * cell[6 + c]);
        const int64_t q = dst + k;
        out_i[q] = p;
        out_j[q] = e.j;
        out_s[3 * q] = e.shift[0];
        out_s[3 * q + 1] = e.shift[1];
        out_s[3 * q + 2] = e.shift[2];
        out_v[3 * q] = v[0];
        out_v[3 * q + 1] = v[1];
        out_v[3 * q + 2] = v[2];
        out_d[q] = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
      }
    } catch (...) {
      copy_error.capture();
    }
  }
  copy_error.rethrow_if_failed();
}

}  // namespace pgnfast
