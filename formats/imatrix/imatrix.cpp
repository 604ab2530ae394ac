#include "formats/imatrix/imatrix.h"

#include <algorithm>
#include <cstring>

#include "formats/io/error.h"

#include "formats/gguf/reader.h"
#include "formats/imatrix/imatrix_dat.h"
#include "formats/imatrix/imatrix_gguf.h"
#include "formats/io/mapped_file.h"

namespace owl {

Imatrix read_imatrix(const std::string& path) {
  auto file = MappedFile::open(path);
  if (gguf::looks_like_gguf(file->bytes())) return read_imatrix_gguf(path);
  return read_imatrix_dat(*file);
}

namespace {

void add_entry(ImatrixEntry& e, const ImatrixEntry& from, bool legacy, int32_t chunk_size,
               const std::string& where) {
  const size_t nval = from.sums.size(), ncounts = legacy ? 1 : from.counts.size();
  if (e.sums.empty()) e.sums.assign(nval, 0.0f);
  if (e.sums.size() != nval)
    throw InputError(where, std::to_string(nval) + " sums, where earlier files had " +
                                std::to_string(e.sums.size()));
  // One count given to an entry of experts holds for each of them.
  if (e.counts.empty()) e.counts.assign(ncounts, 0);
  if (e.counts.size() == 1 && ncounts > 1) e.counts.assign(ncounts, e.counts[0]);
  if (!legacy && e.counts.size() != ncounts)
    throw InputError(where, std::to_string(ncounts) + " counts, where earlier files had " +
                                std::to_string(e.counts.size()));
  for (size_t j = 0; j < nval; ++j)
    e.sums[j] += legacy ? from.sums[j] * static_cast<float>(chunk_size) : from.sums[j];
  for (size_t j = 0; j < e.counts.size(); ++j)
    e.counts[j] += legacy ? from.counts[0] * chunk_size : from.counts[j];
}

}  // namespace

void accumulate(Imatrix& into, const Imatrix& from, const std::string& file, int32_t chunk_size) {
  const bool legacy = from.format == ImatrixFormat::Dat;
  for (const auto& [name, e] : from.entries)
    add_entry(into.entries[name], e, legacy, chunk_size, file + ": entry '" + name + "'");
  into.datasets.insert(into.datasets.end(), from.datasets.begin(), from.datasets.end());
  int64_t most = 0;
  for (const auto& kv : into.entries)
    for (const int64_t c : kv.second.counts) most = std::max(most, c);
  into.format = ImatrixFormat::Gguf;
  into.chunk_size = chunk_size;
  into.chunk_count = static_cast<int32_t>(most / chunk_size);
  into.has_metadata = true;
}

std::map<std::string, std::vector<float>> importance_weights(const Imatrix& m) {
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, e] : m.entries) {
    std::vector<float>& w = out[name];
    w.resize(e.sums.size());
    if (m.format == ImatrixFormat::Dat) {
      // The values are (sum / count) * ncall: dividing by ncall gives the mean square.
      const int64_t ncall = e.counts.empty() ? 0 : e.counts[0];
      for (size_t i = 0; i < w.size(); ++i)
        w[i] = ncall > 0 ? e.sums[i] / static_cast<float>(ncall) : e.sums[i];
      continue;
    }
    const size_t cols = e.columns();
    for (size_t x = 0; x < e.experts(); ++x) {
      // An expert no token reached weighs every column alike, as llama-quantize does.
      const auto count = static_cast<float>(e.counts[x]);
      for (size_t c = 0; c < cols; ++c)
        w[x * cols + c] = count > 0 ? e.sums[x * cols + c] / count : 1.0f;
    }
  }
  return out;
}

}  // namespace owl
