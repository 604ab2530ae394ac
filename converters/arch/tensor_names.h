// Tensor names between Hugging Face and GGUF, through a family's name table.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "converters/arch/family.h"

namespace owl::arch {

// Tensors convert_hf_to_gguf.py leaves out of a text model: vision and audio towers,
// projectors, and buffers that are not weights (rotary inv_freq, attention masks).
bool is_skipped_hf_tensor(std::string_view name);

// The name the reference maps from: "language_model." removed (multimodal checkpoints) and
// "model." put in front of a bare model's names (Qwen2Model, LlamaModel); DeepSeek-V3's
// "e_score_correction_bias" made "e_score_correction.bias".
std::string normalized_hf_name(std::string_view name);
// The way back of the DeepSeek rename: "e_score_correction.bias" -> "e_score_correction_bias".
std::string denormalized_hf_name(std::string name);

struct MappedName {
  std::string name;
  std::optional<int64_t> layer;  // N of blk.N, when the tensor is in a layer
};

// "model.layers.3.self_attn.q_proj.bias" -> "blk.3.attn_q.bias", if the table names it.
std::optional<MappedName> hf_to_gguf_name(const NameTable& t, std::string_view hf);
// The reverse.
std::optional<MappedName> gguf_to_hf_name(const NameTable& t, std::string_view gguf);

// "model.layers.3.mlp.gate.weight" -> {3, "mlp.gate.weight"}; nullopt outside the layers.
std::optional<std::pair<int64_t, std::string_view>> split_hf_layer(std::string_view name);
// "blk.3.ffn_up_exps.weight" -> {3, "ffn_up_exps.weight"}; nullopt outside the blocks.
std::optional<std::pair<int64_t, std::string_view>> split_gguf_layer(std::string_view name);

// The GGUF stem of a name without its layer and suffix: "blk.3.attn_q.bias" -> "attn_q".
std::string gguf_stem(std::string_view gguf);

}  // namespace owl::arch
