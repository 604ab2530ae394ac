// Expert stacks that transformers saves as whole-layer parameters in its own layout (gpt-oss,
// Llama 4: [experts, in, out], gate and up fused) or that OpenAI saved as MXFP4 blocks and
// scales: each becomes GGUF's stacked tensors through a lazy view (expert_layout.h), never
// loaded whole, never dequantized.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "converters/arch/expert_layout.h"
#include "converters/arch/family.h"
#include "converters/graph.h"

namespace owl::arch {

class ExpertParams {
 public:
  // `experts` is the config's expert count, `layers` its layer count; `where` names the folder in
  // errors. A table without transposed or packed entries takes no tensor.
  ExpertParams(const ExpertTable& table, int64_t experts, int64_t layers, std::string where);

  // What the Hugging Face tensor `hf_name` becomes: its GGUF tensor(s); nothing yet for the first
  // of an MXFP4 pair; nullopt when the table does not name it. Throws InputError for a tensor
  // whose shape or type does not fit the config.
  std::optional<std::vector<Tensor>> take(const std::string& hf_name, Tensor& t);

  // Throws InputError naming an MXFP4 tensor whose other half never came.
  void finish() const;

 private:
  std::vector<Tensor> transpose(int64_t layer, const ExpertParam& x, const std::string& hf_name,
                                Tensor& t) const;
  std::vector<Tensor> repack(int64_t layer, const ExpertParam& p, Tensor& blocks,
                             Tensor& scales) const;
  // The GGUF tensors a stack of `n` outputs per expert becomes, with the outputs each takes.
  std::vector<std::pair<std::string_view, RowPick>> outputs(const ExpertParam& x, uint64_t n,
                                                            const std::string& what) const;
  void check_layer(const std::string& hf_name, int64_t layer) const;
  [[noreturn]] void fail(const std::string& what) const;

  const ExpertTable& table_;
  int64_t experts_, layers_;
  std::string where_;
  // (layer, packed entry) -> blocks, scales while one of them is still to come.
  std::map<std::pair<int64_t, size_t>, std::pair<std::optional<Tensor>, std::optional<Tensor>>>
      pending_;
};

}  // namespace owl::arch
