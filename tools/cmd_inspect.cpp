// owl inspect PATH [--json] [--hash]: what a model file or folder holds.
#include <cstdio>
#include <iostream>
#include <memory>

#include "converters/describe.h"
#include "formats/open.h"
#include "tools/commands.h"
#include "tools/human.h"
#include "tools/progress_line.h"

namespace owl {
namespace {

struct InspectArgs {
  std::string path;
  bool json = false;
  bool hash = false;
  bool quiet = false;
  size_t max_tensors = 0;
};

// The facts users check before they ship a derivative: name, licence, base models, authors.
bool is_model_card_key(const std::string& key) {
  static const char* kPrefixes[] = {"general.name",     "general.license", "general.base_model.", "general.author",
                                    "general.organization", "general.finetune", "general.size_label",
                                    "general.basename", "general.version", "general.url", "general.repo_url",
                                    "general.source.", "general.tags", "general.languages", "general.datasets"};
  for (const char* p : kPrefixes)
    if (key.starts_with(p)) return true;
  return false;
}

void print_table(const Graph& g, const pb::GraphDescription& d, const InspectArgs& a) {
  std::printf("%-14s%s\n", "path", a.path.c_str());
  std::printf("%-14s%s\n", "format", d.format().c_str());
  std::printf("%-14s%s\n", "architecture", d.architecture().empty() ? "(not stated)" : d.architecture().c_str());
  std::printf("%-14s%s (%s)\n", "parameters", human_count(d.parameter_count()).c_str(),
              with_commas(d.parameter_count()).c_str());
  std::printf("%-14s%s in %d file%s\n", "size on disk", human_bytes(d.size_on_disk()).c_str(), d.files_size(),
              d.files_size() == 1 ? "" : "s");
  bool card_header = false;
  for (const auto& [key, value] : g.metadata) {
    if (!is_model_card_key(key)) continue;
    if (!card_header) std::printf("\nmodel card\n");
    card_header = true;
    std::printf("  %-30s %s\n", key.substr(8).c_str(), value.to_display().c_str());
  }
  std::printf("\ntypes\n");
  for (const auto& t : d.type_totals())
    std::printf("  %-9s %6llu tensors %12s params %12s\n", t.type().c_str(),
                static_cast<unsigned long long>(t.tensors()), human_count(t.elements()).c_str(),
                human_bytes(t.bytes()).c_str());

  std::printf("\nmetadata (%d)\n", d.metadata_size());
  for (const auto& [key, value] : g.metadata)
    std::printf("  %-48s %-6s %s\n", key.c_str(), std::string(value_type_name(value.type())).c_str(),
                value.to_display().c_str());

  std::printf("\ntensors (%d)\n", d.tensors_size());
  size_t shown = 0;
  for (const auto& t : d.tensors()) {
    if (a.max_tensors && shown == a.max_tensors) {
      std::printf("  ... %d more (--max-tensors 0 lists all)\n", d.tensors_size() - static_cast<int>(shown));
      break;
    }
    std::string shape = "[";
    for (int i = 0; i < t.shape_size(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape(i));
    shape += "]";
    std::printf("  %-48s %-20s %-8s %12s%s%s\n", t.name().c_str(), shape.c_str(), t.type().c_str(),
                human_bytes(t.byte_size()).c_str(), t.xxh3_128().empty() ? "" : "  ", t.xxh3_128().c_str());
    ++shown;
  }
}

void run_inspect(const InspectArgs& a) {
  Graph g = open_model(a.path);
  ProgressLine progress(a.quiet || !a.hash);
  DescribeOptions opt;
  opt.hashes = a.hash;
  opt.progress = &progress;
  const auto d = describe(g, opt);
  if (a.json) {
    std::cout << to_json(d) << "\n";
  } else {
    print_table(g, d, a);
  }
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  auto* cmd = app.add_subcommand("inspect", "Show what a model file or folder holds: format, "
                                            "architecture, parameters, types, metadata, tensors");
  cmd->add_option("path", args->path, "A .safetensors file, a *.safetensors.index.json, or a model folder")
      ->required();
  cmd->add_flag("--json", args->json, "Print the description as JSON (graph.proto's JSON mapping)");
  cmd->add_flag("--hash", args->hash, "Add the xxh3-128 of every tensor's bytes (reads the whole model)");
  cmd->add_option("--max-tensors", args->max_tensors, "List at most this many tensors in the table (0: all)")
      ->default_val(0);
  cmd->add_flag("-q,--quiet", args->quiet, "No progress line");
  cmd->callback([args] { run_inspect(*args); });
}

}  // namespace owl
