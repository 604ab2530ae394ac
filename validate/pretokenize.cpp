#include "validate/pretokenize.h"

#include <algorithm>
#include <string>

#include "formats/io/error.h"
#include "validate/unicode_text.h"

namespace owl::validate {
namespace {

using unicode::kIsLetter;
using unicode::kIsNumber;
using unicode::kIsPunctuation;
using unicode::kIsSpace;

struct NamedRules {
  const char* name;
  PreTokenizer rules;
  bool ignore_merges;
};

// tokenizer.ggml.pre values and what llama.cpp (llama-vocab.cpp, as in llama-cpp-python 0.3.36)
// does for each: names that share a regex share a row group here.
constexpr NamedRules kNamedRules[] = {
    {"default", PreTokenizer::kDefault, false},
    {"falcon", PreTokenizer::kFalcon, false},
    // GPT-2's regex alone.
    {"gpt-2", PreTokenizer::kGpt2, false},
    {"phi-2", PreTokenizer::kGpt2, false},
    {"jina-es", PreTokenizer::kGpt2, false},
    {"jina-de", PreTokenizer::kGpt2, false},
    {"gigachat", PreTokenizer::kGpt2, false},
    {"jina-v2-es", PreTokenizer::kGpt2, false},
    {"jina-v2-de", PreTokenizer::kGpt2, false},
    {"jina-v1-en", PreTokenizer::kGpt2, false},
    {"jina-v2-code", PreTokenizer::kGpt2, false},
    {"roberta-bpe", PreTokenizer::kGpt2, false},
    {"a.x-4.0", PreTokenizer::kGpt2, false},
    {"mellum", PreTokenizer::kGpt2, false},
    {"modern-bert", PreTokenizer::kGpt2, false},
    {"mpt", PreTokenizer::kGpt2, false},
    {"olmo", PreTokenizer::kGpt2, false},
    {"jais", PreTokenizer::kGpt2, false},
    {"trillion", PreTokenizer::kGpt2, false},
    {"granite-docling", PreTokenizer::kGpt2, false},
    {"exaone4", PreTokenizer::kGpt2, false},
    // Llama 3's regex; the Llama 3 family and GLM-4 also take whole-token words as they are.
    {"llama3", PreTokenizer::kLlama3, true},
    {"llama-v3", PreTokenizer::kLlama3, true},
    {"llama-bpe", PreTokenizer::kLlama3, true},
    {"falcon3", PreTokenizer::kLlama3, true},
    {"falcon-h1", PreTokenizer::kLlama3, true},
    {"pixtral", PreTokenizer::kLlama3, true},
    {"midm-2.0", PreTokenizer::kLlama3, true},
    {"lfm2", PreTokenizer::kLlama3, true},
    {"jina-v5-nano", PreTokenizer::kLlama3, true},
    {"glm4", PreTokenizer::kLlama3, true},
    {"glm5", PreTokenizer::kLlama3, true},
    {"chatglm-bpe", PreTokenizer::kLlama3, false},
    {"dbrx", PreTokenizer::kLlama3, false},
    {"smaug-bpe", PreTokenizer::kLlama3, false},
    // Qwen2's regex.
    {"qwen2", PreTokenizer::kQwen2, false},
    {"deepseek-r1-qwen", PreTokenizer::kQwen2, false},
    {"kormo", PreTokenizer::kQwen2, false},
    {"f2llmv2", PreTokenizer::kQwen2, false},
    {"megrez", PreTokenizer::kQwen2, false},
    {"stablelm2", PreTokenizer::kQwen2, false},
    {"hunyuan", PreTokenizer::kQwen2, false},
    {"solar-open", PreTokenizer::kQwen2, false},
    {"grok-2", PreTokenizer::kQwen2, false},
    // \p{N}, then GPT-2's regex.
    {"starcoder", PreTokenizer::kDigitsThenGpt2, false},
    {"refact", PreTokenizer::kDigitsThenGpt2, false},
    {"command-r", PreTokenizer::kDigitsThenGpt2, false},
    {"smollm", PreTokenizer::kDigitsThenGpt2, false},
    {"codeshell", PreTokenizer::kDigitsThenGpt2, false},
    {"exaone", PreTokenizer::kDigitsThenGpt2, false},
    {"minerva-7b", PreTokenizer::kDigitsThenGpt2, false},
    {"mellum2", PreTokenizer::kDigitsThenGpt2, false},
};

constexpr uint32_t kPastEnd = 0xFFFFFFFF;

// A stretch that an earlier pass cut out: a regex sees nothing past its end (so, as in
// llama.cpp, "\s+(?!\S)" at the end of a stretch takes all of its spaces).
class Stretch {
 public:
  Stretch(const std::vector<uint32_t>& cpts, size_t end) : cpts_(cpts), end_(end) {}
  bool contains(size_t i) const { return i < end_; }
  uint32_t at(size_t i) const { return i < end_ ? cpts_[i] : kPastEnd; }
  uint8_t traits_at(size_t i) const { return i < end_ ? unicode::traits(cpts_[i]) : 0; }
  // Past the run from i of code points with any of the traits `any` (skip_with) or with none of
  // `none` (skip_without), stopping at the end.
  size_t skip_with(size_t i, uint8_t any) const {
    while (i < end_ && (unicode::traits(cpts_[i]) & any)) ++i;
    return i;
  }
  size_t skip_without(size_t i, uint8_t none) const {
    while (i < end_ && !(unicode::traits(cpts_[i]) & none)) ++i;
    return i;
  }

 private:
  const std::vector<uint32_t>& cpts_;
  size_t end_;
};

bool is_newline(uint32_t c) {
  return c == '\r' || c == '\n';
}

// 's 't 're 've 'm 'll 'd at i (in any case when `any_case`): the end of the match, or 0.
size_t contraction_end(const Stretch& s, size_t i, bool any_case) {
  if (s.at(i) != '\'') return 0;
  auto fold = [any_case](uint32_t c) {
    return any_case && c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
  };
  const uint32_t a = fold(s.at(i + 1));
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
  const uint32_t b = fold(s.at(i + 2));
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
  return 0;
}

// \s+(?!\S)|\s+ at i, preceded by \s*[\r\n]+ when `newline_rule`; a code point that nothing
// matches stands alone.
size_t space_end(const Stretch& s, size_t i, bool newline_rule) {
  size_t j = i;
  size_t after_newline = 0;
  for (; s.traits_at(j) & kIsSpace; ++j)
    if (newline_rule && is_newline(s.at(j))) after_newline = j + 1;
  if (after_newline > 0) return after_newline;
  const size_t n = j - i;
  if (n > 1 && s.contains(j)) return j - 1;  // the last space goes with the word after it
  return n > 0 ? j : i + 1;
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
size_t gpt2_word_end(const Stretch& s, size_t i) {
  if (const size_t e = contraction_end(s, i, false)) return e;
  const size_t body = s.at(i) == ' ' ? i + 1 : i;
  const uint8_t t = s.traits_at(body);
  if (t & kIsLetter) return s.skip_with(body, kIsLetter);
  if (t & kIsNumber) return s.skip_with(body, kIsNumber);
  if (s.contains(body) && !(t & kIsSpace))
    return s.skip_without(body, kIsSpace | kIsLetter | kIsNumber);
  return space_end(s, i, false);
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}|
//  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
size_t llama3_word_end(const Stretch& s, size_t i, size_t max_digits) {
  if (const size_t e = contraction_end(s, i, true)) return e;
  const uint32_t c = s.at(i);
  const uint8_t t = s.traits_at(i);
  if (!is_newline(c) && !(t & kIsNumber) && ((t & kIsLetter) || (s.traits_at(i + 1) & kIsLetter)))
    return s.skip_with(i + 1, kIsLetter);
  if (t & kIsNumber) return std::min(s.skip_with(i, kIsNumber), i + max_digits);
  const size_t body = c == ' ' ? i + 1 : i;
  if (!(s.traits_at(body) & (kIsSpace | kIsLetter | kIsNumber))) {
    size_t j = s.skip_without(body, kIsSpace | kIsLetter | kIsNumber);
    while (is_newline(s.at(j))) ++j;
    return j;
  }
  return space_end(s, i, true);
}

// One pass over a stretch [begin, end): appends the lengths of the pieces it cuts.
template <typename WordEnd>
void cut_words(const std::vector<uint32_t>& cpts, size_t begin, size_t end,
               std::vector<size_t>& out, WordEnd word_end) {
  const Stretch s(cpts, end);
  for (size_t i = begin; i < end;) {
    const size_t e = word_end(s, i);
    out.push_back(e - i);
    i = e;
  }
}

// A regex that matches runs of code points in a class ([X]+) or single ones ([X]): the matches
// and the text between them become pieces.
template <typename InClass>
void cut_class(const std::vector<uint32_t>& cpts, size_t begin, size_t end,
               std::vector<size_t>& out, bool single, InClass in_class) {
  for (size_t i = begin; i < end;) {
    const bool in = in_class(cpts[i]);
    size_t j = i + 1;
    if (!(in && single))
      while (j < end && in_class(cpts[j]) == in) ++j;
    out.push_back(j - i);
    i = j;
  }
}

bool is_ascii_digit(uint32_t c) {
  return c >= '0' && c <= '9';
}

// [0-9][0-9][0-9], searched left to right as std::regex_iterator does.
void cut_digit_triples(const std::vector<uint32_t>& cpts, size_t begin, size_t end,
                       std::vector<size_t>& out) {
  size_t gap = begin;
  for (size_t i = begin; i + 3 <= end;) {
    if (!(is_ascii_digit(cpts[i]) && is_ascii_digit(cpts[i + 1]) && is_ascii_digit(cpts[i + 2]))) {
      ++i;
      continue;
    }
    if (i > gap) out.push_back(i - gap);
    out.push_back(3);
    i += 3;
    gap = i;
  }
  if (end > gap) out.push_back(end - gap);
}

// llama.cpp runs \p{P} and \p{N} through std::regex on text where every non-ASCII code point is
// replaced by a stand-in for its class, so these classes are: the ASCII characters the
// rewritten regex lists, and non-ASCII code points of that class that are not white space.
bool non_ascii_in(uint32_t c, uint8_t trait) {
  const uint8_t t = unicode::traits(c);
  return c >= 0x80 && (t & trait) && !(t & kIsSpace);
}

bool is_number(uint32_t c) {
  return is_ascii_digit(c) || non_ascii_in(c, kIsNumber);
}

// [\p{P}\$\+<=>\^~\|]+ (and ` too for Falcon): every ASCII punctuation or symbol character
// but, for the default rules, the backtick.
bool is_punctuation_run_char(uint32_t c, bool with_backtick) {
  if (c < 0x80) {
    const bool punct = (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) ||
                       (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
    return punct && (c != '`' || with_backtick);
  }
  return non_ascii_in(c, kIsPunctuation);
}

using Lengths = std::vector<size_t>;

// Applies one pass to every stretch the earlier passes cut.
template <typename Pass>
Lengths refine(const Lengths& stretches, Pass pass) {
  Lengths out;
  out.reserve(stretches.size());
  size_t begin = 0;
  for (const size_t n : stretches) {
    pass(begin, begin + n, out);
    begin += n;
  }
  return out;
}

}  // namespace

PreTokenizerChoice pre_tokenizer_for(std::string_view name) {
  if (name.empty()) name = "default";
  for (const NamedRules& r : kNamedRules)
    if (name == r.name) return {r.rules, r.ignore_merges};
  throw UsageError("tokenizing text for pre-tokenizer '" + std::string(name) +
                   "' (tokenizer.ggml.pre) is not supported; give token ids with --tokens");
}

std::vector<size_t> split_words(PreTokenizer rules, const std::vector<uint32_t>& cpts) {
  Lengths words = {cpts.size()};
  auto gpt2 = [&](size_t b, size_t e, Lengths& out) { cut_words(cpts, b, e, out, gpt2_word_end); };
  auto llama3 = [&](size_t max_digits) {
    return [&cpts, max_digits](size_t b, size_t e, Lengths& out) {
      cut_words(cpts, b, e, out, [max_digits](const Stretch& s, size_t i) {
        return llama3_word_end(s, i, max_digits);
      });
    };
  };
  auto single_digits = [&](size_t b, size_t e, Lengths& out) {
    cut_class(cpts, b, e, out, true, is_number);
  };
  auto digit_runs = [&](size_t b, size_t e, Lengths& out) {
    cut_class(cpts, b, e, out, false, is_number);
  };
  auto punctuation_runs = [&](bool with_backtick) {
    return [&cpts, with_backtick](size_t b, size_t e, Lengths& out) {
      cut_class(cpts, b, e, out, false,
                [with_backtick](uint32_t c) { return is_punctuation_run_char(c, with_backtick); });
    };
  };
  auto triples = [&](size_t b, size_t e, Lengths& out) { cut_digit_triples(cpts, b, e, out); };

  switch (rules) {
    case PreTokenizer::kGpt2:
      words = refine(words, gpt2);
      break;
    case PreTokenizer::kLlama3:
      words = refine(words, llama3(3));
      break;
    case PreTokenizer::kQwen2:
      words = refine(words, llama3(1));
      break;
    case PreTokenizer::kDigitsThenGpt2:
      words = refine(words, single_digits);
      words = refine(words, gpt2);
      break;
    case PreTokenizer::kDefault:
      words = refine(words, punctuation_runs(false));
      words = refine(words, gpt2);
      words = refine(words, digit_runs);
      words = refine(words, triples);
      break;
    case PreTokenizer::kFalcon:
      words = refine(words, punctuation_runs(true));
      words = refine(words, gpt2);
      words = refine(words, triples);
      break;
  }
  return words;
}

}  // namespace owl::validate
