#include "converters/quantize.h"

#include "converters/convert.h"
#include "converters/normalize.h"
#include "formats/gguf/limits.h"
#include "formats/gguf/writer.h"
#include "formats/io/error.h"
#include "formats/open.h"
#include "quant/convert_types.h"
#include "quant/driver.h"

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

struct Prepared {
  Graph graph;
  Plan plan;
};

Prepared prepare(const std::string& input, const QuantizeOptions& opt) {
  Prepared p{open_model(input), {}};
  normalize(p.graph, input, {opt.tokenizer, opt.warn});
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
  g.metadata.set(gguf::kQuantizationVersionKey, Value::u32(gguf::kQuantizationVersion));
  g.metadata.set("general.file_type", Value::u32(p.plan.mix->file_type));
  apply_plan(g, p.plan, {opt.threads, input});
  gguf::WriteOptions w;
  w.progress = opt.progress;
  QuantizeResult r;
  r.files = gguf::write(g, output, w);
  r.plan = std::move(p.plan);
  return r;
}

}  // namespace owl
