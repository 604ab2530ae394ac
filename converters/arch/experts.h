// Gathers a mixture-of-experts checkpoint's expert tensors into the stacked 3-D tensors GGUF
// holds, lazily: a stacked tensor is a StackSource over the experts' own sources, so converting
// it streams one expert after another and never holds a whole stack in memory.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "converters/arch/family.h"
#include "converters/graph.h"

namespace owl::arch {

// No released model comes near this; it keeps a hostile config from sizing huge tables.
inline constexpr int64_t kMaxExperts = 1 << 16;

class ExpertGatherer {
 public:
  // `experts` is the config's expert count, `layers` its layer count; `where` names the folder in
  // errors. A family without experts (an empty table) takes no tensor.
  ExpertGatherer(const ExpertTable& table, int64_t experts, int64_t layers, std::string where);

  // What the Hugging Face tensor `hf_name` becomes when the table names it: nothing yet for one
  // expert's matrix until its layer has them all, then that layer's stacked tensors in the
  // reference's order; the two halves of a fused tensor; a whole stack renamed. nullopt when the
  // tensor is not an expert tensor. Throws InputError for a tensor that does not fit (expert or
  // layer out of range, a second copy, a shape unlike its siblings').
  std::optional<std::vector<Tensor>> take(const std::string& hf_name, Tensor& t);

  // Throws InputError naming a layer whose experts are incomplete.
  void finish() const;

 private:
  struct Layer {
    std::vector<std::vector<std::optional<Tensor>>> by_stem;  // [stem][expert]
    int64_t count = 0;
  };
  std::vector<Tensor> stack(int64_t layer, Layer& l) const;
  std::vector<Tensor> split(int64_t layer, const FusedExperts& f, const std::string& hf_name,
                            Tensor& t) const;
  void check_stacked(const std::string& hf_name, const Tensor& t, uint64_t min_rows) const;
  [[noreturn]] void fail(const std::string& what) const;

  const ExpertTable& table_;
  int64_t experts_, layers_;
  std::string where_;
  std::map<int64_t, Layer> pending_;
};

// The expert count a family's config gives (num_local_experts, num_experts or DeepSeek's
// n_routed_experts), for the gatherer; 0 when the config has none.
int64_t config_expert_count(const HParams& hp);

}  // namespace owl::arch
