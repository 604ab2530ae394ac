// FP8 checkpoints (DeepSeek-V3's and others' "quant_method": "fp8"): each linear weight stored as
// float8_e4m3fn beside a float32 `<weight>_scale_inv` holding one factor per block of
// weight_block_size (128 x 128 in DeepSeek-V3). convert_hf_to_gguf.py multiplies them out to
// float32 before anything else; so does this, lazily, one row at a time.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "converters/arch/hparams.h"
#include "converters/graph.h"

namespace owl::arch {

// The value of a float8_e4m3fn code (bias 7, no infinities, 0x7f and 0xff NaN).
float e4m3fn_to_f32(uint8_t code);

// An E4M3 matrix [rows, cols] times its scales [ceil(rows / block_rows), ceil(cols / block_cols)]
// (row-major F32), as F32: element (r, c) is value(r, c) * scale(r / block_rows, c / block_cols),
// one F32 multiplication as torch does it. A read takes whole rows.
class Fp8BlockSource final : public Source {
 public:
  Fp8BlockSource(SourcePtr weight, SourcePtr scale, uint64_t rows, uint64_t cols,
                 uint64_t block_rows, uint64_t block_cols);
  uint64_t byte_size() const override { return rows_ * cols_ * sizeof(float); }
  uint64_t granule() const override { return cols_ * sizeof(float); }
  void read(uint64_t offset, std::span<std::byte> out) const override;
  void release() const override { weight_->release(); }
  void release_range(uint64_t offset, uint64_t length) const override;

 private:
  SourcePtr weight_, scale_;
  uint64_t rows_, cols_, block_rows_, block_cols_, scale_cols_;
};

// When config.json's quantization_config says "fp8", replaces each weight that has a
// `<name>_scale_inv` beside it by its dequantized F32 form (in place, lazily) and returns the
// names of the tensors it consumed (the scales, and the unused activation scales), which the
// conversion then leaves out. Throws InputError naming `where` for a scale without its weight, a
// weight that is not E4M3 or not a matrix, or a scale whose shape does not fit the blocks.
std::set<std::string> dequantize_fp8_weights(std::vector<Tensor>& tensors, const HParams& hp,
                                             const std::string& where);

}  // namespace owl::arch
