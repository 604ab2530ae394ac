// owl inspect PATH [--json] [--hash] [--scan]: what a model file or folder holds, and for
// PyTorch checkpoints, every global their pickles reference.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "converters/describe.h"
#include "formats/io/error.h"
#include "formats/io/utf8.h"
#include "formats/open.h"
#include "formats/pytorch/checkpoint.h"
#include "tools/commands.h"
#include "tools/human.h"
#include "tools/inspect_imatrix.h"
#include "tools/progress_line.h"

namespace owl {
namespace {

struct InspectArgs {
  std::string path;
  bool json = false;
  bool hash = false;
  bool quiet = false;
  bool scan = false;
  size_t max_tensors = 0;
};

// What --scan reads: the path itself, or in a folder every file that holds a pickle or is
// named like PyTorch weights (so a disguised archive is reported, not skipped).
std::vector<std::string> scan_targets(const std::string& path) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(path)) return {path};
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(path)) {
    if (!e.is_regular_file()) continue;
    const std::string p = e.path().string();
    const std::string ext = e.path().extension().string();
    if (ext == ".bin" || ext == ".pt" || ext == ".pth" || ext == ".ckpt" ||
        pytorch::is_checkpoint_file(p))
      out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void print_globals(const std::vector<pytorch::GlobalUse>& globals) {
  std::printf("\npickle globals (%zu)\n", globals.size());
  for (const auto& u : globals)
    std::printf("  %-48s %6llu  %s\n", printable(u.name).c_str(),
                static_cast<unsigned long long>(u.count),
                u.kind == pytorch::GlobalKind::Refused ? "REFUSED" : "allowed");
}

// Lists every global of every checkpoint under `path`; fails (exit 2) if any is refused.
void run_scan(const InspectArgs& a) {
  const auto targets = scan_targets(a.path);
  if (targets.empty()) throw InputError(a.path, "folder holds no PyTorch checkpoint to scan");
  const bool folder = std::filesystem::is_directory(a.path);
  std::vector<std::string> refused, unreadable;
  for (const auto& t : targets) {
    pytorch::ScanReport report;
    try {
      report = pytorch::scan_file(t);
    } catch (const InputError& e) {
      // In a folder, one file that is not a checkpoint must not hide what the others hold.
      if (!folder) throw;
      std::printf("%-14s%s\n%-14s%s\n\n", "path", printable(t).c_str(), "error",
                  printable(e.what()).c_str());
      unreadable.push_back(std::filesystem::path(t).filename().string());
      continue;
    }
    std::printf("%-14s%s\n%-14s%s\n", "path", printable(t).c_str(), "format",
                printable(report.format).c_str());
    print_globals(report.globals);
    if (!report.broken.empty()) {
      // The globals above are those before the break; what follows it cannot be read.
      std::printf("%-14s%s\n", "broken", printable(report.broken).c_str());
      unreadable.push_back(std::filesystem::path(t).filename().string());
    }
    std::printf("\n");
    for (const auto& u : report.globals)
      if (u.kind == pytorch::GlobalKind::Refused) refused.push_back(u.name);
  }
  std::fflush(stdout);
  auto join = [](const std::vector<std::string>& v) {
    std::string list;
    for (const auto& s : v) list += (list.empty() ? "" : ", ") + s;
    return list;
  };
  std::string problems;
  if (!refused.empty())
    problems = "unsafe: the pickle references " + std::to_string(refused.size()) + " global" +
               (refused.size() == 1 ? "" : "s") + " outside the allow-list: " + join(refused);
  if (!unreadable.empty())
    problems += (problems.empty() ? "" : "; ") + std::to_string(unreadable.size()) + " of " +
                std::to_string(targets.size()) + " files could not be scanned: " + join(unreadable);
  if (!problems.empty()) throw InputError(a.path, problems);
  std::printf("clean: every global is on the allow-list\n");
}

// The facts users check before they ship a derivative: name, licence, base models, authors.
bool is_model_card_key(const std::string& key) {
  static const char* kPrefixes[] = {
      "general.name",         "general.license",   "general.base_model.", "general.author",
      "general.organization", "general.finetune",  "general.size_label",  "general.basename",
      "general.version",      "general.url",       "general.repo_url",    "general.source.",
      "general.tags",         "general.languages", "general.datasets"};
  for (const char* p : kPrefixes)
    if (key.starts_with(p)) return true;
  return false;
}

void print_table(const Graph& g, const pb::GraphDescription& d, const InspectArgs& a) {
  // Everything below that came from the file is passed through printable(): names and values
  // may hold escape sequences, carriage returns or bytes that are not UTF-8.
  std::printf("%-14s%s\n", "path", printable(a.path).c_str());
  std::printf("%-14s%s\n", "format", printable(g.format).c_str());
  std::printf("%-14s%s\n", "architecture",
              g.architecture.empty() ? "(not stated)" : printable(g.architecture).c_str());
  std::printf("%-14s%s (%s)\n", "parameters", human_count(d.parameter_count()).c_str(),
              with_commas(d.parameter_count()).c_str());
  std::printf("%-14s%s in %d file%s\n", "size on disk", human_bytes(d.size_on_disk()).c_str(),
              d.files_size(), d.files_size() == 1 ? "" : "s");
  bool card_header = false;
  for (const auto& [key, value] : g.metadata) {
    if (!is_model_card_key(key)) continue;
    if (!card_header) std::printf("\nmodel card\n");
    card_header = true;
    std::printf("  %-30s %s\n", printable(key.substr(8)).c_str(),
                printable(value.to_display()).c_str());
  }
  std::printf("\ntypes\n");
  for (const auto& t : d.type_totals())
    std::printf("  %-9s %6llu tensors %12s params %12s\n", t.type().c_str(),
                static_cast<unsigned long long>(t.tensors()), human_count(t.elements()).c_str(),
                human_bytes(t.bytes()).c_str());

  std::printf("\nmetadata (%zu)\n", g.metadata.size());
  for (const auto& [key, value] : g.metadata)
    std::printf("  %-48s %-6s %s\n", printable(key).c_str(),
                std::string(value_type_name(value.type())).c_str(),
                printable(value.to_display()).c_str());

  std::printf("\ntensors (%d)\n", d.tensors_size());
  size_t shown = 0;
  for (const auto& t : d.tensors()) {
    if (a.max_tensors && shown == a.max_tensors) {
      std::printf("  ... %d more (--max-tensors 0 lists all)\n",
                  d.tensors_size() - static_cast<int>(shown));
      break;
    }
    std::string shape = "[";
    for (int i = 0; i < t.shape_size(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape(i));
    shape += "]";
    std::printf("  %-48s %-20s %-8s %12s%s%s\n", printable(g.tensors[shown].name).c_str(),
                shape.c_str(), t.type().c_str(), human_bytes(t.byte_size()).c_str(),
                t.xxh3_128().empty() ? "" : "  ", t.xxh3_128().c_str());
    ++shown;
  }
}

void run_inspect(const InspectArgs& a) {
  if (a.scan) return run_scan(a);
  if (inspect_imatrix(a.path, a.json)) return;
  Graph g = open_model(a.path);
  ProgressLine progress(a.quiet || !a.hash);
  DescribeOptions opt;
  opt.hashes = a.hash;
  opt.metadata = a.json;  // the table prints metadata from the graph, abbreviated
  opt.progress = &progress;
  const auto d = describe(g, opt);
  if (a.json) {
    std::cout << to_json(d) << "\n";
  } else {
    print_table(g, d, a);
    // The graph was built, so every global was allowed; list them for the record.
    if (pytorch::is_checkpoint_file(a.path)) print_globals(pytorch::scan_file(a.path).globals);
  }
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  auto* cmd = app.add_subcommand("inspect",
                                 "Show what a model file or folder holds: format, "
                                 "architecture, parameters, types, metadata, tensors");
  cmd->add_option("path", args->path,
                  "A .safetensors, .gguf or PyTorch (.bin/.pt, zip or legacy) file, an "
                  "*.index.json, a model folder, or an importance matrix (llama-imatrix's .gguf "
                  "or .dat)")
      ->required();
  cmd->add_flag("--json", args->json, "Print the description as JSON (graph.proto's JSON mapping)");
  cmd->add_flag("--hash", args->hash,
                "Add the xxh3-128 of every tensor's bytes (reads the whole model)");
  cmd->add_option("--max-tensors", args->max_tensors,
                  "List at most this many tensors in the table (0: all)")
      ->default_val(0);
  cmd->add_flag("-q,--quiet", args->quiet, "No progress line");
  cmd->add_flag(
      "--scan", args->scan,
      "Only scan PyTorch pickles (a file, or every checkpoint in a folder) without loading them: "
      "list "
      "every global they reference; exit 2 if any is outside the allow-list or a file is not a "
      "readable checkpoint, 0 if all are clean");
  cmd->callback([args] { run_inspect(*args); });
}

}  // namespace owl
