#include "converters/source.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "formats/io/mapped_file.h"

namespace owl {

void MappedSource::read(uint64_t offset, std::span<std::byte> out) const {
  if (offset > size_ || out.size() > size_ - offset) throw std::out_of_range("MappedSource::read");
  if (out.empty()) return;  // an empty span's data() may be null, which memcpy must not get
  std::memcpy(out.data(), file_->slice(offset_ + offset, out.size()).data(), out.size());
}

std::span<const std::byte> MappedSource::view() const { return file_->slice(offset_, size_); }

void MappedSource::release() const { file_->release(offset_, size_); }

void MappedSource::release_range(uint64_t offset, uint64_t length) const {
  file_->release(offset_ + offset, length);
}

void BufferSource::read(uint64_t offset, std::span<std::byte> out) const {
  if (offset > bytes_.size() || out.size() > bytes_.size() - offset)
    throw std::out_of_range("BufferSource::read");
  if (out.empty()) return;  // an empty span's data() may be null, which memcpy must not get
  std::memcpy(out.data(), bytes_.data() + offset, out.size());
}

void for_each_chunk(const Source& src, const std::function<void(std::span<const std::byte>)>& fn,
                    uint64_t chunk_bytes) {
  const uint64_t total = src.byte_size();
  auto whole = src.view();
  if (whole.size() == total && (total == 0 || whole.data() != nullptr)) {
    // Zero-copy, but still in chunks so a consumer can release or report progress as it goes.
    for (uint64_t off = 0; off < total; off += chunk_bytes) {
      const uint64_t n = std::min(chunk_bytes, total - off);
      fn(whole.subspan(off, n));
      src.release_range(off, n);
    }
    return;
  }
  const uint64_t granule = std::max<uint64_t>(1, src.granule());
  const uint64_t step = std::max(granule, chunk_bytes / granule * granule);
  std::vector<std::byte> buffer(std::min(step, total));
  for (uint64_t off = 0; off < total; off += step) {
    const uint64_t n = std::min(step, total - off);
    std::span<std::byte> chunk(buffer.data(), n);
    src.read(off, chunk);
    fn(chunk);
    src.release_range(off, n);
  }
}

std::vector<std::byte> read_all(const Source& src) {
  std::vector<std::byte> out(src.byte_size());
  if (out.empty()) return out;  // nothing to copy, and memcpy must not get a null pointer
  auto whole = src.view();
  if (whole.size() == out.size() && whole.data()) {
    std::memcpy(out.data(), whole.data(), out.size());
  } else {
    src.read(0, out);
  }
  return out;
}

}  // namespace owl
