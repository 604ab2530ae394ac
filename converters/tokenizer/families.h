// What convert_hf_to_gguf.py's model classes change in its SentencePiece vocabulary
// (TextModel._set_vocab_sentencepiece), by architecture: Gemma's set_vocab adds an end-of-turn
// token and add_space_prefix = false, Phi-3's builds the vocabulary with its own added-token rules.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace owl::tok {

// How added_tokens_decoder (and tokenizer.json's added_tokens) entries become tokens.
enum class AddedTokenRules {
  // _create_vocab_sentencepiece: added_tokens_decoder only; a token is CONTROL when marked
  // special or when it looks special (vocab.h's looks_special), and user-defined text has U+2581
  // written as a space.
  Generic,
  // Phi3MiniModel.set_vocab: added_tokens_decoder, then tokenizer.json's added_tokens; CONTROL
  // only when marked special, text kept as written.
  Phi3,
};

// A special token id a model class sets itself when the folder gives none.
struct DefaultSpecialToken {
  std::string_view kind;
  uint32_t id;
};

struct SentencePieceFamily {
  AddedTokenRules added_tokens = AddedTokenRules::Generic;
  // A second SpecialVocab over these kinds (the folder's ids first, then these), written after
  // the first; kinds gguf-py has no key for are read but not written.
  std::span<const DefaultSpecialToken> extra_special_tokens;
  // tokenizer.ggml.add_space_prefix, written last, when set.
  std::optional<bool> add_space_prefix;
};

// The family of a Hugging Face model_type; the generic SentencePiece rules for any other.
const SentencePieceFamily& sentencepiece_family(std::string_view architecture);

}  // namespace owl::tok
