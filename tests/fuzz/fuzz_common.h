// Shared by the libFuzzer targets: what every parsed checkpoint must satisfy, and the path every
// target drives, the CLI's.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <span>
#include <string>

#include "converters/describe.h"
#include "converters/graph.h"
#include "converters/normalize.h"
#include "converters/source.h"
#include "converters/types.h"
#include "formats/imatrix/imatrix.h"
#include "formats/io/error.h"
#include "formats/open.h"
#include "formats/pytorch/checkpoint.h"

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

// Parses a checkpoint with `parse` and reads every tensor, then scans it; bad input may only
// end in InputError, anything else escapes to the fuzzer.
inline void read_checkpoint(std::span<const std::byte> bytes,
                            Graph (*parse)(std::span<const std::byte>, const std::string&)) {
  const std::string file = "fuzz.pt";
  try {
    read_every_tensor(parse(bytes, file));
  } catch (const InputError&) {
  }
  try {
    (void)pytorch::scan_checkpoint(bytes, file);
  } catch (const InputError&) {
  }
}

// What `owl inspect --json` and `owl convert` do with a path: open it (format recognised by its
// bytes), describe it (every metadata value into graph.proto, then protobuf's JSON) and read every
// tensor; then normalize it (tokenizer attach from the folder or `tokenizer`, architecture pass)
// and describe and read it again through the lazy transforms. Bad input may only end in
// InputError or UsageError (an architecture owl does not convert); anything else escapes.
inline void open_like_cli(const std::string& path, const std::string& tokenizer = {}) {
  try {
    Graph g = open_model(path);
    (void)to_json(describe(g));
    read_every_tensor(g);
    NormalizeOptions opt;
    opt.tokenizer = tokenizer;
    normalize(g, path, opt);
    (void)to_json(describe(g));
    read_every_tensor(g);
  } catch (const InputError&) {
  } catch (const UsageError&) {
  }
}

// What `owl quantize --imatrix` and `owl inspect` do with an importance matrix at `path`: read it
// (GGUF or legacy by its bytes) and derive llama-quantize's weights, which must be as many as the
// sums. Bad input may only end in InputError.
inline void read_imatrix_like_cli(const std::string& path) {
  try {
    const Imatrix m = read_imatrix(path);
    const auto weights = importance_weights(m);
    for (const auto& [name, e] : m.entries)
      if (weights.at(name).size() != e.sums.size()) std::abort();
  } catch (const InputError&) {
  }
}

}  // namespace owl::fuzz
