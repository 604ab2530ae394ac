// attach_from_folder and attach_file: which reader a tokenizer needs, and the order the keys are
// written in (convert_hf_to_gguf.py's).
#include <array>
#include <cstdio>

#include "converters/tokenizer/added_tokens.h"
#include "converters/tokenizer/bpe_vocab.h"
#include "converters/tokenizer/families.h"
#include "converters/tokenizer/hf_files.h"
#include "converters/tokenizer/json_util.h"
#include "converters/tokenizer/keys.h"
#include "converters/tokenizer/limits.h"
#include "converters/tokenizer/llama2c_vocab.h"
#include "converters/tokenizer/pre_tokenizer.h"
#include "converters/tokenizer/sentencepiece.h"
#include "converters/tokenizer/special_vocab.h"
#include "converters/tokenizer/tokenizer.h"
#include "formats/io/error.h"
#include "formats/io/mapped_file.h"
#include "formats/io/utf8.h"

namespace owl {

void warn_on_stderr(const std::string& message) {
  std::fprintf(stderr, "owl: warning: %s\n", printable(message).c_str());
}

namespace {
using namespace tok;

// Architectures (Hugging Face model_type, which is also the GGUF name for these) that
// convert_hf_to_gguf.py converts with its LlamaModel class or a subclass that keeps LlamaModel's
// set_vocab, which adds the llama-only keys.
constexpr std::array<std::string_view, 8> kLlamaFamily = {
    "llama", "mistral", "mixtral", "granite", "granitemoe", "smollm3", "arcee", "apertus"};
// Vocabulary sizes LlamaModel recognises: CodeLlama's infill tokens, Granite's small models.
constexpr uint64_t kCodeLlamaVocab = 32016;
constexpr uint32_t kCodeLlamaPrefix = 32007, kCodeLlamaSuffix = 32008, kCodeLlamaMiddle = 32009,
                   kCodeLlamaEot = 32010;
constexpr uint64_t kGraniteSmallVocab = 49152;

bool llama_family(const Graph& g) {
  for (auto name : kLlamaFamily)
    if (g.architecture == name) return true;
  return false;
}

// LlamaModel writes tokenizer_config.json's add_prefix_space before the vocabulary.
void put_add_space_prefix(Metadata& keys, const HfTokenizerFiles& f) {
  if (!f.tokenizer_config) return;
  const Json v = member_or_null(f.tokenizer_config->json, "add_prefix_space");
  if (!v.is_null()) keys.set(std::string(kAddSpacePrefixKey), Value::boolean(truthy(v)));
}

// What LlamaModel adds after the vocabulary for CodeLlama and Granite's small models.
void put_llama_vocab_fixes(Metadata& keys, const HfTokenizerFiles& f, uint64_t rows,
                           const TokenizerWarn& warn) {
  if (rows == kCodeLlamaVocab) {
    SpecialVocabOptions infill;
    infill.n_vocab = rows;
    infill.kinds = {"prefix", "suffix", "middle", "eot"};
    SpecialVocab sv = load_special_vocab(f, infill, warn);
    sv.ids.set_default("prefix", kCodeLlamaPrefix);
    sv.ids.set_default("suffix", kCodeLlamaSuffix);
    sv.ids.set_default("middle", kCodeLlamaMiddle);
    sv.ids.set_default("eot", kCodeLlamaEot);
    put_special_vocab(keys, sv);
  }
  if (rows == kGraniteSmallVocab) keys.set(*add_flag_key("bos"), Value::boolean(false));
}

// What a family's set_vocab writes after the SentencePiece vocabulary: a second SpecialVocab
// over its own kinds (without the chat template, already written), then add_space_prefix.
void put_family_keys(Metadata& keys, const SentencePieceFamily& family, const HfTokenizerFiles& f,
                     const TokenizerWarn& warn) {
  if (!family.extra_special_tokens.empty()) {
    SpecialVocabOptions opt;
    opt.kinds.clear();
    for (const auto& token : family.extra_special_tokens) opt.kinds.emplace_back(token.kind);
    SpecialVocab sv = load_special_vocab(f, opt, warn);
    for (const auto& token : family.extra_special_tokens)
      sv.ids.set_default(std::string(token.kind), token.id);
    sv.chat_template = {};
    put_special_vocab(keys, sv);
  }
  if (family.add_space_prefix)
    keys.set(std::string(kAddSpacePrefixKey), Value::boolean(*family.add_space_prefix));
}

PreTokenizer pre_tokenizer_of(const JsonFile& tokenizer, const TokenizerWarn& warn) {
  PreTokenizer pre = identify_pre_tokenizer(tokenizer.json);
  if (!pre.name)
    warn(tokenizer.path + ": the BPE pre-tokenizer (" + pre.description +
         ") is not one owl recognises; writing tokenizer.ggml.pre = \"" + kDefaultPreTokenizer +
         "\", with which llama.cpp may split text differently from the original tokenizer");
  return pre;
}

// Returns the number of tokens written.
uint64_t put_bpe(Metadata& keys, const HfTokenizerFiles& f, uint64_t n_vocab,
                 const TokenizerWarn& warn) {
  const Vocab v = build_bpe_vocab(*f.tokenizer, n_vocab);
  const PreTokenizer pre = pre_tokenizer_of(*f.tokenizer, warn);
  put_vocab(keys, "gpt2", pre.name.value_or(kDefaultPreTokenizer), v);
  SpecialVocabOptions opt;
  opt.load_merges = true;
  opt.n_vocab = v.size();
  put_special_vocab(keys, load_special_vocab(f, opt, warn));
  return v.size();
}

// Replaces every tokenizer.* key of the graph; other keys keep their places.
void replace_tokenizer_keys(Graph& g, const Metadata& keys) {
  std::vector<std::string> stale;
  for (const auto& [key, value] : g.metadata)
    if (key.starts_with(kKeyPrefix)) stale.push_back(key);
  for (const auto& key : stale) g.metadata.erase(key);
  for (const auto& [key, value] : keys) g.metadata.set(key, value);
}

bool looks_like_json_object(std::span<const std::byte> bytes) {
  for (std::byte b : bytes) {
    const char c = static_cast<char>(b);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    return c == '{';
  }
  return false;
}

void attach_tokenizer_json(Metadata& keys, const MappedFile& file, uint64_t n_vocab,
                           const TokenizerWarn& warn) {
  if (file.size() > kMaxTokenizerJsonBytes)
    throw InputError(file.path(), "tokenizer.json of " + std::to_string(file.size()) +
                                      " bytes is larger than the limit of " +
                                      std::to_string(kMaxTokenizerJsonBytes));
  const auto b = file.bytes();
  HfTokenizerFiles f;
  f.tokenizer =
      JsonFile{file.path(),
               parse_json_strict({reinterpret_cast<const char*>(b.data()), b.size()}, file.path())};
  put_bpe(keys, f, n_vocab, warn);
}

void attach_llama2c(Metadata& keys, const MappedFile& file, uint64_t n_vocab) {
  Vocab v = parse_llama2c_tokenizer(file.bytes(), file.path());
  pad_to(v,
         rows_for(v.size(), n_vocab, file.path(), "holds " + std::to_string(v.size()) + " tokens"));
  // What llama.cpp's convert-llama2c-to-ggml writes: no pre-tokenizer, fixed special ids.
  put_vocab(keys, "llama", std::nullopt, v);
  keys.set(*special_id_key("unk"), Value::u32(kLlama2cUnkId));
  keys.set(*special_id_key("bos"), Value::u32(kLlama2cBosId));
  keys.set(*special_id_key("eos"), Value::u32(kLlama2cEosId));
}

void attach_sentencepiece(Metadata& keys, const MappedFile& file, uint64_t n_vocab) {
  Vocab v = parse_sentencepiece(file.bytes(), file.path());
  pad_to(v,
         rows_for(v.size(), n_vocab, file.path(), "holds " + std::to_string(v.size()) + " pieces"));
  put_vocab(keys, "llama", kDefaultPreTokenizer, v);
}

}  // namespace

bool attach_from_folder(Graph& g, const std::string& folder, uint64_t n_vocab,
                        const TokenizerWarn& warn) {
  const HfTokenizerFiles f = read_hf_tokenizer_files(folder);
  if (!f.has_tokenizer()) return false;
  Metadata keys;
  const bool llama = llama_family(g);
  if (llama) put_add_space_prefix(keys, f);
  uint64_t rows = 0;
  if (f.sentencepiece) {
    Vocab v = read_sentencepiece(*f.sentencepiece);
    pad_to(v, rows_for(v.size(), n_vocab, *f.sentencepiece,
                       "holds " + std::to_string(v.size()) + " pieces"));
    const SentencePieceFamily& family = sentencepiece_family(g.architecture);
    apply_added_tokens(v, f, family.added_tokens, warn);
    put_vocab(keys, "llama", kDefaultPreTokenizer, v);
    SpecialVocabOptions opt;
    opt.n_vocab = rows = v.size();
    put_special_vocab(keys, load_special_vocab(f, opt, warn));
    put_family_keys(keys, family, f, warn);
  } else {
    rows = put_bpe(keys, f, n_vocab, warn);
  }
  if (llama) put_llama_vocab_fixes(keys, f, rows, warn);
  replace_tokenizer_keys(g, keys);
  return true;
}

void attach_file(Graph& g, const std::string& path, uint64_t n_vocab, const TokenizerWarn& warn) {
  const auto file = MappedFile::open(path);
  Metadata keys;
  if (looks_like_json_object(file->bytes())) {
    attach_tokenizer_json(keys, *file, n_vocab, warn);
  } else if (file->size() <= kMaxLlama2cTokenizerBytes &&
             looks_like_llama2c_tokenizer(file->bytes())) {
    attach_llama2c(keys, *file, n_vocab);
  } else if (file->size() <= kMaxSentencePieceBytes && parses_as_sentencepiece(file->bytes())) {
    attach_sentencepiece(keys, *file, n_vocab);
  } else {
    throw InputError(
        path,
        "not a tokenizer owl reads: not a tokenizer.json, not a llama2.c tokenizer, "
        "and not a SentencePiece model (its protobuf does not parse, or holds no pieces)");
  }
  replace_tokenizer_keys(g, keys);
}

}  // namespace owl
