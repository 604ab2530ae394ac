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

// Gemma 2 and 3 end each sub-block with a norm (post_attention_norm after attn_output,
// post_ffw_norm after ffn_down) that rescales the sub-block's output by its gain over the
// output's RMS before it joins the residual stream. There an error costs its size relative to
// that RMS, times the gain, rather than its size: without this, Gemma's ffn_down matrices (small
// outputs, gains well above 1) looked cheap and went to Q2_K. Each sub-block's matrices get
// their error scaled by gain^2 / E[rms^2]: per output row for the last matrix, the mean gain for
// the ones before it (whose errors reach the norm through it). E[rms^2] comes from the
// calibration moments, sum_rc w_rc^2 m_c / rows (the inputs taken as uncorrelated, as the
// error itself is).
struct SubBlock {
  std::string last, norm;  // the sub-block's last matrix and the norm after it
  std::vector<std::string> before;
};

// `index`: each tensor's place in the plan, by name.
std::vector<SubBlock> post_normed_sub_blocks(const std::map<std::string, size_t>& index) {
  std::vector<SubBlock> out;
  for (uint64_t layer = 0;; ++layer) {
    const std::string b = "blk." + std::to_string(layer) + ".";
    if (!index.count(b + "attn_norm.weight") && !index.count(b + "ffn_down.weight")) break;
    // gpt-oss names the norm before its experts post_attention_norm: only with post_ffw_norm
    // beside it is it Gemma's.
    if (!index.count(b + "post_ffw_norm.weight")) continue;
    out.push_back(
        {b + "attn_output.weight",
         b + "post_attention_norm.weight",
         {b + "attn_q.weight", b + "attn_k.weight", b + "attn_v.weight", b + "attn_qkv.weight"}});
    out.push_back({b + "ffn_down.weight",
                   b + "post_ffw_norm.weight",
                   {b + "ffn_gate.weight", b + "ffn_up.weight"}});
  }
  return out;
}

// Each matrix's row scales (see SubBlock), for the sub-blocks whose last matrix has moments.
std::map<std::string, std::vector<float>> post_norm_row_scales(
    const Plan& plan, const Graph& f32, const std::map<std::string, std::vector<float>>& moments) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < plan.tensors.size(); ++i) index[plan.tensors[i].name] = i;
  std::map<std::string, std::vector<float>> scales;
  for (const SubBlock& sb : post_normed_sub_blocks(index)) {
    const auto w_at = index.find(sb.last), g_at = index.find(sb.norm);
    const auto m = moments.find(sb.last);
    if (w_at == index.end() || g_at == index.end() || m == moments.end()) continue;
    const TensorPlan& p = plan.tensors[w_at->second];
    if (p.shape.size() != 2) continue;
    const uint64_t rows = p.shape[0], cols = p.shape[1];
    const std::vector<float> g = tensor_as_f32(f32.tensors[g_at->second]);
    if (g.size() != rows || m->second.size() != cols || first_non_finite(g) < rows) continue;
    const std::vector<float> w = tensor_as_f32(f32.tensors[w_at->second]);
    double power = 0;
    for (uint64_t r = 0; r < rows; ++r)
      for (uint64_t c = 0; c < cols; ++c)
        power += static_cast<double>(w[r * cols + c]) * w[r * cols + c] * m->second[c];
    power /= static_cast<double>(rows);
    if (!(power > 0) || !std::isfinite(power)) continue;
    std::vector<float>& last = scales[sb.last];
    double mean_gain = 0;
    for (uint64_t r = 0; r < rows; ++r) {
      const double g2 = static_cast<double>(g[r]) * g[r];
      last.push_back(static_cast<float>(g2 / power));
      mean_gain += g2 / static_cast<double>(rows);
    }
    for (const std::string& name : sb.before) {
      const auto at = index.find(name);
      if (at == index.end() || plan.tensors[at->second].shape.size() != 2) continue;
      scales[name].assign(plan.tensors[at->second].shape[0], static_cast<float>(mean_gain / power));
    }
  }
  return scales;
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
  const auto row_scales = post_norm_row_scales(plan, f32, moments);
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    const TensorPlan& p = plan.tensors[i];
    if (!is_quantized(p.to)) continue;
    const std::vector<float> values = tensor_as_f32(f32.tensors[i]);
    // Casts check their values as they read; an F32 input is read as it is.
    if (const size_t bad = first_non_finite(values); bad < values.size())
      throw InputError(input, "tensor '" + p.name + "': element " + std::to_string(bad) +
                                  " is not finite; a NaN or infinite weight cannot be quantized");
    SensitivityInput in{
        p.name, p.shape, values, {}, {}, tensor_role(p.name) == TensorRole::TokenEmbd, {}};
    if (!p.weights.empty()) in.quant_weights = plan.imatrix->at(p.weights);
    const uint64_t experts = p.shape.size() >= 3 ? p.shape[p.shape.size() - 3] : 1;
    const auto m = moments.find(p.name);
    if (m != moments.end() && m->second.size() == experts * p.shape.back()) in.moments = m->second;
    if (const auto sc = row_scales.find(p.name); sc != row_scales.end()) in.row_scale = sc->second;
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
