// owl scan PATH... [--json]: what in model files or folders could run code when loaded, or is
// not what it claims to be. Exit 0 when clean, 2 with findings (their count on stderr).
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "formats/io/error.h"
#include "formats/io/utf8.h"
#include "formats/scan/scanner.h"
#include "tools/commands.h"

namespace owl {
namespace {

struct ScanArgs {
  std::vector<std::string> paths;
  bool json = false;
};

const char* risk_name(scan::Risk r) {
  return r == scan::Risk::Code ? "code" : "integrity";
}

void print_json(const scan::Report& r) {
  nlohmann::json j;
  j["scanned"] = nlohmann::json::array();
  for (const auto& s : r.scanned) j["scanned"].push_back(printable(s));
  j["findings"] = nlohmann::json::array();
  for (const auto& f : r.findings)
    j["findings"].push_back({{"file", printable(f.file)},
                             {"where", printable(f.where)},
                             {"what", printable(f.what)},
                             {"why", f.why},
                             {"risk", risk_name(f.risk)}});
  j["clean"] = r.clean();
  std::cout << j.dump(2) << "\n";
}

// Everything quoted from a file goes through printable(): names and templates may hold escape
// sequences meant for the terminal.
void print_text(const scan::Report& r) {
  for (const auto& f : r.findings) {
    std::printf("%-10s %s%s%s\n", f.risk == scan::Risk::Code ? "CODE" : "INTEGRITY",
                printable(f.file).c_str(), f.where.empty() ? "" : ": ", printable(f.where).c_str());
    std::printf("%-10s %s\n%-10s why: %s\n", "", printable(f.what).c_str(), "", f.why.c_str());
  }
  std::printf("scanned %zu file%s: %s\n", r.scanned.size(), r.scanned.size() == 1 ? "" : "s",
              r.clean() ? "clean"
                        : (std::to_string(r.findings.size()) + " finding" +
                           (r.findings.size() == 1 ? "" : "s"))
                              .c_str());
}

void run_scan(const ScanArgs& a) {
  const scan::Report r = scan::scan_paths(a.paths);
  if (a.json)
    print_json(r);
  else
    print_text(r);
  std::fflush(stdout);
  if (r.clean()) return;
  std::set<std::string> files;
  size_t code = 0;
  for (const auto& f : r.findings) {
    files.insert(f.file);
    code += f.risk == scan::Risk::Code;
  }
  throw InputError(a.paths.size() == 1 ? a.paths.front() : std::string(),
                   std::to_string(r.findings.size()) + " finding" +
                       (r.findings.size() == 1 ? "" : "s") + " in " + std::to_string(files.size()) +
                       " of " + std::to_string(r.scanned.size()) + " files (" +
                       std::to_string(code) + " that can run code)");
}

}  // namespace

void add_scan_command(CLI::App& app) {
  auto args = std::make_shared<ScanArgs>();
  CLI::App* cmd = app.add_subcommand(
      "scan",
      "Look for what could run code or is not what it claims, without loading anything: pickle "
      "globals (also in archives, broken streams and NumPy object arrays), 7-Zip and "
      "path-escaping archives, executables, remote code named by config.json's auto_map, GGUF "
      "chat templates that reach outside the template sandbox or differ from the tokenizer's, "
      "safetensors headers with room for a second format, LFS pointer stubs, links leaving the "
      "folder. Exit 0 when clean, 2 with findings");
  cmd->add_option("paths", args->paths, "Files or folders (folders are walked)")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_flag("--json", args->json, "Print the report as JSON");
  cmd->callback([args] { run_scan(*args); });
}

}  // namespace owl
