// The way back from GGUF's stacked experts to Hugging Face's tensors, lazily: each expert's
// matrix is a slice of the stacked tensor's source, so writing the folder reads one expert after
// another and never holds a whole stack.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "converters/arch/family.h"
#include "converters/graph.h"

namespace owl::arch {

class ExpertUnstacker {
 public:
  // `experts` is the GGUF's expert_count (0 when it has none), `layers` its block_count.
  ExpertUnstacker(const ExpertTable& table, int64_t experts, int64_t layers);

  // What the GGUF tensor `t` becomes when it is a stacked expert tensor the table names: one
  // "model.layers.N.<prefix>E.<hf>.weight" per expert (Mixtral, Qwen, OLMoE, DeepSeek); for a
  // family that keeps whole stacks (Granite), the stack renamed, or the two halves of a fused
  // stack once both have come; for transformers' own parameters (gpt-oss, Llama 4), gate and
  // up dealt back into one [experts, in, out] parameter, or for MXFP4 stacks with a packed
  // entry (gpt-oss as released), OpenAI's blocks and scales. nullopt when `t` is no expert tensor
  // of the table. Throws UsageError for a stack whose shape does not fit the expert count or
  // layer count.
  std::optional<std::vector<Tensor>> take(Tensor& t);

  // Throws UsageError naming a fused stack whose other half never came.
  void finish() const;

 private:
  std::vector<Tensor> per_expert(int64_t layer, std::string_view hf, const Tensor& t) const;
  std::vector<Tensor> join(int64_t layer, const FusedExperts& f, const Tensor& first,
                           const Tensor& second) const;
  // `packed`: x is a packed entry, and the stacks MXFP4.
  std::vector<Tensor> param(int64_t layer, const ExpertParam& x, bool packed, const Tensor& first,
                            const Tensor* second) const;
  // The tensor named `partner` when it came before `t`; else nullopt, and `t` waits for it.
  std::optional<Tensor> partner_of(Tensor& t, const std::string& partner);
  void check_stack(const Tensor& t, size_t dims = 3) const;

  const ExpertTable& table_;
  int64_t experts_, layers_;
  // Halves of fused stacks waiting for their partner, by GGUF name.
  std::map<std::string, Tensor> waiting_;
};

}  // namespace owl::arch
