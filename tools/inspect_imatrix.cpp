#include "tools/inspect_imatrix.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "formats/gguf/reader.h"
#include "formats/imatrix/imatrix.h"
#include "formats/imatrix/limits.h"
#include "formats/io/mapped_file.h"
#include "formats/io/utf8.h"
#include "formats/json/strict_json.h"
#include "tools/human.h"

namespace owl {
namespace {

// A GGUF whose general.type says imatrix, or a .dat (the legacy format has no magic).
bool is_imatrix(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  if (!gguf::looks_like_gguf(MappedFile::open(path)->bytes()))
    return std::filesystem::path(path).extension() == ".dat";
  const auto type = gguf::read(path).metadata.get_string(imatrix::kTypeKey);
  return type && *type == imatrix::kTypeValue;
}

size_t zero_counts(const ImatrixEntry& e) {
  return static_cast<size_t>(std::count(e.counts.begin(), e.counts.end(), 0));
}

int64_t most_tokens(const ImatrixEntry& e) {
  return e.counts.empty() ? 0 : *std::max_element(e.counts.begin(), e.counts.end());
}

Json to_json(const Imatrix& m) {
  Json j;
  j["format"] = m.format == ImatrixFormat::Gguf ? "gguf" : "dat";
  j["entries"] = m.entries.size();
  j["chunks"] = m.chunk_count;
  if (m.format == ImatrixFormat::Gguf) j["chunk_size"] = m.chunk_size;
  j["datasets"] = m.datasets;
  j["zero_counts"] = Json::array();
  j["tensors"] = Json::array();
  for (const auto& [name, e] : m.entries) {
    if (zero_counts(e)) j["zero_counts"].push_back(name);
    Json t;
    t["name"] = name;
    t["experts"] = e.experts();
    t["columns"] = e.columns();
    t[m.format == ImatrixFormat::Gguf ? "counts" : "ncall"] = e.counts;
    j["tensors"].push_back(std::move(t));
  }
  return j;
}

void print_table(const std::string& path, const Imatrix& m) {
  const bool gguf = m.format == ImatrixFormat::Gguf;
  std::printf("%s: importance matrix (%s), %zu entries, %d chunks", printable(path).c_str(),
              gguf ? "GGUF" : "legacy .dat", m.entries.size(), m.chunk_count);
  if (gguf) std::printf(" of %d tokens", m.chunk_size);
  std::printf("\ndatasets: ");
  for (size_t i = 0; i < m.datasets.size(); ++i)
    std::printf("%s%s", i ? ", " : "", printable(m.datasets[i]).c_str());
  std::printf("%s\n", m.datasets.empty() ? "(none)" : "");
  size_t name_w = 6;
  for (const auto& kv : m.entries) name_w = std::max(name_w, kv.first.size());
  std::printf("\n%-*s  %7s  %7s  %12s  %s\n", static_cast<int>(name_w), "tensor", "experts",
              "columns", gguf ? "tokens" : "ncall", "experts without tokens");
  size_t partial = 0;
  for (const auto& [name, e] : m.entries) {
    const size_t zeros = zero_counts(e);
    partial += zeros > 0;
    std::printf("%-*s  %7zu  %7zu  %12s  %s\n", static_cast<int>(name_w), printable(name).c_str(),
                e.experts(), e.columns(),
                with_commas(static_cast<uint64_t>(most_tokens(e))).c_str(),
                zeros ? std::to_string(zeros).c_str() : "");
  }
  std::printf("\n%zu of %zu entries have experts (or a matrix) that no token reached\n", partial,
              m.entries.size());
}

}  // namespace

bool inspect_imatrix(const std::string& path, bool json) {
  if (!is_imatrix(path)) return false;
  const Imatrix m = read_imatrix(path);
  if (json)
    std::cout << to_json(m).dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  else
    print_table(path, m);
  return true;
}

}  // namespace owl
