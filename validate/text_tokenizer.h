// Text to token ids with the vocabulary a model carries in its metadata, for `--text`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "converters/graph.h"
#include "validate/user_defined_tokens.h"

namespace owl::validate {

// SentencePiece-style vocabularies (tokenizer.ggml.model "llama"): the highest-scoring merge of
// adjacent pieces first, as llama.cpp's SPM tokenizer does, with byte fallback (<0xNN>).
// User-defined tokens (Gemma's runs of spaces and HTML tags) are found in the text first, as
// llama.cpp does for every tokenizer model; the text after one of them gets the space prefix
// again, as the text at the start does.
class SpmTokenizer {
 public:
  // Throws UsageError when the model carries no usable vocabulary.
  explicit SpmTokenizer(const Graph& g);
  std::vector<int32_t> encode(std::string_view text) const;

 private:
  void encode_text(std::string_view text, bool space_prefix, std::vector<int32_t>& out) const;

  std::vector<TextToken> user_defined_;
  std::unordered_map<std::string, int32_t> ids_;
  std::vector<float> scores_;
  int32_t unk_ = 0;
  bool add_space_prefix_ = true;
  std::vector<int32_t> byte_ids_;  // id of <0xNN>, or -1
};

// The tokens of `text` for this model: SentencePiece (tokenizer.ggml.model "llama") or
// byte-level BPE ("gpt2", validate/bpe_tokenizer.h: as llama.cpp's llama_tokenize gives them with
// parse_special=false). BOS/EOS are not added (the chunks put BOS first themselves).
// Throws UsageError for other tokenizer models and for pre-tokenizers owl lacks.
std::vector<int32_t> tokenize_text(const Graph& g, std::string_view text);

}  // namespace owl::validate
