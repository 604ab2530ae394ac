// The quantization plan: every tensor's type under a mix and the user's overrides, why it got
// that type, the fallbacks its shape forced, and the sizes before and after. `owl quantize
// --dry-run` prints it; the driver carries it out.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "converters/graph.h"
#include "quant/recipe.h"

namespace owl {

// --tensor-type REGEX=TYPE: tensors whose name the regex finds (std::regex_search, as
// llama.cpp) get TYPE instead of the mix's choice.
struct TypeOverride {
  std::string pattern;
  std::regex regex;
  ElemType type;
};

// Parses "REGEX=TYPE" (the last '=' separates them). Throws UsageError on a malformed regex, an
// unknown type, or a type a quantized GGUF tensor cannot have.
TypeOverride parse_type_override(std::string_view text);
// A type named on the command line for a tensor: F32, F16, BF16 or a ggml block type. Throws
// UsageError naming `option`.
ElemType parse_tensor_type(std::string_view name, std::string_view option);

// An importance matrix as llama-quantize quantizes with it: by tensor name, each expert's
// per-column importances (experts x columns).
using ImportanceWeights = std::map<std::string, std::vector<float>, std::less<>>;

struct PlanOptions {
  const Mix* mix = nullptr;
  std::vector<TypeOverride> overrides;           // first match wins
  std::optional<ElemType> output_type;           // --output-tensor-type
  std::optional<ElemType> token_embedding_type;  // --token-embedding-type
  bool pure = false;                             // every quantizable tensor gets the base type
  bool quantize_output = true;                   // false: --leave-output-tensor
  bool allow_requantize = false;  // quantized inputs may be dequantized and quantized again
  bool no_fallback = false;       // a row that does not fit the chosen type is an error
  // --keep-split: the per-layer counters of llama.cpp's rules count in the input's order (parts,
  // then offsets) instead of its loader's sorted order, as llama-quantize --keep-split does.
  bool keep_split = false;
  // --imatrix, after --include-weights/--exclude-weights; null or empty: none. Mixes have rules
  // for it, and llama.cpp's smallest types cannot be made without it.
  std::shared_ptr<const ImportanceWeights> imatrix;
};

struct TensorPlan {
  std::string name;
  std::vector<uint64_t> shape;
  ElemType from;       // the type the data arrive in
  ElemType stored_as;  // the type llama.cpp would read (an f16 GGUF made from this model)
  ElemType to;
  std::string why;
  std::string fallback;  // when the chosen type did not fit the rows: what happened instead
  std::string weights;   // the importance-matrix entry it is quantized with; empty: none
  uint64_t elements = 0;
  uint64_t in_bytes = 0;  // as read (from)
  uint64_t out_bytes = 0;
};

struct Plan {
  const Mix* mix = nullptr;
  std::shared_ptr<const ImportanceWeights> imatrix;  // what TensorPlan::weights names
  ModelFacts model;
  std::vector<TensorPlan> tensors;  // in the graph's order
  uint64_t elements = 0, in_bytes = 0, out_bytes = 0;
  size_t fallbacks = 0;
  std::vector<std::string> warnings;  // fallbacks, unused overrides, requantization
  std::vector<std::string> problems;  // what makes the plan impossible to carry out

  double bits_per_weight() const {
    return elements ? 8.0 * static_cast<double>(out_bytes) / static_cast<double>(elements) : 0;
  }
  size_t changed() const;   // tensors whose type changes
  size_t weighted() const;  // tensors quantized with importance weights
};

// Types every tensor of `g` following llama.cpp's llama_tensor_get_type, with tensors taken in
// llama.cpp's order (by layer, then name) so its counters count as llama.cpp counts.
// `stored_as[i]` is the type llama.cpp would find tensor i in; for a GGUF input, its own type.
// `file` names the input in errors about its metadata.
Plan make_plan(const Graph& g, std::span<const ElemType> stored_as, const PlanOptions& opt,
               const std::string& file);

// Throws UsageError with the plan's first problem (and how many more) if it has any.
void check_plan(const Plan& plan);

}  // namespace owl
