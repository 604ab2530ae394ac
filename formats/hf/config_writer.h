// config.json from a graph's `hf.config.*` metadata, so a written folder loads in transformers.
#pragma once

#include <string>
#include <string_view>

#include "converters/graph.h"
#include "formats/json/strict_json.h"

namespace owl::hf {

// The `hf.config.*` keys folded back into nested JSON (dotted keys become nested objects).
Json config_json(const Graph& g);

// transformers' name for a tensor type: "float16", "bfloat16", and "float32" for the rest (what
// quantized GGUF tensors become).
std::string_view torch_dtype_name(ElemType t);

// After every float tensor was cast to `t`: config.json's `torch_dtype` (and `dtype`, the name
// transformers writes since 4.56) say so, where the config has them.
void set_config_dtype(Graph& g, ElemType t);

// Writes config_json(g) atomically to `path`, indented as transformers writes it.
void write_config(const Graph& g, const std::string& path);

// Writes `j` atomically to `path`, indented the same way (tokenizer files and the like).
void write_json(const Json& j, const std::string& path);

}  // namespace owl::hf
