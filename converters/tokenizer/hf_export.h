// GGUF tokenizer metadata (tokenizer.ggml.*) -> the Hugging Face tokenizer files, so that
// AutoTokenizer loads a folder converted back from GGUF and splits text as llama.cpp does.
#pragma once

#include <optional>
#include <string>

#include "converters/metadata.h"
#include "formats/json/strict_json.h"

namespace owl::tok {

struct TokenizerJsonFiles {
  Json tokenizer;         // tokenizer.json
  Json tokenizer_config;  // tokenizer_config.json
};

struct HfTokenizerExport {
  std::optional<TokenizerJsonFiles> files;
  std::string why_not;  // when files is empty: what the GGUF's tokenizer lacks or has
};

// A byte-level BPE ("gpt2") with a pre-tokenizer owl knows becomes a BPE tokenizer.json with
// that split. SentencePiece vocabularies (which would need a tokenizer.model), other models
// (WordPiece, RWKV, ...) and vocabularies that repeat a token are not exported.
HfTokenizerExport export_hf_tokenizer(const Metadata& m);

}  // namespace owl::tok
