#include "formats/imatrix/imatrix.h"

#include <cstring>

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
