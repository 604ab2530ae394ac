#include "formats/hf/peft_config.h"

#include <cmath>

#include "formats/io/error.h"
#include "formats/io/mapped_file.h"
#include "formats/json/strict_json.h"

namespace owl::peft {
namespace {

// Settings whose non-default value changes what the adapter computes in ways owl does not apply:
// each names what it is, for the error.
struct Refused {
  std::string_view key, what;
};
constexpr Refused kRefusedIfSet[] = {
    {"use_dora", "a DoRA adapter (use_dora)"},
    {"lora_bias", "an adapter with trained LoRA biases (lora_bias)"},
    {"fan_in_fan_out", "an adapter for transposed (Conv1D) weights (fan_in_fan_out)"},
    {"layer_replication", "an adapter that replicates layers (layer_replication)"},
    {"use_qalora", "a QALoRA adapter (use_qalora)"},
    {"target_parameters", "an adapter on bare parameters (target_parameters)"},
    {"trainable_token_indices", "an adapter with trainable tokens (trainable_token_indices)"},
};

// A setting counts as set unless it is absent, null, false, or an empty list or object.
bool is_set(const Json& j) {
  if (j.is_null()) return false;
  if (j.is_boolean()) return j.get<bool>();
  if (j.is_array() || j.is_object()) return !j.empty();
  return true;
}

class Reader {
 public:
  Reader(const Json& j, const std::string& file) : j_(j), file_(file) {}

  [[noreturn]] void fail(std::string_view key, const std::string& why) const {
    throw InputError(file_, std::string(key) + " " + why);
  }

  const Json* find(std::string_view key) const {
    auto it = j_.find(std::string(key));
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }

  double number(std::string_view key, double fallback) const {
    const Json* v = find(key);
    if (!v) return fallback;
    if (!v->is_number()) fail(key, "is " + json_kind(*v) + ", not a number");
    const double d = v->get<double>();
    if (!std::isfinite(d)) fail(key, "is not finite");
    return d;
  }

  int64_t rank(std::string_view key, const Json& v) const {
    if (!v.is_number_integer()) fail(key, "is " + json_kind(v) + ", not an integer");
    const int64_t r = v.get<int64_t>();
    if (r <= 0 || r > kMaxRank)
      fail(key, "is " + std::to_string(r) + ", outside 1.." + std::to_string(kMaxRank));
    return r;
  }

  bool flag(std::string_view key) const {
    const Json* v = find(key);
    if (!v) return false;
    if (!v->is_boolean()) fail(key, "is " + json_kind(*v) + ", not true or false");
    return v->get<bool>();
  }

  std::vector<std::string> names(std::string_view key) const {
    std::vector<std::string> out;
    const Json* v = find(key);
    if (!v || v->is_string()) return out;  // a single regular expression: informative only
    if (!v->is_array()) fail(key, "is " + json_kind(*v) + ", not a list of names");
    if (v->size() > kMaxPatternEntries)
      fail(key, "has more than " + std::to_string(kMaxPatternEntries) + " entries");
    for (const auto& e : *v) {
      if (!e.is_string()) fail(key, "holds " + json_kind(e) + ", not a name");
      out.push_back(e.get<std::string>());
    }
    return out;
  }

  // A pattern owl matches itself: a module name, where '.' stands for any character as in the
  // regular expression peft compiles. Other regular-expression syntax is refused rather than
  // run through a backtracking engine on untrusted input.
  std::string pattern(std::string_view key, const std::string& p) const {
    if (p.empty() || p.size() > kMaxPatternBytes)
      fail(key, "has a pattern of " + std::to_string(p.size()) + " bytes, outside 1.." +
                    std::to_string(kMaxPatternBytes));
    for (char c : p) {
      const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
      if (!plain)
        fail(key, "pattern '" + p +
                      "' uses regular-expression syntax; owl matches module names (letters, "
                      "digits, '_', '-', '.')");
    }
    return p;
  }

  template <typename T, typename Value>
  std::vector<std::pair<std::string, T>> patterns(std::string_view key, Value&& value) const {
    std::vector<std::pair<std::string, T>> out;
    const Json* v = find(key);
    if (!v) return out;
    if (!v->is_object()) fail(key, "is " + json_kind(*v) + ", not an object");
    if (v->size() > kMaxPatternEntries)
      fail(key, "has more than " + std::to_string(kMaxPatternEntries) + " entries");
    for (const auto& [name, val] : v->items()) out.emplace_back(pattern(key, name), value(val));
    return out;
  }

 private:
  const Json& j_;
  const std::string& file_;
};

void refuse_other_methods(const Reader& rd, const Json& j, const std::string& file) {
  const Json* type = rd.find("peft_type");
  if (!type) rd.fail("peft_type", "is missing; this is not a PEFT adapter config");
  if (!type->is_string()) rd.fail("peft_type", "is " + json_kind(*type) + ", not a string");
  const std::string t = type->get<std::string>();
  if (t != "LORA") throw InputError(file, "is a " + t + " adapter; owl applies LoRA adapters only");
  for (const auto& r : kRefusedIfSet) {
    auto it = j.find(std::string(r.key));
    if (it != j.end() && is_set(*it))
      throw InputError(file, "is " + std::string(r.what) + "; owl applies plain LoRA only");
  }
  if (const Json* bias = rd.find("bias");
      bias && !(bias->is_string() && bias->get<std::string>() == "none"))
    throw InputError(file,
                     "bias is " + bias->dump() + ": adapters that train biases are not supported");
}

// The end of `name` after a '.' (or all of it) equals `pattern`, '.' in the pattern matching any
// character: peft's re.match(r"(.*\.)?(PATTERN)$", name) for patterns of plain names.
bool matches(std::string_view pattern, std::string_view name) {
  if (pattern.size() > name.size()) return false;
  const size_t start = name.size() - pattern.size();
  if (start != 0 && name[start - 1] != '.') {
    // peft's prefix group must end in a dot; nothing shorter can match at this length.
    return false;
  }
  for (size_t i = 0; i < pattern.size(); ++i)
    if (pattern[i] != '.' && pattern[i] != name[start + i]) return false;
  return true;
}

template <typename T>
const T* first_match(const std::vector<std::pair<std::string, T>>& patterns,
                     std::string_view module) {
  for (const auto& [p, v] : patterns)
    if (matches(p, module)) return &v;
  return nullptr;
}

}  // namespace

int64_t LoraConfig::rank_for(std::string_view module) const {
  const int64_t* v = first_match(rank_pattern, module);
  return v ? *v : r;
}

double LoraConfig::alpha_for(std::string_view module) const {
  const double* v = first_match(alpha_pattern, module);
  return v ? *v : lora_alpha;
}

double LoraConfig::scale_for(std::string_view module) const {
  const double rank = static_cast<double>(rank_for(module));
  return alpha_for(module) / (use_rslora ? std::sqrt(rank) : rank);
}

LoraConfig parse_lora_config(std::string_view text, const std::string& file) {
  const Json j = parse_json_strict(text, file);
  if (!j.is_object()) throw InputError(file, "is " + json_kind(j) + ", not a JSON object");
  const Reader rd(j, file);
  refuse_other_methods(rd, j, file);

  LoraConfig c;
  c.file = file;
  if (const Json* r = rd.find("r")) c.r = rd.rank("r", *r);
  c.lora_alpha = rd.number("lora_alpha", 8);
  c.use_rslora = rd.flag("use_rslora");
  c.rank_pattern = rd.patterns<int64_t>("rank_pattern",
                                        [&](const Json& v) { return rd.rank("rank_pattern", v); });
  c.alpha_pattern = rd.patterns<double>("alpha_pattern", [&](const Json& v) {
    if (!v.is_number() || !std::isfinite(v.get<double>()))
      rd.fail("alpha_pattern", "holds " + json_kind(v) + ", not a finite number");
    return v.get<double>();
  });
  c.target_modules = rd.names("target_modules");
  c.modules_to_save = rd.names("modules_to_save");
  if (const Json* b = rd.find("base_model_name_or_path"); b && b->is_string())
    c.base_model = b->get<std::string>();

  if (const Json* tokens = rd.find("alora_invocation_tokens")) {
    if (!tokens->is_array() || tokens->size() > kMaxInvocationTokens)
      rd.fail("alora_invocation_tokens",
              "is not a list of at most " + std::to_string(kMaxInvocationTokens) + " token ids");
    for (const auto& t : *tokens) {
      if (!t.is_number_unsigned() || t.get<uint64_t>() > UINT32_MAX)
        rd.fail("alora_invocation_tokens", "holds " + t.dump() + ", not a token id");
      c.alora_invocation_tokens.push_back(static_cast<uint32_t>(t.get<uint64_t>()));
    }
  } else if (rd.find("invocation_string")) {
    // The reference tokenizes the string with the base's tokenizer; owl asks for the ids.
    rd.fail("invocation_string", "is set without alora_invocation_tokens; owl needs the token ids");
  }
  return c;
}

LoraConfig read_lora_config(const std::string& path) {
  auto file = MappedFile::open(path);
  if (file->size() > kMaxAdapterConfigBytes)
    throw InputError(path, "is " + std::to_string(file->size()) +
                               " bytes, larger than the limit of " +
                               std::to_string(kMaxAdapterConfigBytes));
  auto b = file->bytes();
  return parse_lora_config({reinterpret_cast<const char*>(b.data()), b.size()}, path);
}

}  // namespace owl::peft
