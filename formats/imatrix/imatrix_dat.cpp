#include "formats/imatrix/imatrix_dat.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "formats/imatrix/limits.h"
#include "formats/io/atomic_file.h"
#include "formats/io/byte_cursor.h"

namespace owl {
namespace {

using namespace imatrix;

// A non-negative int32 no larger than `max`.
int32_t read_count(ByteCursor& cur, std::string_view what, int64_t max) {
  const auto n = cur.read<int32_t>(what);
  if (n < 0 || n > max) cur.fail(std::string(what) + " is " + std::to_string(n));
  return n;
}

void read_entry(ByteCursor& cur, Imatrix& m, int32_t index) {
  const std::string at = "entry " + std::to_string(index + 1);
  const int32_t len = read_count(cur, at + ": name length", kMaxNameBytes);
  std::string name(cur.take_string(static_cast<uint64_t>(len), at + ": name"));
  const std::string where = at + " ('" + name + "')";
  const auto ncall = cur.read<int32_t>(where + ": ncall");
  // Bounded by the bytes left after the count itself.
  const int32_t nval =
      read_count(cur, where + ": number of values", static_cast<int64_t>(cur.remaining() / 4) - 1);
  if (nval < 1) cur.fail(where + " has no values");
  ImatrixEntry e;
  e.sums.resize(static_cast<size_t>(nval));
  const auto bytes = cur.take(static_cast<uint64_t>(nval) * 4, where + ": values");
  std::memcpy(e.sums.data(), bytes.data(), bytes.size());
  for (size_t i = 0; i < e.sums.size(); ++i)
    if (!std::isfinite(e.sums[i]))
      cur.fail(where + ": value " + std::to_string(i) + " is not finite");
  e.counts = {ncall};
  if (!m.entries.emplace(std::move(name), std::move(e)).second) cur.fail(where + " comes twice");
}

}  // namespace

Imatrix read_imatrix_dat(const MappedFile& file) {
  ByteCursor cur(file.bytes(), file.path());
  Imatrix m;
  m.format = ImatrixFormat::Dat;
  const int32_t n = read_count(cur, "number of entries",
                               static_cast<int64_t>(cur.remaining() / kMinDatEntryBytes));
  if (n < 1) cur.fail("no data: the imatrix has no entries");
  for (int32_t i = 0; i < n; ++i) read_entry(cur, m, i);
  // The chunk count and the dataset's name are optional: older files end after the entries.
  if (cur.at_end()) return m;
  m.chunk_count = cur.read<int32_t>("chunk count");
  if (cur.at_end()) return m;
  const int32_t len = read_count(cur, "dataset name length", kMaxDatasetBytes);
  if (len > 0) m.datasets.emplace_back(cur.take_string(static_cast<uint64_t>(len), "dataset name"));
  if (!cur.at_end()) cur.fail(std::to_string(cur.remaining()) + " bytes follow the dataset name");
  return m;
}

namespace {

template <typename T>
void put(AtomicFile& out, T value) {
  out.write(std::as_bytes(std::span<const T>(&value, 1)));
}

void put_string(AtomicFile& out, const std::string& s) {
  put(out, static_cast<int32_t>(s.size()));
  out.write(s);
}

}  // namespace

void write_imatrix_dat(const Imatrix& m, const std::string& path) {
  if (m.format == ImatrixFormat::Gguf && m.chunk_size <= 0)
    throw UsageError("an importance matrix without a chunk size cannot be written as .dat");
  // Entries whose every count is 0 are left out, as llama-imatrix leaves them out.
  std::vector<const std::pair<const std::string, ImatrixEntry>*> kept;
  for (const auto& kv : m.entries)
    if (std::any_of(kv.second.counts.begin(), kv.second.counts.end(),
                    [](int64_t c) { return c != 0; }))
      kept.push_back(&kv);
  AtomicFile out(path);
  put(out, static_cast<int32_t>(kept.size()));
  for (const auto* kv : kept) {
    const ImatrixEntry& e = kv->second;
    put_string(out, kv->first);
    std::vector<float> values = e.sums;
    int32_t ncall = static_cast<int32_t>(e.counts.empty() ? 0 : e.counts[0]);
    if (m.format == ImatrixFormat::Gguf) {
      // Mean squares times the chunks seen (rounded up), as llama.cpp's legacy format holds them.
      const int64_t most = *std::max_element(e.counts.begin(), e.counts.end());
      ncall = static_cast<int32_t>((most + m.chunk_size - 1) / m.chunk_size);
      const size_t cols = e.columns();
      for (size_t i = 0; i < values.size(); ++i) {
        float count = static_cast<float>(e.counts[i / cols]);
        float value = e.sums[i];
        if (count == 0.0f) value = count = 1.0f;  // an expert no token reached
        values[i] = (value / count) * static_cast<float>(ncall);
      }
    }
    put(out, ncall);
    put(out, static_cast<int32_t>(values.size()));
    out.write(std::as_bytes(std::span<const float>(values)));
  }
  put(out, m.chunk_count);
  put_string(out, m.datasets.empty() ? std::string() : m.datasets.back());
  out.commit();
}

}  // namespace owl
