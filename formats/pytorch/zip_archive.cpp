#include "formats/pytorch/zip_archive.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>

#include "formats/io/byte_cursor.h"
#include "formats/io/checked_math.h"
#include "formats/io/error.h"

namespace owl::pytorch {
namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint64_t kLocalHeaderBytes = 30;
constexpr uint64_t kZip64LocatorBytes = 20;
constexpr uint64_t kZip64EocdBytes = 56;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint16_t kFlagEncrypted = 1u << 0;
constexpr uint16_t kMethodStored = 0;
constexpr uint16_t kU16Max = 0xFFFF;
constexpr uint32_t kU32Max = 0xFFFFFFFF;

// The fields a local header and a central directory entry share, in the same order.
struct EntryFields {
  uint16_t flags, method;
  uint32_t crc, compressed, uncompressed;
  uint16_t name_len, extra_len;
};

EntryFields read_entry_fields(ByteCursor& c) {
  EntryFields f{};
  f.flags = c.read<uint16_t>("flags");
  f.method = c.read<uint16_t>("method");
  c.skip(4, "time and date");
  f.crc = c.read<uint32_t>("crc");
  f.compressed = c.read<uint32_t>("compressed size");
  f.uncompressed = c.read<uint32_t>("uncompressed size");
  f.name_len = c.read<uint16_t>("name length");
  f.extra_len = c.read<uint16_t>("extra length");
  return f;
}

uint32_t le32(std::span<const std::byte> b, uint64_t at) {
  uint32_t v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

// Where the central directory is, from the end record (and the zip64 one when it is used).
struct Directory {
  uint64_t entries = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t end = 0;  // the first byte of the end records: the directory must stop before it
};

// The end record is the last thing in the file, followed only by its comment; scanning back
// for its signature, the right one is the one whose comment length reaches the end exactly.
uint64_t find_eocd(std::span<const std::byte> bytes, const std::string& file) {
  if (bytes.size() < kZipEocdBytes)
    throw InputError(file, "zip archive too short for an end-of-central-directory record");
  const uint64_t last = bytes.size() - kZipEocdBytes;
  const uint64_t first = last > kMaxZipCommentBytes ? last - kMaxZipCommentBytes : 0;
  for (uint64_t pos = last + 1; pos-- > first;) {
    if (le32(bytes, pos) != kEocdSig) continue;
    uint16_t comment;
    std::memcpy(&comment, bytes.data() + pos + 20, sizeof comment);
    if (pos + kZipEocdBytes + comment == bytes.size()) return pos;
  }
  throw InputError(file,
                   "zip archive has no end-of-central-directory record (truncated or not a zip)");
}

Directory read_directory_location(std::span<const std::byte> bytes, const std::string& file) {
  const uint64_t eocd = find_eocd(bytes, file);
  ByteCursor c(bytes.subspan(eocd + 4, kZipEocdBytes - 4), file);
  const uint16_t disk = c.read<uint16_t>("disk number");
  const uint16_t cd_disk = c.read<uint16_t>("central directory disk");
  const uint16_t disk_entries = c.read<uint16_t>("entries on this disk");
  const uint16_t total = c.read<uint16_t>("entry count");
  const uint32_t cd_size = c.read<uint32_t>("central directory size");
  const uint32_t cd_offset = c.read<uint32_t>("central directory offset");

  Directory d{total, cd_offset, cd_size, eocd};
  const bool has_locator =
      eocd >= kZip64LocatorBytes && le32(bytes, eocd - kZip64LocatorBytes) == kZip64LocatorSig;
  const bool needs_zip64 =
      total == kU16Max || disk_entries == kU16Max || cd_size == kU32Max || cd_offset == kU32Max;
  if (needs_zip64 && !has_locator)
    throw InputError(file,
                     "zip end record defers to a zip64 record, but there is no zip64 locator");
  if (!has_locator) {
    if (disk != 0 || cd_disk != 0 || disk_entries != total)
      throw InputError(file, "zip archive spans several disks, which a checkpoint never does");
    return d;
  }

  ByteCursor loc(bytes.subspan(eocd - kZip64LocatorBytes + 4, kZip64LocatorBytes - 4), file);
  const uint32_t z64_disk = loc.read<uint32_t>("zip64 locator disk");
  const uint64_t z64_offset = loc.read<uint64_t>("zip64 end record offset");
  const uint32_t disks = loc.read<uint32_t>("zip64 disk count");
  if (z64_disk != 0 || disks > 1) throw InputError(file, "zip64 locator names another disk");
  const uint64_t locator = eocd - kZip64LocatorBytes;
  if (z64_offset > locator || locator - z64_offset < kZip64EocdBytes)
    throw InputError(file, "zip64 end record offset " + std::to_string(z64_offset) +
                               " does not leave room for the record before its locator");
  if (le32(bytes, z64_offset) != kZip64EocdSig)
    throw InputError(file, "no zip64 end record at offset " + std::to_string(z64_offset));
  ByteCursor z(bytes.subspan(z64_offset + 4, locator - z64_offset - 4), file);
  const uint64_t record_size = z.read<uint64_t>("zip64 end record size");
  if (record_size < kZip64EocdBytes - 12 || record_size != locator - z64_offset - 12)
    throw InputError(file, "zip64 end record size " + std::to_string(record_size) +
                               " does not reach its locator");
  z.skip(4, "zip64 versions");
  const uint32_t d64 = z.read<uint32_t>("zip64 disk number");
  const uint32_t cd64_disk = z.read<uint32_t>("zip64 central directory disk");
  const uint64_t entries_here = z.read<uint64_t>("zip64 entries on this disk");
  const uint64_t entries = z.read<uint64_t>("zip64 entry count");
  const uint64_t size64 = z.read<uint64_t>("zip64 central directory size");
  const uint64_t offset64 = z.read<uint64_t>("zip64 central directory offset");
  if (d64 != 0 || cd64_disk != 0 || entries_here != entries)
    throw InputError(file, "zip archive spans several disks, which a checkpoint never does");
  // Fields the classic record holds in full must agree with the zip64 record.
  if ((total != kU16Max && total != entries) || (cd_size != kU32Max && cd_size != size64) ||
      (cd_offset != kU32Max && cd_offset != offset64))
    throw InputError(file, "zip end record and zip64 end record disagree on the central directory");
  return {entries, offset64, size64, z64_offset};
}

struct Zip64Fields {
  uint64_t uncompressed, compressed, offset;
};

// The zip64 extra field holds, in this order, only the fields whose 32-bit slot is all ones.
void apply_zip64_extra(std::span<const std::byte> extra, Zip64Fields& f, bool want_uncompressed,
                       bool want_compressed, bool want_offset, const std::string& file,
                       const std::string& name) {
  const bool wanted = want_uncompressed || want_compressed || want_offset;
  ByteCursor c(extra, file);
  bool seen = false;
  while (c.remaining() >= 4) {
    const uint16_t id = c.read<uint16_t>("extra field id");
    const uint16_t len = c.read<uint16_t>("extra field length");
    if (len > c.remaining())
      throw InputError(file, "zip entry '" + name + "': extra field runs past its header");
    auto body = c.take(len, "extra field");
    if (id != kZip64ExtraId) continue;
    if (seen) throw InputError(file, "zip entry '" + name + "': two zip64 extra fields");
    seen = true;
    ByteCursor z(body, file);
    auto take = [&](const char* what) {
      if (z.remaining() < 8)
        throw InputError(
            file, "zip entry '" + name + "': zip64 extra field lacks the " + std::string(what));
      return z.read<uint64_t>(what);
    };
    if (want_uncompressed) f.uncompressed = take("uncompressed size");
    if (want_compressed) f.compressed = take("compressed size");
    if (want_offset) f.offset = take("local header offset");
  }
  if (c.remaining() != 0)
    throw InputError(file, "zip entry '" + name + "': extra fields end mid-field");
  if (wanted && !seen)
    throw InputError(
        file, "zip entry '" + name + "': sizes defer to a zip64 extra field that is missing");
}

std::string read_name(ByteCursor& c, uint16_t len, const std::string& file) {
  if (len == 0) throw InputError(file, "zip entry with an empty name");
  if (len > kMaxZipNameBytes)
    throw InputError(file, "zip entry name of " + std::to_string(len) + " bytes");
  std::string name(c.take_string(len, "entry name"));
  if (name.find('\0') != std::string::npos)
    throw InputError(file, "zip entry name holds a NUL byte");
  return name;
}

// Checks the local header against the central entry and returns the offset of the data.
uint64_t check_local_header(std::span<const std::byte> bytes, const ZipEntry& e, uint16_t method,
                            uint64_t limit, const std::string& file) {
  const std::string where = "zip entry '" + e.name + "'";
  if (e.header_offset > limit || limit - e.header_offset < kLocalHeaderBytes)
    throw InputError(file, where + ": local header at " + std::to_string(e.header_offset) +
                               " lies outside the entries' region (" + std::to_string(limit) +
                               " bytes)");
  ByteCursor c(bytes.subspan(e.header_offset, limit - e.header_offset), file);
  if (c.read<uint32_t>("local header signature") != kLocalSig)
    throw InputError(file,
                     where + ": no local header at offset " + std::to_string(e.header_offset));
  c.skip(2, "version");
  const auto [flags, local_method, crc, csize, usize, name_len, extra_len] = read_entry_fields(c);
  if (flags & kFlagEncrypted) throw InputError(file, where + " is encrypted");
  if (local_method != method)
    throw InputError(file, where + ": local header and central directory disagree on the method");
  const std::string local_name(c.take_string(name_len, "local entry name"));
  if (local_name != e.name)
    throw InputError(file, where + ": local header names it '" + local_name + "'");
  auto extra = c.take(extra_len, "local extra field");
  // Sizes in the local header are either the real ones, zero (written later in a data
  // descriptor) or all ones (in the zip64 extra field); real ones must agree.
  Zip64Fields f{usize, csize, 0};
  if (usize == kU32Max || csize == kU32Max)
    apply_zip64_extra(extra, f, usize == kU32Max, csize == kU32Max, false, file, e.name);
  const bool deferred = crc == 0 && usize == 0 && csize == 0;
  if (!deferred && (f.uncompressed != e.size || f.compressed != e.size || crc != e.crc32))
    throw InputError(file, where + ": local header and central directory disagree on size or CRC");
  const uint64_t data = e.header_offset + c.position();
  if (e.size > limit - data)
    throw InputError(file, where + ": its " + std::to_string(e.size) + " bytes at offset " +
                               std::to_string(data) + " run past the entries' region (" +
                               std::to_string(limit) + " bytes)");
  return data;
}

}  // namespace

bool looks_like_zip(std::span<const std::byte> head) {
  return head.size() >= 4 && le32(head, 0) == kLocalSig;
}

uint32_t crc32(std::span<const std::byte> bytes) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (std::byte b : bytes) c = table[(c ^ static_cast<uint8_t>(b)) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

ZipArchive ZipArchive::parse(std::span<const std::byte> bytes, std::string file) {
  ZipArchive zip(bytes, std::move(file));
  const std::string& f = zip.file_;
  const Directory d = read_directory_location(bytes, f);
  if (d.entries > kMaxZipEntries)
    throw InputError(f, "zip archive lists " + std::to_string(d.entries) +
                            " entries, more than the limit of " + std::to_string(kMaxZipEntries));
  if (d.offset > d.end || d.size > d.end - d.offset)
    throw InputError(f, "zip central directory [" + std::to_string(d.offset) + ", +" +
                            std::to_string(d.size) + ") runs past its end record at " +
                            std::to_string(d.end));

  ByteCursor c(bytes.subspan(d.offset, d.size), f);
  std::vector<uint16_t> methods;
  for (uint64_t i = 0; i < d.entries; ++i) {
    if (c.read<uint32_t>("central directory entry signature") != kCentralSig)
      throw InputError(f,
                       "zip central directory entry " + std::to_string(i) + " has a bad signature");
    c.skip(4, "versions");
    const auto [flags, method, crc, csize, usize, name_len, extra_len] = read_entry_fields(c);
    const uint16_t comment_len = c.read<uint16_t>("comment length");
    const uint16_t disk = c.read<uint16_t>("disk number");
    c.skip(6, "attributes");
    const uint32_t offset = c.read<uint32_t>("local header offset");
    std::string name = read_name(c, name_len, f);
    auto extra = c.take(extra_len, "extra field");
    c.skip(comment_len, "entry comment");

    const std::string where = "zip entry '" + name + "'";
    if (flags & kFlagEncrypted) throw InputError(f, where + " is encrypted");
    if (method != kMethodStored)
      throw InputError(f,
                       where + " is compressed (method " + std::to_string(method) +
                           "); torch writes checkpoints uncompressed, re-save it with torch.save");
    if (disk != 0 && disk != kU16Max) throw InputError(f, where + " lies on another disk");
    Zip64Fields z{usize, csize, offset};
    apply_zip64_extra(extra, z, usize == kU32Max, csize == kU32Max, offset == kU32Max, f, name);
    if (z.compressed != z.uncompressed)
      throw InputError(f, where + " is stored but its compressed and uncompressed sizes differ");
    if (!zip.index_.emplace(name, zip.entries_.size()).second)
      throw InputError(f, "zip archive holds two entries named '" + name + "'");
    zip.entries_.push_back({std::move(name), z.offset, 0, z.uncompressed, crc});
    methods.push_back(method);
  }
  if (!c.at_end())
    throw InputError(f, "zip central directory has " + std::to_string(c.remaining()) +
                            " bytes after its last entry");

  for (size_t i = 0; i < zip.entries_.size(); ++i)
    zip.entries_[i].data_offset =
        check_local_header(bytes, zip.entries_[i], methods[i], d.offset, f);

  // No two entries may share bytes: sorted by header, each must end before the next begins.
  std::vector<const ZipEntry*> order;
  for (const auto& e : zip.entries_) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const ZipEntry* a, const ZipEntry* b) {
    return a->header_offset < b->header_offset;
  });
  for (size_t i = 1; i < order.size(); ++i) {
    if (order[i - 1]->data_offset + order[i - 1]->size > order[i]->header_offset)
      throw InputError(
          f, "zip entries '" + order[i - 1]->name + "' and '" + order[i]->name + "' overlap");
  }
  return zip;
}

const ZipEntry* ZipArchive::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &entries_[it->second];
}

void ZipArchive::verify_crc(const ZipEntry& e) const {
  const uint32_t actual = crc32(data(e));
  if (actual != e.crc32)
    throw InputError(file_, "zip entry '" + e.name + "' is corrupt: CRC-32 " +
                                std::to_string(actual) + " but the directory records " +
                                std::to_string(e.crc32));
}

}  // namespace owl::pytorch
