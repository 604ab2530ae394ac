#include "converters/convert.h"

#include <filesystem>

#include "quant/dtype_pass.h"
#include "formats/io/error.h"
#include "formats/open.h"
#include "formats/safetensors/writer.h"

namespace owl {
namespace fs = std::filesystem;

std::optional<std::string> output_format_for(const std::string& path) {
  if (path.ends_with(".safetensors")) return "safetensors";
  return std::nullopt;
}

namespace {

// An output that is one of the inputs would be replaced while it is still being read.
void refuse_overwriting_input(const Graph& g, const std::string& output) {
  std::error_code ec;
  if (!fs::exists(output, ec)) return;
  for (const auto& in : g.inputs)
    if (fs::equivalent(in.path, output, ec))
      throw UsageError("the output " + output + " is also an input; write to another path");
}

}  // namespace

ConvertResult convert(const std::string& input, const std::string& output, const ConvertOptions& opt) {
  const auto format = output_format_for(output);
  if (!format) {
    throw UsageError("cannot tell the output format from '" + output + "': name it *.safetensors");
  }
  const auto out_dir = fs::path(output).parent_path();
  if (!out_dir.empty() && !fs::is_directory(out_dir))
    throw UsageError("the output folder " + out_dir.string() + " does not exist");

  Graph g = open_model(input);
  refuse_overwriting_input(g, output);

  ConvertResult result;
  if (opt.dtype) result.cast = cast_float_tensors(g, *opt.dtype);
  result.tensors = g.tensors.size();
  result.bytes = g.tensor_bytes();

  safetensors::WriteOptions w;
  w.shard_bytes = opt.shard_bytes;
  w.progress = opt.progress;
  result.files = safetensors::write(g, output, w);
  return result;
}

}  // namespace owl
