// What owl knows about one architecture family, as data: the names of its tensors on both
// sides, the layout changes between them, and the functions that write its keys.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "converters/arch/hparams.h"
#include "converters/arch/key_writer.h"
#include "converters/graph.h"

namespace owl::arch {

// One tensor's name stem (no .weight/.bias) on the Hugging Face and GGUF sides.
struct NamePair {
  std::string_view hf, gguf;
};

// Stems outside the layers (model.norm <-> output_norm) and inside them, after
// "model.layers.N." and "blk.N." respectively.
struct NameTable {
  std::span<const NamePair> globals;
  std::span<const NamePair> layers;
};

// Mixture-of-experts layers. Hugging Face stores each expert's matrices as their own tensors,
// "model.layers.N.<prefix>E.<hf>.weight" for E below the config's expert count; GGUF stacks them
// into one 3-D tensor per layer and kind, "blk.N.<gguf>.weight" [experts, rows, cols].
struct ExpertStem {
  std::string_view hf, gguf;
};
// One 3-D tensor [experts, 2 * rows, cols] that holds two matrices per expert one above the
// other (Granite's input_linear, transformers 5's gate_up_proj), split into GGUF's two.
struct FusedExperts {
  std::string_view hf, first, second;
};
// How the outputs of a fused gate-and-up stack divide into GGUF's two tensors: the first half
// is gate (Llama 4), or gate and up take turns, gate first (gpt-oss).
enum class GateUpSplit : uint8_t { halves, alternate };
// An expert stack that is one tensor per layer in a layout of its own: a transformers
// parameter, [experts, in, out] (gpt-oss, Llama 4), that GGUF holds transposed, [experts, out,
// in], or a bias, [experts, out] (gpt-oss's), only renamed or split; or, in `packed`, MXFP4 as
// OpenAI released gpt-oss's experts, "<hf>_blocks" [experts, out, in / 32, 16] and "<hf>_scales"
// [experts, out, in / 32], repacked into ggml's MXFP4 without decoding. `first` and `second` are
// whole GGUF names after "blk.N." ("ffn_gate_exps.weight", or ".bias" for a bias); without
// `second` the tensor is not split.
struct ExpertParam {
  std::string_view hf, first, second = {};
  GateUpSplit split = GateUpSplit::halves;
};
struct ExpertTable {
  std::string_view prefix = {};            // "block_sparse_moe.experts.", after "model.layers.N."
  std::span<const ExpertStem> stems = {};  // in the order the reference writes the stacked tensors
  std::span<const FusedExperts> fused = {};
  // 3-D tensors already stacked as GGUF wants them, only renamed (Granite's output_linear,
  // transformers 5's down_proj); like the fused ones, they may lack the ".weight" suffix.
  std::span<const NamePair> whole = {};
  // The table grew these two for gpt-oss and Llama 4, whose experts are neither one tensor per
  // expert nor stacked as GGUF wants them: transposed parameters, and MXFP4 pairs.
  std::span<const ExpertParam> transposed = {};
  std::span<const ExpertParam> packed = {};
};

// The sizes every family needs, read once from config.json (or from the GGUF keys).
struct Dims {
  int64_t layers = 0, hidden = 0, heads = 0, kv_heads = 0, head_dim = 0;
};

// The GGUF side of a graph, for writing a config.json back: `<arch>.*` keys and tensor shapes.
class GgufView {
 public:
  GgufView(const Graph& g, std::string arch) : g_(g), arch_(std::move(arch)) {}
  const std::string& arch() const { return arch_; }
  const Value* find(std::string_view suffix) const;  // "<arch>." + suffix
  std::optional<int64_t> opt_int(std::string_view suffix) const;
  int64_t int_(std::string_view suffix) const;  // UsageError when missing
  std::optional<double> opt_float(std::string_view suffix) const;
  std::optional<std::string> opt_string(std::string_view suffix) const;
  const Tensor* tensor(std::string_view name) const { return g_.find(name); }
  const Graph& graph() const { return g_; }

 private:
  const Graph& g_;
  std::string arch_;
};

// hf.config.* keys typed as a JSON reader would type them (I64, F64, strings, bools).
class ConfigWriter {
 public:
  explicit ConfigWriter(Metadata& out) : out_(out) {}
  void integer(std::string_view key, int64_t v);
  // A float read back from a GGUF F32 is written as the shortest decimal that names the same
  // F32 (1e-05, not 9.99999974737875e-06), as the original config.json had it.
  void real(std::string_view key, double v, bool from_f32 = true);
  void string(std::string_view key, std::string v);
  void boolean(std::string_view key, bool v);
  void strings(std::string_view key, std::vector<std::string> v);
  void reals(std::string_view key, const std::vector<float>& v);
  void integers(std::string_view key, const std::vector<int64_t>& v);
  void null(std::string_view key);  // written as null, which metadata cannot hold
  void erase(std::string_view key);

 private:
  Metadata& out_;
};

struct Family {
  std::string_view gguf_arch;                          // "llama"
  std::span<const std::string_view> hf_architectures;  // config.json "architectures" it takes
  std::span<const std::string_view> model_types;       // config.json "model_type" fallback
  std::span<const HParamDefault> defaults;             // the transformers config class's
  NameTable names;
  // The table grew this for mixtures of experts: the per-expert tensors are not renamed one to
  // one like the rest but gathered per layer into one stacked tensor (or split from a fused one),
  // so they need their own entries beside `names`.
  ExpertTable experts = {};
  bool permute_qk = false;      // Llama's RoPE row order for q/k
  bool shift_norms = false;     // Gemma: norm weights + 1
  bool drop_lm_head = false;    // Gemma 1/2: lm_head is ignored (tied)
  bool trim_embedding = false;  // Gemma 3: embedding rows beyond the tokenizer's vocabulary
  // llama/mistral derive head_dim when config.json leaves it out; others use their default.
  bool head_dim_from_hidden = true;

  // The `<arch>.*` keys, in the order convert_hf_to_gguf.py writes them.
  void (*write_keys)(const HParams&, const Dims&, KeyWriter&) = nullptr;
  // Tensors the reference generates (rope_freqs, RoPE factors), emitted first; keys it writes
  // while generating them go to `early`, which the reference places first.
  void (*extra_tensors)(const HParams&, const Dims&, std::vector<Tensor>&,
                        KeyWriter& early) = nullptr;

  // The table grew this for gpt-oss: parameters Hugging Face saves without a suffix (its
  // attention sinks), which GGUF names as weights; their stems as `names.layers` gives them.
  std::span<const std::string_view> bare_params = {};

  // The way back.
  std::string_view hf_architecture = {};  // "LlamaForCausalLM"
  std::string_view hf_model_type = {};    // "llama"
  void (*write_config)(const GgufView&, const Dims&, ConfigWriter&) = nullptr;
  // Turns a generated tensor back into config (phi3's RoPE factors); true if it consumed it.
  bool (*consume_tensor)(const GgufView&, const Tensor&, ConfigWriter&) = nullptr;

  // The table grew these for DeepSeek's multi-head latent attention: the reference cuts one
  // Hugging Face tensor into several (kv_b_proj into MLA's attn_k_b and attn_v_b), which a
  // one-to-one name table cannot say. Called with each tensor once renamed; returns the parts in
  // the reference's order, or nothing to keep the tensor whole. Errors name `where` (the folder).
  std::vector<Tensor> (*split_tensor)(const HParams&, const std::string& where, Tensor&) = nullptr;
  // The way back of split_tensor (Granite's shared expert input, gate above up): rejoins the
  // parts in a GGUF graph before its names are mapped back.
  void (*join_tensors)(Graph&) = nullptr;
  // Layers past num_hidden_layers (DeepSeek-V3's multi-token-prediction layer) are left out, as
  // the reference leaves them, rather than refused.
  bool drop_layers_past_count = false;
  // EmbeddingGemma: the sentence-transformers Dense modules may come along (ToGgufOptions).
  bool sentence_transformers_dense = false;
};

// Every supported family, in the order the error message lists them.
std::span<const Family* const> families();

// The family that converts this config (by architectures[0], else model_type), or null.
const Family* family_for_config(const HParams& hp);
// The family whose GGUF architecture name this is, or null.
const Family* family_for_gguf(std::string_view arch);
// The family that writes a Hugging Face folder for a GGUF of this architecture, with or without
// stacked experts (a "llama" GGUF is Llama or Mixtral), or null.
const Family* family_for_gguf_back(std::string_view arch, bool has_experts);
// "LlamaForCausalLM, MistralForCausalLM, ..." for error messages.
std::string supported_list();

// Keys that TextModel.set_gguf_parameters writes for every family that does not override it.
void write_text_model_keys(const HParams& hp, const Dims& d, const Rope& rope, KeyWriter& kw);
// Config keys common to every family on the way back.
void write_common_config(const GgufView& v, const Dims& d, ConfigWriter& cw);
// For config classes without head_dim (Qwen2-MoE, OLMoE) or whose None means hidden_size /
// num_attention_heads (Mixtral): head_dim left out when it is that quotient. Written, it would
// make the reference converter add key/value length keys the GGUF did not have.
void erase_derived_head_dim(const Dims& d, ConfigWriter& cw);
// The routing keys of a mixture of experts on the way back: `count_key` (num_local_experts or
// num_experts) from expert_count, num_experts_per_tok from expert_used_count.
void write_expert_config(const GgufView& v, ConfigWriter& cw, std::string_view count_key);
// Layers without a router (ffn_gate_inp), which Qwen's configs name in mlp_only_layers.
std::vector<int64_t> layers_without_router(const GgufView& v, const Dims& d);

}  // namespace owl::arch
