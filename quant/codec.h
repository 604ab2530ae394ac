// The block codecs by element type: for each ggml block type, the function that quantizes a row
// of floats into it and the one that turns its blocks back into floats, where owl has them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

#include "converters/types.h"

namespace owl {

// Raw row functions: `n` is a multiple of the type's block size, buffers are large enough and
// the input is finite. They do not check; quantize_row / dequantize_row below do.
using QuantizeRowFn = void (*)(const float* x, std::byte* out, size_t n);
using DequantizeRowFn = void (*)(const std::byte* in, float* y, size_t n);
// An importance-weighted quantizer (ggml's `quantize_*` given `quant_weights` from an imatrix):
// `x` is ONE row of `n` values and `weights` its `n` per-column importances. Rows of a tensor
// share the weights, so the caller loops over rows.
using QuantizeWeightedRowFn = void (*)(const float* x, std::byte* out, size_t n,
                                       const float* weights);

struct BlockCodec {
  QuantizeRowFn quantize = nullptr;      // null: owl cannot produce this type
  DequantizeRowFn dequantize = nullptr;  // null: owl cannot turn this type into floats
  // The quantizers give the same bytes as ggml's (llama-quantize without an imatrix, and with
  // one for `quantize_weighted`). Every dequantizer gives the same floats as ggml's.
  bool quantize_matches_ggml = false;
  // Null where ggml's quantizer never reads the importance matrix for this type (the table in
  // codec.cpp names them); quantize_row_weighted then uses `quantize`, as ggml does.
  // Set with `quantize` null for the types ggml quantizes only with an importance matrix
  // (IQ2_XXS, IQ2_XS, IQ1_S).
  QuantizeWeightedRowFn quantize_weighted = nullptr;
};

// The codec of `t`; both functions are null for the plain types and for block types without one.
const BlockCodec& block_codec(ElemType t);
inline bool can_quantize(ElemType t) {
  return block_codec(t).quantize != nullptr;
}
// Whether owl can quantize to `t` given an importance matrix, which some types need.
inline bool can_quantize_weighted(ElemType t) {
  return can_quantize(t) || block_codec(t).quantize_weighted != nullptr;
}
inline bool can_dequantize(ElemType t) {
  return block_codec(t).dequantize != nullptr;
}

// A NaN or infinity in a row given to quantize_row. ggml would quantize it into garbage without
// a word; owl refuses, and the caller names the tensor.
class NonFiniteValue : public std::runtime_error {
 public:
  NonFiniteValue(uint64_t index, float value);
  // The element's index in the span given to quantize_row; QuantizeSource counts over the whole
  // tensor.
  uint64_t index() const { return index_; }
  float value() const { return value_; }

 private:
  uint64_t index_;
  float value_;
};

// The first element of `x` that is NaN or infinite, or x.size() if none.
size_t first_non_finite(std::span<const float> x);

// Quantizes one row (or several rows laid end to end: rows of block types are independent).
// Throws NonFiniteValue for a NaN or infinity, UsageError if owl has no quantizer for `t`, and
// std::invalid_argument if x is not whole blocks or `out` is not exactly their size.
void quantize_row(ElemType t, std::span<const float> x, std::span<std::byte> out);

// As quantize_row, with the importance matrix's per-column weights of one row: `x` holds whole
// rows of weights.size() values. Also throws std::invalid_argument if it does not.
void quantize_row_weighted(ElemType t, std::span<const float> x, std::span<std::byte> out,
                           std::span<const float> weights);

// Dequantizes whole blocks; any bytes are accepted (a NaN scale gives NaN weights, as in ggml).
// Throws UsageError if owl has no dequantizer for `t`, std::invalid_argument on a size mismatch.
void dequantize_row(ElemType t, std::span<const std::byte> in, std::span<float> y);

}  // namespace owl
