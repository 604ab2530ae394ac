// Buffers that a step overwrites whole (matrix products, attention), allocated without zeroing:
// std::vector<float>(n) writes n zeros on the calling thread alone, and on a many-core machine
// those serial writes, tens of megabytes a layer, cost as much as a layer's parallel work.
#pragma once

#include <memory>
#include <new>
#include <vector>

namespace owl::validate {

// std::allocator whose value-less construct leaves the value uninitialized.
template <class T>
struct UninitializedAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <class U>
  explicit UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}

  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    std::construct_at(p, std::forward<Args>(args)...);
  }
};

using Scratch = std::vector<float, UninitializedAllocator<float>>;

}  // namespace owl::validate
