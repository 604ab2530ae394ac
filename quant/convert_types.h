// The type each tensor gets when a model is converted to GGUF with `--dtype`, following the
// rules of llama.cpp's convert_hf_to_gguf.py so the files match tensor for tensor.
#pragma once

#include <string>
#include <vector>

#include "converters/graph.h"

namespace owl {

struct TypeChoice {
  ElemType type;
  std::string why;  // empty when the tensor simply gets the target; else the rule that applied
};

// 1-D tensors, norms, biases (anything not named *.weight) and a few special tensors stay F32;
// a quantized target falls back to F16 for rows that are not whole blocks; tensors that are
// not floats are kept.
TypeChoice gguf_convert_type(const Tensor& t, ElemType target);

struct Fallback {
  std::string tensor;
  std::string why;
};

// Applies gguf_convert_type to every tensor (casting or quantizing lazily). Returns the
// tensors that could not get the target because of their shape, for the caller to report.
std::vector<Fallback> apply_gguf_convert_types(Graph& g, ElemType target);

// llama.cpp's general.file_type value for a model stored mostly as `target`.
uint32_t llama_file_type(ElemType target);

}  // namespace owl
