#include "validate/unicode_text.h"

#include <algorithm>

namespace owl::validate::unicode {
namespace {

// One byte per code point (1.1 MB): the category in the low bits, kSpaceBit above. Built once
// from the run table, so that a lookup is a single load.
constexpr uint8_t kCategoryMask = 0x07;
constexpr uint8_t kSpaceBit = 0x08;

const std::vector<uint8_t>& code_point_table() {
  static const std::vector<uint8_t> table = [] {
    std::vector<uint8_t> t(kMaxCodepoint + 1, static_cast<uint8_t>(Category::kUndefined));
    for (size_t i = 0; i < kCategoryRunCount; ++i) {
      const uint32_t end =
          i + 1 < kCategoryRunCount ? kCategoryRuns[i + 1].first : kMaxCodepoint + 1;
      std::fill(t.begin() + kCategoryRuns[i].first, t.begin() + end,
                static_cast<uint8_t>(kCategoryRuns[i].category));
    }
    for (size_t i = 0; i < kWhiteSpaceCount; ++i) t[kWhiteSpace[i]] |= kSpaceBit;
    return t;
  }();
  return table;
}

bool is_continuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

// The length of the well-formed-enough sequence at text[i] (lead byte pattern, enough
// continuation bytes), or 0.
size_t sequence_length(std::string_view text, size_t i) {
  const unsigned char lead = static_cast<unsigned char>(text[i]);
  size_t n;
  if (lead < 0x80) return 1;
  if (lead < 0xC0) return 0;  // a continuation byte cannot start a sequence
  if (lead < 0xE0)
    n = 2;
  else if (lead < 0xF0)
    n = 3;
  else if (lead < 0xF8)
    n = 4;
  else
    return 0;
  if (text.size() - i < n) return 0;
  for (size_t k = 1; k < n; ++k)
    if (!is_continuation(static_cast<unsigned char>(text[i + k]))) return 0;
  return n;
}

}  // namespace

std::vector<uint32_t> decode_utf8(std::string_view text) {
  static constexpr unsigned char kLeadBits[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  std::vector<uint32_t> out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t n = sequence_length(text, i);
    uint32_t cpt = 0;
    if (n > 0) {
      cpt = static_cast<unsigned char>(text[i]) & kLeadBits[n];
      for (size_t k = 1; k < n; ++k)
        cpt = (cpt << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    }
    if (n == 0 || cpt > kMaxCodepoint) {
      out.push_back(kReplacement);
      ++i;
      continue;
    }
    out.push_back(cpt);
    i += n;
  }
  return out;
}

void append_utf8(std::string& out, uint32_t cpt) {
  if (cpt < 0x80) {
    out += static_cast<char>(cpt);
  } else if (cpt < 0x800) {
    out += static_cast<char>(0xC0 | (cpt >> 6));
    out += static_cast<char>(0x80 | (cpt & 0x3F));
  } else if (cpt < 0x10000) {
    out += static_cast<char>(0xE0 | (cpt >> 12));
    out += static_cast<char>(0x80 | ((cpt >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cpt & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cpt >> 18));
    out += static_cast<char>(0x80 | ((cpt >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cpt >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cpt & 0x3F));
  }
}

Category category(uint32_t cpt) {
  if (cpt > kMaxCodepoint) return Category::kUndefined;
  return static_cast<Category>(code_point_table()[cpt] & kCategoryMask);
}

uint8_t traits(uint32_t cpt) {
  if (cpt > kMaxCodepoint) return 0;
  const uint8_t entry = code_point_table()[cpt];
  uint8_t t = (entry & kSpaceBit) ? kIsSpace : 0;
  switch (static_cast<Category>(entry & kCategoryMask)) {
    case Category::kLetter:
      return t | kIsLetter;
    case Category::kNumber:
      return t | kIsNumber;
    case Category::kPunctuation:
      return t | kIsPunctuation;
    default:
      return t;
  }
}

}  // namespace owl::validate::unicode
