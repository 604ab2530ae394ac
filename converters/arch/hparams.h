// A model's config.json, as convert_hf_to_gguf.py sees it: the file's values over the defaults
// of the transformers config class, with a multimodal config's text_config merged on top.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "converters/metadata.h"

namespace owl::arch {

// A value the transformers config class fills in when config.json leaves it out.
struct HParamDefault {
  std::string_view key;
  Value value;
};

class HParams {
 public:
  // `config_file` names config.json in errors.
  HParams(const Metadata& md, std::string config_file, std::vector<HParamDefault> defaults);
  // Adds a default computed from other values (llama's head_dim = hidden_size / heads).
  void add_default(std::string_view key, Value v) { defaults_.push_back({key, std::move(v)}); }

  // The value of a config key ("rope_scaling.factor"); JSON null counts as absent.
  const Value* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }

  std::optional<int64_t> opt_int(std::string_view key) const;
  std::optional<double> opt_float(std::string_view key) const;
  std::optional<std::string> opt_string(std::string_view key) const;
  std::optional<bool> opt_bool(std::string_view key) const;
  // A numeric array (long/short RoPE factors).
  std::optional<std::vector<double>> opt_floats(std::string_view key) const;

  // Throws InputError naming config.json when the key is missing or of the wrong kind.
  int64_t int_(std::string_view key) const;
  double float_(std::string_view key) const;
  // The first of several spellings that is present (n_head / num_attention_heads ...).
  std::optional<int64_t> first_int(std::initializer_list<std::string_view> keys) const;

  const std::string& file() const { return file_; }
  [[noreturn]] void fail(std::string_view key, const std::string& what) const;

 private:
  const Metadata& md_;
  std::string file_;
  std::vector<HParamDefault> defaults_;
};

// RoPE settings, gathered from rope_parameters (transformers 5) or rope_scaling and rope_theta.
struct Rope {
  std::optional<std::string> type;  // "linear", "yarn", "llama3", "longrope", "default", ...
  std::optional<double> factor, theta, swa_theta;
  std::optional<double> low_freq_factor, high_freq_factor;
  std::optional<double> beta_fast, beta_slow, ext_factor, attn_factor;
  std::optional<double> partial_rotary_factor;
  std::optional<int64_t> original_context;
  std::optional<std::vector<double>> long_factor, short_factor;
};

// `default_theta`: the config class's rope_theta; `default_swa_theta`: its local (sliding
// window) theta, for families that have one.
Rope read_rope(const HParams& hp, std::optional<double> default_theta,
               std::optional<double> default_swa_theta = std::nullopt);

}  // namespace owl::arch
