// PEFT's adapter_config.json for LoRA adapters: the numbers that say how an adapter's A and B
// matrices scale into the base weights, and the settings owl refuses because they change the
// arithmetic (DoRA, biases, fan-in-fan-out layouts) or are not LoRA at all (IA3, prompt tuning).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace owl::peft {

// Bounds far above any real adapter's config; they keep a hostile file's cost small.
inline constexpr uint64_t kMaxAdapterConfigBytes = 1u << 20;
inline constexpr size_t kMaxPatternEntries = 4096;  // rank_pattern / alpha_pattern entries
inline constexpr size_t kMaxPatternBytes = 256;     // one pattern (a regular expression)
inline constexpr int64_t kMaxRank = 1 << 16;
inline constexpr size_t kMaxInvocationTokens = 4096;

struct LoraConfig {
  std::string file;  // for errors
  int64_t r = 8;
  double lora_alpha = 8;
  bool use_rslora = false;
  // Python regular expressions matched against the end of a module's name, as peft matches them
  // (after an optional "prefix."), in the file's order: the first that matches wins.
  std::vector<std::pair<std::string, int64_t>> rank_pattern;
  std::vector<std::pair<std::string, double>> alpha_pattern;
  std::vector<std::string> target_modules;  // empty when given as one regular expression
  std::vector<std::string> modules_to_save;
  std::string base_model;                         // base_model_name_or_path, informative
  std::vector<uint32_t> alora_invocation_tokens;  // activated LoRA (aLoRA); empty otherwise

  // The module's rank and alpha after the patterns ("model.layers.0.self_attn.q_proj").
  int64_t rank_for(std::string_view module) const;
  double alpha_for(std::string_view module) const;
  // What B A is multiplied by: alpha / r, or alpha / sqrt(r) under rsLoRA.
  double scale_for(std::string_view module) const;
};

// Parses adapter_config.json's text. Throws InputError naming `file` when it is not valid JSON,
// when a value has the wrong type or range, and when the adapter is not one owl can apply: a
// peft_type other than LORA, DoRA, trained biases, fan_in_fan_out, layer replication, QALoRA,
// target_parameters, trainable tokens or an invocation_string without its tokens.
LoraConfig parse_lora_config(std::string_view text, const std::string& file);

// Reads and parses the file (at most kMaxAdapterConfigBytes).
LoraConfig read_lora_config(const std::string& path);

}  // namespace owl::peft
