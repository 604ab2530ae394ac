// Hand-built pickles, zip archives and torch checkpoints for the PyTorch reader's tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace owl::test {

// A pickle written opcode by opcode.
class PickleBuilder {
 public:
  PickleBuilder& proto(uint8_t v = 2) { return op(0x80).byte(v); }
  PickleBuilder& op(uint8_t code) { return byte(code); }
  PickleBuilder& byte(uint8_t b) {
    bytes_.push_back(static_cast<char>(b));
    return *this;
  }
  PickleBuilder& raw(const std::string& s) {
    bytes_ += s;
    return *this;
  }
  PickleBuilder& u32(uint32_t v);
  PickleBuilder& global(const std::string& module, const std::string& name) {
    return op('c').raw(module + "\n" + name + "\n");
  }
  PickleBuilder& str(const std::string& s);  // BINUNICODE
  PickleBuilder& integer(int64_t v);         // BININT1 / BININT / LONG1
  PickleBuilder& mark() { return op('('); }
  PickleBuilder& tuple() { return op('t'); }
  PickleBuilder& empty_dict() { return op('}'); }
  PickleBuilder& empty_tuple() { return op(')'); }
  PickleBuilder& reduce() { return op('R'); }
  PickleBuilder& setitems() { return op('u'); }
  PickleBuilder& stop() { return op('.'); }
  // ('storage', torch.<type>, key, 'cpu', numel) as a BINPERSID.
  PickleBuilder& storage(const std::string& type, const std::string& key, int64_t numel,
                         bool legacy = false);
  // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()).
  PickleBuilder& tensor(const std::string& type, const std::string& key, int64_t numel,
                        int64_t offset, std::vector<int64_t> size, std::vector<int64_t> stride,
                        bool legacy = false);
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

struct ZipOptions {
  bool zip64 = false;  // write a zip64 end record and locator; the classic one defers to it
  bool data_descriptor = false;  // local headers with zero sizes and CRC, as torch writes them
};

// A stored (uncompressed) zip of the entries, in order.
std::string zip_bytes(const std::vector<std::pair<std::string, std::string>>& entries,
                      ZipOptions opt = {});

// A torch zip checkpoint: archive/data.pkl, archive/data/<key> for each storage, archive/version.
std::string zip_checkpoint(const std::string& pickle,
                           const std::vector<std::pair<std::string, std::string>>& storages);

// A legacy checkpoint: magic, protocol, sys info, the pickle, the key list, each storage as
// (element count, bytes).
std::string legacy_checkpoint(const std::string& pickle,
                              const std::vector<std::pair<std::string, std::string>>& storages,
                              uint64_t elem_bytes);

inline std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// Little-endian bytes of a vector of trivially copyable values.
template <typename T>
std::string le_bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

}  // namespace owl::test
