// How much each tensor's rounding costs at each type it could be given: the measurement that
// `owl quantize --target-bpw/--target-size` allocates bits with (quant/bit_allocation.h).
//
// The cost of a tensor at a type is the importance-weighted squared rounding error, summed over
// its rows and columns: Σ m_c (w - ŵ)², with m_c the mean square of the matrix's input column c
// over calibration text. It is the expected squared error the rounding adds to the matrix's
// output, per token (times a following norm's rescaling of each output, where the model has one:
// Gemma's post-norms, converters/measured_recipe.cpp); tools/bench/recipe_kld.sh measures how
// well it ranks the drift in the model's output that quantizing each tensor alone causes. The
// measurement is saved as JSON (--sensitivity-out) and reused for any target (--sensitivity).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "converters/graph.h"

namespace owl {

struct RecipeCandidate {
  ElemType type;
  uint64_t bytes = 0;  // the tensor's data at this type
  double error = 0;    // predicted: see the file comment
};

struct TensorSensitivity {
  std::string name;
  std::vector<uint64_t> shape;
  std::vector<RecipeCandidate> candidates;  // by bytes, then type
};

struct SensitivityTable {
  std::string calibration;  // the text it was measured on, for the record
  std::vector<TensorSensitivity> tensors;
};

// The types a measured recipe chooses among: the k-quants, IQ4_XS and the 32-element block
// types, none of which needs an importance matrix, all of which llama.cpp's CPU runs.
std::span<const ElemType> recipe_candidate_types();

// What one tensor's measurement reads: its values as F32 rows, the importance weights it will be
// quantized with (experts x columns, or empty), and the input moments it is scored with
// (experts x columns; empty: the calibration pass never multiplied by it). `lookup`: the tensor
// is also read as an embedding table, one row per token, which adds the mean squared error of a
// row. A tensor with neither is scored by its plain squared error.
struct SensitivityInput {
  std::string name;
  std::vector<uint64_t> shape;
  std::span<const float> values;
  std::span<const float> quant_weights;
  std::span<const float> moments;
  bool lookup = false;
  // Per row of the matrix (of each expert's matrix), what an error in that output counts for
  // (empty: 1 each): a norm that follows the product rescales its outputs (measured_recipe.cpp).
  std::span<const float> row_scale;
};

// Quantizes the tensor to every candidate type its rows fit, and scores each. Rows run on
// `threads` threads; each row's error is kept apart and summed in order, so the result does not
// depend on the thread count.
TensorSensitivity measure_tensor_sensitivity(const SensitivityInput& in, int threads);

// The JSON file: {"format": "owl-sensitivity", "version": 1, "calibration": ...,
// "tensors": [{"name", "shape", "candidates": [{"type", "bytes", "error"}]}]}.
inline constexpr uint64_t kMaxSensitivityFileBytes = 64ull << 20;
inline constexpr size_t kMaxSensitivityTensors = 1u << 20;

std::string sensitivity_json(const SensitivityTable& t);
void write_sensitivity(const SensitivityTable& t, const std::string& path);  // atomically
// Throws InputError naming `file` for anything but a well-formed table: unknown or repeated
// types, byte counts that do not match the shape, negative or non-finite errors, duplicate names.
SensitivityTable parse_sensitivity(std::string_view text, const std::string& file);
SensitivityTable read_sensitivity(const std::string& path);

}  // namespace owl
