#include "converters/normalize.h"

#include <filesystem>

#include "converters/arch/arch.h"
#include "converters/tokenizer/tokenizer.h"

namespace owl {
namespace {

// Rows of the token embedding, under its Hugging Face or canonical name; 0 if there is none.
uint64_t embedding_rows(const Graph& g) {
  for (const auto& t : g.tensors)
    if ((t.name.ends_with("embed_tokens.weight") || t.name == "token_embd.weight") &&
        t.shape.size() == 2)
      return t.shape[0];
  return 0;
}

}  // namespace

void normalize(Graph& g, const std::string& input, const NormalizeOptions& opt) {
  if (g.format == "gguf") return;
  arch::check_convertible(g);
  // The tokenizer goes first: Gemma 3's normalizer trims the embedding to its vocabulary, and
  // the tokenizer reads the Hugging Face architecture name to pick llama-only keys.
  const uint64_t rows = embedding_rows(g);
  if (!opt.tokenizer.empty()) {
    attach_file(g, opt.tokenizer, rows, opt.warn);
  } else if (std::filesystem::is_directory(input)) {
    attach_from_folder(g, input, rows, opt.warn);
  }
  arch::to_gguf(g, opt.warn, {.sentence_transformers_dense = opt.sentence_transformers_dense});
}

}  // namespace owl
