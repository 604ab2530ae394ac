#include "formats/safetensors/reader.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "formats/io/byte_cursor.h"
#include "formats/io/checked_math.h"
#include "formats/io/error.h"
#include "formats/io/mapped_file.h"
#include "formats/json/strict_json.h"
#include "formats/safetensors/limits.h"
#include "formats/sharded_index.h"

namespace owl::safetensors {
namespace {

struct Entry {
  std::string name;
  ElemType type;
  std::vector<uint64_t> shape;
  uint64_t begin, end;
};

[[noreturn]] void fail_tensor(const std::string& file, const std::string& name,
                              const std::string& what) {
  throw InputError(file, "tensor '" + name + "': " + what);
}

std::vector<uint64_t> parse_shape(const Json& j, const std::string& file, const std::string& name) {
  if (!j.is_array()) fail_tensor(file, name, "shape is " + json_kind(j) + ", not an array");
  if (j.size() > kMaxDims)
    fail_tensor(file, name, "shape has " + std::to_string(j.size()) + " dimensions");
  std::vector<uint64_t> shape;
  for (const auto& d : j) {
    if (!d.is_number_unsigned())
      fail_tensor(file, name, "shape holds " + json_kind(d) + ", not a non-negative integer");
    shape.push_back(d.get<uint64_t>());
  }
  return shape;
}

Entry parse_entry(const std::string& file, const std::string& name, const Json& j) {
  if (!j.is_object()) fail_tensor(file, name, "entry is " + json_kind(j) + ", not an object");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!j.contains(key)) fail_tensor(file, name, std::string("missing \"") + key + "\"");
  const Json& dt = j["dtype"];
  if (!dt.is_string()) fail_tensor(file, name, "dtype is " + json_kind(dt) + ", not a string");
  auto type = type_from_safetensors(dt.get<std::string>());
  if (!type) fail_tensor(file, name, "unknown dtype \"" + dt.get<std::string>() + "\"");

  Entry e{name, *type, parse_shape(j["shape"], file, name), 0, 0};
  const Json& off = j["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
      !off[1].is_number_unsigned())
    fail_tensor(file, name, "data_offsets must be two non-negative integers");
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  if (e.begin > e.end)
    fail_tensor(file, name,
                "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                    "] end before they begin");

  auto need = bytes_for_shape(e.type, e.shape);
  if (!need.bytes) fail_tensor(file, name, std::string(type_name(e.type)) + " " + need.problem);
  if (*need.bytes != e.end - e.begin) {
    fail_tensor(file, name,
                "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                    "] hold " + std::to_string(e.end - e.begin) + " bytes but " +
                    std::string(type_name(e.type)) + " of shape " + shape_to_string(e.shape) +
                    " needs " + std::to_string(*need.bytes));
  }
  return e;
}

}  // namespace

bool looks_like_safetensors(std::span<const std::byte> head, uint64_t file_size) {
  if (head.size() < kHeaderLengthBytes + 1) return false;
  uint64_t n = 0;
  std::memcpy(&n, head.data(), sizeof n);
  return n > 0 && n <= kMaxHeaderBytes && n <= file_size - kHeaderLengthBytes &&
         static_cast<char>(head[kHeaderLengthBytes]) == '{';
}

void append_file(Graph& g, const std::string& path) {
  auto file = MappedFile::open(path);
  if (file->size() == 0) throw InputError(path, "empty file (0 bytes), not a safetensors file");

  ByteCursor cur(file->bytes(), path);
  const uint64_t n = cur.read<uint64_t>("the 8-byte header length");
  if (n > kMaxHeaderBytes) {
    throw InputError(path, "header length " + std::to_string(n) + " exceeds the limit of " +
                               std::to_string(kMaxHeaderBytes) + " bytes");
  }
  if (n > cur.remaining()) {
    throw InputError(path, "header length " + std::to_string(n) + " runs past the end of the " +
                               std::to_string(file->size()) + "-byte file");
  }
  const std::string_view text = cur.take_string(n, "header");
  const Json header = parse_json_strict(text, path);
  if (!header.is_object())
    throw InputError(path, "header is " + json_kind(header) + ", not a JSON object");

  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object())
        throw InputError(path, "__metadata__ is " + json_kind(value) + ", not an object");
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string())
          throw InputError(
              path, "__metadata__ entry '" + mk + "' is " + json_kind(mv) + ", not a string");
        const std::string full = kMetadataPrefix + mk;
        if (!g.metadata.find(full)) g.metadata.set(full, Value::string(mv.get<std::string>()));
      }
      continue;
    }
    entries.push_back(parse_entry(path, key, value));
  }

  // Offsets must tile the data section exactly: sorted, each starting where the last ended,
  // the last ending at the end of the file. This rules out overlaps, gaps and trailing bytes.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const uint64_t data_start = cur.position();
  const uint64_t data_size = file->size() - data_start;
  uint64_t expected = 0;
  for (const Entry& e : entries) {
    if (e.begin < expected)
      fail_tensor(path, e.name,
                  "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                      "] overlap the previous tensor, which ends at " + std::to_string(expected));
    if (e.begin > expected)
      fail_tensor(path, e.name,
                  "data_offsets begin at " + std::to_string(e.begin) +
                      " leaving a gap after the previous tensor, which ends at " +
                      std::to_string(expected));
    if (e.end > data_size)
      fail_tensor(path, e.name,
                  "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                      "] run past the end of the data section (" + std::to_string(data_size) +
                      " bytes)");
    expected = e.end;
  }
  if (expected != data_size) {
    throw InputError(path, "tensors cover " + std::to_string(expected) +
                               " bytes of a data section of " + std::to_string(data_size) +
                               " bytes");
  }

  // Every name is checked before any tensor is appended: appending moves the names that
  // `names` points into.
  std::set<std::string_view> names;
  for (const auto& t : g.tensors) names.insert(t.name);
  for (const Entry& e : entries)
    if (names.count(e.name))
      throw InputError(path, "tensor '" + e.name + "' appears in more than one file");
  names.clear();
  g.tensors.reserve(g.tensors.size() + entries.size());
  for (Entry& e : entries) {
    auto src = std::make_shared<MappedSource>(file, data_start + e.begin, e.end - e.begin);
    g.tensors.push_back(Tensor{std::move(e.name), std::move(e.shape), e.type, std::move(src)});
  }
  g.inputs.push_back({path, file->size()});
}

Graph read_file(const std::string& path) {
  Graph g;
  g.format = "safetensors";
  append_file(g, path);
  return g;
}

Graph read_index(const std::string& index_path) {
  return read_sharded_index(index_path, "safetensors", kMaxIndexBytes, append_file);
}

}  // namespace owl::safetensors
