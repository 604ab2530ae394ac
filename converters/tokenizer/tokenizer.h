// Tokenizer metadata: reads a model's tokenizer files and sets the tokenizer.ggml.* keys (and
// tokenizer.chat_template) as llama.cpp's convert_hf_to_gguf.py writes them, so that llama.cpp
// tokenizes a converted model as the original tokenizer does.
//
// Both calls first build every key, then replace the graph's tokenizer.* keys with them (at the
// end of the metadata, in the order convert_hf_to_gguf.py writes them). Bad input throws
// InputError naming the file and leaves the graph as it was.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "converters/graph.h"

namespace owl {

// Receives warnings (an unrecognised pre-tokenizer, an out-of-range special token id...): a
// conversion goes on after them, but the user should see them.
using TokenizerWarn = std::function<void(const std::string&)>;

// Prints "owl: warning: ..." on standard error.
void warn_on_stderr(const std::string& message);

// The tokenizer of a Hugging Face model folder: tokenizer.model (SentencePiece) when there is
// one, else tokenizer.json (byte-level BPE), with what added_tokens.json, tokenizer_config.json,
// chat_template.jinja, chat_template.json and config.json add (special token ids, add_bos/add_eos,
// chat templates). generation_config.json's sampling defaults are general.* keys, which the
// architecture pass writes; special_tokens_map.json is not read, as convert_hf_to_gguf.py does
// not read it either.
// `n_vocab` is the number of rows of token_embd.weight: the token list is padded to it with
// [PAD{id}] tokens, and a tokenizer with more tokens than that is an error. 0 means the model
// has no embedding to check against, and the tokenizer's own count is used.
// g.architecture (the Hugging Face model_type, or the GGUF name) picks the llama-only keys
// (add_space_prefix, CodeLlama's EOT) as convert_hf_to_gguf.py's LlamaModel does, and the
// SentencePiece differences of the Gemma and Phi-3 families (families.h). Returns false, and
// changes nothing, when the folder has no tokenizer.
bool attach_from_folder(Graph& g, const std::string& folder, uint64_t n_vocab,
                        const TokenizerWarn& warn = warn_on_stderr);

// One tokenizer file, recognised by its bytes: a SentencePiece tokenizer.model, a
// tokenizer.json, or a llama2.c tokenizer (tok512.bin, tokenizer.bin). Only that file is read.
void attach_file(Graph& g, const std::string& path, uint64_t n_vocab,
                 const TokenizerWarn& warn = warn_on_stderr);

}  // namespace owl
