// Added tokens that llama.cpp finds in text as they are, even when special tokens are not parsed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "converters/graph.h"

namespace owl::validate {

struct TextToken {
  std::string text;
  int32_t id;
};

// The tokens that llama_tokenize with parse_special=false matches in text before the tokenizer
// runs: those of type USER_DEFINED in tokenizer.ggml.token_type, less the ones llama.cpp makes
// control tokens by their text (end-of-generation and fill-in-the-middle markers), longest first
// as llama.cpp tries them (equal lengths by id). Empty when the model has no token types.
std::vector<TextToken> user_defined_tokens(const Graph& g);

// A stretch of text: either a token found as it is, or text for the tokenizer.
struct Fragment {
  size_t begin = 0;
  size_t size = 0;
  int32_t token = -1;  // -1: text to tokenize
};

// Cuts `text` at every occurrence of each token in turn, as llama.cpp does: a token claims its
// leftmost non-overlapping occurrences in what the tokens before it left as text.
std::vector<Fragment> split_on_tokens(std::string_view text, const std::vector<TextToken>& tokens);

}  // namespace owl::validate
