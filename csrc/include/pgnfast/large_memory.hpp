// Large host arrays (neighbor-list outputs and scratch) with a cache of freed blocks.
//
// Filling fresh memory is dominated by page faults (zeroing and mapping every page, plus the
// hypervisor's own faults in a VM): at N = 1e6 a neighbor list writes about 3 GB, and faulting
// that in costs several times the search. Freed blocks of 4 MiB or more are therefore kept
// (up to a byte limit) and handed out again for requests of up to their size, the way
// caching allocators for GPUs work; repeated builds of similar size (MD, Monte Carlo, Verlet
// rebuilds) then reuse warm pages. Blocks come from huge pages where the OS offers them
// (transparent huge pages in madvise mode).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <utility>

namespace pgnfast {

// std::bad_alloc with a message: the bindings turn it into a Python MemoryError that says
// how much was asked for.
class AllocationError : public std::bad_alloc {
 public:
  explicit AllocationError(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

// Throws AllocationError when the memory is not there (never returns null).
void* allocate_large(size_t bytes);
void free_large(void* p) noexcept;

struct LargeMemoryInfo {
  size_t cached_bytes = 0;  // freed blocks held for reuse
  size_t live_bytes = 0;    // blocks handed out and not yet freed (cached-size blocks only)
  size_t limit_bytes = 0;   // most bytes the cache holds
  size_t hits = 0, misses = 0;
};

LargeMemoryInfo large_memory_info();
// 0 disables the cache (and frees what it holds); the default is min(8 GiB, RAM / 4), or
// the environment variable PGNFAST_CACHE_BYTES.
void set_large_memory_limit(size_t bytes);
void empty_large_memory_cache();

struct LargeDeleter {
  void operator()(void* p) const noexcept { free_large(p); }
};
template <typename T>
using LargeArray = std::unique_ptr<T[], LargeDeleter>;

// An uninitialised array of `count` entries; a count whose size in bytes overflows size_t
// throws AllocationError instead of wrapping around to a small block.
template <typename T>
LargeArray<T> make_large(size_t count) {
  if (count > (std::numeric_limits<size_t>::max() - 1) / sizeof(T))
    throw AllocationError("pgnfast: an array of " + std::to_string(count) + " entries of " +
                          std::to_string(sizeof(T)) + " bytes does not fit in memory");
  return LargeArray<T>(static_cast<T*>(allocate_large(count * sizeof(T) + 1)));
}

}  // namespace pgnfast
