// One forward pass of a model over calibration text, for the statistics quantization is steered
// by: the second moments --optimize feeds back through (hessian_collector.h) and the per-column
// input moments --target-bpw scores each tensor's rounding error with.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "converters/graph.h"
#include "quant/gptq.h"
#include "validate/forward.h"

namespace owl::validate {

// Runs `g` over the text's chunks of `ctx` tokens (at most `max_chunks`, 0: all; BOS first when
// the model adds one), `observer` seeing every matrix product. Throws InputError naming
// `text_file` when the text is shorter than one chunk. Returns the number of chunks run.
size_t run_calibration(const Graph& g, const std::string& text_file, uint64_t ctx,
                       uint64_t max_chunks, bool quiet, MatmulObserver observer);

// What one pass over the calibration text gathers: each matrix's mean squared input per column
// (experts x columns for a stack of experts), by weight name, over every matrix product the pass
// runs, the output projection included (token_embd.weight when the model ties it), which a
// measured recipe scores rounding with; and the second moments XᵀX (hessian_collector.h) that
// --optimize rounds with. A run that needs both runs the model once.
struct CalibrationStats {
  std::map<std::string, std::vector<float>> moments;  // when asked for
  Hessians hessians;                                  // when asked for
};

CalibrationStats collect_calibration(const Graph& g, const std::string& text_file, uint64_t ctx,
                                     uint64_t max_chunks, bool quiet, bool moments, bool hessians);

}  // namespace owl::validate
