#include "formats/tensor_stream.h"

#include <stdexcept>

#include "formats/io/hash.h"

namespace owl {

uint64_t stream_tensor(AtomicFile& f, const Tensor& t, Progress* progress, std::string* xxh3) {
  uint64_t written = 0;
  Xxh3Hasher hasher;
  if (t.data) {
    for_each_chunk(*t.data, [&](std::span<const std::byte> chunk) {
      if (xxh3) hasher.update(chunk);
      f.write(chunk);
      written += chunk.size();
      if (progress) progress->advance(0, chunk.size());
    });
    t.data->release();
  }
  if (written != t.byte_size())
    throw std::logic_error("tensor '" + t.name + "' produced the wrong byte count");
  if (progress) progress->advance(1, 0);
  if (xxh3) *xxh3 = hasher.hex();
  return written;
}

Metadata with_late_values(const Metadata& meta, const Metadata& late) {
  Metadata out = meta;
  for (const auto& [k, v] : late) {
    if (!out.find(k)) throw std::logic_error("no placeholder for metadata key '" + k + "'");
    out.set(k, v);
  }
  return out;
}

}  // namespace owl
