// Large host blocks with a cache of freed ones (contract in pgnfast/large_memory.hpp).
//
// No OpenMP region lives here, but allocate() is called from inside the cell list's
// parallel regions: it reports failure only by throwing AllocationError (which the caller
// catches inside its region), and release() never throws (it runs in deleters).
#include "pgnfast/large_memory.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <list>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>

namespace pgnfast {
namespace {

constexpr size_t kHugePage = size_t(2) << 20;
constexpr size_t kCachedFrom = size_t(4) << 20;  // smaller blocks use malloc/free

size_t default_limit() {
  if (const char* env = std::getenv("PGNFAST_CACHE_BYTES")) {
    try {
      return static_cast<size_t>(std::stoull(env));
    } catch (...) {
    }
  }
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const size_t ram = pages > 0 && page > 0 ? size_t(pages) * size_t(page) : size_t(8) << 30;
  return std::min(size_t(8) << 30, ram / 4);
}

[[noreturn]] void out_of_memory(size_t bytes) {
  throw AllocationError("pgnfast: could not allocate " + std::to_string(bytes) +
                        " bytes (out of memory)");
}

struct Block {
  void* ptr;
  size_t capacity;
};

class LargeMemory {
 public:
  void* allocate(size_t bytes) {
    if (bytes < kCachedFrom) {
      void* p = std::malloc(bytes);
      if (!p) out_of_memory(bytes);
      return p;
    }
    // the rounding below must not wrap around (no machine has that much memory anyway)
    if (bytes > std::numeric_limits<size_t>::max() / 2) out_of_memory(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // best fit among blocks no more than twice the request (a grown buffer still fits)
      auto best = free_.end();
      for (auto it = free_.begin(); it != free_.end(); ++it)
        if (it->capacity >= bytes && it->capacity <= 2 * bytes + kCachedFrom &&
            (best == free_.end() || it->capacity < best->capacity))
          best = it;
      if (best != free_.end()) {
        const Block block = *best;
        free_.erase(best);
        cached_ -= block.capacity;
        live_[block.ptr] = block.capacity;
        live_bytes_ += block.capacity;
        ++hits_;
        return block.ptr;
      }
      ++misses_;
    }
    // a little headroom so the next request of similar size fits this block
    const size_t capacity = (bytes + bytes / 16 + kHugePage - 1) / kHugePage * kHugePage;
    void* p = nullptr;
    if (posix_memalign(&p, kHugePage, capacity) != 0) {
      empty();  // give cached blocks back and try once more
      if (posix_memalign(&p, kHugePage, capacity) != 0) out_of_memory(capacity);
    }
#ifdef MADV_HUGEPAGE
    madvise(p, capacity, MADV_HUGEPAGE);
#endif
    std::lock_guard<std::mutex> lock(mutex_);
    try {
      live_[p] = capacity;
    } catch (...) {  // the bookkeeping itself ran out of memory: do not leak the block
      std::free(p);
      out_of_memory(capacity);
    }
    live_bytes_ += capacity;
    return p;
  }

  void release(void* p) noexcept {
    if (!p) return;
    std::unique_lock<std::mutex> lock(mutex_);
    const auto found = live_.find(p);
    if (found == live_.end()) {
      lock.unlock();
      std::free(p);
      return;
    }
    const size_t capacity = found->second;
    live_.erase(found);
    live_bytes_ -= capacity;
    if (capacity > limit_) {
      lock.unlock();
      std::free(p);
      return;
    }
    evict_until(limit_ - capacity);
    try {
      free_.push_back({p, capacity});
    } catch (...) {  // no memory for the list node: free the block instead of caching it
      lock.unlock();
      std::free(p);
      return;
    }
    cached_ += capacity;
  }

  void empty() noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    evict_until(0);
  }

  void set_limit(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_ = bytes;
    evict_until(limit_);
  }

  LargeMemoryInfo info() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {cached_, live_bytes_, limit_, hits_, misses_};
  }

 private:
  // Frees the least recently freed blocks until at most `budget` bytes stay cached; the
  // caller holds the mutex.
  void evict_until(size_t budget) noexcept {
    while (cached_ > budget && !free_.empty()) {
      std::free(free_.front().ptr);
      cached_ -= free_.front().capacity;
      free_.pop_front();
    }
  }

  std::mutex mutex_;
  std::list<Block> free_;
  std::unordered_map<void*, size_t> live_;
  size_t cached_ = 0, live_bytes_ = 0, limit_ = default_limit(), hits_ = 0, misses_ = 0;
};

// Never destroyed: arrays handed to Python may be freed after static destructors ran.
LargeMemory& memory() {
  static LargeMemory* instance = new LargeMemory();
  return *instance;
}

}  // namespace

void* allocate_large(size_t bytes) { return memory().allocate(bytes); }
void free_large(void* p) noexcept { memory().release(p); }
LargeMemoryInfo large_memory_info() { return memory().info(); }
void set_large_memory_limit(size_t bytes) { memory().set_limit(bytes); }
void empty_large_memory_cache() { memory().empty(); }

}  // namespace pgnfast
