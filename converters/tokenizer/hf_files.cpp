#include "converters/tokenizer/hf_files.h"

#include <filesystem>

#include "converters/tokenizer/json_util.h"
#include "converters/tokenizer/limits.h"

namespace owl::tok {
namespace fs = std::filesystem;
namespace {

std::optional<JsonFile> read_if_present(const fs::path& path, uint64_t max_bytes) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  return JsonFile{path.string(), read_json_object(path.string(), max_bytes)};
}

}  // namespace

HfTokenizerFiles read_hf_tokenizer_files(const std::string& folder) {
  const fs::path dir(folder);
  HfTokenizerFiles f;
  f.folder = folder;
  std::error_code ec;
  if (fs::is_regular_file(dir / "tokenizer.model", ec))
    f.sentencepiece = (dir / "tokenizer.model").string();
  f.tokenizer = read_if_present(dir / "tokenizer.json", kMaxTokenizerJsonBytes);
  f.tokenizer_config = read_if_present(dir / "tokenizer_config.json", kMaxSideFileBytes);
  f.added_tokens = read_if_present(dir / "added_tokens.json", kMaxSideFileBytes);
  f.config = read_if_present(dir / "config.json", kMaxSideFileBytes);
  return f;
}

}  // namespace owl::tok
