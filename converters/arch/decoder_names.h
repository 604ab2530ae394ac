// The tensor names most decoder families share on the Hugging Face side, so each family's table
// lists only what it does differently.
#pragma once

#include "converters/arch/family.h"

namespace owl::arch {

// Outside the layers: embedding, final norm, output head.
inline constexpr NamePair kDecoderGlobals[] = {
    {"model.embed_tokens", "token_embd"},
    {"model.norm", "output_norm"},
    {"lm_head", "output"},
};

// One Llama-style layer: pre-norm attention with separate q/k/v, pre-norm SwiGLU MLP
// (Llama, Mistral, Qwen2, Gemma).
inline constexpr NamePair kDecoderLayer[] = {
    {"input_layernorm", "attn_norm"},    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},      {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"}, {"post_attention_layernorm", "ffn_norm"},
    {"mlp.gate_proj", "ffn_gate"},       {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
};

}  // namespace owl::arch
