// The normalization step every pipeline shares: a model from any reader into owl's canonical
// (GGUF-named) form, with its tokenizer attached.
#pragma once

#include <functional>
#include <string>

#include "converters/graph.h"

namespace owl {

struct NormalizeOptions {
  std::string tokenizer;  // a tokenizer file to use instead of the model folder's own
  std::function<void(const std::string&)> warn = [](const std::string&) {};
  bool sentence_transformers_dense = false;  // see arch::ToGgufOptions
};

// Attaches the tokenizer (from `tokenizer`, or the input folder's files) and runs the
// architecture's normalizer. A graph read from GGUF is canonical already and is left alone.
void normalize(Graph& g, const std::string& input, const NormalizeOptions& opt);

}  // namespace owl
