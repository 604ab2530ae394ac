// Merging LoRA adapters into a base model as a lazy pass: the adapted weights' sources become
// MergedWeightSource, computed when a writer pulls them, so `owl merge` and `owl quantize
// --lora` stream the merged model out one tensor at a time.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "converters/graph.h"

namespace owl::lora {

// --lora DIR[:SCALE]: an adapter folder and the factor its delta is multiplied by (default 1).
struct LoraSpec {
  std::string folder;
  double scale = 1.0;
};

// "DIR" or "DIR:SCALE" (the part after the last ':' when it is a finite number). Throws
// UsageError for an empty folder name.
LoraSpec parse_lora_spec(std::string_view text);

// What merging did, for summaries and the provenance record.
struct MergeSummary {
  size_t merged = 0;    // weights that gained at least one delta
  size_t replaced = 0;  // tensors replaced by an adapter's modules_to_save
};

// Applies the adapters, in order, to `g`: a graph read from a Hugging Face folder or
// checkpoint, before normalization (the adapters name the base's Hugging Face tensors). Merged
// weights become `merged_type` when given (F32, F16 or BF16), else keep the base's type.
// Throws UsageError for a GGUF base, and InputError naming the adapter's file when one of its
// tensors has no counterpart in the base or a shape that does not fit it.
MergeSummary apply_adapters(Graph& g, const std::vector<LoraSpec>& specs,
                            std::optional<ElemType> merged_type);

}  // namespace owl::lora
