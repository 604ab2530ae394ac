#include "converters/measured_recipe.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "formats/gguf/writer.h"
#include "formats/io/error.h"
#include "quant/codec.h"

namespace owl {
namespace {

// Every tensor a quantized mix would quantize; llama.cpp's rules for what it never quantizes
// (norms, routers, 1-D tensors) do not depend on the mix.
constexpr std::string_view kMeasureMix = "Q8_0";

QuantizeOptions measuring(const QuantizeOptions& opt, std::string_view mix) {
  QuantizeOptions m = opt;
  m.plan.mix = find_mix(mix);
  m.plan.overrides.clear();
  m.plan.allow_requantize = true;
  m.hessians = nullptr;
  m.recipe = {};
  m.progress = nullptr;
  m.warn = [](const std::string&) {};  // the plan that is carried out warns
  return m;
}

std::vector<float> tensor_as_f32(const Tensor& t) {
  std::vector<float> v(t.elements());
  t.data->read(0, std::as_writable_bytes(std::span<float>(v)));
  t.data->release();
  return v;
}

std::string regex_escaped(const std::string& name) {
  std::string out = "^";
  for (const char c : name) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out + "$";
}

// The mix that names the file's type (general.file_type): the one whose base is the type most
// weights got.
const Mix* mix_of_most_weights(const SensitivityTable& t, const BitAllocation& a) {
  std::map<ElemType, uint64_t> elements;
  for (size_t i = 0; i < t.tensors.size(); ++i) {
    uint64_t n = 1;
    for (const uint64_t d : t.tensors[i].shape) n *= d;
    elements[t.tensors[i].candidates[a.choice[i]].type] += n;
  }
  const auto top =
      std::max_element(elements.begin(), elements.end(),
                       [](const auto& x, const auto& y) { return x.second < y.second; });
  static const std::map<ElemType, std::string_view> kMixOf = {
      {ElemType::Q2_K, "Q2_K"},   {ElemType::Q3_K, "Q3_K_M"},   {ElemType::Q4_K, "Q4_K_M"},
      {ElemType::Q5_K, "Q5_K_M"}, {ElemType::Q6_K, "Q6_K"},     {ElemType::Q8_0, "Q8_0"},
      {ElemType::Q4_0, "Q4_0"},   {ElemType::Q4_1, "Q4_1"},     {ElemType::Q5_0, "Q5_0"},
      {ElemType::Q5_1, "Q5_1"},   {ElemType::IQ4_NL, "IQ4_NL"}, {ElemType::IQ4_XS, "IQ4_XS"}};
  const auto it = top == elements.end() ? kMixOf.end() : kMixOf.find(top->first);
  const Mix* m = find_mix(it == kMixOf.end() ? kMeasureMix : it->second);
  return m ? m : find_mix(kMeasureMix);
}

bool fits_a_candidate(const TensorPlan& p) {
  const uint64_t row = p.shape.empty() ? 0 : p.shape.back();
  const auto types = recipe_candidate_types();
  return std::any_of(types.begin(), types.end(),
                     [row](ElemType t) { return row > 0 && row % type_info(t).block_elems == 0; });
}

// The tensor's candidates of the allowed types (all when none are named).
TensorSensitivity allowed_only(const TensorSensitivity& s, const std::vector<ElemType>& types) {
  if (types.empty()) return s;
  TensorSensitivity out{s.name, s.shape, {}};
  for (const auto& c : s.candidates)
    if (std::find(types.begin(), types.end(), c.type) != types.end()) out.candidates.push_back(c);
  if (out.candidates.empty())
    throw UsageError("tensor '" + s.name + "': none of the --recipe-types fits its rows of " +
                     std::to_string(s.shape.back()));
  return out;
}

uint64_t padded(uint64_t n, uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

}  // namespace

SensitivityTable measure_sensitivity(const std::string& input, const QuantizeOptions& opt,
                                     const std::map<std::string, std::vector<float>>& moments,
                                     const std::string& calibration, int threads) {
  const Plan plan = plan_quantization(input, measuring(opt, kMeasureMix));
  check_plan(plan);
  // The same tensors, cast or dequantized to F32 by the driver as they are read.
  const Graph f32 = quantized_graph(input, measuring(opt, "F32"));
  SensitivityTable table{calibration, {}};
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    const TensorPlan& p = plan.tensors[i];
    if (!is_quantized(p.to)) continue;
    const std::vector<float> values = tensor_as_f32(f32.tensors[i]);
    // Casts check their values as they read; an F32 input is read as it is.
    if (const size_t bad = first_non_finite(values); bad < values.size())
      throw InputError(input, "tensor '" + p.name + "': element " + std::to_string(bad) +
                                  " is not finite; a NaN or infinite weight cannot be quantized");
    SensitivityInput in{p.name, p.shape, values,
                        {},     {},      tensor_role(p.name) == TensorRole::TokenEmbd};
    if (!p.weights.empty()) in.quant_weights = plan.imatrix->at(p.weights);
    const uint64_t experts = p.shape.size() >= 3 ? p.shape[p.shape.size() - 3] : 1;
    const auto m = moments.find(p.name);
    if (m != moments.end() && m->second.size() == experts * p.shape.back()) in.moments = m->second;
    TensorSensitivity s = measure_tensor_sensitivity(in, threads);
    if (!s.candidates.empty()) table.tensors.push_back(std::move(s));
  }
  return table;
}

MeasuredRecipe solve_measured_recipe(const std::string& input, const QuantizeOptions& opt,
                                     const SensitivityTable& table,
                                     const std::string& sensitivity_file,
                                     const RecipeTarget& target) {
  const QuantizeOptions m = measuring(opt, kMeasureMix);
  const Plan plan = plan_quantization(input, m);
  check_plan(plan);
  std::map<std::string, const TensorSensitivity*> by_name;
  for (const auto& s : table.tensors) by_name.emplace(s.name, &s);

  MeasuredRecipe r;
  const bool size_target = target.file_bytes > 0;
  const Graph out = quantized_graph(input, m);  // the header's size does not depend on types
  const gguf::SingleFileLayout layout = gguf::single_file_layout(out);
  const uint64_t alignment = size_target ? layout.alignment : 1;
  r.fixed_bytes = size_target ? layout.padded_header : 0;
  size_t used = 0;
  std::vector<const TensorPlan*> fixed;  // quantized, but not by the recipe
  for (const TensorPlan& p : plan.tensors) {
    const auto it = by_name.find(p.name);
    if (!is_quantized(p.to) || (it == by_name.end() && !fits_a_candidate(p))) {
      // Kept, or rows no candidate fits: the type the measuring plan gave it (its fallback).
      r.fixed_bytes += padded(p.out_bytes, alignment);
      if (p.to != p.from) fixed.push_back(&p);
      continue;
    }
    if (it == by_name.end() || it->second->shape != p.shape)
      throw InputError(sensitivity_file, "has no measurement for tensor '" + p.name +
                                             "' of shape " + shape_to_string(p.shape) +
                                             ": it was measured on another model");
    r.table.tensors.push_back(allowed_only(*it->second, target.types));
    ++used;
  }
  if (used != table.tensors.size())
    throw InputError(sensitivity_file, "measures " + std::to_string(table.tensors.size()) +
                                           " tensors, this model quantizes " +
                                           std::to_string(used) + ": it is another model");
  r.table.calibration = table.calibration;

  const double total =
      size_target ? static_cast<double>(target.file_bytes)
                  : std::floor(target.bits_per_weight * static_cast<double>(plan.elements) / 8.0);
  if (total <= static_cast<double>(r.fixed_bytes))
    throw UsageError("the target is too small: the tensors that stay as they are" +
                     std::string(size_target ? " and the header" : "") + " take " +
                     std::to_string(r.fixed_bytes) + " bytes");
  r.budget = static_cast<uint64_t>(total) - r.fixed_bytes;
  r.allocation = allocate_bits(r.table, r.budget, alignment);
  r.mix = mix_of_most_weights(r.table, r.allocation);
  for (const TensorPlan* p : fixed)
    r.overrides.push_back(
        parse_type_override(regex_escaped(p->name) + "=" + std::string(type_name(p->to))));
  for (size_t i = 0; i < r.table.tensors.size(); ++i) {
    const auto& s = r.table.tensors[i];
    r.overrides.push_back(
        parse_type_override(regex_escaped(s.name) + "=" +
                            std::string(type_name(s.candidates[r.allocation.choice[i]].type))));
  }
  return r;
}

const RecipeCandidate* recipe_choice(const MeasuredRecipe& r, const std::string& name) {
  for (size_t i = 0; i < r.table.tensors.size(); ++i)
    if (r.table.tensors[i].name == name)
      return &r.table.tensors[i].candidates[r.allocation.choice[i]];
  return nullptr;
}

}  // namespace owl
