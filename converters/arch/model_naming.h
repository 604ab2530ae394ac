// How llama.cpp's conversion names a model from its Hugging Face id or folder name:
// "Qwen2.5-7B-Instruct" -> basename "Qwen2.5", size label "7B", finetune "Instruct".
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "converters/graph.h"

namespace owl::arch {

struct ModelIdParts {
  std::optional<std::string> name;  // the id without its organization
  std::optional<std::string> organization, basename, finetune, version, size_label;
};

// Splits "org/name-parts" into its parts. `total_params` (0 if unknown) tells a size label
// ("7B") from a context length ("128k"), which is kept with the finetune instead.
ModelIdParts model_id_parts(std::string_view id, int64_t total_params);

// "qwen2.5-coder" -> "Qwen2.5 Coder": words title-cased unless they are versions or numbers
// or already carry capitals.
std::string id_to_title(std::string_view id);

// "95K", "1.1B", "7.2B": the parameter count rounded to at least two significant digits.
std::string size_label(uint64_t total_params);

// The counts gguf-py makes a size label from: a stacked expert tensor ("_exps." in its name, three
// or more dimensions) adds one expert's share to `per_expert`, every other tensor adds to `shared`.
struct ParamCount {
  // A model without experts: only the total (what tests and dense callers know).
  ParamCount(uint64_t dense_total = 0)
      : total(dense_total) {}  // NOLINT(google-explicit-constructor)
  uint64_t total = 0, shared = 0, per_expert = 0;
  uint64_t experts = 0;  // the mean expert count of the stacked tensors; 0 without any
};
// The counts of these tensors (row-major shapes, GGUF names).
ParamCount count_params(std::span<const Tensor> tensors);
// "4x116K" (experts x shared plus one expert's parameters) for a mixture of experts, else
// size_label(total).
std::string size_label(const ParamCount& c);

}  // namespace owl::arch
