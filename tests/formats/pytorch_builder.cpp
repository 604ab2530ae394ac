#include "tests/formats/pytorch_builder.h"

#include <cstring>

#include "formats/pytorch/zip_archive.h"

namespace owl::test {
namespace {

void put16(std::string& s, uint16_t v) {
  s.append(reinterpret_cast<const char*>(&v), 2);
}
void put32(std::string& s, uint32_t v) {
  s.append(reinterpret_cast<const char*>(&v), 4);
}
void put64(std::string& s, uint64_t v) {
  s.append(reinterpret_cast<const char*>(&v), 8);
}

}  // namespace

PickleBuilder& PickleBuilder::u32(uint32_t v) {
  bytes_.append(reinterpret_cast<const char*>(&v), 4);
  return *this;
}

PickleBuilder& PickleBuilder::str(const std::string& s) {
  op('X').u32(static_cast<uint32_t>(s.size()));
  return raw(s);
}

PickleBuilder& PickleBuilder::integer(int64_t v) {
  if (v >= 0 && v < 256) return op('K').byte(static_cast<uint8_t>(v));
  if (v >= INT32_MIN && v <= INT32_MAX)
    return op('J').u32(static_cast<uint32_t>(static_cast<int32_t>(v)));
  op(0x8a).byte(8);
  bytes_.append(reinterpret_cast<const char*>(&v), 8);
  return *this;
}

PickleBuilder& PickleBuilder::storage(const std::string& type, const std::string& key,
                                      int64_t numel, bool legacy) {
  mark().str("storage").global("torch", type).str(key).str("cpu").integer(numel);
  if (legacy) op('N');
  return tuple().op('Q');
}

PickleBuilder& PickleBuilder::tensor(const std::string& type, const std::string& key, int64_t numel,
                                     int64_t offset, std::vector<int64_t> size,
                                     std::vector<int64_t> stride, bool legacy) {
  global("torch._utils", "_rebuild_tensor_v2").mark();
  storage(type, key, numel, legacy).integer(offset);
  mark();
  for (auto d : size) integer(d);
  tuple().mark();
  for (auto d : stride) integer(d);
  tuple().op(0x89).global("collections", "OrderedDict").empty_tuple().reduce();
  return tuple().reduce();
}

std::string zip_bytes(const std::vector<std::pair<std::string, std::string>>& entries,
                      ZipOptions opt) {
  std::string out, central;
  for (const auto& [name, data] : entries) {
    const uint32_t crc = pytorch::crc32(std::as_bytes(std::span(data.data(), data.size())));
    const uint32_t offset = static_cast<uint32_t>(out.size());
    put32(out, 0x04034b50);
    put16(out, 20);
    put16(out, opt.data_descriptor ? 0x0008 : 0);
    put16(out, 0);
    put32(out, 0);
    put32(out, opt.data_descriptor ? 0 : crc);
    put32(out, opt.data_descriptor ? 0 : static_cast<uint32_t>(data.size()));
    put32(out, opt.data_descriptor ? 0 : static_cast<uint32_t>(data.size()));
    put16(out, static_cast<uint16_t>(name.size()));
    put16(out, 0);
    out += name;
    out += data;
    if (opt.data_descriptor) {
      put32(out, 0x08074b50);
      put32(out, crc);
      put32(out, static_cast<uint32_t>(data.size()));
      put32(out, static_cast<uint32_t>(data.size()));
    }
    put32(central, 0x02014b50);
    put16(central, 20);
    put16(central, 20);
    put16(central, opt.data_descriptor ? 0x0008 : 0);
    put16(central, 0);
    put32(central, 0);
    put32(central, crc);
    // With zip64, sizes and offsets move into the zip64 extra field.
    put32(central, opt.zip64 ? 0xFFFFFFFF : static_cast<uint32_t>(data.size()));
    put32(central, opt.zip64 ? 0xFFFFFFFF : static_cast<uint32_t>(data.size()));
    put16(central, static_cast<uint16_t>(name.size()));
    put16(central, opt.zip64 ? 28 : 0);
    put16(central, 0);
    put16(central, 0);
    put16(central, 0);
    put32(central, 0);
    put32(central, opt.zip64 ? 0xFFFFFFFF : offset);
    central += name;
    if (opt.zip64) {
      put16(central, 0x0001);
      put16(central, 24);
      put64(central, data.size());
      put64(central, data.size());
      put64(central, offset);
    }
  }
  const uint64_t cd_offset = out.size();
  out += central;
  if (opt.zip64) {
    const uint64_t z64 = out.size();
    put32(out, 0x06064b50);
    put64(out, 44);
    put16(out, 45);
    put16(out, 45);
    put32(out, 0);
    put32(out, 0);
    put64(out, entries.size());
    put64(out, entries.size());
    put64(out, central.size());
    put64(out, cd_offset);
    put32(out, 0x07064b50);
    put32(out, 0);
    put64(out, z64);
    put32(out, 1);
  }
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, opt.zip64 ? 0xFFFF : static_cast<uint16_t>(entries.size()));
  put16(out, opt.zip64 ? 0xFFFF : static_cast<uint16_t>(entries.size()));
  put32(out, opt.zip64 ? 0xFFFFFFFF : static_cast<uint32_t>(central.size()));
  put32(out, opt.zip64 ? 0xFFFFFFFF : static_cast<uint32_t>(cd_offset));
  put16(out, 0);
  return out;
}

std::string zip_checkpoint(const std::string& pickle,
                           const std::vector<std::pair<std::string, std::string>>& storages) {
  std::vector<std::pair<std::string, std::string>> entries{{"archive/data.pkl", pickle}};
  for (const auto& [key, data] : storages) entries.emplace_back("archive/data/" + key, data);
  entries.emplace_back("archive/version", "3\n");
  return zip_bytes(entries, {.zip64 = false, .data_descriptor = true});
}

std::string legacy_checkpoint(const std::string& pickle,
                              const std::vector<std::pair<std::string, std::string>>& storages,
                              uint64_t elem_bytes) {
  std::string out;
  // The magic number 0x1950a86a20f9469cfc6c as LONG1, then protocol version 1001.
  out += PickleBuilder()
             .proto()
             .op(0x8a)
             .byte(10)
             .raw("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19")
             .stop()
             .bytes();
  out += PickleBuilder().proto().op('M').byte(0xe9).byte(0x03).stop().bytes();
  out += PickleBuilder().proto().empty_dict().str("little_endian").op(0x88).op('s').stop().bytes();
  out += pickle;
  PickleBuilder keys;
  keys.proto().op(']').mark();
  for (const auto& [key, data] : storages) keys.str(key);
  out += keys.op('e').stop().bytes();
  for (const auto& [key, data] : storages) {
    put64(out, data.size() / elem_bytes);
    out += data;
  }
  return out;
}

}  // namespace owl::test
