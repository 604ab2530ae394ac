// Importance matrices as llama.cpp's llama-imatrix writes them: the GGUF format (`<tensor>.in_sum2`
// and `<tensor>.counts`, general.type = imatrix) and the legacy `.dat`. Per tensor, the sum over
// the tokens seen of each input column's squared activation, per expert matrix, and how many
// tokens each matrix saw.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace owl {

struct ImatrixEntry {
  // experts x columns, expert-major. GGUF: raw sums. Legacy: (sum / count) * ncall.
  std::vector<float> sums;
  // One per expert (GGUF: tokens seen); legacy: one value, the chunks (ncall) it was saved after.
  std::vector<int64_t> counts;

  size_t experts() const { return counts.size(); }
  size_t columns() const { return counts.empty() ? 0 : sums.size() / counts.size(); }
};

enum class ImatrixFormat : uint8_t { Gguf, Dat };

struct Imatrix {
  std::map<std::string, ImatrixEntry> entries;  // by tensor name, sorted as llama.cpp sorts them
  std::vector<std::string> datasets;            // the texts it was computed on
  int32_t chunk_count = 0;
  int32_t chunk_size = 0;  // tokens per chunk; 0 in a legacy file
  ImatrixFormat format = ImatrixFormat::Gguf;
  // A GGUF file with imatrix.datasets, imatrix.chunk_count and imatrix.chunk_size (llama-quantize
  // refuses one without them); a legacy file has none of these keys.
  bool has_metadata = false;
};

// Reads either format (a GGUF by its magic, anything else as legacy). Everything is checked: the
// sizes against the file, F32 sums and counts in pairs, whole rows per expert, finite sums, counts
// that are whole non-negative numbers. Throws InputError naming the file (and the entry).
Imatrix read_imatrix(const std::string& path);

// As llama-imatrix writes them: entries in name order; the GGUF with general.type, the datasets,
// chunk count and size; the .dat with every count turned into (sum / count) * ncall as llama.cpp
// does, the chunk count and the last dataset at its end. The file appears whole or not at all.
void write_imatrix_gguf(const Imatrix& m, const std::string& path);
void write_imatrix_dat(const Imatrix& m, const std::string& path);

// Adds `from` (read from `file`) into `into` as llama-imatrix --in-file combines matrices: raw
// sums and token counts added per entry (a legacy file's values and ncall times `chunk_size`),
// datasets appended, the chunk count the largest count over `chunk_size`. `into` holds raw
// (GGUF-style) sums with chunk size `chunk_size`. Throws InputError naming the file and entry
// when an entry's size differs from one already added.
void accumulate(Imatrix& into, const Imatrix& from, const std::string& file, int32_t chunk_size);

// What llama-quantize quantizes with, per tensor: experts x columns importances. GGUF: each
// expert's sums divided by its count (1 where the count is 0); legacy: the values divided by
// ncall.
std::map<std::string, std::vector<float>> importance_weights(const Imatrix& m);

}  // namespace owl
