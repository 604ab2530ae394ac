#include "converters/tokenizer/hf_export.h"

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "converters/tokenizer/keys.h"
#include "converters/tokenizer/pre_tokenizer.h"
#include "converters/tokenizer/sentencepiece_export.h"
#include "converters/tokenizer/token_type.h"

namespace owl::tok {
namespace {

struct GgufVocab {
  std::vector<std::string> tokens;
  std::vector<TokenType> types;
  std::vector<float> scores;  // empty when the GGUF has none
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
  if (types && types->size() != tokens->size()) return "its token types do not match its tokens";
  const Array* scores = array_of(m, kScoresKey, ValueType::F32);
  if (scores && scores->size() != tokens->size()) return "its scores do not match its tokens";
  for (size_t i = 0; i < tokens->size(); ++i) {
    const std::string& piece = tokens->string_at(i);
    if (!v.ids.emplace(piece, static_cast<int64_t>(i)).second)
      return "token " + std::to_string(i) + " repeats '" + piece + "'";
    v.tokens.push_back(piece);
    v.types.push_back(types ? static_cast<TokenType>((*types)[i].to_int().value_or(1))
                            : TokenType::Normal);
    if (scores) v.scores.push_back(static_cast<float>((*scores)[i].to_double().value_or(0.0)));
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

Json bpe_model(const GgufVocab& v, Json merges, bool ignore_merges) {
  Json vocab = Json::object();
  for (size_t i = 0; i < v.tokens.size(); ++i) vocab[v.tokens[i]] = i;
  return {{"type", "BPE"},
          {"dropout", nullptr},
          {"unk_token", nullptr},
          {"continuing_subword_prefix", nullptr},
          {"end_of_word_suffix", nullptr},
          {"fuse_unk", false},
          {"byte_fallback", false},
          {"ignore_merges", ignore_merges},
          {"vocab", std::move(vocab)},
          {"merges", std::move(merges)}};
}

// BOS in front of every sequence when the GGUF asks for it (and EOS behind), as llama.cpp adds
// them; tokenizers' TemplateProcessing is how a tokenizer.json says so.
Json post_processor(const Metadata& m, const GgufVocab& v) {
  const auto bos = special_id(m, "bos", v), eos = special_id(m, "eos", v);
  const bool add_bos = bos && flag(m, "tokenizer.ggml.add_bos_token", false);
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
  Json post = post_processor(m, v);
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
              {"model", bpe_model(v, std::move(merges), ignore_merges)}};
}

// bos_token, eos_token, unk_token, pad_token: the tokens the GGUF names, by text.
Json special_token_names(const Metadata& m, const GgufVocab& v) {
  Json c = Json::object();
  const std::pair<const char*, const char*> kSpecials[] = {{"bos", "bos_token"},
                                                           {"eos", "eos_token"},
                                                           {"unknown", "unk_token"},
                                                           {"padding", "pad_token"}};
  for (const auto& [kind, name] : kSpecials)
    if (const auto id = special_id(m, kind, v)) c[name] = v.tokens[*id];
  return c;
}

Json tokenizer_config(const Metadata& m, const GgufVocab& v) {
  Json c = {{"tokenizer_class", "PreTrainedTokenizerFast"},
            {"clean_up_tokenization_spaces", false}};
  c.update(special_token_names(m, v));
  if (auto t = m.get_string(kChatTemplateKey)) c["chat_template"] = *t;
  return c;
}

// The convert_hf_to_gguf.py mark of a token that tokenizer_config.json's added_tokens_decoder
// listed: typed control or user-defined, scored -1000. Listing exactly these again reads back
// to the same types and scores; a control token of the tokenizer.model itself keeps its score.
constexpr float kAddedTokenScore = -1000.0f;

Json added_tokens_decoder(const GgufVocab& v) {
  Json out = Json::object();
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    const TokenType t = v.types[i];
    if ((t != TokenType::Control && t != TokenType::UserDefined) || v.scores[i] != kAddedTokenScore)
      continue;
    out[std::to_string(i)] = {{"content", v.tokens[i]}, {"lstrip", false},
                              {"normalized", false},    {"rstrip", false},
                              {"single_word", false},   {"special", t == TokenType::Control}};
  }
  return out;
}

// LlamaTokenizer over tokenizer.model, in its non-legacy form (no space is added after a
// special token, as llama.cpp adds none), with BOS/EOS added as the GGUF says.
std::optional<TokenizerJsonFiles> sentencepiece_files(const Metadata& m, const GgufVocab& v,
                                                      std::string& why) {
  if (v.scores.empty()) {
    why = "the GGUF has no tokenizer.ggml.scores, which SentencePiece merges by";
    return std::nullopt;
  }
  const auto unk =
      sentencepiece_unknown_id(v.tokens, v.types, m.get_int("tokenizer.ggml.unknown_token_id"));
  if (!unk) {
    why = "no unknown token (SentencePiece needs one)";
    return std::nullopt;
  }
  const bool space_prefix = flag(m, kAddSpacePrefixKey, true);
  SentencePieceVocabView view{v.tokens,
                              v.scores,
                              v.types,
                              *unk,
                              special_id(m, "bos", v),
                              special_id(m, "eos", v),
                              special_id(m, "padding", v),
                              space_prefix};
  TokenizerJsonFiles files;
  files.sentencepiece_model = sentencepiece_model_bytes(view, why);
  if (files.sentencepiece_model.empty()) return std::nullopt;
  Json specials = special_token_names(m, v);
  if (!specials.contains("unk_token")) specials["unk_token"] = v.tokens[*unk];
  Json c = {{"tokenizer_class", "LlamaTokenizer"},
            {"add_bos_token", flag(m, "tokenizer.ggml.add_bos_token", true)},
            {"add_eos_token", flag(m, "tokenizer.ggml.add_eos_token", false)},
            {"added_tokens_decoder", added_tokens_decoder(v)},
            {"clean_up_tokenization_spaces", false},
            {"legacy", false},
            {"sp_model_kwargs", Json::object()}};
  // Given only when off, as LlamaTokenizer adds the prefix unless told not to.
  if (!space_prefix) c["add_prefix_space"] = false;
  c.update(specials);
  if (auto t = m.get_string(kChatTemplateKey)) c["chat_template"] = *t;
  files.tokenizer_config = std::move(c);
  files.special_tokens_map = std::move(specials);
  return files;
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
  if (*model == "llama") {
    out.files = sentencepiece_files(m, v, out.why_not);
  } else if (*model == "gpt2") {
    if (auto tokenizer = byte_level_tokenizer(m, v, out.why_not))
      out.files = TokenizerJsonFiles{std::move(*tokenizer), {}, tokenizer_config(m, v), nullptr};
  } else {
    out.why_not = "owl cannot write a tokenizer.json for llama.cpp's '" + *model + "' tokenizer";
  }
  return out;
}

}  // namespace owl::tok
