// The pre-tokenizers of byte-level BPE models: how text is cut into words before the merges, as
// llama.cpp does it for each tokenizer.ggml.pre value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace owl::validate {

// The split rules llama.cpp applies, each named for the model family that brought it.
enum class PreTokenizer {
  kGpt2,            // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
  kLlama3,          // Llama 3: case-insensitive contractions, letters with one leading
                    // non-letter, digits in threes, punctuation with trailing newlines
  kQwen2,           // Llama 3's rules with digits one by one
  kDigitsThenGpt2,  // every digit alone, then GPT-2's rules (StarCoder, SmolLM, Command-R...)
  kDefault,         // punctuation runs, then GPT-2's rules, then digit runs, then ASCII digit
                    // triples: llama.cpp's fallback, also for a model without tokenizer.ggml.pre
  kFalcon,          // as kDefault with ` among the punctuation and no digit-run pass
};

struct PreTokenizerChoice {
  PreTokenizer rules;
  // A word that is itself a token is that token, without merging (llama.cpp's ignore_merges).
  bool ignore_merges = false;
};

// The rules llama.cpp uses for a tokenizer.ggml.pre value; an empty value is "default", as in
// llama.cpp. Throws UsageError naming the value when owl does not have llama.cpp's rules for it.
PreTokenizerChoice pre_tokenizer_for(std::string_view name);

// Cuts code points into words: the length of each word in code points, in order, summing to
// cpts.size().
std::vector<size_t> split_words(PreTokenizer rules, const std::vector<uint32_t>& cpts);

}  // namespace owl::validate
