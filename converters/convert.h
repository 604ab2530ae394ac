// `owl convert`: read a model, normalize it, write it in another format.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "converters/graph.h"
#include "converters/progress.h"

namespace owl {

struct ConvertOptions {
  std::optional<ElemType> dtype;  // float tensors stored as this type; nullopt keeps them
  uint64_t shard_bytes = 0;       // 0: one output file
  Progress* progress = nullptr;
};

struct ConvertResult {
  std::vector<std::string> files;  // written, in order
  size_t tensors = 0;
  size_t cast = 0;                 // tensors whose type changed
  uint64_t bytes = 0;              // tensor bytes written
};

// The output format named by a path's extension, or nullopt.
std::optional<std::string> output_format_for(const std::string& path);

ConvertResult convert(const std::string& input, const std::string& output, const ConvertOptions& opt);

}  // namespace owl
