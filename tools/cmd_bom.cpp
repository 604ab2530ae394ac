// owl bom FILE -o bom.cdx.json: a CycloneDX 1.6 ML-BOM for a model file (or folder).
#include <cstdio>
#include <memory>

#include "formats/bom/cyclonedx.h"
#include "formats/bom/model_facts.h"
#include "formats/io/atomic_file.h"
#include "formats/io/read_files.h"
#include "formats/open.h"
#include "quant/recipe.h"
#include "tools/commands.h"

namespace owl {
namespace {

// owl's version, as `owl --version` prints it.
constexpr const char* kOwlVersion = "0.1.0";

struct BomArgs {
  std::string input, output;
};

// llama.cpp's general.file_type number by the name of the quantization mix that writes it.
std::string mix_name(uint32_t file_type) {
  for (const Mix& m : all_mixes())
    if (m.file_type == file_type) return std::string(m.name);
  return "";
}

void run_bom(const BomArgs& a) {
  const Graph g = open_model(a.input);
  const std::string doc = bom::cyclonedx_json(bom::model_facts(g, mix_name), kOwlVersion);
  if (a.output.empty() || a.output == "-") {
    std::fwrite(doc.data(), 1, doc.size(), stdout);
    return;
  }
  refuse_if_read(a.output);
  AtomicFile out(a.output);
  out.write(doc);
  out.commit();
}

}  // namespace

void add_bom_command(CLI::App& app) {
  auto args = std::make_shared<BomArgs>();
  auto* cmd = app.add_subcommand(
      "bom", "Write a CycloneDX 1.6 ML-BOM for a model: hashes, model card, pedigree, recipe");
  cmd->add_option("path", args->input, "The model: a GGUF or safetensors file, or a folder")
      ->required();
  cmd->add_option("-o,--output", args->output, "The BOM file (default: standard output)");
  cmd->callback([args] { run_bom(*args); });
}

}  // namespace owl
