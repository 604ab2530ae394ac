#include "quant/sensitivity.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "formats/io/atomic_file.h"
#include "formats/io/error.h"
#include "formats/io/mapped_file.h"
#include "formats/json/strict_json.h"
#include "quant/codec.h"

namespace owl {
namespace {

constexpr ElemType kCandidates[] = {
    ElemType::Q2_K,   ElemType::Q3_K, ElemType::Q4_0, ElemType::IQ4_XS,
    ElemType::IQ4_NL, ElemType::Q4_1, ElemType::Q4_K, ElemType::Q5_0,
    ElemType::Q5_1,   ElemType::Q5_K, ElemType::Q6_K, ElemType::Q8_0,
};

constexpr std::string_view kFormat = "owl-sensitivity";
constexpr int kVersion = 1;
constexpr size_t kMaxShapeDims = 4;

bool fits(ElemType t, uint64_t row) {
  return row > 0 && row % type_info(t).block_elems == 0 && can_quantize(t);
}

// One row's weighted squared error after a round trip through `t`.
double row_error(ElemType t, std::span<const float> w, std::span<const float> quant_weights,
                 std::span<const float> moments, std::vector<std::byte>& packed,
                 std::vector<float>& back) {
  if (quant_weights.empty())
    quantize_row(t, w, packed);
  else
    quantize_row_weighted(t, w, packed, quant_weights);
  dequantize_row(t, packed, back);
  double sum = 0;
  for (size_t c = 0; c < w.size(); ++c) {
    const double d = static_cast<double>(w[c]) - static_cast<double>(back[c]);
    sum += (moments.empty() ? 1.0 : static_cast<double>(moments[c])) * d * d;
  }
  return sum;
}

}  // namespace

std::span<const ElemType> recipe_candidate_types() {
  return kCandidates;
}

TensorSensitivity measure_tensor_sensitivity(const SensitivityInput& in, int threads) {
  TensorSensitivity out{in.name, in.shape, {}};
  const uint64_t row = in.shape.empty() ? 0 : in.shape.back();
  const uint64_t rows = row ? in.values.size() / row : 0;
  const uint64_t rows_per_expert = in.shape.size() >= 2 ? in.shape[in.shape.size() - 2] : 1;
  if (!in.row_scale.empty() && in.row_scale.size() != rows_per_expert)
    throw std::logic_error("measure_tensor_sensitivity: row scales for another shape");
  std::vector<ElemType> types;
  for (const ElemType t : kCandidates)
    if (fits(t, row)) types.push_back(t);
  // Both weightings together: the scored error (moments) and the plain one for lookups.
  std::vector<double> scored(rows * types.size()), plain(rows * types.size());
  const auto n = static_cast<int64_t>(rows);
#pragma omp parallel num_threads(threads)
  {
    std::vector<std::byte> packed;
    std::vector<float> back(row);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < n; ++r) {
      const auto i = static_cast<uint64_t>(r);
      const auto w = in.values.subspan(i * row, row);
      const uint64_t expert_at = i / rows_per_expert * row;
      const auto qw =
          in.quant_weights.empty() ? in.quant_weights : in.quant_weights.subspan(expert_at, row);
      const auto m = in.moments.empty() ? in.moments : in.moments.subspan(expert_at, row);
      for (size_t k = 0; k < types.size(); ++k) {
        packed.resize(*bytes_for_elements(types[k], row));
        // Without moments the plain error is all there is to go by.
        const double scale = in.row_scale.empty() ? 1.0 : in.row_scale[i % rows_per_expert];
        if (!m.empty() || !in.lookup)
          scored[i * types.size() + k] = scale * row_error(types[k], w, qw, m, packed, back);
        if (in.lookup) plain[i * types.size() + k] = row_error(types[k], w, qw, {}, packed, back);
      }
    }
  }
  for (size_t k = 0; k < types.size(); ++k) {
    double error = 0, lookup = 0;
    for (uint64_t i = 0; i < rows; ++i) {
      error += scored[i * types.size() + k];
      lookup += plain[i * types.size() + k];
    }
    if (in.lookup && rows) error += lookup / static_cast<double>(rows);
    out.candidates.push_back({types[k], *bytes_for_elements(types[k], rows * row), error});
  }
  std::stable_sort(
      out.candidates.begin(), out.candidates.end(),
      [](const RecipeCandidate& a, const RecipeCandidate& b) { return a.bytes < b.bytes; });
  return out;
}

std::string sensitivity_json(const SensitivityTable& t) {
  Json j;
  j["format"] = kFormat;
  j["version"] = kVersion;
  j["calibration"] = t.calibration;
  j["tensors"] = Json::array();
  for (const auto& s : t.tensors) {
    Json e;
    e["name"] = s.name;
    e["shape"] = s.shape;
    e["candidates"] = Json::array();
    for (const auto& c : s.candidates)
      e["candidates"].push_back(
          {{"type", type_name(c.type)}, {"bytes", c.bytes}, {"error", c.error}});
    j["tensors"].push_back(std::move(e));
  }
  return j.dump(1, ' ', false, Json::error_handler_t::replace) + "\n";
}

void write_sensitivity(const SensitivityTable& t, const std::string& path) {
  AtomicFile f(path);
  f.write(sensitivity_json(t));
  f.commit();
}

namespace {

// Field readers that name the file and the place on a mismatch.
const Json& field(const Json& obj, const char* key, Json::value_t kind, const std::string& where,
                  const std::string& file) {
  const auto it = obj.find(key);
  const bool number_ok =
      kind == Json::value_t::number_unsigned && it != obj.end() && it->is_number_unsigned();
  if (it == obj.end() || (!number_ok && it->type() != kind))
    throw InputError(file, where + ": '" + key + "' is missing or not " + json_kind(Json(kind)));
  return *it;
}

std::vector<uint64_t> read_shape(const Json& j, const std::string& where, const std::string& file) {
  if (j.empty() || j.size() > kMaxShapeDims)
    throw InputError(file, where + ": the shape must have 1 to 4 dimensions");
  std::vector<uint64_t> shape;
  for (const auto& d : j) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() == 0)
      throw InputError(file, where + ": a dimension is not a positive integer");
    shape.push_back(d.get<uint64_t>());
  }
  return shape;
}

RecipeCandidate read_candidate(const Json& c, const std::vector<uint64_t>& shape,
                               const std::string& where, const std::string& file) {
  if (!c.is_object()) throw InputError(file, where + ": a candidate is not an object");
  const auto& name =
      field(c, "type", Json::value_t::string, where, file).get_ref<const std::string&>();
  const auto type = type_from_name(name);
  if (!type ||
      std::find(std::begin(kCandidates), std::end(kCandidates), *type) == std::end(kCandidates))
    throw InputError(file, where + ": '" + name + "' is not a type measured recipes choose");
  const ShapeBytes expected = bytes_for_shape(*type, shape);
  const uint64_t bytes =
      field(c, "bytes", Json::value_t::number_unsigned, where, file).get<uint64_t>();
  if (!expected.bytes || *expected.bytes != bytes)
    throw InputError(
        file, where + ": " + name + " bytes " + std::to_string(bytes) + " do not match the shape");
  const auto& e = c.find("error");
  if (e == c.end() || !e->is_number() || !std::isfinite(e->get<double>()) || e->get<double>() < 0)
    throw InputError(file, where + ": " + name + " has no finite non-negative 'error'");
  return {*type, bytes, e->get<double>()};
}

}  // namespace

SensitivityTable parse_sensitivity(std::string_view text, const std::string& file) {
  const Json j = parse_json_strict(text, file);
  if (!j.is_object() || j.value("format", "") != kFormat)
    throw InputError(file, "not an owl sensitivity file (no \"format\": \"owl-sensitivity\")");
  const auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer() || version->get<int64_t>() != kVersion)
    throw InputError(file, "unsupported sensitivity file version (owl reads version 1)");
  SensitivityTable t;
  if (const auto c = j.find("calibration"); c != j.end() && c->is_string()) t.calibration = *c;
  const Json& tensors = field(j, "tensors", Json::value_t::array, "the file", file);
  if (tensors.size() > kMaxSensitivityTensors)
    throw InputError(file, "more than " + std::to_string(kMaxSensitivityTensors) + " tensors");
  std::set<std::string> names;
  for (const auto& e : tensors) {
    if (!e.is_object()) throw InputError(file, "a tensor entry is not an object");
    const auto& name =
        field(e, "name", Json::value_t::string, "a tensor", file).get_ref<const std::string&>();
    const std::string where = "tensor '" + name + "'";
    if (!names.insert(name).second) throw InputError(file, where + " is listed twice");
    TensorSensitivity s{
        name, read_shape(field(e, "shape", Json::value_t::array, where, file), where, file), {}};
    std::set<ElemType> seen;
    for (const auto& c : field(e, "candidates", Json::value_t::array, where, file)) {
      s.candidates.push_back(read_candidate(c, s.shape, where, file));
      if (!seen.insert(s.candidates.back().type).second)
        throw InputError(file, where + ": a type is listed twice");
    }
    if (s.candidates.empty()) throw InputError(file, where + " has no candidate types");
    std::stable_sort(
        s.candidates.begin(), s.candidates.end(),
        [](const RecipeCandidate& a, const RecipeCandidate& b) { return a.bytes < b.bytes; });
    t.tensors.push_back(std::move(s));
  }
  return t;
}

SensitivityTable read_sensitivity(const std::string& path) {
  const auto file = MappedFile::open(path);
  if (file->size() > kMaxSensitivityFileBytes)
    throw InputError(path, "a sensitivity file of " + std::to_string(file->size()) +
                               " bytes is larger than the limit of " +
                               std::to_string(kMaxSensitivityFileBytes));
  const auto b = file->bytes();
  return parse_sensitivity({reinterpret_cast<const char*>(b.data()), b.size()}, path);
}

}  // namespace owl
