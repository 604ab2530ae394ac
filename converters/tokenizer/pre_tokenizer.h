// Which of llama.cpp's pre-tokenizers (tokenizer.ggml.pre) a tokenizer.json's splits match.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "formats/json/strict_json.h"

namespace owl::tok {

struct PreTokenizer {
  std::optional<std::string> name;  // llama.cpp's name ("qwen2", "llama-bpe"...) when known
  std::string description;          // what the tokenizer.json says, for a warning
};

// convert_hf_to_gguf.py recognises a pre-tokenizer by hashing the ids the original tokenizer
// gives for a test text; without that tokenizer to run, owl compares the tokenizer.json's
// normalizer and pre_tokenizer (split regexes, ByteLevel settings) with those of the models
// each llama.cpp pre-tokenizer was made for.
PreTokenizer identify_pre_tokenizer(const Json& tokenizer_json);

// The tokenizer.json pre_tokenizer of the models llama.cpp's pre-tokenizer `name` was made for
// (the inverse of identify_pre_tokenizer); nullopt for a name owl does not know.
std::optional<Json> hf_pre_tokenizer(std::string_view name);

// The pre-tokenizer llama.cpp uses when it is told nothing better.
inline constexpr const char* kDefaultPreTokenizer = "default";

}  // namespace owl::tok
