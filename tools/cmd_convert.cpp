// owl convert IN -o OUT [--dtype ...] [--shard-size ...]: the same model in another file format.
#include <chrono>
#include <cstdio>
#include <memory>
#include <set>

#include "converters/convert.h"
#include "converters/lora/adapter.h"
#include "converters/lora/to_gguf.h"
#include "formats/io/error.h"
#include "formats/io/utf8.h"
#include "tools/commands.h"
#include "tools/human.h"
#include "tools/progress_line.h"
#include "tools/recipe_options.h"
#include "tools/rederive.h"

namespace owl {
namespace {

struct ConvertArgs {
  std::string input, output, dtype, shard_size, split_max_size, tokenizer, base;
  std::vector<std::string> loras;
  uint64_t split_max_tensors = 0;
  bool quiet = false, provenance = true, sentence_transformers_dense = false;
};

// Options that do not change the bytes written.
const std::set<std::string> kNotRecipe = {"output", "quiet", "provenance", "no-provenance"};

std::optional<ElemType> parse_dtype(const std::string& name) {
  if (name.empty() || name == "keep") return std::nullopt;
  if (name == "f32") return ElemType::F32;
  if (name == "f16") return ElemType::F16;
  if (name == "bf16") return ElemType::BF16;
  if (name == "q8_0") return ElemType::Q8_0;
  throw UsageError("--dtype must be keep, f32, f16, bf16 or q8_0, not '" + name + "'");
}

ConvertOptions options_from(const ConvertArgs& a) {
  ConvertOptions opt;
  opt.dtype = parse_dtype(a.dtype);
  if (!a.shard_size.empty()) opt.shard_bytes = *parse_size(a.shard_size);
  if (!a.split_max_size.empty()) opt.split_max_bytes = *parse_size(a.split_max_size);
  opt.split_max_tensors = a.split_max_tensors;
  opt.tokenizer = a.tokenizer;
  opt.sentence_transformers_dense = a.sentence_transformers_dense;
  for (const auto& l : a.loras) opt.loras.push_back(lora::parse_lora_spec(l));
  const bool quiet = a.quiet;
  opt.warn = [quiet](const std::string& w) {
    if (!quiet) std::fprintf(stderr, "owl: note: %s\n", printable(w).c_str());
  };
  return opt;
}

lora::AdapterGgufOptions adapter_options_from(const ConvertArgs& a) {
  lora::AdapterGgufOptions opt;
  if (const auto t = parse_dtype(a.dtype)) opt.dtype = *t;
  const bool quiet = a.quiet;
  opt.warn = [quiet](const std::string& w) {
    if (!quiet) std::fprintf(stderr, "owl: note: %s\n", printable(w).c_str());
  };
  return opt;
}

// owl convert ADAPTER --base BASE -o adapter.gguf: the adapter as llama.cpp's --lora reads it.
void run_adapter_convert(const ConvertArgs& a, const CLI::App& cmd) {
  if (a.base.empty())
    throw UsageError(a.input + " is a LoRA adapter: name its base model's folder with --base");
  if (output_format_for(a.output) != OutputFormat::Gguf)
    throw UsageError("a LoRA adapter converts to GGUF: name the output *.gguf");
  if (!a.loras.empty() || !a.shard_size.empty() || !a.split_max_size.empty() ||
      a.split_max_tensors || !a.tokenizer.empty())
    throw UsageError("converting an adapter takes only --base, --dtype and -o");
  check_output_folder(a.output);
  lora::AdapterGgufOptions opt = adapter_options_from(a);
  opt.recipe.enabled = a.provenance;
  opt.recipe.command = "convert";
  opt.recipe.options = recorded_options(cmd, kNotRecipe);
  opt.recipe.files.push_back(a.base + "/config.json");
  const auto files = lora::write_adapter_gguf(a.input, a.base, a.output, opt);
  if (!a.quiet) {
    std::fprintf(stderr, "wrote the LoRA adapter to:\n");
    for (const auto& f : files) std::fprintf(stderr, "  %s\n", f.c_str());
  }
}

void run_convert(const ConvertArgs& a, const CLI::App& cmd) {
  if (lora::is_adapter_folder(a.input)) return run_adapter_convert(a, cmd);
  if (!a.base.empty())
    throw UsageError("--base is for converting a LoRA adapter; " + a.input +
                     " has no adapter_config.json");
  ConvertOptions opt = options_from(a);
  opt.recipe.enabled = a.provenance;
  opt.recipe.command = "convert";
  opt.recipe.options = recorded_options(cmd, kNotRecipe);
  if (!a.tokenizer.empty()) opt.recipe.files.push_back(a.tokenizer);
  for (const auto& l : opt.loras)
    for (const auto& f : lora::adapter_files(l.folder)) opt.recipe.files.push_back(f);
  ProgressLine progress(a.quiet);
  opt.progress = &progress;
  const auto start = std::chrono::steady_clock::now();
  const auto r = convert(a.input, a.output, opt);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!a.quiet) {
    std::string cast;
    if (r.retyped) cast = ", " + std::to_string(r.retyped) + " retyped";
    std::fprintf(stderr, "wrote %zu tensors (%s%s) in %s to:\n", r.tensors,
                 human_bytes(r.bytes).c_str(), cast.c_str(), human_duration(secs).c_str());
    for (const auto& f : r.files) std::fprintf(stderr, "  %s\n", f.c_str());
  }
}

void add_convert_options(CLI::App* cmd, const std::shared_ptr<ConvertArgs>& args) {
  cmd->add_option(
         "input", args->input,
         "A model: Hugging Face folder, .safetensors (or its index), .gguf (or its first split), "
         "PyTorch .bin/.pt (or its index), llama2.c checkpoint")
      ->required();
  cmd->add_option("-o,--output", args->output,
                  "Output file; its extension picks the format (.gguf, .safetensors)")
      ->required();
  cmd->add_option(
      "--dtype", args->dtype,
      "Store float tensors as keep|f32|f16|bf16|q8_0 (rounding to nearest even). Default: f16 "
      "when making a GGUF from another format (1-D tensors stay F32, as llama.cpp's converter "
      "does), keep otherwise");
  cmd->add_option("--tokenizer", args->tokenizer,
                  "Tokenizer for inputs that lack one: tokenizer.model, tokenizer.json or a "
                  "llama2.c tokenizer");
  cmd->add_flag("--sentence-transformers-dense", args->sentence_transformers_dense,
                "EmbeddingGemma: also its sentence-transformers Dense modules (2_Dense, 3_Dense), "
                "as convert_hf_to_gguf.py --sentence-transformers-dense-modules");
  cmd->add_option("--shard-size", args->shard_size,
                  "safetensors: shards of at most this size (5GB, 500MiB)")
      ->check(check_size_option);
  cmd->add_option("--split-max-size", args->split_max_size,
                  "GGUF: split into parts of at most this size, as gguf-split")
      ->check(check_size_option);
  cmd->add_option("--split-max-tensors", args->split_max_tensors,
                  "GGUF: split into parts of at most this many tensors");
  cmd->add_option("--base", args->base,
                  "Converting a LoRA adapter folder (adapter_config.json): the base model's "
                  "Hugging Face folder");
  cmd->add_option("--lora", args->loras,
                  "Merge a PEFT LoRA adapter folder into the model, DIR or DIR:SCALE; repeat for "
                  "more (applied in order)");
  cmd->add_flag("-q,--quiet", args->quiet, "No progress line or summary");
  add_provenance_flag(cmd, args->provenance);
}

}  // namespace

namespace {

ConvertArgs recorded_args(const std::string& source, const std::vector<std::string>& options) {
  CLI::App app;
  auto args = std::make_shared<ConvertArgs>();
  add_convert_options(&app, args);
  // The output is not among the recorded options; only its name is required here.
  std::vector<std::string> with_output = options;
  with_output.push_back("--output=unused.gguf");
  parse_recorded(app, source, with_output);
  return *args;
}

}  // namespace

ConvertOptions recorded_convert_options(const std::string& source,
                                        const std::vector<std::string>& options) {
  return options_from(recorded_args(source, options));
}

Graph recorded_adapter_graph(const std::string& source, const std::vector<std::string>& options) {
  ConvertArgs a = recorded_args(source, options);
  if (a.base.empty())
    throw UsageError("the record of a converted adapter names no --base to re-derive it with");
  a.quiet = true;
  return lora::adapter_gguf_graph(source, a.base, adapter_options_from(a));
}

// owl merge BASE --lora DIR[:SCALE] ... -o OUT: convert with at least one adapter merged in.
void add_merge_command(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  auto* cmd = app.add_subcommand(
      "merge", "Merge LoRA adapters into a Hugging Face base model, writing safetensors or GGUF");
  add_convert_options(cmd, args);
  cmd->get_option("--lora")->required();
  cmd->callback([args, cmd] {
    if (lora::is_adapter_folder(args->input))
      throw UsageError(args->input + " is an adapter; owl merge takes the base model first");
    run_convert(*args, *cmd);
  });
}

void add_convert_command(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  auto* cmd = app.add_subcommand(
      "convert", "Convert a model to another format, optionally changing its float type");
  add_convert_options(cmd, args);
  cmd->callback([args, cmd] { run_convert(*args, *cmd); });
}

}  // namespace owl
