// The tokenizer files of a Hugging Face model folder, each read once.
#pragma once

#include <optional>
#include <string>

#include "formats/json/strict_json.h"

namespace owl::tok {

struct JsonFile {
  std::string path;
  Json json;  // an object
};

struct HfTokenizerFiles {
  std::string folder;
  std::optional<std::string> sentencepiece;  // tokenizer.model's path
  std::optional<JsonFile> tokenizer;         // tokenizer.json
  std::optional<JsonFile> tokenizer_config;  // tokenizer_config.json
  std::optional<JsonFile> added_tokens;      // added_tokens.json
  std::optional<JsonFile> config;            // config.json

  bool has_tokenizer() const { return sentencepiece || tokenizer; }
};

// Finds tokenizer.model and reads the JSON files that exist. special_tokens_map.json is not read:
// convert_hf_to_gguf.py takes special tokens from tokenizer_config.json and config.json only.
// Throws InputError naming a file that is not a JSON object or is larger than the limits.
HfTokenizerFiles read_hf_tokenizer_files(const std::string& folder);

}  // namespace owl::tok
