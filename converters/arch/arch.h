// Architecture normalizers: Hugging Face (and llama2.c) graphs to llama.cpp's canonical GGUF
// form, and back. These are passes over a Graph: they rename and reorder tensors, wrap their
// data in lazy transforms, and rewrite the metadata; nothing is read until a writer pulls it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "converters/graph.h"

namespace owl::arch {

// Rewrites a graph read from a Hugging Face folder (hf.config.* keys) or a llama2.c checkpoint
// into the form llama.cpp's convert_hf_to_gguf.py gives it: GGUF tensor names and order,
// Llama's q/k RoPE row order, Gemma's norm + 1, generated RoPE tensors, and the general.* and
// `<arch>.*` keys with the reference's value types. The source keys it consumed (hf.config.*,
// safetensors.metadata.*, llama2c.*) are removed; other keys (tokenizer.*) follow, untouched.
// Tensor types are kept, except Gemma's shifted norms, which become F32 as the reference
// writes them. general.file_type is written where the reference writes it with the value 0
// (all F32), for the pipeline to set once it knows the output types; general.quantization_version
// (2) closes the `<arch>.*` keys as in the reference.
//
// Throws UsageError for an architecture owl does not convert (naming it and the supported
// ones) and for a graph with neither config.json nor a llama2.c header; InputError naming
// config.json for missing or out-of-range values, or a tensor that has no place in the model.
// What is only skipped (a model card owl cannot read) goes to `warn`, if set.
struct ToGgufOptions {
  // EmbeddingGemma: also the sentence-transformers Dense modules (2_Dense, 3_Dense) as
  // dense_2 / dense_3 with their dense_*_feat_* sizes, as convert_hf_to_gguf.py's
  // --sentence-transformers-dense-modules adds them. Other architectures ignore it, as the
  // reference does.
  bool sentence_transformers_dense = false;
};
void to_gguf(Graph& g, const std::function<void(const std::string&)>& warn = {},
             const ToGgufOptions& options = {});

// Throws what to_gguf would for an architecture owl does not convert, so that a command can say
// so before its expensive work (a 262k-token tokenizer takes seconds to read).
void check_convertible(const Graph& g);

// The reverse for the same families: GGUF names to Hugging Face names, the q/k row order and
// Gemma's norm shift undone, and hf.config.* keys (model_type, architectures, hidden_size, ...,
// torch_dtype, tie_word_embeddings) from which a writer can emit a config.json transformers
// loads. Removes the general.* and `<arch>.*` keys; tokenizer.* keys stay as they are.
void to_hf(Graph& g);

// One weight at a time, for LoRA adapters: the GGUF name a Hugging Face tensor of the model
// whose config.json `base` was read from gets, and for Llama-style q/k projections the same RoPE
// row reorder to_gguf gives the weight (a LoRA B matrix has the weight's rows, so reordering
// them reorders B A's). Throws what to_gguf throws for an architecture owl does not convert.
class HfWeightMapper {
 public:
  explicit HfWeightMapper(const Graph& base);
  ~HfWeightMapper();
  const std::string& gguf_arch() const;
  // `t` carries the weight's Hugging Face name and has the weight's rows. Throws InputError
  // naming `where` when the name has no GGUF counterpart in this architecture.
  Tensor map(Tensor t, const std::string& where) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The Hugging Face architectures to_gguf converts, for messages and --help.
std::vector<std::string> supported_architectures();

}  // namespace owl::arch
