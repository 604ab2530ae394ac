#include "converters/arch/hparams.h"

#include <cmath>

#include "formats/io/error.h"

namespace owl::arch {
namespace {

constexpr std::string_view kConfig = "hf.config.";
constexpr std::string_view kTextConfig = "hf.config.text_config.";

}  // namespace

HParams::HParams(const Metadata& md, std::string config_file, std::vector<HParamDefault> defaults)
    : md_(md), file_(std::move(config_file)), defaults_(std::move(defaults)) {}

const Value* HParams::find(std::string_view key) const {
  // A multimodal config keeps the language model's settings in text_config, which wins.
  if (const Value* v = md_.find(std::string(kTextConfig) + std::string(key))) return v;
  if (const Value* v = md_.find(std::string(kConfig) + std::string(key))) return v;
  for (const auto& d : defaults_)
    if (d.key == key) return &d.value;
  return nullptr;
}

void HParams::fail(std::string_view key, const std::string& what) const {
  throw InputError(file_, "'" + std::string(key) + "' " + what);
}

std::optional<int64_t> HParams::opt_int(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (auto i = v->to_int()) return i;
  fail(key, "is " + v->to_display() + ", not an integer");
}

std::optional<double> HParams::opt_float(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (v->type() != ValueType::BOOL) {
    if (auto d = v->to_double(); d && std::isfinite(*d)) return d;
  }
  fail(key, "is " + v->to_display() + ", not a finite number");
}

std::optional<std::string> HParams::opt_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (v->type() != ValueType::STRING) fail(key, "is " + v->to_display() + ", not a string");
  return v->as_string();
}

std::optional<bool> HParams::opt_bool(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (v->type() != ValueType::BOOL) fail(key, "is " + v->to_display() + ", not true or false");
  return v->as_bool();
}

std::optional<std::vector<double>> HParams::opt_floats(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (v->type() != ValueType::ARRAY) fail(key, "is " + v->to_display() + ", not a list of numbers");
  std::vector<double> out;
  for (const Value& item : v->as_array()) {
    auto d = item.to_double();
    if (!d || item.type() == ValueType::BOOL || !std::isfinite(*d))
      fail(key, "holds " + item.to_display() + ", not a finite number");
    out.push_back(*d);
  }
  return out;
}

int64_t HParams::int_(std::string_view key) const {
  if (auto v = opt_int(key)) return *v;
  fail(key, "is missing");
}

double HParams::float_(std::string_view key) const {
  if (auto v = opt_float(key)) return *v;
  fail(key, "is missing");
}

std::optional<int64_t> HParams::first_int(std::initializer_list<std::string_view> keys) const {
  for (auto k : keys)
    if (has(k)) return opt_int(k);
  return std::nullopt;
}

Rope read_rope(const HParams& hp, std::optional<double> default_theta,
               std::optional<double> default_swa_theta) {
  Rope r;
  // Configs saved by transformers 5 hold everything in rope_parameters, per attention kind when
  // the model mixes global and sliding-window layers; older ones in rope_scaling + rope_theta.
  std::string scaling = "rope_scaling.";
  std::string swa_theta_key = "rope_local_base_freq";
  if (hp.has("rope_parameters.full_attention.rope_theta") ||
      hp.has("rope_parameters.full_attention.rope_type")) {
    scaling = "rope_parameters.full_attention.";
    swa_theta_key = "rope_parameters.sliding_attention.rope_theta";
  } else if (hp.has("rope_parameters.rope_theta") || hp.has("rope_parameters.rope_type")) {
    scaling = "rope_parameters.";
  }
  auto key = [&](std::string_view k) { return scaling + std::string(k); };

  r.type = hp.opt_string(key("rope_type"));
  if (!r.type) r.type = hp.opt_string(key("type"));
  r.factor = hp.opt_float(key("factor"));
  r.theta = hp.opt_float(key("rope_theta"));
  if (!r.theta) r.theta = hp.opt_float("rope_theta");
  if (!r.theta) r.theta = default_theta;
  for (auto k : {"local_rope_theta", "rope_local_theta", "rope_theta_local", "swa_rope_theta"})
    if (!r.swa_theta) r.swa_theta = hp.opt_float(k);
  if (!r.swa_theta) r.swa_theta = hp.opt_float(swa_theta_key);
  if (!r.swa_theta) r.swa_theta = default_swa_theta;
  r.low_freq_factor = hp.opt_float(key("low_freq_factor"));
  r.high_freq_factor = hp.opt_float(key("high_freq_factor"));
  r.beta_fast = hp.opt_float(key("beta_fast"));
  r.beta_slow = hp.opt_float(key("beta_slow"));
  r.ext_factor = hp.opt_float(key("extrapolation_factor"));
  r.attn_factor = hp.opt_float(key("attention_factor"));
  if (!r.attn_factor) r.attn_factor = hp.opt_float(key("attn_factor"));
  r.partial_rotary_factor = hp.opt_float(key("partial_rotary_factor"));
  if (!r.partial_rotary_factor) r.partial_rotary_factor = hp.opt_float("partial_rotary_factor");
  r.original_context = hp.opt_int(key("original_max_position_embeddings"));
  if (!r.original_context) r.original_context = hp.opt_int("original_max_position_embeddings");
  r.long_factor = hp.opt_floats(key("long_factor"));
  r.short_factor = hp.opt_floats(key("short_factor"));
  return r;
}

}  // namespace owl::arch
