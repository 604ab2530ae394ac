// Code points of UTF-8 text and the classes the BPE pre-tokenizer regexes test them for.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "validate/unicode_tables.h"

namespace owl::validate::unicode {

inline constexpr uint32_t kReplacement = 0xFFFD;
inline constexpr uint32_t kMaxCodepoint = 0x10FFFF;

// The code points of `text`, decoded as llama.cpp decodes text to tokenize, so that ill-formed
// input gives the same tokens: a byte that does not start a complete sequence (a stray
// continuation byte, a truncated sequence, 0xF8..0xFF) becomes U+FFFD and decoding goes on
// at the next byte. Like llama.cpp, overlong forms and surrogates decode to the value their bits
// give. A 4-byte sequence above U+10FFFF, which makes llama.cpp abort, counts as ill-formed.
std::vector<uint32_t> decode_utf8(std::string_view text);

// Appends the UTF-8 form of `cpt` (at most kMaxCodepoint, which decode_utf8 guarantees).
void append_utf8(std::string& out, uint32_t cpt);

// What the regexes ask of a code point, as bits: \p{L}, \p{N}, \s and \p{P}.
enum Trait : uint8_t {
  kIsLetter = 1,
  kIsNumber = 2,
  kIsSpace = 4,
  kIsPunctuation = 8,
};
uint8_t traits(uint32_t cpt);

Category category(uint32_t cpt);

}  // namespace owl::validate::unicode
