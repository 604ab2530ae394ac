#include "converters/arch/rope_tensors.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numbers>

#include "formats/io/error.h"

namespace owl::arch {

std::optional<Llama3Rope> llama3_settings(const Rope& rope, int64_t head_dim,
                                          double default_theta) {
  if (!rope.type) return std::nullopt;
  std::string type = *rope.type;
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (type != "llama3") return std::nullopt;
  Llama3Rope r;
  r.theta = rope.theta.value_or(default_theta);
  r.head_dim = head_dim;
  r.factor = rope.factor.value_or(8.0);
  r.low_freq_factor = rope.low_freq_factor.value_or(1.0);
  r.high_freq_factor = rope.high_freq_factor.value_or(4.0);
  r.original_context = static_cast<double>(rope.original_context.value_or(8192));
  return r;
}

std::vector<float> llama3_rope_factors(const Llama3Rope& r) {
  // The reference works on F32 tensors with Python floats as scalars: each scalar is rounded
  // to F32 where it meets a tensor, and `a / t` is computed as `a * (1 / t)`.
  const float factor = static_cast<float>(r.factor);
  const float low = static_cast<float>(r.low_freq_factor);
  const float high_minus_low = static_cast<float>(r.high_freq_factor - r.low_freq_factor);
  const float low_wavelen = static_cast<float>(r.original_context / r.low_freq_factor);
  const float high_wavelen = static_cast<float>(r.original_context / r.high_freq_factor);
  const float two_pi = static_cast<float>(2 * std::numbers::pi);
  const float old_ctx = static_cast<float>(r.original_context);
  const float dim = static_cast<float>(r.head_dim);

  std::vector<float> out;
  for (int64_t i = 0; i < r.head_dim; i += 2) {
    const float exponent = static_cast<float>(i) / dim;
    const float freq = 1.0f / static_cast<float>(std::pow(r.theta, static_cast<double>(exponent)));
    const float wavelen = (1.0f / freq) * two_pi;
    if (wavelen < high_wavelen) {
      out.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      out.push_back(factor);
    } else {
      const float smooth = ((1.0f / wavelen) * old_ctx - low) / high_minus_low;
      out.push_back(1.0f / ((1.0f - smooth) / factor + smooth));
    }
  }
  return out;
}

bool consume_llama3_rope_freqs(const GgufView& v, const Tensor& t, ConfigWriter& cw,
                               double default_theta, double low, double high) {
  if (t.name != "rope_freqs.weight") return false;
  const std::vector<float> have = read_f32_values(t);
  Llama3Rope r;
  r.theta = v.opt_float("rope.freq_base").value_or(default_theta);
  r.head_dim = static_cast<int64_t>(have.size()) * 2;
  r.low_freq_factor = low;
  r.high_freq_factor = high;
  double largest = 1.0;
  for (float f : have) largest = std::max<double>(largest, f);
  // 8192 first (every Llama 3.x and Llama 4), then the model's context and the powers of two
  // below 2^20.
  std::vector<double> contexts = {8192.0,
                                  static_cast<double>(v.opt_int("context_length").value_or(8192))};
  for (double p = 64; p <= (1 << 20); p *= 2) contexts.push_back(p);
  for (double orig : contexts) {
    for (double factor : {largest, 8.0, 32.0, 16.0}) {
      r.original_context = orig;
      r.factor = factor;
      if (llama3_rope_factors(r) != have) continue;
      cw.string("rope_scaling.rope_type", "llama3");
      cw.real("rope_scaling.factor", r.factor);
      cw.real("rope_scaling.low_freq_factor", r.low_freq_factor, false);
      cw.real("rope_scaling.high_freq_factor", r.high_freq_factor, false);
      cw.integer("rope_scaling.original_max_position_embeddings", static_cast<int64_t>(orig));
      return true;
    }
  }
  char factors[64];
  std::snprintf(factors, sizeof factors, "%g/%g", low, high);
  throw UsageError(
      "rope_freqs.weight does not match Llama 3 RoPE scaling with low/high frequency "
      "factors " +
      std::string(factors) +
      " and a power-of-two original context; owl cannot write its rope_scaling to "
      "config.json");
}

Tensor f32_tensor(std::string name, const std::vector<float>& values) {
  std::vector<std::byte> bytes(values.size() * sizeof(float));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return Tensor{std::move(name),
                {values.size()},
                ElemType::F32,
                std::make_shared<BufferSource>(std::move(bytes))};
}

std::vector<float> read_f32_values(const Tensor& t) {
  // Only small vectors are read whole; anything else named like them is not what it claims.
  constexpr uint64_t kMaxValues = 1 << 16;
  if (t.type != ElemType::F32 || t.shape.size() != 1 || t.shape[0] > kMaxValues || !t.data ||
      t.byte_size() != t.shape[0] * sizeof(float)) {
    throw UsageError("tensor '" + t.name + "' should be a small 1-D F32 vector, but is " +
                     std::string(type_name(t.type)) + " " + t.shape_string());
  }
  const auto bytes = read_all(*t.data);
  std::vector<float> out(t.shape[0]);
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

}  // namespace owl::arch
