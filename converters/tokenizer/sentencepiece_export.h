// A GGUF SentencePiece vocabulary (tokenizer.ggml.model = llama) -> a tokenizer.model file
// (SentencePiece's ModelProto), which SentencePiece, transformers' LlamaTokenizer and
// convert_hf_to_gguf.py load.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "converters/tokenizer/token_type.h"

namespace owl::tok {

struct SentencePieceVocabView {
  std::span<const std::string> tokens;
  std::span<const float> scores;
  std::span<const TokenType> types;
  // The piece SentencePiece needs as its one UNKNOWN (see sentencepiece_unknown_id).
  int64_t unk = 0;
  std::optional<int64_t> bos, eos, pad;
  bool add_dummy_prefix = true;  // tokenizer.ggml.add_space_prefix
};

// The token a tokenizer.model must mark UNKNOWN (SentencePiece refuses a model without exactly
// one): tokenizer.ggml.unknown_token_id's, else the one token typed unknown, else "<unk>"
// (convert_hf_to_gguf.py types it CONTROL when added_tokens_decoder lists it as special).
std::optional<int64_t> sentencepiece_unknown_id(std::span<const std::string> tokens,
                                                std::span<const TokenType> types,
                                                std::optional<int64_t> unknown_token_id);

// The serialized ModelProto: a BPE model (llama.cpp's SentencePiece tokenizer merges by score,
// as SentencePiece's BPE does) with every token as a piece of its type and score, byte fallback
// when there are byte tokens, and the identity normalizer that only escapes spaces and adds the
// dummy prefix. Empty, with `why` set, for a vocabulary SentencePiece cannot hold (an empty
// token, two tokens typed unknown).
std::string sentencepiece_model_bytes(const SentencePieceVocabView& v, std::string& why);

}  // namespace owl::tok
