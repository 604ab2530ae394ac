// owl convert IN -o OUT [--dtype ...] [--shard-size ...]: the same model in another file format.
#include <chrono>
#include <cstdio>
#include <memory>

#include "converters/convert.h"
#include "formats/io/error.h"
#include "tools/commands.h"
#include "tools/human.h"
#include "tools/progress_line.h"

namespace owl {
namespace {

struct ConvertArgs {
  std::string input, output, dtype = "keep", shard_size;
  bool quiet = false;
};

std::optional<ElemType> parse_dtype(const std::string& name) {
  if (name == "keep") return std::nullopt;
  if (name == "f32") return ElemType::F32;
  if (name == "f16") return ElemType::F16;
  if (name == "bf16") return ElemType::BF16;
  throw UsageError("--dtype must be keep, f32, f16 or bf16, not '" + name + "'");
}

void run_convert(const ConvertArgs& a) {
  ConvertOptions opt;
  opt.dtype = parse_dtype(a.dtype);
  if (!a.shard_size.empty()) {
    auto bytes = parse_size(a.shard_size);
    if (!bytes || *bytes == 0) throw UsageError("--shard-size must be a size like 5GB or 500MiB, not '" + a.shard_size + "'");
    opt.shard_bytes = *bytes;
  }
  ProgressLine progress(a.quiet);
  opt.progress = &progress;
  const auto start = std::chrono::steady_clock::now();
  const auto r = convert(a.input, a.output, opt);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!a.quiet) {
    std::string cast;
    if (opt.dtype) cast = ", " + std::to_string(r.cast) + " cast to " + a.dtype;
    std::fprintf(stderr, "wrote %zu tensors (%s%s) in %s to:\n", r.tensors, human_bytes(r.bytes).c_str(),
                 cast.c_str(), human_duration(secs).c_str());
    for (const auto& f : r.files) std::fprintf(stderr, "  %s\n", f.c_str());
  }
}

}  // namespace

void add_convert_command(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  auto* cmd = app.add_subcommand("convert", "Convert a model to another format, optionally changing its float type");
  cmd->add_option("input", args->input, "A .safetensors file, a *.safetensors.index.json, or a model folder")
      ->required();
  cmd->add_option("-o,--output", args->output, "Output file; its extension picks the format (.safetensors)")
      ->required();
  cmd->add_option("--dtype", args->dtype, "Store float tensors as keep|f32|f16|bf16 (round to nearest even)")
      ->default_val("keep");
  cmd->add_option("--shard-size", args->shard_size, "Split the output into shards of at most this size (5GB, 500MiB)")
      ->check([](const std::string& s) -> std::string {
        auto bytes = parse_size(s);
        return bytes && *bytes > 0 ? "" : "must be a size like 5GB or 500MiB";
      });
  cmd->add_flag("-q,--quiet", args->quiet, "No progress line or summary");
  cmd->callback([args] { run_convert(*args); });
}

}  // namespace owl
