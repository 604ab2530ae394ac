// A token list as GGUF stores it: text, score and type by id.
#pragma once

#include <string>
#include <vector>

#include "converters/tokenizer/token_type.h"

namespace owl::tok {

struct Vocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;  // empty for BPE vocabularies, which have none
  std::vector<TokenType> types;

  size_t size() const { return tokens.size(); }
};

// Appends [PAD{id}] tokens (UNUSED, score -10000 when the vocab has scores) up to `rows`, as
// convert_hf_to_gguf.py fills the rows a SentencePiece model has no piece for.
void pad_to(Vocab& v, uint64_t rows);

// "[PAD{id}]", the name convert_hf_to_gguf.py gives the rows no token fills.
std::string pad_token_name(uint64_t id);

// The number of embedding rows a tokenizer of `count` tokens is converted for: `n_vocab`, or
// `count` when n_vocab is 0. Throws InputError naming `file` when there are more tokens (or a
// higher id, `what` says which) than rows.
uint64_t rows_for(uint64_t count, uint64_t n_vocab, const std::string& file,
                  const std::string& what);

// Added tokens that ought to be control tokens although their files do not mark them special:
// "<|...|>" and a few names convert_hf_to_gguf.py lists (pad, mask, gemma's unused tokens).
bool looks_special(const std::string& token);

// U+2581 (SentencePiece's word boundary) written as a space, as llama.cpp expects the text of
// user-defined tokens.
std::string spaces_for_word_boundaries(std::string text);

}  // namespace owl::tok
