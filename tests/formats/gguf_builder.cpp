#include "tests/formats/gguf_builder.h"

namespace owl::test {

std::string GgufBuilder::u32(uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }
std::string GgufBuilder::u64(uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); }
std::string GgufBuilder::str(const std::string& s) { return u64(s.size()) + s; }

GgufBuilder& GgufBuilder::kv(const std::string& key, uint32_t type, const std::string& value) {
  kvs_ += str(key) + u32(type) + value;
  ++kv_count_;
  return *this;
}

GgufBuilder& GgufBuilder::kv_u32(const std::string& key, uint32_t v) { return kv(key, 4, u32(v)); }

GgufBuilder& GgufBuilder::kv_string(const std::string& key, const std::string& v) { return kv(key, 8, str(v)); }

GgufBuilder& GgufBuilder::tensor(const std::string& name, std::vector<int64_t> ne, uint32_t type, uint64_t offset) {
  infos_ += str(name) + u32(static_cast<uint32_t>(ne.size()));
  for (int64_t d : ne) infos_ += u64(static_cast<uint64_t>(d));
  infos_ += u32(type) + u64(offset);
  ++tensor_count_;
  return *this;
}

std::string GgufBuilder::bytes(uint32_t alignment) const {
  std::string out = magic_ + u32(version_);
  out += u64(n_tensors_.value_or(tensor_count_));
  out += u64(n_kv_.value_or(kv_count_));
  out += kvs_ + infos_;
  if (!data_.empty()) out.append((alignment - out.size() % alignment) % alignment, '\0');
  return out + data_;
}

}  // namespace owl::test
