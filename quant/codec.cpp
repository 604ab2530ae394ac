#include "quant/codec.h"

#include <cmath>
#include <string>

#include "formats/io/error.h"
#include "quant/fp4.h"
#include "quant/iquants.h"
#include "quant/kquants.h"
#include "quant/legacy.h"
#include "quant/lowbit.h"
#include "quant/ternary.h"

namespace owl {

namespace {

struct Entry {
  ElemType type;
  BlockCodec codec;
};

// Every quantizer here reproduces ggml's llama-quantize path without an importance matrix, and
// every dequantizer ggml's; tests/quant/codec_test.cpp holds each to ggml's own bytes. The
// weighted quantizers reproduce ggml's path with one (tests/interop/test_weighted_codecs.py).
// Where the weighted column is null ggml ignores the importance matrix for the type: its
// `quantize_<type>` never reads quant_weights (Q8_0, TQ1_0, TQ2_0, MXFP4, NVFP4, Q1_0, Q2_0), or
// it is an activation type that ggml_quantize_chunk does not produce at all (Q8_1, Q8_K).
// ggml quantizes IQ2_XXS, IQ2_XS and IQ1_S only with an importance matrix: they have no
// unweighted quantizer (tests/interop/test_iquant_codecs.py holds the grid i-quants' paths).
constexpr Entry kCodecs[] = {
    {ElemType::Q4_0, {quantize_q4_0, dequantize_q4_0, true, quantize_q4_0_weighted}},
    {ElemType::Q4_1, {quantize_q4_1, dequantize_q4_1, true, quantize_q4_1_weighted}},
    {ElemType::Q5_0, {quantize_q5_0, dequantize_q5_0, true, quantize_q5_0_weighted}},
    {ElemType::Q5_1, {quantize_q5_1, dequantize_q5_1, true, quantize_q5_1_weighted}},
    {ElemType::Q8_0, {quantize_q8_0, dequantize_q8_0, true, nullptr}},
    {ElemType::Q8_1, {quantize_q8_1, dequantize_q8_1, true, nullptr}},
    {ElemType::Q2_K, {quantize_q2_K, dequantize_q2_K, true, quantize_q2_K_weighted}},
    {ElemType::Q3_K, {quantize_q3_K, dequantize_q3_K, true, quantize_q3_K_weighted}},
    {ElemType::Q4_K, {quantize_q4_K, dequantize_q4_K, true, quantize_q4_K_weighted}},
    {ElemType::Q5_K, {quantize_q5_K, dequantize_q5_K, true, quantize_q5_K_weighted}},
    {ElemType::Q6_K, {quantize_q6_K, dequantize_q6_K, true, quantize_q6_K_weighted}},
    {ElemType::Q8_K, {quantize_q8_K, dequantize_q8_K, true, nullptr}},
    {ElemType::TQ1_0, {quantize_tq1_0, dequantize_tq1_0, true, nullptr}},
    {ElemType::TQ2_0, {quantize_tq2_0, dequantize_tq2_0, true, nullptr}},
    {ElemType::MXFP4, {quantize_mxfp4, dequantize_mxfp4, true, nullptr}},
    {ElemType::NVFP4, {quantize_nvfp4, dequantize_nvfp4, true, nullptr}},
    {ElemType::Q1_0, {quantize_q1_0, dequantize_q1_0, true, nullptr}},
    {ElemType::Q2_0, {quantize_q2_0, dequantize_q2_0, true, nullptr}},
    {ElemType::IQ4_NL, {quantize_iq4_nl, dequantize_iq4_nl, true, quantize_iq4_nl_weighted}},
    {ElemType::IQ4_XS, {quantize_iq4_xs, dequantize_iq4_xs, true, quantize_iq4_xs_weighted}},
    {ElemType::IQ2_XXS, {nullptr, dequantize_iq2_xxs, true, quantize_iq2_xxs_weighted}},
    {ElemType::IQ2_XS, {nullptr, dequantize_iq2_xs, true, quantize_iq2_xs_weighted}},
    {ElemType::IQ2_S, {quantize_iq2_s, dequantize_iq2_s, true, quantize_iq2_s_weighted}},
    {ElemType::IQ3_XXS, {quantize_iq3_xxs, dequantize_iq3_xxs, true, quantize_iq3_xxs_weighted}},
    {ElemType::IQ3_S, {quantize_iq3_s, dequantize_iq3_s, true, quantize_iq3_s_weighted}},
    {ElemType::IQ1_S, {nullptr, dequantize_iq1_s, true, quantize_iq1_s_weighted}},
    {ElemType::IQ1_M, {quantize_iq1_m, dequantize_iq1_m, true, quantize_iq1_m_weighted}},
};

}  // namespace

const BlockCodec& block_codec(ElemType t) {
  static constexpr BlockCodec kNone{};
  for (const Entry& e : kCodecs) {
    if (e.type == t) return e.codec;
  }
  return kNone;
}

NonFiniteValue::NonFiniteValue(uint64_t index, float value)
    : std::runtime_error("element " + std::to_string(index) + " is " +
                         (std::isnan(value) ? "NaN"
                          : value > 0       ? "+inf"
                                            : "-inf") +
                         "; a NaN or infinite weight cannot be quantized"),
      index_(index),
      value_(value) {}

size_t first_non_finite(std::span<const float> x) {
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) return i;
  }
  return x.size();
}

namespace {

// The number of blocks in `elements`, after checking that they are whole blocks of `t`.
uint64_t whole_blocks(ElemType t, uint64_t elements, const char* what) {
  const TypeInfo& info = type_info(t);
  if (info.kind != TypeKind::Quantized || elements % info.block_elems != 0) {
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(elements) +
                                " elements are not whole " + std::string(info.name) + " blocks");
  }
  return elements / info.block_elems;
}

}  // namespace

void quantize_row(ElemType t, std::span<const float> x, std::span<std::byte> out) {
  const BlockCodec& codec = block_codec(t);
  if (!codec.quantize)
    throw UsageError("owl cannot quantize to " + std::string(type_name(t)) +
                     " (no quantizer for this type)");
  const uint64_t blocks = whole_blocks(t, x.size(), "quantize_row");
  if (out.size() != blocks * type_info(t).block_bytes)
    throw std::invalid_argument("quantize_row: output size does not match the input");
  if (const size_t bad = first_non_finite(x); bad != x.size()) throw NonFiniteValue(bad, x[bad]);
  codec.quantize(x.data(), out.data(), x.size());
}

void quantize_row_weighted(ElemType t, std::span<const float> x, std::span<std::byte> out,
                           std::span<const float> weights) {
  const BlockCodec& codec = block_codec(t);
  if (!codec.quantize_weighted) return quantize_row(t, x, out);
  const size_t n = weights.size();
  if (n == 0 || x.size() % n != 0)
    throw std::invalid_argument("quantize_row_weighted: the input is not whole rows of " +
                                std::to_string(n) + " values");
  const uint64_t blocks = whole_blocks(t, n, "quantize_row_weighted");
  const size_t row_bytes = blocks * type_info(t).block_bytes;
  if (out.size() != x.size() / n * row_bytes)
    throw std::invalid_argument("quantize_row_weighted: output size does not match the input");
  if (const size_t bad = first_non_finite(x); bad != x.size()) throw NonFiniteValue(bad, x[bad]);
  for (size_t r = 0; r < x.size() / n; ++r)
    codec.quantize_weighted(x.data() + r * n, out.data() + r * row_bytes, n, weights.data());
}

void dequantize_row(ElemType t, std::span<const std::byte> in, std::span<float> y) {
  const BlockCodec& codec = block_codec(t);
  if (!codec.dequantize)
    throw UsageError("owl cannot dequantize " + std::string(type_name(t)) +
                     " (no dequantizer for this type)");
  const uint64_t blocks = whole_blocks(t, y.size(), "dequantize_row");
  if (in.size() != blocks * type_info(t).block_bytes)
    throw std::invalid_argument("dequantize_row: input size does not match the output");
  codec.dequantize(in.data(), y.data(), y.size());
}

}  // namespace owl
