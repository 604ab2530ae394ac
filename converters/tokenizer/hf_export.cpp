#include "converters/tokenizer/hf_export.h"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <unordered_map>
#include <vector>

#include "converters/tokenizer/keys.h"
#include "converters/tokenizer/pre_tokenizer.h"
#include "converters/tokenizer/token_type.h"

namespace owl::tok {
namespace {

// SentencePiece's word-boundary mark, U+2581.
constexpr const char* kSpaceMark = "\xE2\x96\x81";

struct GgufVocab {
  std::vector<std::string> tokens;
  std::vector<TokenType> types;
  std::vector<float> scores;
  std::unordered_map<std::string, int64_t> ids;
};

const Array* array_of(const Metadata& m, std::string_view key, ValueType elem_kind) {
  const Value* v = m.find(key);
  if (!v || v->type() != ValueType::ARRAY) return nullptr;
  const Array& a = v->as_array();
  const bool numeric = Array::element_bytes(a.elem()) != 0 && a.elem() != ValueType::BOOL;
  if (elem_kind == ValueType::STRING ? a.elem() != ValueType::STRING : !numeric) return nullptr;
  return &a;
}

// Fills `v` from the tokenizer.ggml.* arrays; returns why not when they are unusable.
std::string read_vocab(const Metadata& m, GgufVocab& v) {
  const Array* tokens = array_of(m, kTokensKey, ValueType::STRING);
  if (!tokens || tokens->empty()) return "the GGUF has no tokenizer.ggml.tokens";
  const Array* types = array_of(m, kTokenTypeKey, ValueType::I32);
  const Array* scores = array_of(m, kScoresKey, ValueType::F32);
  if ((types && types->size() != tokens->size()) || (scores && scores->size() != tokens->size()))
    return "its token types or scores do not match its tokens";
  for (size_t i = 0; i < tokens->size(); ++i) {
    const std::string& piece = tokens->string_at(i);
    if (!v.ids.emplace(piece, static_cast<int64_t>(i)).second)
      return "token " + std::to_string(i) + " repeats '" + piece + "'";
    v.tokens.push_back(piece);
    v.types.push_back(types ? static_cast<TokenType>((*types)[i].to_int().value_or(1))
                            : TokenType::Normal);
    v.scores.push_back(scores ? static_cast<float>((*scores)[i].to_double().value_or(0)) : 0.0f);
  }
  return {};
}

std::optional<int64_t> special_id(const Metadata& m, std::string_view kind, const GgufVocab& v) {
  const auto id = m.get_int("tokenizer.ggml." + std::string(kind) + "_token_id");
  if (!id || *id < 0 || *id >= static_cast<int64_t>(v.tokens.size())) return std::nullopt;
  return id;
}

bool flag(const Metadata& m, std::string_view key, bool fallback) {
  const Value* f = m.find(key);
  return f && f->type() == ValueType::BOOL ? f->as_bool() : fallback;
}

// Control, unknown and user-defined tokens are matched whole before the model sees the text.
Json added_tokens(const GgufVocab& v) {
  Json out = Json::array();
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    const TokenType t = v.types[i];
    if (t != TokenType::Control && t != TokenType::Unknown && t != TokenType::UserDefined) continue;
    out.push_back({{"id", i},
                   {"content", v.tokens[i]},
                   {"single_word", false},
                   {"lstrip", false},
                   {"rstrip", false},
                   {"normalized", false},
                   {"special", t != TokenType::UserDefined}});
  }
  return out;
}

Json bpe_model(const GgufVocab& v, Json merges, bool byte_fallback, bool ignore_merges,
               const std::optional<int64_t>& unk) {
  Json vocab = Json::object();
  for (size_t i = 0; i < v.tokens.size(); ++i) vocab[v.tokens[i]] = i;
  return {{"type", "BPE"},
          {"dropout", nullptr},
          {"unk_token", unk ? Json(v.tokens[*unk]) : Json(nullptr)},
          {"continuing_subword_prefix", nullptr},
          {"end_of_word_suffix", nullptr},
          {"fuse_unk", byte_fallback},
          {"byte_fallback", byte_fallback},
          {"ignore_merges", ignore_merges},
          {"vocab", std::move(vocab)},
          {"merges", std::move(merges)}};
}

// BOS in front of every sequence when the GGUF asks for it (and EOS behind), as llama.cpp adds
// them; tokenizers' TemplateProcessing is how a tokenizer.json says so.
Json post_processor(const Metadata& m, const GgufVocab& v, bool add_bos_default) {
  const auto bos = special_id(m, "bos", v), eos = special_id(m, "eos", v);
  const bool add_bos = bos && flag(m, "tokenizer.ggml.add_bos_token", add_bos_default);
  const bool add_eos = eos && flag(m, "tokenizer.ggml.add_eos_token", false);
  if (!add_bos && !add_eos) return nullptr;
  auto special = [&](int64_t id) {
    return Json{{"SpecialToken", {{"id", v.tokens[id]}, {"type_id", 0}}}};
  };
  auto sequence = [](const char* which, int type_id) {
    return Json{{"Sequence", {{"id", which}, {"type_id", type_id}}}};
  };
  Json single = Json::array(), pair = Json::array(), specials = Json::object();
  for (int part = 0; part < 2; ++part) {
    Json& into = part == 0 ? single : pair;
    for (int seq = 0; seq < (part == 0 ? 1 : 2); ++seq) {
      if (add_bos) into.push_back(special(*bos));
      into.push_back(sequence(seq == 0 ? "A" : "B", seq));
      if (add_eos) into.push_back(special(*eos));
    }
  }
  for (const auto& id : {add_bos ? bos : std::nullopt, add_eos ? eos : std::nullopt})
    if (id)
      specials[v.tokens[*id]] = {
          {"id", v.tokens[*id]}, {"ids", {*id}}, {"tokens", {v.tokens[*id]}}};
  return {{"type", "TemplateProcessing"},
          {"single", std::move(single)},
          {"pair", std::move(pair)},
          {"special_tokens", std::move(specials)}};
}

// The byte offsets where a UTF-8 string's code points start, after the first.
std::vector<size_t> char_boundaries(const std::string& s) {
  std::vector<size_t> at;
  for (size_t i = 1; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) at.push_back(i);
  return at;
}

size_t code_points(std::string_view s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// SentencePiece's BPE merges the adjacent pair whose joined piece scores highest. As
// transformers converts such a model: every split of every piece into two pieces of the vocab is
// a merge, ranked by the joined piece's score, then the longer left and right parts first, then
// the joined piece's id and the parts' ids.
Json spm_merges(const GgufVocab& v) {
  struct Merge {
    int64_t joined, left, right;
    size_t left_len, right_len;
  };
  std::vector<Merge> merges;
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    const std::string& piece = v.tokens[id];
    for (size_t at : char_boundaries(piece)) {
      const auto l = v.ids.find(piece.substr(0, at)), r = v.ids.find(piece.substr(at));
      if (l == v.ids.end() || r == v.ids.end()) continue;
      merges.push_back({static_cast<int64_t>(id), l->second, r->second, code_points(l->first),
                        code_points(r->first)});
    }
  }
  std::stable_sort(merges.begin(), merges.end(), [&](const Merge& a, const Merge& b) {
    if (v.scores[a.joined] != v.scores[b.joined]) return v.scores[a.joined] > v.scores[b.joined];
    if (a.left_len != b.left_len) return a.left_len > b.left_len;
    if (a.right_len != b.right_len) return a.right_len > b.right_len;
    if (a.joined != b.joined) return a.joined < b.joined;
    return std::pair(a.left, a.right) < std::pair(b.left, b.right);
  });
  Json out = Json::array();
  for (const Merge& mg : merges)
    out.push_back(Json::array({v.tokens[mg.left], v.tokens[mg.right]}));
  return out;
}

Json spm_tokenizer(const Metadata& m, const GgufVocab& v) {
  const bool prefix = flag(m, kAddSpacePrefixKey, true);
  Json normalizers = Json::array();
  if (prefix) normalizers.push_back({{"type", "Prepend"}, {"prepend", kSpaceMark}});
  normalizers.push_back(
      {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpaceMark}});
  Json decoders =
      Json::array({{{"type", "Replace"}, {"pattern", {{"String", kSpaceMark}}}, {"content", " "}},
                   {{"type", "ByteFallback"}},
                   {{"type", "Fuse"}}});
  if (prefix) decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added_tokens(v)},
          {"normalizer", {{"type", "Sequence"}, {"normalizers", std::move(normalizers)}}},
          {"pre_tokenizer", nullptr},
          {"post_processor", post_processor(m, v, true)},
          {"decoder", {{"type", "Sequence"}, {"decoders", std::move(decoders)}}},
          {"model", bpe_model(v, spm_merges(v), true, false, special_id(m, "unknown", v))}};
}

std::optional<Json> byte_level_tokenizer(const Metadata& m, const GgufVocab& v, std::string& why) {
  const std::string pre = m.get_string(kPreKey).value_or(kDefaultPreTokenizer);
  const auto pre_tokenizer = hf_pre_tokenizer(pre);
  if (!pre_tokenizer) {
    why = "owl has no tokenizer.json form of llama.cpp's '" + pre + "' pre-tokenizer";
    return std::nullopt;
  }
  const Array* merge_list = array_of(m, kMergesKey, ValueType::STRING);
  if (!merge_list) {
    why = "the GGUF has no tokenizer.ggml.merges";
    return std::nullopt;
  }
  Json merges = Json::array();
  for (size_t i = 0; i < merge_list->size(); ++i) merges.push_back(merge_list->string_at(i));
  Json post = post_processor(m, v, false);
  Json byte_level_post = {{"type", "ByteLevel"},
                          {"add_prefix_space", true},
                          {"trim_offsets", false},
                          {"use_regex", true}};
  if (!post.is_null())
    post = {{"type", "Sequence"}, {"processors", Json::array({byte_level_post, post})}};
  else
    post = byte_level_post;
  // llama.cpp's llama-bpe tokenizer takes a word that is a token as it is, as Llama 3's
  // tokenizer.json asks with ignore_merges.
  const bool ignore_merges = pre == "llama-bpe";
  return Json{{"version", "1.0"},
              {"truncation", nullptr},
              {"padding", nullptr},
              {"added_tokens", added_tokens(v)},
              {"normalizer", nullptr},
              {"pre_tokenizer", *pre_tokenizer},
              {"post_processor", std::move(post)},
              {"decoder",
               {{"type", "ByteLevel"},
                {"add_prefix_space", true},
                {"trim_offsets", true},
                {"use_regex", true}}},
              {"model", bpe_model(v, std::move(merges), false, ignore_merges, std::nullopt)}};
}

Json tokenizer_config(const Metadata& m, const GgufVocab& v) {
  Json c = {{"tokenizer_class", "PreTrainedTokenizerFast"},
            {"clean_up_tokenization_spaces", false}};
  const std::pair<const char*, const char*> kSpecials[] = {{"bos", "bos_token"},
                                                           {"eos", "eos_token"},
                                                           {"unknown", "unk_token"},
                                                           {"padding", "pad_token"}};
  for (const auto& [kind, name] : kSpecials)
    if (const auto id = special_id(m, kind, v)) c[name] = v.tokens[*id];
  if (auto t = m.get_string(kChatTemplateKey)) c["chat_template"] = *t;
  return c;
}

}  // namespace

HfTokenizerExport export_hf_tokenizer(const Metadata& m) {
  HfTokenizerExport out;
  const auto model = m.get_string(kModelKey);
  if (!model) {
    out.why_not = "the GGUF has no tokenizer (tokenizer.ggml.model)";
    return out;
  }
  GgufVocab v;
  if (out.why_not = read_vocab(m, v); !out.why_not.empty()) return out;
  std::optional<Json> tokenizer;
  if (*model == "llama") {
    tokenizer = spm_tokenizer(m, v);
  } else if (*model == "gpt2") {
    tokenizer = byte_level_tokenizer(m, v, out.why_not);
  } else {
    out.why_not = "owl cannot write a tokenizer.json for llama.cpp's '" + *model + "' tokenizer";
  }
  if (tokenizer) out.files = HfTokenizerFiles{std::move(*tokenizer), tokenizer_config(m, v)};
  return out;
}

}  // namespace owl::tok
