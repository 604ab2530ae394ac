// The reference forward pass of the Llama family, plain and in f32, for measuring drift.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "converters/graph.h"
#include "validate/model_params.h"
#include "validate/rope.h"
#include "validate/weight.h"

namespace owl::validate {

// Sees the input of every matrix product before it runs: the weight's tensor name, which of its
// `experts` matrices runs (expert 0 of 1 for a plain matrix; a mixture of experts' stacked
// tensor runs one expert at a time on the tokens routed to it) and the activations, `tokens` rows
// of `cols` floats, row-major. For statistics over a pass (an importance matrix); the pass itself
// does not depend on it.
using MatmulObserver =
    std::function<void(const std::string& weight, uint64_t expert, uint64_t experts, const float* x,
                       uint64_t tokens, uint64_t cols)>;

// The layers [begin, end) one stage of a pipeline runs (validate/shared_pass.h); the stage that
// begins at layer 0 also embeds the tokens, the one that ends at the last layer also runs the
// output head.
struct LayerRange {
  uint64_t begin = 0, end = UINT64_MAX;
};

class Forward {
 public:
  // The graph must outlive the Forward (weights stay in the graph's mapped files). Only the
  // tensors of `layers` (and the embedding or the head when the range holds the first or last
  // layer) are looked up and ever read, so a stage pages in its share of the model alone.
  explicit Forward(const Graph& g, LayerRange layers = {});

  const ModelParams& params() const { return p_; }

  // Logits [tokens.size(), n_vocab] for a sequence starting at position 0, with causal
  // attention: row t sees tokens 0..t. The whole sequence goes through each matrix at once.
  // The sequence is the context (owl validate and imatrix run whole chunks of --ctx tokens):
  // LongRoPE's factors are chosen by its length as llama.cpp chooses them by its context.
  // The same as head(run_layers(embed(tokens))) on a Forward over every layer. Throws
  // UsageError for a sentence-embedding model (no LM head: see embedding()).
  std::vector<float> logits(std::span<const int32_t> tokens) const;

  // The pass in its three parts, for a pipeline whose stages each hold some layers: the hidden
  // state [tokens, n_embd] of the tokens, that state through this Forward's layers, and the
  // logits of the final state.
  std::vector<float> embed(std::span<const int32_t> tokens) const;
  void run_layers(std::vector<float>& x, uint64_t tokens) const;
  std::vector<float> head(std::vector<float> x, uint64_t tokens) const;

  // A sentence-embedding model's (params().pooling) embedding of a whole sequence, as llama.cpp
  // computes it: the final norm's output pooled over the tokens, through the sentence-transformers
  // Dense layers (dense_2, dense_3) when the model has them and `dense` is set, then scaled to
  // unit length. Throws UsageError for a language model.
  std::vector<float> embedding(std::span<const int32_t> tokens, bool dense = true) const;
  bool has_dense() const { return dense_2_.present() || dense_3_.present(); }

  // Called at every matrix product of later passes (an empty function: none).
  void set_observer(MatmulObserver observer) { observer_ = std::move(observer); }

 private:
  // A SwiGLU block: down(silu(gate x) * up x).
  struct Ffn {
    Weight gate, up, down;
  };
  struct Layer {
    Weight attn_norm, wq, wk, wv, wo, bq, bk, bv, q_norm, k_norm, ffn_norm;
    // Phi-3: q, k and v as one matrix (rows in that order), and its bias.
    Weight wqkv = {}, bqkv = {};
    Ffn ffn;  // dense layers; Phi-3 has no gate, its up holds the gate's rows above its own
    // Mixture-of-experts layers: the router, the stacked experts, and a shared expert (Qwen2-MoE
    // scales it by a one-row sigmoid gate).
    Weight router;
    Ffn experts, shared;
    Weight shared_gate;
    // DeepSeek: the router's selection bias, and multi-head latent attention in place of
    // wk/wv: the query straight (wq) or through a low rank (wq_a, q_a_norm, wq_b), the keys'
    // and values' shared latent with the keys' rotary part beside it (wkv_a, kv_a_norm), and
    // each head's maps between its keys and values and the latent (wk_b, wv_b).
    Weight exp_probs_b = {};
    Weight wq_a = {}, q_a_norm = {}, wq_b = {}, wkv_a = {}, kv_a_norm = {}, wk_b = {}, wv_b = {};
    // gpt-oss: the output projection's and the router's biases, the experts' ([experts, n], a
    // row each), the sinks, and whether the layer's attention slides.
    Weight bo, router_bias;
    Ffn expert_bias;
    Weight sinks;
    bool sliding = false;
    bool rope = true;  // Llama 4's NoPE layers have none
    // Gemma 2/3: norms on the attention's and the feed-forward's outputs before they join the
    // residual stream.
    Weight post_attn_norm = {}, post_ffw_norm = {};
  };
  // One expert's biases, empty where it has none.
  struct Biases {
    std::vector<float> gate, up, down;
  };

  // The final norm's output [T, n_embd] for a sequence starting at position 0.
  std::vector<float> hidden(std::span<const int32_t> tokens) const;
  void final_norm(std::vector<float>& x, uint64_t T) const;
  void attention(const Layer& l, std::vector<float>& x, uint64_t T) const;
  // DeepSeek's attention (mla_attention.cpp): the tensors, and the block's output for the
  // normed input h.
  void load_mla(const Graph& g, const std::string& prefix, Layer& l) const;
  std::vector<float> mla_attention(const Layer& l, const std::vector<float>& h, uint64_t T) const;
  // Phi-3's fused matrices (phi3_layers.cpp): their tensors and shapes, q/k/v through one
  // product, and SwiGLU from one product holding gate and up.
  void load_fused(const Graph& g, const std::string& prefix, Layer& l) const;
  void project_qkv(const Layer& l, const float* h, uint64_t T, float* q, float* k, float* v) const;
  std::vector<float> fused_swiglu(const Ffn& f, const float* x, uint64_t T) const;
  // LongRoPE (phi3_layers.cpp): the short factors in rope_, the long in rope_long_, and which
  // one a sequence of T tokens takes.
  void load_long_rope(const Graph& g);
  const Rope& rope_for(uint64_t T) const;
  void feed_forward(const Layer& l, std::vector<float>& x, uint64_t T) const;
  std::vector<float> experts(const Layer& l, const std::vector<float>& h, uint64_t T) const;
  // x += out (x.size() values), scaled by the model's residual multiplier when it has one.
  void add_residual(std::vector<float>& x, const float* out) const;
  void mul(const Weight& w, const float* x, uint64_t T, float* y) const;
  std::vector<float> swiglu(const Weight& gate, const Weight& up, const Weight& down,
                            const float* x, uint64_t T, const Biases& b = {}) const;
  // The router's choice for each of T tokens: per expert, the tokens that picked it and their
  // weights.
  std::vector<std::vector<std::pair<uint64_t, float>>> route(const Layer& l,
                                                             const std::vector<float>& h,
                                                             uint64_t T) const;

  ModelParams p_;
  bool first_layer_ = true, last_layer_ = true;
  Weight embd_, out_norm_, output_;
  std::vector<Layer> layers_;
  Rope rope_;
  Rope rope_long_;
  uint64_t long_rope_after_ = 0;  // contexts longer than this take rope_long_ (0: no LongRoPE)
  Rope mla_rope_;                 // over the rotary part alone, as its own vectors
  Rope swa_rope_;                 // Gemma's sliding layers, where they rotate differently
  Weight dense_2_, dense_3_;      // EmbeddingGemma's sentence-transformers projections
  MatmulObserver observer_;
};

}  // namespace owl::validate
