// The fuzz targets that open a path as the CLI does, in one table: fuzz_open_path.cpp is built
// once per row, and the regression test replays each row's kept inputs through the same setup.
// A row's input is written as `file` into a private folder that holds the other files of
// `fixture`; then `open` ("" = the folder) is opened, with `tokenizer` as --tokenizer.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_common.h"
#include "tests/fuzz/scratch_dir.h"

namespace owl::fuzz {

struct PathTarget {
  std::string_view name;
  std::string_view format;  // inputs found are kept in tests/data/<format>/fuzz_regressions/<name>/
  std::string_view file;
  std::string_view fixture;  // under tests/data; "" for none
  std::string_view open;
  std::string_view tokenizer;
};

inline constexpr PathTarget kPathTargets[] = {
    {"fuzz_gguf", "gguf", "model.gguf", "", "model.gguf", ""},
    // The second part of a split pair whose first part is fixed (made with GgufBuilder).
    {"fuzz_gguf_split", "gguf", "m-00002-of-00002.gguf", "gguf/split", "m-00001-of-00002.gguf", ""},
    {"fuzz_safetensors", "safetensors", "model.safetensors", "", "model.safetensors", ""},
    {"fuzz_safetensors_index", "safetensors", "model.safetensors.index.json", "hf/tiny-llama3",
     "model.safetensors.index.json", ""},
    {"fuzz_llama2c", "llama2c", "model.bin", "stories260K", "model.bin", "tok512.bin"},
    {"fuzz_llama2c_tokenizer", "llama2c", "tok512.bin", "stories260K", "stories260K.bin",
     "tok512.bin"},
    // Hugging Face folders: one file fuzzed, the rest of a tiny model's folder beside it.
    {"fuzz_hf_config", "hf", "config.json", "hf/tiny-llama3", "", ""},
    {"fuzz_hf_tokenizer_json", "hf", "tokenizer.json", "hf/tiny-llama3", "", ""},
    {"fuzz_hf_tokenizer_config", "hf", "tokenizer_config.json", "hf/tiny-llama3", "", ""},
    {"fuzz_model_card", "hf", "README.md", "hf/tiny-llama3", "", ""},
    {"fuzz_sentencepiece", "tokenizers", "tokenizer.model", "hf/tiny-mistral", "", ""},
    // EmbeddingGemma's sentence-transformers module list (its pooling module folder is not
    // copied: a module path the fuzzer makes may still reach a config.json).
    {"fuzz_st_modules", "hf", "modules.json", "hf/tiny-embeddinggemma", "", ""},
};

inline const PathTarget* find_path_target(std::string_view name) {
  for (const auto& t : kPathTargets)
    if (t.name == name) return &t;
  return nullptr;
}

// Copies the fixture's files (all but the fuzzed one) into `dir`.
inline void prepare(const PathTarget& t, const ScratchDir& dir, const std::filesystem::path& data) {
  if (!t.fixture.empty()) dir.copy_files_of(data / t.fixture, std::string(t.file));
}

// One input through the row's CLI path.
inline void run(const PathTarget& t, const ScratchDir& dir, std::string_view input) {
  dir.put(std::string(t.file), input);
  const std::string open = t.open.empty() ? dir.path().string() : dir.file(std::string(t.open));
  const std::string tokenizer = t.tokenizer.empty() ? "" : dir.file(std::string(t.tokenizer));
  open_like_cli(open, tokenizer);
}

}  // namespace owl::fuzz
