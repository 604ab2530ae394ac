#include "converters/tokenizer/pre_tokenizer.h"

#include <array>
#include <string_view>
#include <vector>

#include "converters/tokenizer/json_util.h"

namespace owl::tok {
namespace {

// The split regexes as the models' tokenizer.json files spell them.
constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kGpt4oRegex =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// A pre-tokenizer reduced to the steps that decide how text is split, each one written as a
// short string: "split:REGEX" (an isolated regex split), "bytes" (ByteLevel without its own
// regex) or "split:GPT2 REGEX" followed by "bytes" (ByteLevel with use_regex, which splits by
// GPT-2's regex first).
using Steps = std::vector<std::string>;

struct Known {
  std::string_view name;
  std::string_view regex;
};

// llama.cpp's pre-tokenizers and the split each one implements (llama-vocab.cpp); the models
// behind them pair that split with a ByteLevel step of their own.
constexpr std::array<Known, 4> kKnown = {{
    {"gpt-2", kGpt2Regex},
    {"llama-bpe", kLlama3Regex},
    {"qwen2", kQwen2Regex},
    {"gpt-4o", kGpt4oRegex},
}};

std::string split_step(std::string_view regex) {
  return "split:" + std::string(regex);
}

// False when a step is something llama.cpp's BPE pre-tokenizers do not do.
bool add_steps(const Json& pre, Steps& steps, std::string& description) {
  const auto type = string_member(pre, "type");
  if (!type) {
    description += "(no type)";
    return false;
  }
  if (*type == "Sequence") {
    const Json* list = member(pre, "pretokenizers");
    if (!list || !list->is_array()) return false;
    description += "Sequence[";
    bool ok = true;
    for (size_t i = 0; i < list->size(); ++i) {
      if (i) description += ", ";
      ok = add_steps((*list)[i], steps, description) && ok;
    }
    description += "]";
    return ok;
  }
  if (*type == "Split") {
    const auto regex = string_member(member_or_null(pre, "pattern"), "Regex");
    description +=
        "Split(" + (regex ? "/" + *regex + "/" : member_or_null(pre, "pattern").dump()) + ")";
    if (!regex || string_member(pre, "behavior") != "Isolated" ||
        truthy(member_or_null(pre, "invert")))
      return false;
    steps.push_back(split_step(*regex));
    return true;
  }
  if (*type == "ByteLevel") {
    // tokenizers' defaults when a field is missing: use_regex true, add_prefix_space true.
    const Json* use_regex = member(pre, "use_regex");
    const bool regex = !use_regex || truthy(*use_regex);
    const Json* prefix = member(pre, "add_prefix_space");
    const bool add_prefix = !prefix || truthy(*prefix);
    description += std::string("ByteLevel(use_regex=") + (regex ? "true" : "false") +
                   ", add_prefix_space=" + (add_prefix ? "true" : "false") + ")";
    if (add_prefix) return false;  // llama.cpp never adds a space in front of BPE text
    if (regex) steps.push_back(split_step(kGpt2Regex));
    steps.push_back("bytes");
    return true;
  }
  description += *type;
  return false;
}

// Normalizers that leave what llama.cpp sees unchanged: none, or Unicode NFC (Qwen2), which
// llama.cpp does not apply either.
bool harmless_normalizer(const Json& n, std::string& description) {
  if (n.is_null()) return true;
  const auto type = string_member(n, "type");
  if (type == "NFC") {
    description += "normalizer NFC, ";
    return true;
  }
  if (type == "Sequence") {
    const Json* list = member(n, "normalizers");
    if (!list || !list->is_array()) return false;
    for (const Json& step : *list)
      if (!harmless_normalizer(step, description)) return false;
    return true;
  }
  description += "normalizer " + type.value_or("?") + ", ";
  return false;
}

Json byte_level(bool use_regex) {
  return Json{{"type", "ByteLevel"},
              {"add_prefix_space", false},
              {"trim_offsets", true},
              {"use_regex", use_regex}};
}

}  // namespace

std::optional<Json> hf_pre_tokenizer(std::string_view name) {
  for (const Known& k : kKnown) {
    if (k.name != name) continue;
    // GPT-2's own files say ByteLevel with its built-in regex; the others split first.
    if (k.regex == kGpt2Regex) return byte_level(true);
    Json split = {{"type", "Split"},
                  {"pattern", {{"Regex", std::string(k.regex)}}},
                  {"behavior", "Isolated"},
                  {"invert", false}};
    return Json{{"type", "Sequence"}, {"pretokenizers", Json::array({split, byte_level(false)})}};
  }
  return std::nullopt;
}

PreTokenizer identify_pre_tokenizer(const Json& tokenizer_json) {
  PreTokenizer result;
  const bool normal =
      harmless_normalizer(member_or_null(tokenizer_json, "normalizer"), result.description);
  const Json& pre = member_or_null(tokenizer_json, "pre_tokenizer");
  Steps steps;
  bool ok = false;
  if (pre.is_null()) {
    result.description += "no pre_tokenizer";
  } else {
    ok = add_steps(pre, steps, result.description);
  }
  if (!normal || !ok) return result;
  for (const Known& k : kKnown) {
    if (steps == Steps{split_step(k.regex), "bytes"}) {
      result.name = std::string(k.name);
      break;
    }
  }
  return result;
}

}  // namespace owl::tok
