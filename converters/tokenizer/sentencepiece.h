// SentencePiece tokenizer.model files: a protobuf ModelProto.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "converters/tokenizer/vocab.h"

namespace owl::tok {

// The pieces of a tokenizer.model in id order with their scores and llama.cpp token types, as
// convert_hf_to_gguf.py reads them through SentencePieceProcessor: unknown, control, unused and
// byte pieces keep their type; normal and user-defined pieces are NORMAL. Throws InputError
// naming `file` when the bytes are not a ModelProto or hold no pieces.
Vocab parse_sentencepiece(std::span<const std::byte> bytes, const std::string& file);

Vocab read_sentencepiece(const std::string& path);

// True when the bytes parse as a ModelProto with at least one piece.
bool parses_as_sentencepiece(std::span<const std::byte> bytes);

}  // namespace owl::tok
