// The registry of families, and the small readers/writers they share.
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "converters/arch/family.h"
#include "formats/hf/folder.h"
#include "formats/io/error.h"

namespace owl::arch {

extern const Family kLlamaFamily, kMistralFamily, kQwen2Family, kQwen3Family, kGemmaFamily,
    kGemma2Family, kGemma3Family, kPhi3Family, kMixtralFamily, kQwen2MoeFamily, kQwen3MoeFamily,
    kOlmoeFamily, kGraniteMoeFamily, kDeepseekV2Family, kDeepseekV3Family;
extern const Family kGptOssFamily, kLlama4Family;
extern const Family kGemmaEmbeddingFamily;

std::span<const Family* const> families() {
  static const std::array<const Family*, 18> kAll = {
      &kLlamaFamily,      &kMistralFamily,       &kQwen2Family,      &kQwen3Family,
      &kGemmaFamily,      &kGemma2Family,        &kGemma3Family,     &kPhi3Family,
      &kMixtralFamily,    &kQwen2MoeFamily,      &kQwen3MoeFamily,   &kOlmoeFamily,
      &kGraniteMoeFamily, &kDeepseekV2Family,    &kDeepseekV3Family, &kGptOssFamily,
      &kLlama4Family,     &kGemmaEmbeddingFamily};
  return kAll;
}

const Family* family_for_config(const HParams& hp) {
  // convert_hf_to_gguf.py goes by the first entry of "architectures"; text_config's wins.
  const Value* archs = hp.find("architectures");
  if (archs && archs->type() == ValueType::ARRAY && !archs->as_array().empty() &&
      archs->as_array().elem() == ValueType::STRING) {
    const std::string& name = archs->as_array().string_at(0);
    for (const Family* f : families())
      for (auto a : f->hf_architectures)
        if (a == name) return f;
    return nullptr;
  }
  if (auto type = hp.opt_string("model_type")) {
    for (const Family* f : families())
      for (auto t : f->model_types)
        if (t == *type) return f;
  }
  return nullptr;
}

const Family* family_for_gguf(std::string_view arch) {
  for (const Family* f : families())
    if (f->gguf_arch == arch) return f;
  return nullptr;
}

const Family* family_for_gguf_back(std::string_view arch, bool has_experts) {
  for (const Family* f : families()) {
    const ExpertTable& e = f->experts;
    const bool has_table = !e.stems.empty() || !e.fused.empty() || !e.whole.empty() ||
                           !e.transposed.empty() || !e.packed.empty();
    if (f->gguf_arch == arch && f->write_config && has_table == has_experts) return f;
  }
  return nullptr;
}

std::string supported_list() {
  std::string out;
  for (const Family* f : families()) {
    for (auto a : f->hf_architectures) {
      if (!out.empty()) out += ", ";
      out += a;
    }
  }
  return out;
}

const Value* GgufView::find(std::string_view suffix) const {
  return g_.metadata.find(arch_ + "." + std::string(suffix));
}

std::optional<int64_t> GgufView::opt_int(std::string_view suffix) const {
  const Value* v = find(suffix);
  if (!v) return std::nullopt;
  if (auto i = v->to_int()) return i;
  throw UsageError(arch_ + "." + std::string(suffix) + " is " + v->to_display() +
                   ", not an integer");
}

int64_t GgufView::int_(std::string_view suffix) const {
  if (auto v = opt_int(suffix)) return *v;
  throw UsageError("the GGUF has no " + arch_ + "." + std::string(suffix) +
                   ", which config.json needs");
}

std::optional<double> GgufView::opt_float(std::string_view suffix) const {
  const Value* v = find(suffix);
  if (!v) return std::nullopt;
  if (auto d = v->to_double(); d && v->type() != ValueType::BOOL) return d;
  throw UsageError(arch_ + "." + std::string(suffix) + " is " + v->to_display() + ", not a number");
}

std::optional<std::string> GgufView::opt_string(std::string_view suffix) const {
  const Value* v = find(suffix);
  if (!v) return std::nullopt;
  if (v->type() != ValueType::STRING)
    throw UsageError(arch_ + "." + std::string(suffix) + " is " + v->to_display() +
                     ", not a string");
  return v->as_string();
}

namespace {

std::string config_key(std::string_view key) {
  return "hf.config." + std::string(key);
}

// The double that the shortest decimal naming this float denotes: what a person wrote.
double shortest_decimal(double v) {
  const float f = static_cast<float>(v);
  if (!std::isfinite(f)) return v;
  char buf[32];
  for (int digits = 1; digits <= 9; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, static_cast<double>(f));
    if (std::strtof(buf, nullptr) == f) return std::strtod(buf, nullptr);
  }
  return v;
}

}  // namespace

void ConfigWriter::integer(std::string_view key, int64_t v) {
  out_.set(config_key(key), Value::i64(v));
}

void ConfigWriter::real(std::string_view key, double v, bool from_f32) {
  out_.set(config_key(key), Value::f64(from_f32 ? shortest_decimal(v) : v));
}

void ConfigWriter::string(std::string_view key, std::string v) {
  out_.set(config_key(key), Value::string(std::move(v)));
}

void ConfigWriter::boolean(std::string_view key, bool v) {
  out_.set(config_key(key), Value::boolean(v));
}

void ConfigWriter::strings(std::string_view key, std::vector<std::string> v) {
  Array a(ValueType::STRING);
  for (auto& s : v) a.push_back(Value::string(std::move(s)));
  out_.set(config_key(key), Value::array(std::move(a)));
}

void ConfigWriter::reals(std::string_view key, const std::vector<float>& v) {
  Array a(ValueType::F64);
  for (float f : v) a.push_back(Value::f64(shortest_decimal(f)));
  out_.set(config_key(key), Value::array(std::move(a)));
}

void ConfigWriter::null(std::string_view key) {
  out_.erase(config_key(key));
  out_.set(hf::kConfigNullPrefix + std::string(key), Value::boolean(true));
}

void ConfigWriter::erase(std::string_view key) {
  out_.erase(config_key(key));
  out_.erase(hf::kConfigNullPrefix + std::string(key));
}

void ConfigWriter::integers(std::string_view key, const std::vector<int64_t>& v) {
  Array a(ValueType::I64);
  for (int64_t i : v) a.push_back(Value::i64(i));
  out_.set(config_key(key), Value::array(std::move(a)));
}

}  // namespace owl::arch
