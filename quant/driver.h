// Carries out a quantization plan on a graph, lazily: each tensor's new bytes are computed when
// a writer pulls them, with OpenMP threads splitting the rows, while a background thread reads
// the next tensor's input so that reading overlaps quantizing.
//
// Rows are independent, so the bytes do not depend on the thread count. Memory stays near two
// chunks of input (the one in hand and the next, read ahead: see quant/read_ahead.h) and the
// writer's chunk of output, whatever the size of the model or of its largest tensor.
#pragma once

#include <memory>
#include <string>

#include "converters/graph.h"
#include "quant/gptq.h"
#include "quant/plan.h"

namespace owl {

struct DriverOptions {
  int threads = 0;   // threads over the rows of a tensor; 0: every core
  std::string file;  // the input, named in errors about its values (a NaN, an infinity)
};

// The number of threads `threads` asks for: itself when positive, else every core.
int resolve_threads(int threads);

// Gives every tensor of `g` its planned type. Tensors that keep their type keep their source;
// the others get a source that converts (casts, quantizes, or dequantizes and quantizes again)
// on demand. Reading such a source throws InputError naming the tensor and the element when a
// weight is NaN or infinite, or too large for F16. The plan must come from make_plan(g, ...) and
// pass check_plan.
// `hessians`: calibration second moments by tensor name; the tensors that have one (2-D, of a
// type gptq_supports) are quantized with error feedback (quant/gptq.h). Null: none.
void apply_plan(Graph& g, const Plan& plan, const DriverOptions& opt,
                std::shared_ptr<const Hessians> hessians = nullptr);

}  // namespace owl
