// Shared by the libFuzzer targets: what every parsed checkpoint must satisfy.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <span>

#include "converters/graph.h"
#include "converters/source.h"
#include "converters/types.h"

namespace owl::fuzz {

// Reads every tensor of a graph the reader accepted, as a conversion would. The reader promises
// that each tensor's source holds exactly bytes_for_shape(type, shape) bytes and that reading
// it cannot fail, so a mismatch aborts (the fuzzer reports it) and any exception escapes.
inline void read_every_tensor(const Graph& g) {
  for (const Tensor& t : g.tensors) {
    if (!t.data) std::abort();
    const ShapeBytes want = bytes_for_shape(t.type, t.shape);
    if (!want.bytes || *want.bytes != t.data->byte_size()) std::abort();
    volatile std::byte sink{};
    for_each_chunk(*t.data, [&](std::span<const std::byte> chunk) {
      for (std::byte b : chunk) sink = sink ^ b;
    });
  }
}

}  // namespace owl::fuzz
