#include "formats/gguf/writer.h"

#include <filesystem>
#include <memory>
#include <set>
#include <span>
#include <stdexcept>
#include <vector>

#include "formats/gguf/limits.h"
#include "formats/io/atomic_file.h"
#include "formats/io/error.h"
#include "formats/io/read_files.h"
#include "formats/tensor_stream.h"

namespace owl::gguf {
namespace {

constexpr size_t kInitialHeaderBytes = 64 * 1024;

// Serialises the header, metadata and tensor infos into memory (they are small) before the
// streamed tensor data.
class HeaderBuffer {
 public:
  // Room for a typical header up front (GCC 12 also warns, wrongly, about growing an empty one).
  HeaderBuffer() { bytes_.reserve(kInitialHeaderBytes); }
  template <typename T>
  void put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof v);
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  void put_value(const Value& v) {
    if (v.type() == ValueType::STRING) return put_string(v.as_string());
    if (v.type() != ValueType::ARRAY) return append_scalar_bytes(v, bytes_);
    const Array& a = v.as_array();
    put<uint32_t>(static_cast<uint32_t>(a.elem()));
    put<uint64_t>(a.size());
    if (Array::element_bytes(a.elem()) != 0) {
      bytes_.insert(bytes_.end(), a.bytes().begin(), a.bytes().end());
    } else {
      for (const Value& item : a) put_value(item);
    }
  }
  void put_kv(const std::string& key, const Value& v) {
    put_string(key);
    put<uint32_t>(static_cast<uint32_t>(v.type()));
    put_value(v);
  }
  std::span<const std::byte> bytes() const { return std::as_bytes(std::span(bytes_)); }

 private:
  std::vector<uint8_t> bytes_;
};

uint64_t padded(uint64_t n, uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

// What the input holds that GGUF cannot: an input error (exit 2) naming the input, since no
// option of the command would change it.
[[noreturn]] void refuse_input(const Graph& g, const std::string& what) {
  throw InputError(g.inputs.empty() ? std::string() : g.inputs.front().path, what);
}

void check_writable(const Graph& g) {
  std::set<std::string_view> names;
  for (const auto& t : g.tensors) {
    if (t.name.size() > kMaxNameBytes)
      refuse_input(g, "tensor '" + t.name + "' has a name longer than GGUF's 63 bytes");
    if (t.shape.size() > kMaxDims)
      refuse_input(g, "tensor '" + t.name + "' has " + std::to_string(t.shape.size()) +
                          " dimensions; GGUF allows 4");
    if (type_info(t.type).ggml_id < 0)
      throw UsageError("tensor '" + t.name + "' is " + std::string(type_name(t.type)) +
                       ", which GGUF cannot store; convert it with --dtype");
    auto size = bytes_for_shape(t.type, t.shape);
    if (!size.bytes) throw UsageError("tensor '" + t.name + "': " + size.problem);
    if (!names.insert(t.name).second) refuse_input(g, "two tensors are named '" + t.name + "'");
  }
  for (const auto& [key, v] : g.metadata) {
    if (v.type() == ValueType::ARRAY && v.as_array().elem() == ValueType::ARRAY)
      refuse_input(g, "metadata key '" + key + "' holds nested arrays, which ggml refuses to load");
  }
  if (const Value* a = g.metadata.find(kAlignmentKey)) {
    if (a->type() != ValueType::U32 || a->as_u64() == 0 || (a->as_u64() & (a->as_u64() - 1)) ||
        a->as_u64() > kMaxAlignment)
      refuse_input(g, "general.alignment is " + a->to_display() +
                          ", not a u32 power of two up to " + std::to_string(kMaxAlignment));
  }
}

std::vector<std::vector<const Tensor*>> given_parts(const Graph& g,
                                                    const std::vector<size_t>& sizes) {
  std::vector<std::vector<const Tensor*>> parts;
  size_t next = 0;
  for (size_t n : sizes) {
    if (n > g.tensors.size() - next)
      throw std::logic_error("GGUF parts hold more tensors than the graph has");
    auto& part = parts.emplace_back();
    for (size_t i = 0; i < n; ++i) part.push_back(&g.tensors[next++]);
  }
  if (next != g.tensors.size()) throw std::logic_error("GGUF parts leave tensors out");
  return parts;
}

// Tensors per part, in order, as gguf-split cuts them.
std::vector<std::vector<const Tensor*>> plan_parts(const Graph& g, const WriteOptions& opt,
                                                   uint64_t alignment) {
  if (!opt.part_sizes.empty()) return given_parts(g, opt.part_sizes);
  std::vector<std::vector<const Tensor*>> parts(1);
  uint64_t part_bytes = 0;
  for (const auto& t : g.tensors) {
    const uint64_t n = padded(t.byte_size(), alignment);
    const bool by_count = opt.split_max_tensors > 0 && parts.back().size() == opt.split_max_tensors;
    const bool by_size =
        opt.split_max_bytes > 0 && !parts.back().empty() && part_bytes + n > opt.split_max_bytes;
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
  char buf[64];
  std::snprintf(buf, sizeof buf, "-%05zu-of-%05zu.gguf", i + 1, n);
  return stem + buf;
}

HeaderBuffer header(const Metadata& meta, const std::vector<const Tensor*>& tensors,
                    uint64_t alignment) {
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
    for (auto it = t->shape.rbegin(); it != t->shape.rend(); ++it)
      h.put<int64_t>(static_cast<int64_t>(*it));
    h.put<uint32_t>(static_cast<uint32_t>(type_info(t->type).ggml_id));
    h.put<uint64_t>(offset);
    offset += padded(t->byte_size(), alignment);
  }
  return h;
}

// Appends each tensor's xxh3-128 to `hashes` when it is not null.
void write_part(AtomicFile& f, const Metadata& meta, const std::vector<const Tensor*>& tensors,
                uint64_t alignment, Progress* progress, std::vector<std::string>* hashes) {
  const HeaderBuffer h = header(meta, tensors, alignment);
  f.write(h.bytes());
  f.write_zeros(padded(h.bytes().size(), alignment) - h.bytes().size());

  for (const Tensor* t : tensors) {
    std::string xxh3;
    const uint64_t written = stream_tensor(f, *t, progress, hashes ? &xxh3 : nullptr);
    f.write_zeros(padded(written, alignment) - written);
    if (hashes) hashes->push_back(std::move(xxh3));
  }
}

// Rewrites the first part's header with the final values of the late keys: same size, in place.
void patch_header(AtomicFile& f, const Metadata& meta, const Metadata& late,
                  const std::vector<const Tensor*>& tensors, uint64_t alignment) {
  const uint64_t before = header(meta, tensors, alignment).bytes().size();
  const HeaderBuffer h = header(with_late_values(meta, late), tensors, alignment);
  if (h.bytes().size() != before)
    throw std::logic_error("a late metadata value changed the size of the GGUF header");
  f.patch(0, h.bytes());
}

}  // namespace

namespace {

// The input's split keys: write() sets its own for each part.
Metadata without_split_keys(const Metadata& m) {
  Metadata out;
  for (const auto& [k, v] : m)
    if (k != kSplitNoKey && k != kSplitCountKey && k != kSplitTensorsCountKey) out.set(k, v);
  return out;
}

}  // namespace

SingleFileLayout single_file_layout(const Graph& g) {
  check_writable(g);
  const Value* a = g.metadata.find(kAlignmentKey);
  const uint64_t alignment = a ? a->as_u64() : kDefaultAlignment;
  const Metadata meta = without_split_keys(g.metadata);
  std::vector<const Tensor*> tensors;
  for (const auto& t : g.tensors) tensors.push_back(&t);
  return {padded(header(meta, tensors, alignment).bytes().size(), alignment), alignment};
}

std::vector<std::string> write(const Graph& g, const std::string& path, const WriteOptions& opt) {
  check_writable(g);
  const Value* a = g.metadata.find(kAlignmentKey);
  const uint64_t alignment = a ? a->as_u64() : kDefaultAlignment;

  Metadata meta = without_split_keys(g.metadata);

  const auto parts = plan_parts(g, opt, alignment);
  if (parts.size() > kMaxSplits)
    throw UsageError("the split limits would make more than 9999 files");
  std::vector<std::string> names;
  for (size_t i = 0; i < parts.size(); ++i)
    names.push_back(parts.size() > 1 ? part_name(path, i, parts.size()) : path);
  // Before anything is written: no part may replace a file being read.
  for (const auto& name : names) refuse_if_read(name);

  std::vector<std::unique_ptr<AtomicFile>> files;
  std::vector<std::string> written;
  std::vector<std::string> hashes;
  Metadata first_meta;
  if (opt.progress) opt.progress->begin("writing", g.tensors.size(), g.tensor_bytes());
  for (size_t i = 0; i < parts.size(); ++i) {
    const bool split = parts.size() > 1;
    const std::string& name = names[i];
    Metadata part_meta;
    if (i == 0) part_meta = meta;
    if (split) {
      part_meta.set(kSplitNoKey, Value::u16(static_cast<uint16_t>(i)));
      part_meta.set(kSplitCountKey, Value::u16(static_cast<uint16_t>(parts.size())));
      part_meta.set(kSplitTensorsCountKey, Value::i32(static_cast<int32_t>(g.tensors.size())));
    }
    auto f = std::make_unique<AtomicFile>(name);
    write_part(*f, part_meta, parts[i], alignment, opt.progress,
               opt.finish_metadata ? &hashes : nullptr);
    if (i == 0) first_meta = part_meta;
    written.push_back(name);
    files.push_back(std::move(f));
  }
  if (opt.finish_metadata)
    patch_header(*files.front(), first_meta, opt.finish_metadata(hashes), parts.front(), alignment);
  commit_all(files);
  if (opt.progress) opt.progress->end();
  return written;
}

}  // namespace owl::gguf
