// owl verify FILE [--source PATH] [--json]: checks a file owl wrote against its provenance
// record (every tensor's xxh3-128), prints its lineage, and with --source re-derives it from the
// source by the recorded recipe and compares tensor by tensor.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include "converters/describe.h"
#include "converters/provenance.h"
#include "formats/io/error.h"
#include "formats/io/file_digests.h"
#include "formats/io/utf8.h"
#include "formats/json/strict_json.h"
#include "formats/open.h"
#include "tools/commands.h"
#include "tools/rederive.h"

namespace owl {
namespace {

// Exit codes beyond the CLI's usual ones: what a script needs to tell apart.
constexpr int kRecordMismatchExit = 3;  // the file's tensors differ from its record
constexpr int kNotReproducedExit = 4;   // re-deriving from the source gave other tensors

struct VerifyArgs {
  std::string file, source;
  bool json = false;
};

// Tensors compared by name: those that differ, those expected but absent, those not expected.
struct Comparison {
  std::vector<std::string> differ, missing, extra;
  bool ok() const { return differ.empty() && missing.empty() && extra.empty(); }
};

Comparison compare(const std::vector<std::pair<std::string, std::string>>& want,
                   const std::map<std::string, std::string>& got) {
  Comparison c;
  std::map<std::string, std::string> expected(want.begin(), want.end());
  for (const auto& [name, hash] : want) {
    const auto it = got.find(name);
    if (it == got.end())
      c.missing.push_back(name);
    else if (it->second != hash)
      c.differ.push_back(name);
  }
  for (const auto& [name, hash] : got)
    if (!expected.count(name)) c.extra.push_back(name);
  return c;
}

std::map<std::string, std::string> hash_all(const Graph& g) {
  std::map<std::string, std::string> out;
  for (const auto& t : g.tensors) out[t.name] = hash_tensor(t);
  return out;
}

// The output graph the recorded recipe makes from `source`.
Graph rederive(const ProvenanceRecord& r, const std::string& file, const std::string& source) {
  if (r.command == "quantize")
    return quantized_graph(source, recorded_quantize_options(source, r.options));
  if (r.command == "convert" && r.relation == "adapter")
    return recorded_adapter_graph(source, r.options);
  if (r.command == "convert") {
    const auto format = output_format_for(file);
    if (!format) throw UsageError("cannot tell the format of '" + file + "' from its name");
    return converted_graph(source, *format, recorded_convert_options(source, r.options));
  }
  throw InputError(file, "its record's command '" + r.command + "' cannot be re-derived");
}

// The recorded inputs against the source's files (model files by their names in the folder,
// files named by options by their paths): each one whose SHA-256 differs or that is absent.
struct InputCheck {
  std::vector<std::string> differ, missing;
};

InputCheck check_inputs(const ProvenanceRecord& r, const Graph& source_graph,
                        const std::string& source) {
  std::map<std::string, std::string> path_of;
  for (const auto& f : source_graph.inputs) path_of[relative_name(f.path, source)] = f.path;
  std::vector<std::string> paths, names;
  InputCheck c;
  for (const auto& in : r.inputs) {
    const auto it = path_of.find(in.name);
    const std::string path = it != path_of.end() ? it->second : in.name;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      c.missing.push_back(in.name);
      continue;
    }
    paths.push_back(path);
    names.push_back(in.name);
  }
  FileDigests digests(paths);
  const auto& sha = digests.wait();
  for (size_t i = 0; i < names.size(); ++i)
    for (const auto& in : r.inputs)
      if (in.name == names[i] && in.sha256 != sha[i]) c.differ.push_back(in.name);
  return c;
}

Json lineage_json(const ProvenanceRecord& r, const Metadata& m) {
  Json j;
  j["tool"] = r.tool;
  j["source_commit"] = r.source_commit;
  j["command"] = r.command;
  j["options"] = r.options;
  j["inputs"] = Json::array();
  for (const auto& f : r.inputs)
    j["inputs"].push_back({{"name", f.name}, {"size", f.size}, {"sha256", f.sha256}});
  if (!r.hf_repo.empty()) j["hf"] = {{"repo", r.hf_repo}, {"commit", r.hf_commit}};
  if (!r.relation.empty()) j["relation"] = r.relation;
  Json base = Json::object();
  for (const auto& [k, v] : m)
    if (k.starts_with("general.base_model.")) base[k] = v.to_display();
  if (!base.empty()) j["base_model"] = base;
  return j;
}

void print_names(const char* what, const std::vector<std::string>& names) {
  for (const auto& n : names) std::printf("  %s: %s\n", what, printable(n).c_str());
}

void print_text(const Json& report) {
  const Json& l = report["lineage"];
  std::printf("made by %s (commit %s): owl %s", l["tool"].get<std::string>().c_str(),
              l["source_commit"].get<std::string>().c_str(),
              l["command"].get<std::string>().c_str());
  for (const auto& o : l["options"]) std::printf(" %s", printable(o.get<std::string>()).c_str());
  std::printf("\n");
  if (l.contains("hf"))
    std::printf("from Hugging Face %s at commit %s\n", l["hf"]["repo"].get<std::string>().c_str(),
                l["hf"]["commit"].get<std::string>().c_str());
  if (l.contains("relation"))
    std::printf("relation: %s\n", l["relation"].get<std::string>().c_str());
  if (l.contains("base_model"))
    for (const auto& [k, v] : l["base_model"].items())
      std::printf("%s: %s\n", k.c_str(), printable(v.get<std::string>()).c_str());
  for (const auto& f : l["inputs"])
    std::printf("input %s  %s bytes  sha256 %s\n", printable(f["name"].get<std::string>()).c_str(),
                std::to_string(f["size"].get<uint64_t>()).c_str(),
                f["sha256"].get<std::string>().c_str());
  const Json& rec = report["record"];
  std::printf("record: %zu tensors, %s\n", rec["tensors"].get<size_t>(),
              rec["ok"].get<bool>() ? "all match" : "MISMATCH");
  if (!rec["digest_ok"].get<bool>())
    std::printf("  the record's tensors_digest does not match its tensor list\n");
  print_names("differs from its recorded hash", rec["differ"]);
  print_names("recorded but not in the file", rec["missing"]);
  print_names("in the file but not recorded", rec["extra"]);
  if (!report.contains("source")) return;
  const Json& src = report["source"];
  std::printf("re-derived from %s: %s\n", printable(src["path"].get<std::string>()).c_str(),
              src["ok"].get<bool>() ? "bit for bit" : "DIFFERENT");
  print_names("input differs from the record", src["inputs_differ"]);
  print_names("input not found", src["inputs_missing"]);
  print_names("re-derived tensor differs", src["differ"]);
  print_names("not re-derived", src["missing"]);
  print_names("re-derived but not in the file", src["extra"]);
}

void run_verify(const VerifyArgs& a) {
  const Graph g = open_model(a.file);
  const auto record = read_provenance(g.metadata, a.file);
  if (!record) throw InputError(a.file, "has no owl provenance record (owl.provenance.* keys)");

  Json report;
  report["file"] = a.file;
  report["lineage"] = lineage_json(*record, g.metadata);
  const auto actual = hash_all(g);
  const Comparison rc = compare(record->tensors, actual);
  const bool digest_ok = tensors_digest(record->tensors) == record->tensors_digest;
  report["record"] = {{"tensors", record->tensors.size()},
                      {"digest_ok", digest_ok},
                      {"differ", rc.differ},
                      {"missing", rc.missing},
                      {"extra", rc.extra},
                      {"ok", rc.ok() && digest_ok}};
  int exit_code = rc.ok() && digest_ok ? 0 : kRecordMismatchExit;

  if (!a.source.empty()) {
    const Graph derived = rederive(*record, a.file, a.source);
    const InputCheck inputs = check_inputs(*record, derived, a.source);
    std::vector<std::pair<std::string, std::string>> want(actual.begin(), actual.end());
    const Comparison sc = compare(want, hash_all(derived));
    const bool same = sc.ok() && inputs.differ.empty() && inputs.missing.empty();
    report["source"] = {
        {"path", a.source},    {"inputs_differ", inputs.differ}, {"inputs_missing", inputs.missing},
        {"differ", sc.differ}, {"missing", sc.missing},          {"extra", sc.extra},
        {"ok", same}};
    if (!sc.ok() && exit_code == 0) exit_code = kNotReproducedExit;
    if (!same && exit_code == 0) exit_code = kNotReproducedExit;
  }
  report["ok"] = exit_code == 0;
  if (a.json)
    std::cout << report.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  else
    print_text(report);
  std::cout.flush();
  std::fflush(stdout);
  // The verdict is the exit status; nothing is left to clean up.
  if (exit_code != 0) std::exit(exit_code);
}

}  // namespace

void add_verify_command(CLI::App& app) {
  auto args = std::make_shared<VerifyArgs>();
  auto* cmd = app.add_subcommand(
      "verify",
      "Check a file owl wrote against its provenance record and print its lineage; with "
      "--source, re-derive it by the recorded recipe and compare tensor by tensor. Exit 0 when "
      "all match, 3 when tensors differ from the record, 4 when re-deriving gives other bytes");
  cmd->add_option("file", args->file, "A .gguf or .safetensors that owl wrote")->required();
  cmd->add_option("--source", args->source,
                  "The model it was made from (as given to the command that made it)");
  cmd->add_flag("--json", args->json, "Print the report as JSON on standard output");
  cmd->callback([args] { run_verify(*args); });
}

}  // namespace owl
