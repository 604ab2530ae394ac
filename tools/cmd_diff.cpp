// owl diff A B [--json]: per-tensor error between two models' weights.
#include <cstdio>
#include <iostream>
#include <memory>

#include "converters/canonical.h"
#include "formats/io/utf8.h"
#include "tools/commands.h"
#include "tools/progress_line.h"
#include "validate/report.h"
#include "validate/tensor_diff.h"

namespace owl {
namespace {

struct DiffArgs {
  std::string a, b;
  bool json = false, quiet = false;
};

void print_table(const validate::TensorDiff& d) {
  std::printf("%-40s %-6s %-6s %10s %9s %9s %10s\n", "tensor", "ref", "test", "rel rms", "SNR dB",
              "cosine", "max abs");
  for (const auto& e : d.tensors)
    std::printf("%-40s %-6s %-6s %10.3e %9.2f %9.6f %10.3e\n", printable(e.name).c_str(),
                e.ref_type.c_str(), e.test_type.c_str(), e.rel_rms, e.snr_db, e.cosine, e.max_abs);
  for (const auto& n : d.only_in_ref) std::printf("only in the first model: %s\n", n.c_str());
  for (const auto& n : d.only_in_test) std::printf("only in the second model: %s\n", n.c_str());
  for (const auto& n : d.shape_mismatch) std::printf("shapes differ: %s\n", n.c_str());
}

void run_diff(const DiffArgs& a) {
  const Graph ref = open_canonical(a.a);
  const Graph test = open_canonical(a.b);
  ProgressLine progress(a.quiet);
  const auto d = validate::diff_tensors(ref, test, &progress);
  if (a.json)
    std::cout << validate::tensor_diff_json(d).dump(2) << "\n";
  else
    print_table(d);
}

}  // namespace

void add_diff_command(CLI::App& app) {
  auto args = std::make_shared<DiffArgs>();
  auto* cmd = app.add_subcommand(
      "diff", "Per-tensor error between two models' weights (relative RMS, SNR, cosine, max)");
  cmd->add_option("reference", args->a, "The original model (any format owl reads)")->required();
  cmd->add_option("test", args->b, "The model to compare with it, e.g. a quantized GGUF")
      ->required();
  cmd->add_flag("--json", args->json, "Print the figures as JSON");
  cmd->add_flag("-q,--quiet", args->quiet, "No progress line");
  cmd->callback([args] { run_diff(*args); });
}

}  // namespace owl
