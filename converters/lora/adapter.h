// A PEFT LoRA adapter folder (adapter_config.json beside adapter_model.safetensors or
// adapter_model.bin) read into A/B pairs named after the base weights they change.
#pragma once

#include <string>
#include <vector>

#include "converters/graph.h"
#include "formats/hf/peft_config.h"

namespace owl::lora {

inline constexpr const char* kAdapterConfigName = "adapter_config.json";

// One adapted weight: W (out x in) gains scale * B A, with A [rank, in] and B [out, rank].
struct LoraPair {
  std::string weight;  // the base's Hugging Face name: "model.layers.0.self_attn.q_proj.weight"
  Tensor a, b;         // float tensors, lazy, as the adapter stores them
  int64_t rank = 0;
  double alpha = 0;
  double scale = 0;  // alpha / rank, or alpha / sqrt(rank) under rsLoRA
};

struct Adapter {
  std::string folder;
  std::string weights_file;  // adapter_model.safetensors or adapter_model.bin
  peft::LoraConfig config;
  std::vector<LoraPair> pairs;  // in the weights file's order
  // modules_to_save: whole tensors that replace the base's, under the base's names.
  std::vector<Tensor> replacements;
};

// True when `path` is a folder holding adapter_config.json.
bool is_adapter_folder(const std::string& path);

// The files an adapter folder is read from: adapter_config.json and its weights file. Throws
// InputError when the weights file is missing.
std::vector<std::string> adapter_files(const std::string& folder);

// Reads the config and the weights' headers; no tensor data is read. Throws InputError naming
// the file for a config owl refuses (see peft::parse_lora_config), a tensor that is neither a
// LoRA matrix nor a saved module, an A without its B (or the reverse), shapes that do not chain
// (A's rank rows against B's rank columns, or against the config's rank), and non-float types.
Adapter read_adapter(const std::string& folder);

}  // namespace owl::lora
