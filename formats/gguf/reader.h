// Reads GGUF files (versions 2 and 3), single or split into `-0000K-of-0000N.gguf` parts.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "converters/graph.h"

namespace owl::gguf {

bool looks_like_gguf(std::span<const std::byte> head);

// Validates everything when opening (counts, lengths, types, dimensions, alignment, tensor
// extents against the file and each other); tensors are zero-copy views of the mapped file,
// with shapes in row-major order (GGUF's ne reversed). A split model given by any of its
// parts is read whole; its split.* keys are dropped, being facts of the files, not the model.
Graph read(const std::string& path);

// For `-00002-of-00005.gguf` style names: the path of part `index` (0-based) of `count`.
std::string split_path(const std::string& any_part, uint32_t index, uint32_t count);

}  // namespace owl::gguf
