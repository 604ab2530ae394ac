// The named quantization mixes users know from llama.cpp (Q4_K_M, Q5_K_S, ...): for each, a
// table of rules that picks every tensor's type exactly as llama.cpp's llama-quant.cpp does, so
// that owl's files match llama-quantize's tensor for tensor.
//
// A mix is data: a base type, rules tried in order (the first that holds chooses the type) and
// adjustments applied afterwards. The rules speak of tensor roles (attn_v, ffn_down, ...) and of
// named predicates on the tensor's position and on the model (use_more_bits, GQA >= 4, Falcon).
// quant/plan.h walks a model's tensors through a mix; this file holds what a mix is.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "converters/graph.h"

namespace owl {

// The groups llama.cpp's rules speak of, recognised from canonical (GGUF) names.
enum class TensorRole : uint8_t {
  TokenEmbd,   // token_embd.weight, per_layer_token_embd.weight
  Output,      // output.weight; also token_embd when the model has no output.weight (tied)
  AttnQ,       // *attn_q.weight
  AttnK,       // *attn_k.weight
  AttnV,       // *attn_v.weight, and the fused *attn_qkv.weight and *attn_kv_b.weight, which
               // llama.cpp's rules treat as attn_v (its separate attn_qkv rules are never reached)
  AttnOutput,  // *attn_output.weight
  FfnUp,       // any name containing ffn_up (experts and shared experts included)
  FfnGate,     // ffn_gate (the router ffn_gate_inp too, but it is never quantized)
  FfnDown,     // ffn_down
  Other,
  Any,  // in rules only: a tensor of any role
};

std::string_view role_name(TensorRole r);

// The role of a tensor by its name alone; token_embd is TokenEmbd here, and the plan makes it
// Output when the model has no output.weight.
TensorRole tensor_role(std::string_view name);

// The N of a "blk.N." name as llama.cpp's sscanf("blk.%d.") reads it (trailing text ignored), or
// -1 for names outside the layers and numbers too large for an int.
int32_t layer_of_name(std::string_view name);

// What the rules look at besides the tensor, read from the model's metadata.
struct ModelFacts {
  std::string arch;             // general.architecture
  int64_t layers = 0;           // {arch}.block_count
  int64_t heads = 0;            // {arch}.attention.head_count (layer 0's when per layer)
  int64_t kv_heads = 0;         // {arch}.attention.head_count_kv, else heads
  int64_t experts = 0;          // {arch}.expert_count, else 0
  bool tied_embeddings = true;  // no output.weight: token_embd is the output matrix too
  bool is_70b = false;          // what llama.cpp calls a 70B model (it gives attn_v more bits)

  // Query heads per key/value head; 0 when the model has no key/value heads.
  int64_t gqa() const { return kv_heads > 0 ? heads / kv_heads : 0; }
};

// Throws InputError naming `file` when a key the rules need has the wrong type or a value out of
// range. A missing block_count is taken from the highest blk.N in the tensor names.
ModelFacts model_facts(const Graph& g, const std::string& file);

// The named predicates rules are written with. Positions: for attn_v, i counts the attn_v
// tensors the mix has typed so far and n is how many the model has; for ffn_*, i is the layer
// (the count of ffn_* tensors typed so far, or the blk.N of the name in a mixture of experts)
// and n the model's layer count. These are llama.cpp's counters, kept as it keeps them.
enum class When : uint8_t {
  Always,
  FirstEighth,     // i < n/8
  FirstSixteenth,  // i < n/16
  FirstTwo,        // i < 2
  FirstFour,       // i < 4
  MoreBits,        // llama.cpp's use_more_bits: the first and last eighth, and every third between
  Falcon,          // the model is a Falcon
  NotFalcon,
  Gqa4,      // at least four query heads per key/value head
  Experts8,  // exactly eight experts
  NotExperts8,
  Is70B,             // a 70B model as llama.cpp recognises one
  RowNotBaseBlocks,  // the tensor's row is not whole blocks of the mix's base type
  StackedExperts,    // a 3-D tensor of more than one expert matrix (MXFP4_MOE's rule)
  WithImatrix,       // the quantization has an importance matrix (--imatrix)
  NoImatrix,
  Gqa4OrExperts4,   // at least four query heads per key/value head, or four experts
  MiddleLayers,     // n/8 <= i < 7n/8
  FirstEighthSeen,  // the ffn_* tensors typed so far (not the layer) fewer than n/8: the i-quant
                    // mixes count so even in a mixture of experts
};

std::string_view when_name(When w);

// The mix gives `type` to tensors of `role` when both predicates hold.
struct Rule {
  TensorRole role;
  ElemType type;
  When when = When::Always;
  When and_when = When::Always;
};

// After the mix's rules: tensors of `role` that got `from` (any type when unset) get `type`
// when `when` holds. Every matching adjustment applies, in order.
struct Adjustment {
  TensorRole role;
  When when;
  std::optional<ElemType> from;
  ElemType type;
};

struct Mix {
  std::string_view name;  // "Q4_K_M"
  uint32_t file_type;     // llama.cpp's llama_ftype, written as general.file_type
  ElemType base;          // the type of every quantizable tensor no rule names
  std::span<const Rule> rules;
  std::span<const Adjustment> adjustments;
  std::string_view about;  // one line for --help and the plan
};

// Every mix owl knows, in llama-quantize's order.
std::span<const Mix> all_mixes();
// By name, case-insensitively ("q4_k_m" finds Q4_K_M); null when unknown.
const Mix* find_mix(std::string_view name);

// Where a tensor sits, for the position predicates (see When).
struct RulePosition {
  int64_t index = 0;
  int64_t count = 0;
  int64_t seen = 0;  // ffn_*: the tensors of this role typed before (index, but for experts)
};

// Everything the predicates of one tensor look at.
struct RuleInput {
  const ModelFacts& model;
  const Mix& mix;
  TensorRole role;
  std::span<const uint64_t> shape;  // row-major, the row last
  RulePosition position;
  bool imatrix = false;  // an importance matrix is given
};

bool holds(When w, const RuleInput& in);

struct MixChoice {
  ElemType type;
  std::string why;  // the rules that chose it, for the plan ("ffn_down, more-bits layer")
};

// The mix's type for one quantizable tensor, as llama.cpp's llama_tensor_get_type_impl picks it.
MixChoice choose_type(const RuleInput& in);

// Why llama.cpp never quantizes this tensor (1-D, norms, routers, positional embeddings...), or
// nullopt when it may be quantized. `quantize_output` false keeps output.weight as it is.
std::optional<std::string> keep_reason(const Tensor& t, bool quantize_output);

// Whether llama.cpp refuses to quantize this tensor to `to` without an importance matrix: the
// IQ1/IQ2 types and IQ3_XXS, and Q2_K in a Q2_K_S mix, for every tensor but token_embd and
// output.weight.
bool needs_imatrix(std::string_view name, ElemType to, const Mix& mix);

// Architectures with rules of their own in llama.cpp that owl's tables do not hold; the plan
// refuses them rather than pick other types than llama.cpp would.
bool has_unsupported_rules(std::string_view arch);

// What llama.cpp falls back to when a row is not whole blocks of `t`: a type with smaller blocks,
// or `t` itself for types of 32 or fewer (the caller then takes F16); nullopt when llama.cpp
// defines none.
std::optional<ElemType> smaller_block_type(ElemType t);

}  // namespace owl
