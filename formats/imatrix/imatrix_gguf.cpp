#include "formats/imatrix/imatrix_gguf.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "formats/gguf/limits.h"
#include "formats/gguf/reader.h"
#include "formats/gguf/writer.h"
#include "formats/imatrix/limits.h"
#include "formats/io/error.h"

namespace owl {
namespace {

using namespace imatrix;

// The entry a tensor belongs to, with which half of it the tensor is; tensors of other names are
// ignored, as llama.cpp ignores them.
struct Half {
  std::string entry;
  bool sums = false;
};
std::optional<Half> half_of(const std::string& name) {
  for (const bool sums : {true, false}) {
    const std::string_view suffix = sums ? kSumsSuffix : kCountsSuffix;
    if (name.size() > suffix.size() && name.ends_with(suffix))
      return Half{name.substr(0, name.size() - suffix.size()), sums};
  }
  return std::nullopt;
}

std::vector<float> floats_of(const Tensor& t) {
  std::vector<float> v(t.elements());
  t.data->read(0, std::as_writable_bytes(std::span<float>(v)));
  return v;
}

// A u32 key as ggml's gguf_get_val_u32 reads it (any other type is an error), as an int32.
std::optional<int32_t> u32_key(const Metadata& m, const char* key, const std::string& path) {
  const Value* v = m.find(key);
  if (!v) return std::nullopt;
  if (v->type() != ValueType::U32 || v->as_u64() > uint64_t{std::numeric_limits<int32_t>::max()})
    throw InputError(path, "key '" + std::string(key) + "' must be a uint32 up to 2^31-1, not " +
                               v->to_display());
  return static_cast<int32_t>(v->as_u64());
}

std::vector<std::string> datasets_of(const Metadata& m, const std::string& path) {
  const Value* v = m.find(kDatasetsKey);
  if (!v) return {};
  if (v->type() != ValueType::ARRAY || v->as_array().elem() != ValueType::STRING)
    throw InputError(path, "key '" + std::string(kDatasetsKey) + "' must be an array of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < v->as_array().size(); ++i) out.push_back(v->as_array().string_at(i));
  return out;
}

ImatrixEntry entry_of(const std::string& name, const Tensor* sums, const Tensor* counts,
                      const std::string& path) {
  const std::string where = "entry '" + name + "': ";
  if (!sums || !counts)
    throw InputError(path, where + "has " + (sums ? kSumsSuffix : kCountsSuffix) + " without " +
                               (sums ? kCountsSuffix : kSumsSuffix));
  if (sums->type != ElemType::F32 || counts->type != ElemType::F32)
    throw InputError(path, where + "sums and counts must be F32");
  ImatrixEntry e;
  const std::vector<float> c = floats_of(*counts);
  if (c.empty()) throw InputError(path, where + "has no counts");
  if (sums->elements() == 0 || sums->elements() % c.size() != 0)
    throw InputError(path, where + std::to_string(sums->elements()) + " sums are not " +
                               std::to_string(c.size()) + " whole rows, one per expert");
  for (const float x : c) {
    if (!(x >= 0) || x > kMaxCount)
      throw InputError(path, where + "count " + std::to_string(x) + " is not a token count");
    e.counts.push_back(std::lround(x));
  }
  e.sums = floats_of(*sums);
  for (size_t i = 0; i < e.sums.size(); ++i)
    if (!std::isfinite(e.sums[i]))
      throw InputError(path, where + "sum " + std::to_string(i) + " is not finite");
  return e;
}

// A tensor of `rows` x `cols` floats as ggml's 2-D tensors are written: one row is written 1-D
// (an outer size of 1 is not written).
void add_f32(Graph& g, std::string name, uint64_t rows, uint64_t cols,
             const std::vector<float>& values) {
  std::vector<std::byte> bytes(values.size() * sizeof(float));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  auto shape = rows > 1 ? std::vector<uint64_t>{rows, cols} : std::vector<uint64_t>{cols};
  g.tensors.push_back({std::move(name), std::move(shape), ElemType::F32,
                       std::make_shared<BufferSource>(std::move(bytes))});
}

}  // namespace

Imatrix read_imatrix_gguf(const std::string& path) {
  const Graph g = gguf::read(path);
  if (g.tensors.empty()) throw InputError(path, "no data: the imatrix holds no tensors");
  Imatrix m;
  m.format = ImatrixFormat::Gguf;
  m.datasets = datasets_of(g.metadata, path);
  const auto chunks = u32_key(g.metadata, kChunkCountKey, path);
  const auto chunk_size = u32_key(g.metadata, kChunkSizeKey, path);
  m.chunk_count = chunks.value_or(0);
  m.chunk_size = chunk_size.value_or(0);
  m.has_metadata = g.metadata.find(kDatasetsKey) && chunks && chunk_size;

  std::map<std::string, std::pair<const Tensor*, const Tensor*>> halves;
  for (const Tensor& t : g.tensors) {
    const auto h = half_of(t.name);
    if (!h) continue;
    auto& [sums, counts] = halves[h->entry];
    (h->sums ? sums : counts) = &t;
  }
  for (const auto& [name, h] : halves)
    m.entries.emplace(name, entry_of(name, h.first, h.second, path));
  return m;
}

void write_imatrix_gguf(const Imatrix& m, const std::string& path) {
  Graph g;
  g.format = "gguf";
  g.metadata.set(kTypeKey, Value::string(kTypeValue));
  Array datasets(ValueType::STRING);
  for (const auto& d : m.datasets) datasets.push_back(Value::string(d));
  g.metadata.set(kDatasetsKey, Value::array(std::move(datasets)));
  g.metadata.set(kChunkCountKey, Value::u32(static_cast<uint32_t>(m.chunk_count)));
  g.metadata.set(kChunkSizeKey, Value::u32(static_cast<uint32_t>(m.chunk_size)));
  for (const auto& [name, e] : m.entries) {
    if (e.sums.empty() || e.counts.empty()) continue;
    if (name.size() + std::strlen(kSumsSuffix) > gguf::kMaxNameBytes)
      throw UsageError("imatrix entry '" + name + "': the name is too long for a GGUF tensor");
    const uint64_t experts = e.experts();
    const std::vector<float> counts(e.counts.begin(), e.counts.end());
    add_f32(g, name + kSumsSuffix, experts, e.columns(), e.sums);
    add_f32(g, name + kCountsSuffix, experts, 1, counts);
  }
  gguf::write(g, path);
}

}  // namespace owl
