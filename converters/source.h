// Lazy tensor data: nothing is read or computed until a consumer pulls it, a chunk at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

namespace owl {

class MappedFile;

// A tensor's bytes, produced on demand. Implementations are immutable and thread-safe, so a
// driver may read one tensor while another is being processed.
class Source {
 public:
  virtual ~Source() = default;
  virtual uint64_t byte_size() const = 0;
  // Reads must start and end on multiples of this many bytes (an element, a block, a row).
  virtual uint64_t granule() const { return 1; }
  // Fills `out` with the bytes [offset, offset + out.size()).
  virtual void read(uint64_t offset, std::span<std::byte> out) const = 0;
  // The bytes in place, when they already exist contiguously in memory (a mapped file).
  virtual std::span<const std::byte> view() const { return {}; }
  // The consumer is done with these bytes: drop whatever memory holds them. Purely a memory
  // hint: a later read still returns the same bytes.
  virtual void release() const {}
  // The same for the bytes [offset, offset + length) alone, so a consumer streaming a large
  // tensor holds only the chunk in hand.
  virtual void release_range(uint64_t /*offset*/, uint64_t /*length*/) const {}
};

using SourcePtr = std::shared_ptr<const Source>;

// A range of a memory-mapped file, zero-copy.
class MappedSource final : public Source {
 public:
  MappedSource(std::shared_ptr<const MappedFile> file, uint64_t offset, uint64_t size)
      : file_(std::move(file)), offset_(offset), size_(size) {}
  uint64_t byte_size() const override { return size_; }
  void read(uint64_t offset, std::span<std::byte> out) const override;
  std::span<const std::byte> view() const override;
  void release() const override;
  void release_range(uint64_t offset, uint64_t length) const override;
  const MappedFile& file() const { return *file_; }
  uint64_t file_offset() const { return offset_; }

 private:
  std::shared_ptr<const MappedFile> file_;
  uint64_t offset_;
  uint64_t size_;
};

// Bytes held in memory (small tensors made by owl itself, tests).
class BufferSource final : public Source {
 public:
  explicit BufferSource(std::vector<std::byte> bytes) : bytes_(std::move(bytes)) {}
  uint64_t byte_size() const override { return bytes_.size(); }
  void read(uint64_t offset, std::span<std::byte> out) const override;
  std::span<const std::byte> view() const override { return bytes_; }

 private:
  std::vector<std::byte> bytes_;
};

// Default chunk for streaming a source: large enough for full-speed I/O, small enough that a
// cast or quantize buffer stays far below a model's size.
inline constexpr uint64_t kStreamChunkBytes = 16u << 20;

// Calls `fn` on consecutive chunks of the source, in order, releasing each chunk's memory once
// `fn` returns. Zero-copy where the source has a view; otherwise through one reusable buffer of
// at most `chunk_bytes` (rounded to the granule).
void for_each_chunk(const Source& src, const std::function<void(std::span<const std::byte>)>& fn,
                    uint64_t chunk_bytes = kStreamChunkBytes);

// The whole source in one buffer.
std::vector<std::byte> read_all(const Source& src);

}  // namespace owl
