#include "formats/gguf/reader.h"

#include <cstring>
#include <filesystem>
#include <optional>
#include <regex>
#include <set>

#include "formats/gguf/limits.h"
#include "formats/io/byte_cursor.h"
#include "formats/io/checked_math.h"
#include "formats/io/error.h"
#include "formats/io/mapped_file.h"

namespace owl::gguf {
namespace {

std::string read_string(ByteCursor& cur, std::string_view what) {
  const uint64_t n = cur.read<uint64_t>(what);
  if (n > kMaxStringBytes)
    cur.fail(std::string(what) + " has a length of " + std::to_string(n) + " bytes");
  return std::string(cur.take_string(n, what));
}

ValueType read_value_type(ByteCursor& cur, const std::string& key) {
  const uint32_t t = cur.read<uint32_t>("value type");
  if (t >= kValueTypeCount)
    cur.fail("key '" + key + "' has unknown value type " + std::to_string(t));
  return static_cast<ValueType>(t);
}

// `n` numbers or bools of type `elem`, as the file's bytes; a bool must be 0 or 1.
std::span<const uint8_t> read_scalars(ByteCursor& cur, ValueType elem, uint64_t n,
                                      const std::string& key) {
  const auto bytes = cur.take(n * Array::element_bytes(elem), key);
  const std::span<const uint8_t> raw(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (elem == ValueType::BOOL)
    for (uint8_t b : raw)
      if (b > 1) cur.fail("key '" + key + "' has the bool value " + std::to_string(b));
  return raw;
}

Value read_value(ByteCursor& cur, ValueType type, const std::string& key, uint64_t depth) {
  switch (type) {
    case ValueType::STRING:
      return Value::string(read_string(cur, "string value of '" + key + "'"));
    case ValueType::ARRAY: {
      if (depth >= kMaxArrayDepth)
        cur.fail("key '" + key + "' nests arrays more than " + std::to_string(kMaxArrayDepth) +
                 " deep");
      const ValueType elem = read_value_type(cur, key);
      const uint64_t n = cur.read<uint64_t>("array length");
      // A count beyond what the rest of the file can encode is a lie, refused before anything
      // is allocated for it.
      const uint64_t width = Array::element_bytes(elem);
      const uint64_t min_bytes = width                       ? width
                                 : elem == ValueType::STRING ? kMinStringBytes
                                                             : kMinArrayBytes;
      if (n > cur.remaining() / min_bytes)
        cur.fail("key '" + key + "' claims " + std::to_string(n) +
                 " array elements, more than the file can hold");
      // Numbers are kept as the file's bytes: a file's arrays cost what they weigh.
      if (width) return Value::array(Array::from_bytes(elem, read_scalars(cur, elem, n, key)));
      Array a(elem);
      a.reserve(n);
      for (uint64_t i = 0; i < n; ++i) a.push_back(read_value(cur, elem, key, depth + 1));
      return Value::array(std::move(a));
    }
    default:
      return scalar_from_bytes(type, read_scalars(cur, type, 1, key).data());
  }
}

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> shape;  // row-major
  ElemType type;
  uint64_t offset, bytes;
};

TensorInfo read_tensor_info(ByteCursor& cur) {
  TensorInfo t;
  t.name = read_string(cur, "tensor name");
  const std::string& n = t.name;
  if (n.size() > kMaxNameBytes)
    cur.fail("tensor '" + n + "' has a name of " + std::to_string(n.size()) +
             " bytes (ggml allows " + std::to_string(kMaxNameBytes) + ")");
  const uint32_t n_dims = cur.read<uint32_t>("tensor dimension count");
  if (n_dims > kMaxDims)
    cur.fail("tensor '" + n + "' has " + std::to_string(n_dims) + " dimensions (at most 4)");
  std::vector<uint64_t> ne(n_dims);
  for (auto& d : ne) {
    const int64_t v = cur.read<int64_t>("tensor dimension");
    if (v < 0) cur.fail("tensor '" + n + "' has a negative dimension " + std::to_string(v));
    d = static_cast<uint64_t>(v);
  }
  t.shape.assign(ne.rbegin(), ne.rend());
  const uint32_t type_id = cur.read<uint32_t>("tensor type");
  auto type = type_from_ggml_id(type_id);
  if (!type) cur.fail("tensor '" + n + "' has unknown ggml type " + std::to_string(type_id));
  t.type = *type;
  t.offset = cur.read<uint64_t>("tensor offset");
  auto size = bytes_for_shape(t.type, t.shape);
  if (!size.bytes)
    cur.fail("tensor '" + n + "': " + std::string(type_name(t.type)) + " " + size.problem);
  // ggml also refuses element counts that overflow int64.
  if (auto e = checked_product(t.shape); !e || *e > static_cast<uint64_t>(INT64_MAX))
    cur.fail("tensor '" + n + "' has too many elements");
  t.bytes = *size.bytes;
  return t;
}

struct SplitFacts {
  uint32_t count = 1;  // split.count, 1 if absent
  int64_t no = 0;      // split.no
};

// One file's contents, appended to `g`.
SplitFacts append_file(Graph& g, const std::string& path, bool keep_metadata) {
  auto file = MappedFile::open(path);
  if (file->size() == 0) throw InputError(path, "empty file (0 bytes), not a GGUF file");
  ByteCursor cur(file->bytes(), path);
  auto magic = cur.take(4, "the GGUF magic");
  if (std::memcmp(magic.data(), kMagic, 4) != 0)
    throw InputError(path, "not a GGUF file (no GGUF magic)");
  const uint32_t version = cur.read<uint32_t>("the GGUF version");
  if (version > 0xffff && (version & 0xffff) == 0)
    throw InputError(path, "big-endian GGUF files are not supported");
  if (version < kMinReadVersion || version > kMaxReadVersion)
    throw InputError(path,
                     "GGUF version " + std::to_string(version) + " is not supported (2 and 3 are)");

  const uint64_t n_tensors = cur.read<uint64_t>("tensor count");
  const uint64_t n_kv = cur.read<uint64_t>("metadata count");
  if (n_kv > cur.remaining() / kMinKvBytes)
    throw InputError(path,
                     "metadata count " + std::to_string(n_kv) + " is more than the file can hold");
  if (n_tensors > cur.remaining() / kMinTensorInfoBytes)
    throw InputError(
        path, "tensor count " + std::to_string(n_tensors) + " is more than the file can hold");

  Metadata meta;
  uint32_t alignment = kDefaultAlignment;
  SplitFacts split;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = read_string(cur, "metadata key");
    if (meta.find(key)) cur.fail("metadata key '" + key + "' appears twice");
    const ValueType type = read_value_type(cur, key);
    Value v = read_value(cur, type, key, 0);
    if (key == kAlignmentKey) {
      if (type != ValueType::U32 || v.as_u64() == 0 || (v.as_u64() & (v.as_u64() - 1)) != 0 ||
          v.as_u64() > kMaxAlignment)
        cur.fail("general.alignment is " + v.to_display() + ", not a u32 power of two up to " +
                 std::to_string(kMaxAlignment));
      alignment = static_cast<uint32_t>(v.as_u64());
    }
    if (key == kSplitCountKey) {
      auto n = v.to_int();
      if (!n || *n < 1 || *n > kMaxSplits) cur.fail("split.count is not a count of files");
      split.count = static_cast<uint32_t>(*n);
    }
    if (key == kSplitNoKey) split.no = v.to_int().value_or(-1);
    meta.set(std::move(key), std::move(v));
  }

  std::vector<TensorInfo> infos;
  infos.reserve(n_tensors);
  std::set<std::string> names;
  for (const auto& t : g.tensors) names.insert(t.name);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    infos.push_back(read_tensor_info(cur));
    if (!names.insert(infos.back().name).second)
      cur.fail("tensor '" + infos.back().name + "' appears twice");
  }

  // The data section starts at the next multiple of the alignment.
  const uint64_t data_start = (cur.position() + alignment - 1) / alignment * alignment;
  if (data_start > file->size() && n_tensors > 0)
    throw InputError(path, "the data section would start past the end of the file");
  const uint64_t data_size = file->size() - std::min(data_start, file->size());

  // Each tensor's bytes lie inside the data section, on the alignment, overlapping no other.
  std::vector<std::pair<uint64_t, uint64_t>> extents;
  for (const auto& t : infos) {
    if (t.offset % alignment)
      throw InputError(path, "tensor '" + t.name + "' offset " + std::to_string(t.offset) +
                                 " is not a multiple of the alignment " +
                                 std::to_string(alignment));
    auto end = checked_add(t.offset, t.bytes);
    if (!end || *end > data_size)
      throw InputError(path, "tensor '" + t.name + "' (" + std::to_string(t.bytes) +
                                 " bytes at offset " + std::to_string(t.offset) +
                                 ") runs past the end of the file");
    if (t.bytes > 0) extents.emplace_back(t.offset, *end);
  }
  std::sort(extents.begin(), extents.end());
  for (size_t i = 1; i < extents.size(); ++i) {
    if (extents[i].first < extents[i - 1].second) {
      for (const auto& t : infos)
        if (t.offset == extents[i].first)
          throw InputError(path, "tensor '" + t.name + "' overlaps another tensor's bytes");
    }
  }

  // The header has been copied out: its pages need not stay resident (a file's metadata can be
  // most of it).
  file->release(0, cur.position());
  if (keep_metadata) {
    for (auto& [k, v] : meta.release())
      if (k != kSplitNoKey && k != kSplitCountKey && k != kSplitTensorsCountKey)
        g.metadata.set(std::move(k), std::move(v));
    if (auto arch = g.metadata.get_string("general.architecture")) g.architecture = *arch;
  }
  const auto part = static_cast<uint32_t>(g.inputs.size());
  for (auto& t : infos) {
    auto src = std::make_shared<MappedSource>(file, data_start + t.offset, t.bytes);
    g.tensors.push_back(Tensor{std::move(t.name), std::move(t.shape), t.type, std::move(src), part,
                               data_start + t.offset});
  }
  g.inputs.push_back({path, file->size()});
  return split;
}

// "<prefix>-00002-of-00005.gguf" -> (prefix, 2, 5)
const std::regex kSplitName(R"((.*)-(\d{5})-of-(\d{5})\.gguf)");

}  // namespace

bool looks_like_gguf(std::span<const std::byte> head) {
  return head.size() >= 4 && std::memcmp(head.data(), kMagic, 4) == 0;
}

std::string split_path(const std::string& any_part, uint32_t index, uint32_t count) {
  std::smatch m;
  if (!std::regex_match(any_part, m, kSplitName)) return {};
  char buf[32];
  std::snprintf(buf, sizeof buf, "-%05u-of-%05u.gguf", index + 1, count);
  return m[1].str() + buf;
}

Graph read(const std::string& path) {
  Graph g;
  g.format = "gguf";
  std::smatch m;
  const bool split_name = std::regex_match(path, m, kSplitName);
  const std::string first =
      split_name ? split_path(path, 0, static_cast<uint32_t>(std::stoul(m[3].str()))) : path;
  const uint32_t count = append_file(g, first, true).count;
  if (count > 1 && !split_name)
    throw InputError(path,
                     "split.count says " + std::to_string(count) +
                         " files, but the name is not of the form <name>-00001-of-0000N.gguf");
  for (uint32_t i = 1; i < count; ++i) {
    const std::string part = split_path(first, i, count);
    if (!std::filesystem::exists(part))
      throw InputError(first, "split part " + part + " does not exist");
    const SplitFacts facts = append_file(g, part, false);
    if (facts.count != count || facts.no != i)
      throw InputError(part, "split.no/split.count say part " + std::to_string(facts.no + 1) +
                                 " of " + std::to_string(facts.count) + ", expected " +
                                 std::to_string(i + 1) + " of " + std::to_string(count));
  }
  return g;
}

}  // namespace owl::gguf
