#include "converters/convert.h"

#include <filesystem>

#include "converters/arch/arch.h"
#include "converters/normalize.h"
#include "converters/tokenizer/hf_export.h"
#include "formats/gguf/limits.h"
#include "formats/gguf/writer.h"
#include "formats/hf/config_writer.h"
#include "formats/io/atomic_file.h"
#include "formats/io/error.h"
#include "formats/io/read_files.h"
#include "formats/open.h"
#include "formats/safetensors/limits.h"
#include "formats/safetensors/writer.h"
#include "quant/convert_types.h"
#include "quant/dtype_pass.h"
#include "quant/recipe.h"

namespace owl {
namespace fs = std::filesystem;

std::optional<OutputFormat> output_format_for(const std::string& path) {
  if (path.ends_with(".safetensors")) return OutputFormat::Safetensors;
  if (path.ends_with(".gguf")) return OutputFormat::Gguf;
  return std::nullopt;
}

// An output that is one of the inputs would be replaced while it is still being read. The
// writers check every file they will write (parts, shards, index) the same way.
void refuse_overwriting_input(const Graph& /*g*/, const std::string& output) {
  refuse_if_read(output);
}

void check_output_folder(const std::string& output) {
  const auto out_dir = fs::path(output).parent_path();
  if (!out_dir.empty() && !fs::is_directory(out_dir))
    throw UsageError("the output folder " + out_dir.string() + " does not exist");
}

namespace {

// Adapters are merged before anything else sees the graph, in the type the output stores: the
// --dtype when it is a float type, f32 when it is a block type, and otherwise what convert
// would store (F16 for a GGUF made from another format, the base's own type for safetensors).
void merge_adapters(Graph& g, OutputFormat format, const ConvertOptions& opt) {
  if (opt.loras.empty()) return;
  std::optional<ElemType> merged;
  if (opt.dtype)
    merged = is_quantized(*opt.dtype) ? ElemType::F32 : *opt.dtype;
  else if (format == OutputFormat::Gguf)
    merged = ElemType::F16;
  lora::apply_adapters(g, opt.loras, merged);
}

std::vector<ElemType> types_of(const Graph& g) {
  std::vector<ElemType> types;
  for (const auto& t : g.tensors) types.push_back(t.type);
  return types;
}

size_t count_retyped(const std::vector<ElemType>& before, const Graph& after) {
  size_t n = 0;
  for (size_t i = 0; i < before.size() && i < after.tensors.size(); ++i)
    n += before[i] != after.tensors[i].type;
  return n;
}

void prepare_gguf(Graph& g, const std::string& input, const ConvertOptions& opt) {
  strip_provenance(g.metadata);
  const bool from_gguf = g.format == "gguf";
  normalize(g, input, {opt.tokenizer, opt.warn, opt.sentence_transformers_dense});
  if (!from_gguf || opt.dtype) {
    const ElemType target = opt.dtype.value_or(ElemType::F16);
    // Experts a checkpoint holds in MXFP4 (gpt-oss) come out of the normalizer already packed
    // in ggml's blocks; they are written as they are, as the reference converter writes them.
    bool native_mxfp4 = false;
    for (const auto& t : g.tensors) {
      if (!from_gguf && t.type == ElemType::MXFP4) {
        native_mxfp4 = true;
        continue;
      }
      if (is_quantized(t.type) && t.type != target)
        throw UsageError("tensor '" + t.name + "' is " + std::string(type_name(t.type)) +
                         "; converting quantized tensors to another type is owl quantize's job");
    }
    for (const auto& f : apply_gguf_convert_types(g, target))
      opt.warn("tensor '" + f.tensor + "': " + f.why);
    // The reference then calls a float conversion llama.cpp's MXFP4_MOE file type.
    g.metadata.set("general.file_type", Value::u32(native_mxfp4 && !is_quantized(target)
                                                       ? find_mix("MXFP4_MOE")->file_type
                                                       : llama_file_type(target)));
    if (is_quantized(target) && !g.metadata.find(gguf::kQuantizationVersionKey))
      g.metadata.set("general.quantization_version", Value::u32(gguf::kQuantizationVersion));
  }
}

// A record of the run, when the recipe asks for one: its keys join the graph's metadata, and the
// writer completes them.
std::unique_ptr<ProvenanceWriter> start_record(Graph& g, const std::string& input,
                                               const ConvertOptions& opt,
                                               const std::string& key_prefix) {
  if (!opt.recipe.enabled) return nullptr;
  auto record = std::make_unique<ProvenanceWriter>(opt.recipe, input, g);
  const bool quantized = opt.dtype && is_quantized(*opt.dtype);
  std::string relation = quantized ? "quantized" : "";
  if (!opt.loras.empty()) relation = "merge";
  record->add_to(g, relation, key_prefix);
  return record;
}

std::vector<std::string> write_gguf(Graph& g, const std::string& input, const std::string& output,
                                    const ConvertOptions& opt) {
  prepare_gguf(g, input, opt);
  gguf::WriteOptions w;
  w.split_max_bytes = opt.split_max_bytes;
  w.split_max_tensors = opt.split_max_tensors;
  w.progress = opt.progress;
  const auto record = start_record(g, input, opt, "");
  if (record) w.finish_metadata = record->finisher();
  auto files = gguf::write(g, output, w);
  finish_manifest(record.get(), g, output, files, opt.warn);
  return files;
}

// A folder of safetensors and config.json is what transformers loads. The config is written
// unless the output folder's config.json is the one the model was read from.
void write_config_beside(const Graph& g, const std::string& output, std::vector<std::string>& files,
                         const ConvertOptions& opt) {
  const Json config = hf::config_json(g);
  if (config.empty()) return;
  const fs::path path = fs::path(output).parent_path() / "config.json";
  if (was_read(path.string())) return;
  std::error_code ec;
  if (fs::exists(path, ec) && opt.warn)
    opt.warn("replaced " + path.string() + ", which was there before");
  hf::write_config(g, path.string());
  files.push_back(path.string());
}

// From GGUF, the tokenizer files that AutoTokenizer loads, made from the GGUF's vocabulary. A
// tokenizer owl cannot express is a warning: the weights are still worth having.
void write_tokenizer_beside(const Graph& g, const std::string& output,
                            std::vector<std::string>& files, const ConvertOptions& opt) {
  auto exported = tok::export_hf_tokenizer(g.metadata);
  if (!exported.files) {
    if (opt.warn) opt.warn("no tokenizer files written: " + exported.why_not);
    return;
  }
  const fs::path dir = fs::path(output).parent_path();
  const auto& f = *exported.files;
  auto claim = [&](const char* name) {
    const fs::path path = dir / name;
    std::error_code ec;
    if (fs::exists(path, ec) && opt.warn)
      opt.warn("replaced " + path.string() + ", which was there before");
    files.push_back(path.string());
    return path.string();
  };
  if (!f.sentencepiece_model.empty()) {
    AtomicFile model(claim("tokenizer.model"));
    model.write(f.sentencepiece_model);
    model.commit();
  }
  const std::pair<const char*, const Json*> kFiles[] = {
      {"tokenizer.json", &f.tokenizer},
      {"tokenizer_config.json", &f.tokenizer_config},
      {"special_tokens_map.json", &f.special_tokens_map}};
  for (const auto& [name, json] : kFiles)
    if (!json->is_null()) hf::write_json(*json, claim(name));
}

// Returns whether the graph came from a GGUF (and was turned back into Hugging Face's form).
bool prepare_safetensors(Graph& g, const ConvertOptions& opt) {
  strip_provenance(g.metadata);
  // From GGUF, back to Hugging Face names and layout, with a config.json written beside.
  const bool from_gguf = g.format == "gguf";
  if (from_gguf) arch::to_hf(g);
  if (opt.dtype) {
    if (is_quantized(*opt.dtype))
      throw UsageError("safetensors stores float types: use --dtype f32, f16 or bf16");
    cast_float_tensors(g, *opt.dtype);
    hf::set_config_dtype(g, *opt.dtype);
  }
  return from_gguf;
}

std::vector<std::string> write_safetensors(Graph& g, const std::string& input,
                                           const std::string& output, const ConvertOptions& opt) {
  const bool from_gguf = prepare_safetensors(g, opt);
  safetensors::WriteOptions w;
  w.shard_bytes = opt.shard_bytes;
  w.progress = opt.progress;
  const auto record = start_record(g, input, opt, safetensors::kMetadataPrefix);
  if (record) w.finish_metadata = record->finisher();
  auto files = safetensors::write(g, output, w);
  write_config_beside(g, output, files, opt);
  if (from_gguf) write_tokenizer_beside(g, output, files, opt);
  finish_manifest(record.get(), g, output, files, opt.warn);
  return files;
}

}  // namespace

ConvertResult convert(const std::string& input, const std::string& output,
                      const ConvertOptions& opt) {
  const auto format = output_format_for(output);
  if (!format)
    throw UsageError("cannot tell the output format from '" + output +
                     "': name it *.gguf or *.safetensors");
  check_output_folder(output);

  Graph g = open_model(input);
  refuse_overwriting_input(g, output);
  merge_adapters(g, *format, opt);
  const auto before = types_of(g);

  ConvertResult result;
  result.files = *format == OutputFormat::Gguf ? write_gguf(g, input, output, opt)
                                               : write_safetensors(g, input, output, opt);
  result.tensors = g.tensors.size();
  result.retyped = count_retyped(before, g);
  result.bytes = g.tensor_bytes();
  return result;
}

Graph converted_graph(const std::string& input, OutputFormat format, const ConvertOptions& opt) {
  Graph g = open_model(input);
  merge_adapters(g, format, opt);
  if (format == OutputFormat::Gguf)
    prepare_gguf(g, input, opt);
  else
    prepare_safetensors(g, opt);
  return g;
}

}  // namespace owl
