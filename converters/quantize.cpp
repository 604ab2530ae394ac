#include "converters/quantize.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <map>
#include <regex>

#include "converters/convert.h"
#include "converters/normalize.h"
#include "formats/gguf/limits.h"
#include "formats/gguf/writer.h"
#include "formats/imatrix/imatrix.h"
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

// Appends `key` (replacing it where it was), as ggml's gguf_set_val does.
void put_last(Metadata& m, const std::string& key, Value v) {
  m.erase(key);
  m.set(key, std::move(v));
}

// The keys llama-quantize records about the importance matrix (strings cut to 127 bytes, as its
// fixed-size override buffers cut them).
constexpr const char* kImatrixFileKey = "quantize.imatrix.file";
constexpr const char* kImatrixDatasetKey = "quantize.imatrix.dataset";
constexpr const char* kImatrixEntriesKey = "quantize.imatrix.entries_count";
constexpr const char* kImatrixChunksKey = "quantize.imatrix.chunks_count";
constexpr size_t kMaxOverrideString = 127;

// The importance matrix as llama-quantize's prepare_imatrix leaves it.
struct LoadedImatrix {
  std::shared_ptr<ImportanceWeights> weights = std::make_shared<ImportanceWeights>();
  size_t entries = 0;  // as loaded and filtered, before --prune-layers renames them
  std::vector<std::string> datasets;
  int32_t chunks = 0;
};

bool holds_any(const std::string& name, const std::vector<std::string>& parts) {
  return std::any_of(parts.begin(), parts.end(),
                     [&](const std::string& p) { return name.find(p) != name.npos; });
}

LoadedImatrix load_imatrix(const QuantizeOptions& opt) {
  if (!opt.include_weights.empty() && !opt.exclude_weights.empty())
    throw UsageError("--include-weights and --exclude-weights cannot be used together");
  LoadedImatrix r;
  if (opt.imatrix.empty()) {
    if (!opt.include_weights.empty() || !opt.exclude_weights.empty())
      throw UsageError("--include-weights and --exclude-weights need --imatrix");
    return r;
  }
  const Imatrix m = read_imatrix(opt.imatrix);
  if (m.format == ImatrixFormat::Gguf && !m.has_metadata)
    throw InputError(opt.imatrix,
                     "not an importance matrix llama-quantize accepts: it lacks the "
                     "imatrix.datasets, imatrix.chunk_count or imatrix.chunk_size key");
  for (auto& [name, w] : importance_weights(m)) {
    if (holds_any(name, opt.exclude_weights)) continue;
    if (!opt.include_weights.empty() && !holds_any(name, opt.include_weights)) continue;
    r.weights->emplace(name, std::move(w));
  }
  r.entries = r.weights->size();
  r.datasets = m.datasets;
  r.chunks = m.chunk_count;
  return r;
}

// After file_type, as llama-quantize sets them (each appended, replacing any the input had).
void set_imatrix_keys(Metadata& m, const QuantizeOptions& opt, const LoadedImatrix& im) {
  auto put = [&m](const char* key, Value v) { put_last(m, key, std::move(v)); };
  if (im.entries == 0) return;
  put(kImatrixFileKey, Value::string(opt.imatrix.substr(0, kMaxOverrideString)));
  if (!im.datasets.empty())
    put(kImatrixDatasetKey, Value::string(im.datasets.front().substr(0, kMaxOverrideString)));
  put(kImatrixEntriesKey, Value::u32(static_cast<uint32_t>(im.entries)));
  if (im.chunks > 0) put(kImatrixChunksKey, Value::u32(static_cast<uint32_t>(im.chunks)));
}

// --prune-layers: the "blk.N." of a name (anywhere in it, as llama.cpp's regex finds it).
struct LayerRef {
  size_t pos = 0, len = 0;  // of N
  int64_t layer = -1;
};
LayerRef layer_ref(const std::string& name) {
  static const std::regex kBlk(R"(blk\.(\d+)\.)");
  std::smatch m;
  if (!std::regex_search(name, m, kBlk) || m[1].length() > 9) return {};
  return {static_cast<size_t>(m.position(1)), static_cast<size_t>(m.length(1)),
          std::stoll(m[1].str())};
}

std::string renamed(const std::string& name, const LayerRef& r, int64_t to) {
  return name.substr(0, r.pos) + std::to_string(to) + name.substr(r.pos + r.len);
}

// Drops the layers listed and numbers the others on from 0, walking the tensors in llama.cpp's
// order as its remap_layer does; renames the importance matrix's entries alike. Returns the new
// layer count.
int64_t prune_layers(Graph& g, const std::vector<int64_t>& prune, ImportanceWeights& weights) {
  std::map<int64_t, int64_t> to;  // old layer -> new, -1 pruned
  int64_t next = 0;
  std::vector<Tensor> kept;
  for (Tensor& t : g.tensors) {
    const LayerRef r = layer_ref(t.name);
    if (r.layer < 0) {
      kept.push_back(std::move(t));
      continue;
    }
    if (!to.count(r.layer)) {
      if (std::binary_search(prune.begin(), prune.end(), r.layer))
        to[r.layer] = -1;
      else
        to[r.layer] = r.layer < prune.front() ? r.layer : next;
      if (to[r.layer] >= 0) next = to[r.layer] + 1;
    }
    if (to[r.layer] < 0) continue;
    t.name = renamed(t.name, r, to[r.layer]);
    kept.push_back(std::move(t));
  }
  g.tensors = std::move(kept);
  ImportanceWeights moved;
  for (auto& [name, w] : weights) {
    const LayerRef r = layer_ref(name);
    if (r.layer < 0) {
      moved.emplace(name, std::move(w));
    } else if (const auto it = to.find(r.layer); it != to.end() && it->second >= 0) {
      moved.emplace(renamed(name, r, it->second), std::move(w));
    }
  }
  weights = std::move(moved);
  return next;
}

// The tensors of each input part, for a graph sorted by part. llama-quantize --keep-split writes
// a part for each input part up to the last that holds a tensor.
std::vector<size_t> tensors_per_input(const Graph& g) {
  std::vector<size_t> sizes;
  for (const Tensor& t : g.tensors) {
    if (t.input_part >= sizes.size()) sizes.resize(t.input_part + 1);
    ++sizes[t.input_part];
  }
  return sizes;
}

struct Prepared {
  Graph graph;
  Plan plan;
  LoadedImatrix imatrix;
  int64_t layers_left = -1;  // after --prune-layers
};

Prepared prepare(const std::string& input, const QuantizeOptions& opt) {
  Prepared p{open_model(input), {}, load_imatrix(opt)};
  lora::apply_adapters(p.graph, opt.loras, ElemType::F16);
  normalize(p.graph, input, {opt.tokenizer, opt.warn});
  // The plan (and --dry-run) lists the tensors as the file will hold them.
  if (opt.plan.keep_split) {
    if (p.graph.format != "gguf")
      throw UsageError("--keep-split keeps the parts of a split GGUF; " + input + " is " +
                       p.graph.format);
    sort_tensors_by_input(p.graph);
  } else {
    sort_tensors_like_llama(p.graph);
  }
  for (const auto& o : opt.override_kv) p.graph.metadata.set(o.key, o.value);
  if (!opt.prune_layers.empty())
    p.layers_left = prune_layers(p.graph, opt.prune_layers, *p.imatrix.weights);
  PlanOptions plan_opt = opt.plan;
  plan_opt.imatrix = p.imatrix.weights;
  p.plan = make_plan(p.graph, stored_types(p.graph), plan_opt, input);
  for (const auto& w : p.plan.warnings) opt.warn(w);
  return p;
}

}  // namespace

KvOverride parse_kv_override(std::string_view text) {
  const std::string all(text);
  const size_t eq = text.find('=');
  if (eq == text.npos || eq == 0 || eq >= 128)
    throw UsageError("--override-kv '" + all +
                     "' must be KEY=TYPE:VALUE with a key of 1 to 127 bytes");
  KvOverride o{std::string(text.substr(0, eq)), {}};
  const std::string_view rest = text.substr(eq + 1);
  const size_t colon = rest.find(':');
  const std::string_view type = rest.substr(0, colon);
  const std::string value(colon == rest.npos ? std::string_view() : rest.substr(colon + 1));
  auto bad = [&](const std::string& why) {
    return UsageError("--override-kv '" + all + "': " + why);
  };
  if (colon == rest.npos) throw bad("TYPE:VALUE expected after '=' (int, float, bool or str)");
  if (type == "int") {
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || end != value.data() + value.size() || v < -int64_t{UINT32_MAX} ||
        v > int64_t{UINT32_MAX})
      throw bad("'" + value + "' is not an integer that fits 32 bits");
    o.value = Value::u32(static_cast<uint32_t>(v < 0 ? -v : v));
  } else if (type == "float") {
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (value.empty() || end != value.c_str() + value.size())
      throw bad("'" + value + "' is not a number");
    o.value = Value::f32(static_cast<float>(v));
  } else if (type == "bool") {
    if (value != "true" && value != "false") throw bad("a bool is true or false");
    o.value = Value::boolean(value == "true");
  } else if (type == "str") {
    if (value.size() > 127) throw bad("a string value cannot exceed 127 bytes");
    o.value = Value::string(value);
  } else {
    throw bad("the type must be int, float, bool or str");
  }
  return o;
}

Plan plan_quantization(const std::string& input, const QuantizeOptions& opt) {
  return prepare(input, opt).plan;
}

namespace {

// The output graph, lazy: prepared, checked, its keys set as llama-quantize sets them.
Prepared build(const std::string& input, const QuantizeOptions& opt) {
  Prepared p = prepare(input, opt);
  check_plan(p.plan);
  Graph& g = p.graph;
  strip_provenance(g.metadata);
  set_quantized_file_keys(g.metadata, p.plan.mix->file_type);
  for (const auto& o : opt.override_kv) put_last(g.metadata, o.key, o.value);
  set_imatrix_keys(g.metadata, opt, p.imatrix);
  if (p.layers_left >= 0)
    put_last(g.metadata, g.architecture + ".block_count",
             Value::u32(static_cast<uint32_t>(p.layers_left)));
  apply_plan(g, p.plan, {opt.threads, input}, opt.hessians);
  drop_outer_ones(g);
  return p;
}

// What else decides the output's bytes besides its header: the options and every file read, by
// size and modification time (hashing a terabyte of input to resume would cost what it saves).
std::string resume_identity(const Graph& g, const QuantizeOptions& opt) {
  std::string id = "quantize";
  for (const auto& o : opt.recipe.options) id += "\n" + o;
  std::vector<std::string> files;
  for (const auto& in : g.inputs) files.push_back(in.path);
  files.insert(files.end(), opt.recipe.files.begin(), opt.recipe.files.end());
  for (const auto& f : files) {
    struct stat st {};
    if (::stat(f.c_str(), &st) != 0) continue;
    id += "\n" + f + " " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) +
          "." + std::to_string(st.st_mtim.tv_nsec);
  }
  return id;
}

}  // namespace

Graph quantized_graph(const std::string& input, const QuantizeOptions& opt) {
  return build(input, opt).graph;
}

QuantizeResult quantize(const std::string& input, const std::string& output,
                        const QuantizeOptions& opt) {
  if (!output.ends_with(".gguf"))
    throw UsageError("owl quantize writes GGUF: name the output *.gguf, not '" + output + "'");
  check_output_folder(output);
  Prepared p = build(input, opt);
  refuse_overwriting_input(p.graph, output);

  Graph& g = p.graph;
  gguf::WriteOptions w;
  w.progress = opt.progress;
  if (opt.plan.keep_split) w.part_sizes = tensors_per_input(g);
  const bool leader = !opt.group || opt.group->rank() == 0;
  std::unique_ptr<ProvenanceWriter> record;
  if (opt.recipe.enabled) {
    // Only rank 0 finishes the record (the writer gathers the tensor hashes there).
    record = std::make_unique<ProvenanceWriter>(opt.recipe, input, g, leader);
    record->add_to(g, opt.loras.empty() ? "quantized" : "merge", "");
    w.finish_metadata = record->finisher();
  }
  w.split_max_bytes = opt.split_max_bytes;
  w.resume = opt.resume;
  if (opt.resume) w.resume_identity = resume_identity(g, opt);
  w.group = opt.group;
  w.note = opt.warn;
  QuantizeResult r;
  r.files = gguf::write(g, output, w);
  if (leader) finish_manifest(record.get(), g, output, r.files, opt.warn);
  r.plan = std::move(p.plan);
  return r;
}

}  // namespace owl
