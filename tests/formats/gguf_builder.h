// Hand-built GGUF bytes for tests, malformed on purpose where a test needs it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace owl::test {

class GgufBuilder {
 public:
  GgufBuilder& magic(std::string m) { magic_ = std::move(m); return *this; }
  GgufBuilder& version(uint32_t v) { version_ = v; return *this; }
  // Raw key/value bytes: key, type id, then whatever `value` holds.
  GgufBuilder& kv(const std::string& key, uint32_t type, const std::string& value);
  GgufBuilder& kv_u32(const std::string& key, uint32_t v);
  GgufBuilder& kv_string(const std::string& key, const std::string& v);
  GgufBuilder& tensor(const std::string& name, std::vector<int64_t> ne, uint32_t type, uint64_t offset);
  GgufBuilder& data(std::string d) { data_ = std::move(d); return *this; }
  // Override the declared counts (for lying headers).
  GgufBuilder& counts(uint64_t n_tensors, uint64_t n_kv) { n_tensors_ = n_tensors; n_kv_ = n_kv; return *this; }
  std::string bytes(uint32_t alignment = 32) const;

  static std::string u32(uint32_t v);
  static std::string u64(uint64_t v);
  static std::string str(const std::string& s);

 private:
  std::string magic_ = "GGUF";
  uint32_t version_ = 3;
  std::string kvs_, infos_, data_;
  uint64_t kv_count_ = 0, tensor_count_ = 0;
  std::optional<uint64_t> n_tensors_, n_kv_;
};

}  // namespace owl::test
