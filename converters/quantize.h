// `owl quantize`: read a model (any format owl reads), normalize it, plan every tensor's type with
// a llama.cpp mix, and write a GGUF, quantizing tensor by tensor as the writer streams.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "converters/graph.h"
#include "converters/lora/merge.h"
#include "converters/progress.h"
#include "converters/provenance.h"
#include "formats/write_group.h"
#include "quant/gptq.h"
#include "quant/plan.h"

namespace owl {

// --override-kv KEY=TYPE:VALUE, as llama-quantize's common parser reads it: TYPE int (written
// as uint32 of its absolute value, as llama-quantize writes it), float (F32), bool (true or
// false) or str (at most 127 bytes); keys shorter than 128 bytes. Throws UsageError otherwise.
struct KvOverride {
  std::string key;
  Value value;
};
KvOverride parse_kv_override(std::string_view text);

struct QuantizeOptions {
  PlanOptions plan;
  // --imatrix: an importance matrix file (llama-imatrix's GGUF or .dat), named in the output as
  // given here; --include-weights / --exclude-weights keep or drop the entries whose name holds
  // one of these strings (not both at once).
  std::string imatrix;
  std::vector<std::string> include_weights, exclude_weights;
  // Set in the output after general.file_type (and before the quantize.imatrix.* keys); the plan
  // sees them too, as llama.cpp's loader does.
  std::vector<KvOverride> override_kv;
  // --prune-layers: layers left out (sorted, unique); the others are numbered on from 0 and
  // {arch}.block_count says how many are left, as llama-quantize does.
  std::vector<int64_t> prune_layers;
  std::string tokenizer;  // a tokenizer file for inputs that lack one
  // --lora: adapters merged into the (Hugging Face) input as it streams through. Merged weights
  // are rounded to F16 before quantizing, as llama-export-lora writes them, so one pass gives the
  // bytes of a merge to F16 followed by a quantize.
  std::vector<lora::LoraSpec> loras;
  // --optimize: calibration second moments by tensor name; those tensors are quantized with
  // error feedback (quant/gptq.h). Null: plain rounding.
  std::shared_ptr<const Hessians> hessians;
  int threads = 0;  // 0: every core
  // --resume: a journal beside the kept temporary output; a later run continues from it
  // (gguf::WriteOptions::resume). The journal's identity adds the recipe and every input file's
  // size and modification time to the output's header bytes.
  bool resume = false;
  // --split-max-size: parts of at most this many bytes of tensor data, as gguf-split cuts them
  // (0: one file).
  uint64_t split_max_bytes = 0;
  // MPI ranks writing the output together (null: this process alone).
  WriteGroup* group = nullptr;
  Recipe recipe;  // the provenance record's recipe (command "quantize")
  Progress* progress = nullptr;
  std::function<void(const std::string&)> warn = [](const std::string&) {};
};

struct QuantizeResult {
  Plan plan;
  std::vector<std::string> files;  // written
};

// Reads and normalizes the model and plans it; writes nothing (--dry-run). The plan's warnings
// go to `warn`; its problems stay in the plan for the caller to show.
Plan plan_quantization(const std::string& input, const QuantizeOptions& opt);

// The output graph as quantize() writes it, lazy, without the provenance record: what
// `owl verify --source` re-derives. Same checks as quantize().
Graph quantized_graph(const std::string& input, const QuantizeOptions& opt);

// The whole pipeline. The output must be a .gguf path. Throws UsageError when the plan has
// problems (a type owl cannot produce, a fallback under --no-fallback, requantization without
// --allow-requantize), and InputError naming the tensor when a weight is NaN or infinite.
QuantizeResult quantize(const std::string& input, const std::string& output,
                        const QuantizeOptions& opt);

}  // namespace owl
