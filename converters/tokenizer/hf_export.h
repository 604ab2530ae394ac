// GGUF tokenizer metadata (tokenizer.ggml.*) -> the Hugging Face tokenizer files, so that
// AutoTokenizer loads a folder converted back from GGUF and splits text as llama.cpp does.
#pragma once

#include <optional>
#include <string>

#include "converters/metadata.h"
#include "formats/json/strict_json.h"

namespace owl::tok {

// What the tokenizer files hold; a byte-level BPE is a tokenizer.json, a SentencePiece
// vocabulary a tokenizer.model and special_tokens_map.json.
struct TokenizerJsonFiles {
  Json tokenizer;                   // tokenizer.json; null when there is none
  std::string sentencepiece_model;  // tokenizer.model (serialized); empty when there is none
  Json tokenizer_config;            // tokenizer_config.json
  Json special_tokens_map;          // special_tokens_map.json; null when there is none
};

struct HfTokenizerExport {
  std::optional<TokenizerJsonFiles> files;
  std::string why_not;  // when files is empty: what the GGUF's tokenizer lacks or has
};

// A byte-level BPE ("gpt2") with a pre-tokenizer owl knows becomes a BPE tokenizer.json with
// that split; a SentencePiece vocabulary ("llama") a tokenizer.model for LlamaTokenizer, which
// convert_hf_to_gguf.py and owl read back to the same tokenizer.ggml.* keys. Other models
// (WordPiece, RWKV, ...) and vocabularies that repeat a token are not exported.
HfTokenizerExport export_hf_tokenizer(const Metadata& m);

}  // namespace owl::tok
