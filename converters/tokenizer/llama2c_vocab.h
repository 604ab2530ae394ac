// llama2.c tokenizer files (tokenizer.bin, tok512.bin): int32 max_token_length, then for each
// token a float32 score, an int32 byte length and the bytes.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "converters/tokenizer/vocab.h"

namespace owl::tok {

// True when the bytes walk exactly to their end as a llama2.c tokenizer with every length
// within max_token_length.
bool looks_like_llama2c_tokenizer(std::span<const std::byte> bytes);

// The tokens as llama.cpp's llama2.c converter lists them: ids 0, 1 and 2 are <unk> (UNKNOWN),
// <s> and </s> (CONTROL); "<0xNN>" pieces are BYTE, empty ones CONTROL, the rest NORMAL; spaces
// are written back as U+2581, which llama2.c's exporter had replaced by spaces; scores are kept.
// Throws InputError naming `file` for a malformed or truncated file.
Vocab parse_llama2c_tokenizer(std::span<const std::byte> bytes, const std::string& file);

// The ids llama2.c gives its special tokens.
inline constexpr uint32_t kLlama2cUnkId = 0;
inline constexpr uint32_t kLlama2cBosId = 1;
inline constexpr uint32_t kLlama2cEosId = 2;

}  // namespace owl::tok
