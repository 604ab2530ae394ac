// Byte-level BPE (tokenizer.ggml.model "gpt2"): text to token ids as llama.cpp's BPE tokenizer
// gives them, for `owl validate --text`.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "converters/graph.h"
#include "validate/pretokenize.h"
#include "validate/user_defined_tokens.h"

namespace owl::validate {

class BpeTokenizer {
 public:
  // Reads tokenizer.ggml.tokens, .merges, .token_type and .pre. Throws UsageError when one is
  // missing or malformed, or when owl lacks llama.cpp's rules for the pre-tokenizer.
  explicit BpeTokenizer(const Graph& g);

  // The token ids of `text`, without BOS or EOS, as llama_tokenize with parse_special=false
  // gives them: control tokens written in the text are plain text, user-defined tokens (added
  // tokens that are not special) are still matched first. Ill-formed UTF-8 is tokenized as
  // U+FFFD per bad byte, as llama.cpp does.
  std::vector<int32_t> encode(std::string_view text) const;

 private:
  struct Cache;
  void encode_text(std::string_view text, std::vector<int32_t>& out, Cache& cache) const;
  void encode_word(const std::string& word, std::vector<int32_t>& out, std::string& key) const;
  int32_t rank(std::string_view left, std::string_view right, std::string& key) const;

  PreTokenizerChoice pre_;
  std::unordered_map<std::string, int32_t> ids_;
  std::unordered_map<std::string, int32_t> ranks_;  // by pair_key(left, right)
  std::vector<TextToken> user_defined_;             // matched in the text before anything else
  // GPT-2's printable stand-in for each byte, as UTF-8.
  std::array<std::string, 256> byte_chars_;
};

}  // namespace owl::validate
