// The zip container of PyTorch >= 1.6 checkpoints: a validated central directory over a byte
// span. Only stored (uncompressed) entries are read, as torch writes them; their bytes are
// zero-copy views of the span.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace owl::pytorch {

// A checkpoint holds a few files per storage; a million is far beyond any real model.
inline constexpr uint64_t kMaxZipEntries = 1u << 20;
// Entry names are short paths ("archive/data/123").
inline constexpr uint64_t kMaxZipNameBytes = 4096;
// Where the end-of-central-directory record may start: its fixed part plus the longest comment.
inline constexpr uint64_t kZipEocdBytes = 22;
inline constexpr uint64_t kMaxZipCommentBytes = 65535;

struct ZipEntry {
  std::string name;
  uint64_t header_offset = 0;  // the local header, from the start of the span
  uint64_t data_offset = 0;    // the entry's first byte, from the start of the span
  uint64_t size = 0;           // stored: compressed size == uncompressed size
  uint32_t crc32 = 0;          // as the central directory records it
};

class ZipArchive {
 public:
  // Validates the whole directory: the end record (and zip64 end record and locator when
  // present), every central entry against its local header (name, method, sizes), names
  // (non-empty, no NUL, unique), bounds (every header and entry inside the span, before the
  // central directory) and overlap (no two entries share a byte). A compressed or encrypted
  // entry is refused. `file` names the input in every InputError.
  static ZipArchive parse(std::span<const std::byte> bytes, std::string file);

  const std::string& file() const { return file_; }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  // The entry with exactly this name, or nullptr.
  const ZipEntry* find(std::string_view name) const;
  // The entry's bytes, zero-copy.
  std::span<const std::byte> data(const ZipEntry& e) const {
    return bytes_.subspan(e.data_offset, e.size);
  }
  // Throws InputError if the entry's bytes do not match its recorded CRC-32 (reads them all).
  void verify_crc(const ZipEntry& e) const;

 private:
  ZipArchive(std::span<const std::byte> bytes, std::string file)
      : bytes_(bytes), file_(std::move(file)) {}
  std::span<const std::byte> bytes_;
  std::string file_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

// True if the bytes start with a zip local file header ("PK\3\4").
bool looks_like_zip(std::span<const std::byte> head);

// The CRC-32 (zip's, IEEE 802.3 reflected) of the bytes.
uint32_t crc32(std::span<const std::byte> bytes);

}  // namespace owl::pytorch
