#include "validate/user_defined_tokens.h"

#include <algorithm>

#include "converters/tokenizer/token_type.h"
#include "formats/io/error.h"

namespace owl::validate {
namespace {

// Token texts that llama.cpp's vocabulary loader (llama-cpp-python 0.3.36) turns into control
// tokens whatever their type: end-of-generation markers always; a fill-in-the-middle marker
// only when the model does not name that role's token in its metadata.
const char* const kEndOfGeneration[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "[e~[",
    "<end_of_utterance>",
    "<\xef\xbd\x9c"
    "end\xe2\x96\x81"
    "of\xe2\x96\x81"
    "sentence\xef\xbd\x9c>",
};

struct FimRole {
  std::vector<const char*> keys;  // any of these in the metadata names the role's token
  std::vector<const char*> texts;
};

const std::vector<FimRole>& fim_roles() {
  static const std::vector<FimRole> roles = {
      {{"tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.prefix_token_id"},
       {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
        "<\xef\xbd\x9c"
        "fim\xe2\x96\x81"
        "begin\xef\xbd\x9c>",
        "<PRE>", "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>"}},
      {{"tokenizer.ggml.fim_suf_token_id", "tokenizer.ggml.suffix_token_id"},
       {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
        "<\xef\xbd\x9c"
        "fim\xe2\x96\x81"
        "hole\xef\xbd\x9c>",
        "<SUF>", "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>"}},
      {{"tokenizer.ggml.fim_mid_token_id", "tokenizer.ggml.middle_token_id"},
       {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
        "<\xef\xbd\x9c"
        "fim\xe2\x96\x81"
        "end\xef\xbd\x9c>",
        "<MID>", "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>"}},
      {{"tokenizer.ggml.fim_pad_token_id"},
       {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"}},
      {{"tokenizer.ggml.fim_rep_token_id"},
       {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"}},
      {{"tokenizer.ggml.fim_sep_token_id"}, {"<|file_sep|>"}},
  };
  return roles;
}

bool made_control(const Graph& g, const std::string& text) {
  for (const char* t : kEndOfGeneration)
    if (text == t) return true;
  for (const FimRole& role : fim_roles()) {
    const bool named = std::any_of(role.keys.begin(), role.keys.end(),
                                   [&](const char* k) { return g.metadata.find(k) != nullptr; });
    if (named) continue;
    for (const char* t : role.texts)
      if (text == t) return true;
  }
  return false;
}

}  // namespace

std::vector<TextToken> user_defined_tokens(const Graph& g) {
  const Value* tokens = g.metadata.find("tokenizer.ggml.tokens");
  const Value* types = g.metadata.find("tokenizer.ggml.token_type");
  if (!tokens || tokens->type() != ValueType::ARRAY || !types || types->type() != ValueType::ARRAY)
    return {};
  const Array& text = tokens->as_array();
  const Array& type = types->as_array();
  if (text.elem() != ValueType::STRING || type.size() != text.size())
    throw UsageError("the model's tokenizer.ggml.token_type does not match tokenizer.ggml.tokens");

  std::vector<TextToken> out;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto t = type[i].to_int();
    if (t != static_cast<int64_t>(tok::TokenType::UserDefined)) continue;
    const std::string& s = text.string_at(i);
    // An empty text would match everywhere; llama.cpp has no sensible reading of it either.
    if (s.empty() || made_control(g, s)) continue;
    out.push_back({s, static_cast<int32_t>(i)});
  }
  std::stable_sort(out.begin(), out.end(), [](const TextToken& a, const TextToken& b) {
    return a.text.size() > b.text.size();
  });
  return out;
}

std::vector<Fragment> split_on_tokens(std::string_view text, const std::vector<TextToken>& tokens) {
  std::vector<Fragment> pieces = {{0, text.size(), -1}};
  std::vector<Fragment> next;
  for (const TextToken& tok : tokens) {
    next.clear();
    for (const Fragment& f : pieces) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      const size_t end = f.begin + f.size;
      const std::string_view area = text.substr(0, end);
      size_t at = f.begin;
      for (size_t hit; (hit = area.find(tok.text, at)) != std::string_view::npos;) {
        if (hit > at) next.push_back({at, hit - at, -1});
        next.push_back({hit, tok.text.size(), tok.id});
        at = hit + tok.text.size();
      }
      if (end > at) next.push_back({at, end - at, -1});
    }
    pieces.swap(next);
  }
  return pieces;
}

}  // namespace owl::validate
