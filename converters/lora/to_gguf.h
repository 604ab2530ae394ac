// `owl convert ADAPTER --base BASE -o adapter.gguf`: a PEFT LoRA adapter as the GGUF LoRA that
// llama.cpp applies with --lora, as convert_lora_to_gguf.py writes it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "converters/graph.h"
#include "converters/progress.h"
#include "converters/provenance.h"

namespace owl::lora {

struct AdapterGgufOptions {
  ElemType dtype = ElemType::F32;  // F32 (the reference's default), F16 or BF16
  Recipe recipe;                   // the provenance record's recipe (command "convert")
  Progress* progress = nullptr;
  std::function<void(const std::string&)> warn = [](const std::string&) {};
};

// The adapter as a lazy GGUF graph: general.type "adapter", adapter.type "lora",
// adapter.lora.alpha, and per adapted weight "<gguf name>.lora_a" [rank, in] and ".lora_b"
// [out, rank], B's rows in the order the base's GGUF weight has them (Llama's q/k RoPE order).
// llama.cpp scales every pair by alpha / rank with the one alpha; where peft scales a module
// otherwise (rsLoRA, rank_pattern, alpha_pattern) the difference is multiplied into that B.
// `base` is the base model's Hugging Face folder (its config.json gives the architecture).
// Throws InputError naming the adapter's file for saved modules (modules_to_save), which a GGUF
// LoRA cannot hold.
Graph adapter_gguf_graph(const std::string& adapter, const std::string& base,
                         const AdapterGgufOptions& opt);

// Writes it (atomically) with the provenance record when the recipe asks for one.
std::vector<std::string> write_adapter_gguf(const std::string& adapter, const std::string& base,
                                            const std::string& output,
                                            const AdapterGgufOptions& opt);

}  // namespace owl::lora
