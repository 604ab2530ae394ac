// The hyper-parameters of a Llama-family model, read from a canonical (GGUF-named) graph.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "converters/graph.h"
#include "validate/moe_routing.h"

namespace owl::validate {

enum class RopeLayout {
  Interleaved,  // rotates (x[2i], x[2i+1]): llama.cpp's "normal" mode, Llama and Mistral
  NeoX,         // rotates (x[i], x[i + d/2]): Qwen, Gemma, Phi-3
};

// How positions are stretched beyond the trained context, as llama.cpp reads it from metadata.
struct RopeScaling {
  double freq_scale = 1.0;   // 1 / rope.scaling.factor for "linear" and "yarn"; 1 for "none"
  bool yarn = false;         // blend interpolated and extrapolated angles per dimension
  double attn_factor = 1.0;  // the magnitude the rotated vectors are scaled by (YaRN's mscale)
  double beta_fast = 32.0, beta_slow = 1.0;
  uint64_t n_ctx_orig = 0;  // the context the model was trained with before scaling
};

struct ModelParams {
  std::string arch;
  uint64_t n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, head_dim = 0, n_ff = 0, n_vocab = 0;
  uint64_t rope_dim = 0;
  double rope_base = 10000.0;
  RopeScaling rope_scaling;
  RopeLayout rope = RopeLayout::Interleaved;
  float rms_eps = 1e-5f;
  // Mixtures of experts: a softmax router picks `n_expert_used` of `n_expert` experts per token;
  // their weights are renormalised to sum to 1 where the architecture does so.
  uint64_t n_expert = 0, n_expert_used = 0;
  bool expert_weights_norm = false;
  using Gating = validate::Gating;  // see moe_routing.h
  Gating gating = Gating::softmax;
  bool oai_swiglu = false;  // gpt-oss's SwiGLU (clamped, sigmoid(1.702 x), up + 1)
  // Layer i's attention is limited when i % swa_pattern < swa_pattern - 1 (llama.cpp's fixed
  // pattern per architecture): to the last n_swa tokens, or with `swa_chunked` to the tokens of
  // its own chunk of n_swa (Llama 4). 0: no such layers.
  uint64_t swa_pattern = 0, n_swa = 0;
  bool swa_chunked = false;
  // Llama 4: layer i has no RoPE when (i + 1) % no_rope_step == 0; those layers scale q by
  // log(floor((pos + temp_offset) / temp_floor) + 1) * temp_scale + 1, and the others RMS-norm
  // q and k per head, without weights, after RoPE (qk_l2_norm).
  uint64_t no_rope_step = 0, temp_floor = 0;
  float temp_scale = 0, temp_offset = 0;
  bool qk_l2_norm = false;
  // Granite's multipliers, 0 where the model has none: on the embeddings, on each block's output
  // before it joins the residual stream, in place of attention's 1/sqrt(head size), and as the
  // divisor of the logits.
  float embedding_scale = 0, residual_scale = 0, attention_scale = 0, logit_scale = 0;
  // DeepSeek's routing beyond its sigmoid gating (with the layers' exp_probs_b bias on the
  // choice): a search limited to the best n_group_used of n_expert_groups groups, and a factor on
  // the chosen weights (0: none).
  uint64_t n_expert_groups = 0, n_group_used = 0;
  float expert_weights_scale = 0;
  // DeepSeek's multi-head latent attention (0 elsewhere): the latent width, each head's key
  // (non-rotary + rotary) and value sizes, and the scale of q.k with YaRN's magnitude folded in.
  uint64_t kv_lora_rank = 0, head_dim_k_mla = 0, head_dim_v_mla = 0;
  float mla_kq_scale = 0;
  // Gemma (gemma_params.cpp): GeGLU in place of SwiGLU; cap * tanh(x / cap) on the attention
  // scores and on the logits (0: none); the sliding layers' own RoPE base, unscaled where
  // llama.cpp leaves them so (0: they rotate as the others); a per-layer sliding pattern from an
  // array key, which replaces swa_pattern when not empty. EmbeddingGemma: no causal mask, a
  // symmetric window, and the pooling of its sentence embedding (llama_pooling_type: 1 mean,
  // 2 first token, 3 last token; 0: a language model).
  bool geglu = false;
  float attn_softcap = 0, final_softcap = 0;
  double rope_base_swa = 0;
  bool swa_rope_unscaled = false;
  std::vector<bool> swa_layers;
  bool causal = true;
  uint32_t pooling = 0;
};

// Whether layer i's attention is limited to a window (or a chunk), as llama.cpp's hparams say.
bool sliding_layer(const ModelParams& p, uint64_t i);

// Reads `<arch>.*` keys and tensor shapes; throws UsageError naming what is missing or
// unsupported (the architectures the reference forward implements are the Llama family).
ModelParams read_model_params(const Graph& g);

// Throws InputError naming what differs when `test` is not the same network as `ref`
// (architecture, depth, widths, heads or vocabulary): logits are compared position by position,
// which only means something between a model and a converted or quantized copy of it.
void require_same_network(const ModelParams& ref, const ModelParams& test);

}  // namespace owl::validate
