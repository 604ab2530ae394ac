#include "converters/lora/to_gguf.h"

#include <cmath>
#include <filesystem>

#include "converters/arch/arch.h"
#include "converters/arch/general_keys.h"
#include "converters/lora/adapter.h"
#include "formats/gguf/limits.h"
#include "formats/gguf/writer.h"
#include "formats/io/error.h"
#include "formats/open.h"
#include "quant/float_codec.h"

namespace owl::lora {
namespace fs = std::filesystem;
namespace {

// A float matrix multiplied by a constant, in f32, then stored as `out`: a B matrix carrying a
// module's scale where it differs from the file's alpha / rank.
class ScaledSource final : public Source {
 public:
  ScaledSource(SourcePtr in, ElemType from, ElemType out, uint64_t elements, float factor)
      : in_(std::move(in)), from_(from), out_(out), elements_(elements), factor_(factor) {}
  uint64_t byte_size() const override { return elements_ * type_info(out_).block_bytes; }
  uint64_t granule() const override { return type_info(out_).block_bytes; }
  void read(uint64_t offset, std::span<std::byte> out) const override {
    const uint64_t first = offset / type_info(out_).block_bytes;
    const uint64_t n = out.size() / type_info(out_).block_bytes;
    std::vector<std::byte> raw(n * type_info(from_).block_bytes);
    in_->read(first * type_info(from_).block_bytes, raw);
    std::vector<float> v(n);
    cast_elements(from_, raw, ElemType::F32, std::as_writable_bytes(std::span(v)), n);
    for (float& x : v) x *= factor_;
    cast_elements(ElemType::F32, std::as_bytes(std::span(v)), out_, out, n);
  }
  void release() const override { in_->release(); }

 private:
  SourcePtr in_;
  ElemType from_, out_;
  uint64_t elements_;
  float factor_;
};

Tensor stored_as(Tensor t, ElemType to, float factor = 1.0f) {
  if (factor != 1.0f)
    t.data = std::make_shared<ScaledSource>(t.data, t.type, to, t.elements(), factor);
  else if (t.type != to)
    t.data = std::make_shared<CastSource>(t.data, t.type, to, t.elements());
  t.type = to;
  return t;
}

// general.name and the other keys the reference derives from the adapter's folder (its model
// card, its name), without the model's general.type and size label.
void add_folder_keys(Metadata& out, const std::string& folder,
                     const std::function<void(const std::string&)>& warn) {
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(folder, ec);
  if (ec) canonical = folder;
  if (!canonical.has_filename()) canonical = canonical.parent_path();
  Metadata card;
  arch::write_general_keys(card, {folder, canonical.filename().string()}, Metadata{},
                           arch::ParamCount{}, warn);
  for (const auto& [key, value] : card)
    if (key != "general.type" && key != "general.architecture") out.set(key, value);
}

void check_dtype(ElemType t) {
  if (t != ElemType::F32 && t != ElemType::F16 && t != ElemType::BF16)
    throw UsageError("a GGUF LoRA adapter is written as f32, f16 or bf16");
}

}  // namespace

Graph adapter_gguf_graph(const std::string& adapter, const std::string& base,
                         const AdapterGgufOptions& opt) {
  check_dtype(opt.dtype);
  const Adapter ad = read_adapter(adapter);
  if (!ad.replacements.empty())
    throw InputError(ad.weights_file,
                     "tensor '" + ad.replacements[0].name +
                         "' is a whole saved module (modules_to_save), which a GGUF LoRA cannot "
                         "hold; merge the adapter into the base instead (owl merge)");
  Graph base_graph = open_model(base);
  if (base_graph.format == "gguf")
    throw UsageError(
        "--base must be the base model's Hugging Face folder (its config.json), not "
        "GGUF: the adapter names its tensors");
  const arch::HfWeightMapper mapper(base_graph);

  const double alpha = ad.config.lora_alpha;
  Graph g;
  g.format = "gguf";
  g.architecture = mapper.gguf_arch();
  g.metadata.set("general.architecture", Value::string(mapper.gguf_arch()));
  g.metadata.set("general.type", Value::string("adapter"));
  g.metadata.set("adapter.type", Value::string("lora"));
  add_folder_keys(g.metadata, adapter, opt.warn);
  g.metadata.set("adapter.lora.alpha", Value::f32(static_cast<float>(alpha)));
  if (!ad.config.alora_invocation_tokens.empty()) {
    std::vector<Value> ids;
    for (uint32_t t : ad.config.alora_invocation_tokens) ids.push_back(Value::u32(t));
    g.metadata.set("adapter.alora.invocation_tokens", Value::array(Array(ValueType::U32, ids)));
  }
  g.metadata.set("general.quantization_version", Value::u32(gguf::kQuantizationVersion));

  for (const auto& p : ad.pairs) {
    // llama.cpp multiplies B A by alpha / rank; a module peft scales otherwise carries the ratio.
    const double llama_scale = alpha / static_cast<double>(p.rank);
    if (llama_scale == 0 && p.scale != 0)
      throw InputError(ad.config.file, "lora_alpha is 0 but '" + p.weight +
                                           "' has a non-zero scale; a GGUF LoRA cannot express it");
    const float factor = llama_scale == p.scale ? 1.0f : static_cast<float>(p.scale / llama_scale);
    Tensor b = p.b;
    b.name = p.weight;
    b = mapper.map(std::move(b), ad.weights_file);
    Tensor a = p.a;
    a.name = b.name + ".lora_a";
    b.name += ".lora_b";
    g.tensors.push_back(stored_as(std::move(a), opt.dtype));
    g.tensors.push_back(stored_as(std::move(b), opt.dtype, factor));
  }
  for (const auto& path : {fs::path(adapter) / kAdapterConfigName, fs::path(ad.weights_file)}) {
    std::error_code ec;
    g.inputs.push_back({path.string(), fs::file_size(path, ec)});
  }
  return g;
}

std::vector<std::string> write_adapter_gguf(const std::string& adapter, const std::string& base,
                                            const std::string& output,
                                            const AdapterGgufOptions& opt) {
  Graph g = adapter_gguf_graph(adapter, base, opt);
  gguf::WriteOptions w;
  w.progress = opt.progress;
  std::unique_ptr<ProvenanceWriter> record;
  if (opt.recipe.enabled) {
    record = std::make_unique<ProvenanceWriter>(opt.recipe, adapter, g);
    record->add_to(g, "adapter", "");
    w.finish_metadata = record->finisher();
  }
  auto files = gguf::write(g, output, w);
  finish_manifest(record.get(), g, output, files, opt.warn);
  return files;
}

}  // namespace owl::lora
