// The intermediate graph: one canonical description of a model, whatever file it came from.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "converters/metadata.h"
#include "converters/source.h"
#include "converters/types.h"

namespace owl {

// "[4096, 11008]"
std::string shape_to_string(std::span<const uint64_t> shape);

struct Tensor {
  std::string name;             // canonical (GGUF-style) once normalized; as stored before
  std::vector<uint64_t> shape;  // row-major, outermost first, as PyTorch and safetensors write it
  ElemType type = ElemType::F32;
  SourcePtr data;  // lazy; byte_size() equals bytes_for_shape(type, shape)
  // Where a GGUF input stored it: the part (an index into Graph::inputs) and the byte offset in
  // that file. llama-quantize --keep-split keeps each tensor in its part, in this order.
  uint32_t input_part = 0;
  uint64_t input_offset = 0;

  uint64_t elements() const;
  uint64_t byte_size() const { return data ? data->byte_size() : 0; }
  std::string shape_string() const;  // "[4096, 11008]"
};

// Where a graph came from: the format and the files it was read from.
struct InputFile {
  std::string path;
  uint64_t size = 0;
};

struct Graph {
  std::string format;        // "safetensors", "gguf", ...
  std::string architecture;  // "llama", ... ; empty when the input does not say
  Metadata metadata;
  std::vector<Tensor> tensors;
  std::vector<InputFile> inputs;

  const Tensor* find(std::string_view name) const;
  uint64_t parameter_count() const;
  uint64_t tensor_bytes() const;
  uint64_t input_bytes() const;
};

}  // namespace owl
