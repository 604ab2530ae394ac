// Hugging Face model folders: config.json plus safetensors weights (one file or shards), or,
// when a folder has no safetensors, PyTorch weights (pytorch_model.bin or its sharded index).
#pragma once

#include <string>

#include "converters/graph.h"
#include "formats/json/strict_json.h"

namespace owl::hf {

// Prefix of graph metadata keys that hold config.json, flattened with dots.
inline constexpr const char* kConfigPrefix = "hf.config.";
// Prefix of keys (any value) that config.json writes as null: metadata has no null, and some
// settings mean something by it (DeepSeek's q_lora_rank: no query compression).
inline constexpr const char* kConfigNullPrefix = "hf.config_null.";

Graph read_folder(const std::string& folder);

// config.json's entries into `g.metadata` as typed `hf.config.*` keys; `model_type` becomes the
// graph's architecture.
void read_config(Graph& g, const std::string& config_path);

// Flattens a JSON object into typed metadata keys under `prefix`.
void flatten_json(const Json& j, const std::string& prefix, Metadata& out);

}  // namespace owl::hf
