#include "converters/quantize.h"

#include "converters/convert.h"
#include "converters/normalize.h"
#include "formats/gguf/limits.h"
#include "formats/gguf/writer.h"
#include "formats/io/error.h"
#include "formats/open.h"
#include "quant/convert_types.h"
#include "quant/driver.h"
#include "quant/tensor_order.h"

namespace owl {
namespace {

// The type llama.cpp would find each tensor in: a GGUF's own; for other inputs, the f16 GGUF that
// `owl convert` (like llama.cpp's converter) makes first. Tensors the mix quantizes are then
// quantized straight from the input's values, without that detour through F16.
std::vector<ElemType> stored_types(const Graph& g) {
  std::vector<ElemType> types;
  for (const auto& t : g.tensors)
    types.push_back(g.format == "gguf" ? t.type : gguf_convert_type(t, ElemType::F16).type);
  return types;
}

// llama-quantize copies the input's keys in order, then sets these two, and ggml's gguf_set_val
// removes a key before appending it: they come last, in this order, whether or not the input
// had them.
void set_quantized_file_keys(Metadata& m, uint32_t file_type) {
  m.erase(gguf::kQuantizationVersionKey);
  m.set(gguf::kQuantizationVersionKey, Value::u32(gguf::kQuantizationVersion));
  m.erase("general.file_type");
  m.set("general.file_type", Value::u32(file_type));
}

// ggml writes a tensor's dimensions up to its last one larger than 1 (ggml_n_dims): an outermost
// size of 1 is not written, and a scalar is written as one element of one dimension.
void drop_outer_ones(Graph& g) {
  for (Tensor& t : g.tensors) {
    size_t ones = 0;
    while (ones + 1 < t.shape.size() && t.shape[ones] == 1) ++ones;
    t.shape.erase(t.shape.begin(), t.shape.begin() + static_cast<std::ptrdiff_t>(ones));
    if (t.shape.empty()) t.shape = {1};
  }
}

struct Prepared {
  Graph graph;
  Plan plan;
};

Prepared prepare(const std::string& input, const QuantizeOptions& opt) {
  Prepared p{open_model(input), {}};
  normalize(p.graph, input, {opt.tokenizer, opt.warn});
  // The plan (and --dry-run) lists the tensors as the file will hold them.
  sort_tensors_like_llama(p.graph);
  p.plan = make_plan(p.graph, stored_types(p.graph), opt.plan, input);
  for (const auto& w : p.plan.warnings) opt.warn(w);
  return p;
}

}  // namespace

Plan plan_quantization(const std::string& input, const QuantizeOptions& opt) {
  return prepare(input, opt).plan;
}

QuantizeResult quantize(const std::string& input, const std::string& output,
                        const QuantizeOptions& opt) {
  if (!output.ends_with(".gguf"))
    throw UsageError("owl quantize writes GGUF: name the output *.gguf, not '" + output + "'");
  check_output_folder(output);
  Prepared p = prepare(input, opt);
  refuse_overwriting_input(p.graph, output);
  check_plan(p.plan);

  Graph& g = p.graph;
  set_quantized_file_keys(g.metadata, p.plan.mix->file_type);
  apply_plan(g, p.plan, {opt.threads, input});
  drop_outer_ones(g);
  gguf::WriteOptions w;
  w.progress = opt.progress;
  QuantizeResult r;
  r.files = gguf::write(g, output, w);
  r.plan = std::move(p.plan);
  return r;
}

}  // namespace owl
