#include "formats/gguf/writer.h"

#include <filesystem>
#include <memory>
#include <set>

#include "formats/gguf/limits.h"
#include "formats/io/atomic_file.h"
#include "formats/io/error.h"
#include "formats/tensor_stream.h"

namespace owl::gguf {
namespace {

// Serialises the header, metadata and tensor infos into memory (they are small) before the
// streamed tensor data.
class HeaderBuffer {
 public:
  template <typename T>
  void put(T v) {
    const auto* p = reinterpret_cast<const char*>(&v);
    bytes_.append(p, sizeof v);
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    bytes_ += s;
  }
  void put_value(const Value& v) {
    switch (v.type()) {
      case ValueType::U8: put<uint8_t>(static_cast<uint8_t>(v.as_u64())); break;
      case ValueType::I8: put<int8_t>(static_cast<int8_t>(v.as_i64())); break;
      case ValueType::U16: put<uint16_t>(static_cast<uint16_t>(v.as_u64())); break;
      case ValueType::I16: put<int16_t>(static_cast<int16_t>(v.as_i64())); break;
      case ValueType::U32: put<uint32_t>(static_cast<uint32_t>(v.as_u64())); break;
      case ValueType::I32: put<int32_t>(static_cast<int32_t>(v.as_i64())); break;
      case ValueType::U64: put<uint64_t>(v.as_u64()); break;
      case ValueType::I64: put<int64_t>(v.as_i64()); break;
      case ValueType::F32: put<float>(static_cast<float>(v.as_f64())); break;
      case ValueType::F64: put<double>(v.as_f64()); break;
      case ValueType::BOOL: put<uint8_t>(v.as_bool() ? 1 : 0); break;
      case ValueType::STRING: put_string(v.as_string()); break;
      case ValueType::ARRAY: {
        const Array& a = v.as_array();
        put<uint32_t>(static_cast<uint32_t>(a.elem));
        put<uint64_t>(a.items.size());
        for (const auto& item : a.items) put_value(item);
        break;
      }
    }
  }
  void put_kv(const std::string& key, const Value& v) {
    put_string(key);
    put<uint32_t>(static_cast<uint32_t>(v.type()));
    put_value(v);
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

uint64_t padded(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

void check_writable(const Graph& g) {
  std::set<std::string_view> names;
  for (const auto& t : g.tensors) {
    if (t.name.size() > kMaxNameBytes)
      throw UsageError("tensor '" + t.name + "' has a name longer than GGUF's 63 bytes");
    if (t.shape.size() > kMaxDims)
      throw UsageError("tensor '" + t.name + "' has " + std::to_string(t.shape.size()) + " dimensions; GGUF allows 4");
    if (type_info(t.type).ggml_id < 0)
      throw UsageError("tensor '" + t.name + "' is " + std::string(type_name(t.type)) +
                       ", which GGUF cannot store; convert it with --dtype");
    auto size = bytes_for_shape(t.type, t.shape);
    if (!size.bytes) throw UsageError("tensor '" + t.name + "': " + size.problem);
    if (!names.insert(t.name).second) throw UsageError("two tensors are named '" + t.name + "'");
  }
  for (const auto& [key, v] : g.metadata) {
    if (v.type() == ValueType::ARRAY && v.as_array().elem == ValueType::ARRAY)
      throw UsageError("metadata key '" + key + "' holds nested arrays, which ggml refuses to load");
  }
  if (const Value* a = g.metadata.find(kAlignmentKey)) {
    if (a->type() != ValueType::U32 || a->as_u64() == 0 || (a->as_u64() & (a->as_u64() - 1)))
      throw UsageError("general.alignment must be a u32 power of two");
  }
}

// Tensors per part, in order, as gguf-split cuts them.
std::vector<std::vector<const Tensor*>> plan_parts(const Graph& g, const WriteOptions& opt, uint64_t alignment) {
  std::vector<std::vector<const Tensor*>> parts(1);
  uint64_t part_bytes = 0;
  for (const auto& t : g.tensors) {
    const uint64_t n = padded(t.byte_size(), alignment);
    const bool by_count = opt.split_max_tensors > 0 && parts.back().size() == opt.split_max_tensors;
    const bool by_size = opt.split_max_bytes > 0 && !parts.back().empty() && part_bytes + n > opt.split_max_bytes;
    if (by_count || by_size) {
      parts.emplace_back();
      part_bytes = 0;
    }
    parts.back().push_back(&t);
    part_bytes += n;
  }
  return parts;
}

std::string part_name(const std::string& path, size_t i, size_t n) {
  std::string stem = path.ends_with(".gguf") ? path.substr(0, path.size() - 5) : path;
  char buf[32];
  std::snprintf(buf, sizeof buf, "-%05zu-of-%05zu.gguf", i + 1, n);
  return stem + buf;
}

void write_part(AtomicFile& f, const Metadata& meta, const std::vector<const Tensor*>& tensors, uint64_t alignment,
                Progress* progress) {
  HeaderBuffer h;
  for (char c : kMagic) h.put<char>(c);
  h.put<uint32_t>(kWriteVersion);
  h.put<uint64_t>(tensors.size());
  h.put<uint64_t>(meta.size());
  for (const auto& [k, v] : meta) h.put_kv(k, v);
  uint64_t offset = 0;
  for (const Tensor* t : tensors) {
    h.put_string(t->name);
    h.put<uint32_t>(static_cast<uint32_t>(t->shape.size()));
    for (auto it = t->shape.rbegin(); it != t->shape.rend(); ++it) h.put<int64_t>(static_cast<int64_t>(*it));
    h.put<uint32_t>(static_cast<uint32_t>(type_info(t->type).ggml_id));
    h.put<uint64_t>(offset);
    offset += padded(t->byte_size(), alignment);
  }
  f.write(h.bytes());
  f.write_zeros(padded(h.bytes().size(), alignment) - h.bytes().size());

  for (const Tensor* t : tensors) {
    const uint64_t written = stream_tensor(f, *t, progress);
    f.write_zeros(padded(written, alignment) - written);
  }
}

}  // namespace

std::vector<std::string> write(const Graph& g, const std::string& path, const WriteOptions& opt) {
  check_writable(g);
  const Value* a = g.metadata.find(kAlignmentKey);
  const uint64_t alignment = a ? a->as_u64() : kDefaultAlignment;

  Metadata meta;
  for (const auto& [k, v] : g.metadata)
    if (k != kSplitNoKey && k != kSplitCountKey && k != kSplitTensorsCountKey) meta.set(k, v);

  const auto parts = plan_parts(g, opt, alignment);
  if (parts.size() > kMaxSplits) throw UsageError("the split limits would make more than 9999 files");
  std::vector<std::unique_ptr<AtomicFile>> files;
  std::vector<std::string> written;
  if (opt.progress) opt.progress->begin("writing", g.tensors.size(), g.tensor_bytes());
  for (size_t i = 0; i < parts.size(); ++i) {
    const bool split = parts.size() > 1;
    const std::string name = split ? part_name(path, i, parts.size()) : path;
    Metadata part_meta;
    if (i == 0) part_meta = meta;
    if (split) {
      part_meta.set(kSplitNoKey, Value::u16(static_cast<uint16_t>(i)));
      part_meta.set(kSplitCountKey, Value::u16(static_cast<uint16_t>(parts.size())));
      part_meta.set(kSplitTensorsCountKey, Value::i32(static_cast<int32_t>(g.tensors.size())));
    }
    auto f = std::make_unique<AtomicFile>(name);
    write_part(*f, part_meta, parts[i], alignment, opt.progress);
    written.push_back(name);
    files.push_back(std::move(f));
  }
  commit_all(files);
  if (opt.progress) opt.progress->end();
  return written;
}

}  // namespace owl::gguf
