// `owl quantize`: read a model (any format owl reads), normalize it, plan every tensor's type with
// a llama.cpp mix, and write a GGUF, quantizing tensor by tensor as the writer streams.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "converters/graph.h"
#include "converters/progress.h"
#include "quant/plan.h"

namespace owl {

struct QuantizeOptions {
  PlanOptions plan;
  std::string tokenizer;  // a tokenizer file for inputs that lack one
  int threads = 0;        // 0: every core
  Progress* progress = nullptr;
  std::function<void(const std::string&)> warn = [](const std::string&) {};
};

struct QuantizeResult {
  Plan plan;
  std::vector<std::string> files;  // written
};

// Reads and normalizes the model and plans it; writes nothing (--dry-run). The plan's warnings
// go to `warn`; its problems stay in the plan for the caller to show.
Plan plan_quantization(const std::string& input, const QuantizeOptions& opt);

// The whole pipeline. The output must be a .gguf path. Throws UsageError when the plan has
// problems (a type owl cannot produce, a fallback under --no-fallback, requantization without
// --allow-requantize), and InputError naming the tensor when a weight is NaN or infinite.
QuantizeResult quantize(const std::string& input, const std::string& output,
                        const QuantizeOptions& opt);

}  // namespace owl
