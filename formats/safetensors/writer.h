// Writes safetensors files, streaming one tensor at a time, optionally sharded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "converters/graph.h"
#include "converters/progress.h"
#include "formats/tensor_stream.h"

namespace owl::safetensors {

struct WriteOptions {
  // Start a new shard before a tensor that would take the current one past this many bytes
  // (0: one file). Sharded output is `<stem>-00001-of-0000N.safetensors` beside an index.
  uint64_t shard_bytes = 0;
  Progress* progress = nullptr;
  // Provenance (tensor_stream.h): the keys are patched in every shard's header.
  FinishMetadata finish_metadata;
};

// Writes `g` to `path` (a .safetensors file). Every output file appears only when all are
// complete. Returns the files written, index last.
std::vector<std::string> write(const Graph& g, const std::string& path,
                               const WriteOptions& opt = {});

// The header bytes (JSON padded with spaces to the data alignment) for these tensors, laid out
// as the reference implementation lays them out.
std::string make_header(const Graph& g, const std::vector<const Tensor*>& tensors);

}  // namespace owl::safetensors
