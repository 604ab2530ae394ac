// owl convert IN -o OUT [--dtype ...] [--shard-size ...]: the same model in another file format.
#include <chrono>
#include <cstdio>
#include <memory>
#include <set>

#include "converters/convert.h"
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
  std::string input, output, dtype, shard_size, split_max_size, tokenizer;
  uint64_t split_max_tensors = 0;
  bool quiet = false, provenance = true;
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

// CLI11 check for options that take a size like 5GB.
std::string check_size(const std::string& s) {
  auto bytes = parse_size(s);
  return bytes && *bytes > 0 ? "" : "must be a size like 5GB or 500MiB";
}

ConvertOptions options_from(const ConvertArgs& a) {
  ConvertOptions opt;
  opt.dtype = parse_dtype(a.dtype);
  if (!a.shard_size.empty()) opt.shard_bytes = *parse_size(a.shard_size);
  if (!a.split_max_size.empty()) opt.split_max_bytes = *parse_size(a.split_max_size);
  opt.split_max_tensors = a.split_max_tensors;
  opt.tokenizer = a.tokenizer;
  const bool quiet = a.quiet;
  opt.warn = [quiet](const std::string& w) {
    if (!quiet) std::fprintf(stderr, "owl: note: %s\n", printable(w).c_str());
  };
  return opt;
}

void run_convert(const ConvertArgs& a, const CLI::App& cmd) {
  ConvertOptions opt = options_from(a);
  opt.recipe.enabled = a.provenance;
  opt.recipe.command = "convert";
  opt.recipe.options = recorded_options(cmd, kNotRecipe);
  if (!a.tokenizer.empty()) opt.recipe.files.push_back(a.tokenizer);
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
  cmd->add_option("--shard-size", args->shard_size,
                  "safetensors: shards of at most this size (5GB, 500MiB)")
      ->check(check_size);
  cmd->add_option("--split-max-size", args->split_max_size,
                  "GGUF: split into parts of at most this size, as gguf-split")
      ->check(check_size);
  cmd->add_option("--split-max-tensors", args->split_max_tensors,
                  "GGUF: split into parts of at most this many tensors");
  cmd->add_flag("-q,--quiet", args->quiet, "No progress line or summary");
  add_provenance_flag(cmd, args->provenance);
}

}  // namespace

ConvertOptions recorded_convert_options(const std::string& source,
                                        const std::vector<std::string>& options) {
  CLI::App app;
  auto args = std::make_shared<ConvertArgs>();
  add_convert_options(&app, args);
  // The output is not among the recorded options; only its name is required here.
  std::vector<std::string> with_output = options;
  with_output.push_back("--output=unused.gguf");
  parse_recorded(app, source, with_output);
  return options_from(*args);
}

void add_convert_command(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  auto* cmd = app.add_subcommand(
      "convert", "Convert a model to another format, optionally changing its float type");
  add_convert_options(cmd, args);
  cmd->callback([args, cmd] { run_convert(*args, *cmd); });
}

}  // namespace owl
