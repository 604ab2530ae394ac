// owl quantize IN -o OUT.gguf -t Q4_K_M [--dry-run] ...: a model quantized with one of
// llama.cpp's mixes, each tensor getting the type llama-quantize would give it.
#include <omp.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>

#include "converters/canonical.h"
#include "converters/quantize.h"
#include "formats/io/error.h"
#include "formats/io/utf8.h"
#include "formats/json/strict_json.h"
#include "quant/driver.h"
#include "tools/commands.h"
#include "tools/human.h"
#include "tools/progress_line.h"
#include "tools/recipe_options.h"
#include "tools/rederive.h"
#include "validate/hessian_collector.h"

namespace owl {
namespace {

struct QuantizeArgs {
  std::string input, output, mix, output_tensor_type, token_embedding_type, tokenizer, imatrix;
  std::vector<std::string> tensor_types, tensor_type_files, include_weights, exclude_weights;
  std::vector<std::string> override_kv;
  std::string prune_layers;
  std::string calibration_text;  // --optimize --text
  uint64_t calibration_ctx = 512, calibration_chunks = 0;
  bool optimize = false;
  int threads = 0;
  bool pure = false, leave_output = false, allow_requantize = false, no_fallback = false;
  bool keep_split = false;
  bool dry_run = false, json = false, quiet = false, provenance = true;
};

// Options that do not change the bytes written.
const std::set<std::string> kNotRecipe = {"output", "threads",    "dry-run",      "json",
                                          "quiet",  "provenance", "no-provenance"};

std::string mix_names() {
  std::string s;
  for (const Mix& m : all_mixes()) s += (s.empty() ? "" : " ") + std::string(m.name);
  return s;
}

std::string mix_help() {
  std::string s = "The mix, as llama-quantize names them:";
  for (const Mix& m : all_mixes()) s += "\n  " + std::string(m.name) + ": " + std::string(m.about);
  return s;
}

// --tensor-type-file: REGEX=TYPE entries separated by spaces or newlines, as llama-quantize reads
// them.
std::vector<std::string> tensor_type_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot read this --tensor-type-file");
  std::vector<std::string> out;
  for (std::string entry; in >> entry;) out.push_back(entry);
  return out;
}

// --prune-layers 0,3,7: non-negative layer numbers, sorted and without repeats.
std::vector<int64_t> layer_list(const std::string& text) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    int64_t n = -1;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), n);
    if (ec != std::errc() || end != item.data() + item.size() || n < 0 || n > 1000000)
      throw UsageError("--prune-layers: '" + item + "' is not a layer number");
    out.push_back(n);
    start = comma + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

QuantizeOptions options_from(const QuantizeArgs& a) {
  QuantizeOptions opt;
  opt.plan.mix = find_mix(a.mix);
  if (!opt.plan.mix)
    throw UsageError("--type '" + a.mix + "' is not a mix; owl knows " + mix_names());
  for (const auto& t : a.tensor_types) opt.plan.overrides.push_back(parse_type_override(t));
  for (const auto& f : a.tensor_type_files)
    for (const auto& t : tensor_type_file(f)) opt.plan.overrides.push_back(parse_type_override(t));
  for (const auto& kv : a.override_kv) opt.override_kv.push_back(parse_kv_override(kv));
  if (!a.prune_layers.empty()) opt.prune_layers = layer_list(a.prune_layers);
  if (!a.output_tensor_type.empty())
    opt.plan.output_type = parse_tensor_type(a.output_tensor_type, "--output-tensor-type");
  if (!a.token_embedding_type.empty())
    opt.plan.token_embedding_type =
        parse_tensor_type(a.token_embedding_type, "--token-embedding-type");
  opt.plan.pure = a.pure;
  opt.plan.keep_split = a.keep_split;
  opt.plan.quantize_output = !a.leave_output;
  opt.plan.allow_requantize = a.allow_requantize;
  opt.plan.no_fallback = a.no_fallback;
  opt.tokenizer = a.tokenizer;
  opt.imatrix = a.imatrix;
  opt.include_weights = a.include_weights;
  opt.exclude_weights = a.exclude_weights;
  opt.threads = a.threads;
  const bool quiet = a.quiet;
  opt.warn = [quiet](const std::string& w) {
    if (!quiet) std::fprintf(stderr, "owl: warning: %s\n", printable(w).c_str());
  };
  return opt;
}

std::string bpw(double bits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", bits);
  return buf;
}

// A mixture of experts' stacked tensor (blk.N.ffn_*_exps, experts x rows x columns): one line in
// the plan, saying how many expert matrices it holds.
uint64_t stacked_experts(const TensorPlan& t) {
  return t.shape.size() == 3 && t.name.find("_exps.") != std::string::npos ? t.shape[0] : 0;
}

void print_table(const Plan& plan) {
  size_t name_w = 6;
  for (const auto& t : plan.tensors) name_w = std::max(name_w, t.name.size());
  std::printf("%-*s  %-18s %-7s %-7s %12s  %s\n", static_cast<int>(name_w), "tensor", "shape",
              "from", "to", "bytes", "why");
  for (const auto& t : plan.tensors) {
    std::string why = t.why;
    if (const uint64_t e = stacked_experts(t)) why = std::to_string(e) + " experts; " + why;
    if (!t.fallback.empty()) why += "; FALLBACK: " + t.fallback;
    if (!t.weights.empty()) why += "; importance weights";
    std::printf("%-*s  %-18s %-7s %-7s %12s  %s\n", static_cast<int>(name_w),
                printable(t.name).c_str(), shape_to_string(t.shape).c_str(),
                std::string(type_name(t.from)).c_str(), std::string(type_name(t.to)).c_str(),
                with_commas(t.out_bytes).c_str(), printable(why).c_str());
  }
  const double in_bpw =
      plan.elements ? 8.0 * static_cast<double>(plan.in_bytes) / static_cast<double>(plan.elements)
                    : 0;
  std::printf("\n%s: %zu tensors, %s weights: %s (%s bpw) -> %s (%s bpw)",
              std::string(plan.mix->name).c_str(), plan.tensors.size(),
              human_count(plan.elements).c_str(), human_bytes(plan.in_bytes).c_str(),
              bpw(in_bpw).c_str(), human_bytes(plan.out_bytes).c_str(),
              bpw(plan.bits_per_weight()).c_str());
  std::printf("; %zu fallback%s", plan.fallbacks, plan.fallbacks == 1 ? "" : "s");
  if (plan.imatrix && !plan.imatrix->empty())
    std::printf("; %zu with importance weights (%zu imatrix entries)", plan.weighted(),
                plan.imatrix->size());
  std::printf("\n");
  for (const auto& p : plan.problems) std::printf("cannot quantize: %s\n", p.c_str());
}

Json plan_json(const Plan& plan, const std::vector<std::string>& files) {
  Json j;
  j["mix"] = plan.mix->name;
  j["file_type"] = plan.mix->file_type;
  j["tensors"] = Json::array();
  for (const auto& t : plan.tensors) {
    Json e;
    e["name"] = t.name;
    e["shape"] = t.shape;
    e["from"] = type_name(t.from);
    e["to"] = type_name(t.to);
    e["why"] = t.why;
    if (!t.fallback.empty()) e["fallback"] = t.fallback;
    if (!t.weights.empty()) e["imatrix"] = t.weights;
    if (const uint64_t n = stacked_experts(t)) e["experts"] = n;
    e["elements"] = t.elements;
    e["bytes"] = t.out_bytes;
    j["tensors"].push_back(std::move(e));
  }
  j["elements"] = plan.elements;
  j["input_bytes"] = plan.in_bytes;
  j["bytes"] = plan.out_bytes;
  j["bits_per_weight"] = plan.bits_per_weight();
  j["fallbacks"] = plan.fallbacks;
  j["warnings"] = plan.warnings;
  j["problems"] = plan.problems;
  if (!files.empty()) j["files"] = files;
  return j;
}

void print_json(const Plan& plan, const std::vector<std::string>& files) {
  // Tensor names come from the input: invalid UTF-8 is replaced rather than refused.
  std::cout << plan_json(plan, files).dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
}

void run_quantize(const QuantizeArgs& a, const CLI::App& cmd) {
  QuantizeOptions opt = options_from(a);
  opt.recipe.enabled = a.provenance;
  opt.recipe.command = "quantize";
  opt.recipe.options = recorded_options(cmd, kNotRecipe);
  opt.recipe.files = a.tensor_type_files;
  if (!a.imatrix.empty()) opt.recipe.files.push_back(a.imatrix);
  if (!a.tokenizer.empty()) opt.recipe.files.push_back(a.tokenizer);
  if (!a.calibration_text.empty()) opt.recipe.files.push_back(a.calibration_text);
  if (a.dry_run) {
    const Plan plan = plan_quantization(a.input, opt);
    if (a.json)
      print_json(plan, {});
    else
      print_table(plan);
    check_plan(plan);
    return;
  }
  if (a.output.empty()) throw UsageError("--output is required unless --dry-run");
  if (a.optimize) {
    if (!a.prune_layers.empty())
      throw UsageError("--optimize cannot be combined with --prune-layers");
    if (a.threads > 0) omp_set_num_threads(a.threads);
    opt.hessians = std::make_shared<const Hessians>(
        validate::collect_hessians(open_canonical(a.input), a.calibration_text, a.calibration_ctx,
                                   a.calibration_chunks, a.quiet));
  }
  ProgressLine progress(a.quiet);
  opt.progress = &progress;
  const auto start = std::chrono::steady_clock::now();
  const auto r = quantize(a.input, a.output, opt);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (a.json) print_json(r.plan, r.files);
  if (!a.quiet) {
    std::fprintf(stderr,
                 "%s: %zu tensors (%zu retyped), %s -> %s (%s bpw), %d threads, in %s to:\n",
                 std::string(r.plan.mix->name).c_str(), r.plan.tensors.size(), r.plan.changed(),
                 human_bytes(r.plan.in_bytes).c_str(), human_bytes(r.plan.out_bytes).c_str(),
                 bpw(r.plan.bits_per_weight()).c_str(), resolve_threads(a.threads),
                 human_duration(secs).c_str());
    for (const auto& f : r.files) std::fprintf(stderr, "  %s\n", f.c_str());
  }
}

void add_quantize_options(CLI::App* cmd, const std::shared_ptr<QuantizeArgs>& args) {
  cmd->add_option("input", args->input,
                  "A model: GGUF, Hugging Face folder, .safetensors (or its index), "
                  "PyTorch .bin/.pt (or its index), llama2.c checkpoint")
      ->required();
  cmd->add_option("-o,--output", args->output, "The output .gguf (not needed with --dry-run)");
  cmd->add_option("-t,--type", args->mix, mix_help())->required();
  cmd->add_option("--threads", args->threads,
                  "Threads over the rows of each tensor (default: every core)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option(
      "--tensor-type", args->tensor_types,
      "REGEX=TYPE: tensors whose name the regex finds get TYPE (e.g. attn_v=q8_0); repeatable, the "
      "first match wins");
  cmd->add_option("--tensor-type-file", args->tensor_type_files,
                  "A file of REGEX=TYPE entries separated by spaces or newlines, as --tensor-type "
                  "(after those)");
  cmd->add_option("--override-kv", args->override_kv,
                  "KEY=TYPE:VALUE (TYPE int, float, bool or str): set this metadata key in the "
                  "output, as llama-quantize does (ints are written as uint32); repeatable");
  cmd->add_option("--prune-layers", args->prune_layers,
                  "L0,L1,...: leave these layers out and number the others on from 0, as "
                  "llama-quantize does");
  cmd->add_option("--output-tensor-type", args->output_tensor_type, "The type of output.weight");
  cmd->add_option("--token-embedding-type", args->token_embedding_type,
                  "The type of token_embd.weight");
  cmd->add_option("--imatrix", args->imatrix,
                  "An importance matrix (llama-imatrix's .gguf or legacy .dat): tensors are "
                  "quantized with its weights, and the IQ1/IQ2/IQ3_XXS and Q2_K_S mixes need one");
  cmd->add_option("--include-weights", args->include_weights,
                  "Use the imatrix only for tensors whose name contains this (repeatable)");
  cmd->add_option("--exclude-weights", args->exclude_weights,
                  "Do not use the imatrix for tensors whose name contains this (repeatable)");
  auto* text = cmd->add_option("--text", args->calibration_text, "Calibration text for --optimize")
                   ->check(CLI::ExistingFile);
  cmd->add_flag("--optimize", args->optimize,
                "Error-compensated rounding (GPTQ-style) driven by the second moments of each "
                "matrix's inputs over --text: same types and sizes, lower output error; the file "
                "decodes unchanged in llama.cpp")
      ->needs(text);
  cmd->add_option("--calibration-ctx", args->calibration_ctx, "Tokens per calibration chunk")
      ->default_val(512)
      ->check(CLI::Range(uint64_t{2}, uint64_t{1} << 20));
  cmd->add_option("--calibration-chunks", args->calibration_chunks,
                  "At most this many calibration chunks (0: all)");
  cmd->add_flag("--pure", args->pure,
                "Every quantizable tensor gets the mix's base type (no per-tensor rules)");
  cmd->add_flag("--keep-split", args->keep_split,
                "A split GGUF input gives a split output: each tensor in the part it came from, "
                "OUTPUT's name with -0000K-of-0000N.gguf, as llama-quantize --keep-split");
  cmd->add_flag("--leave-output-tensor", args->leave_output, "Keep output.weight as it is");
  cmd->add_flag(
      "--allow-requantize", args->allow_requantize,
      "Allow quantizing tensors that are quantized already (a second rounding: worse quality)");
  cmd->add_flag("--no-fallback", args->no_fallback,
                "Fail instead of falling back to another type when a tensor's rows do not fit the "
                "chosen type");
  cmd->add_flag("--dry-run", args->dry_run,
                "Print the plan (each tensor's type, why, its size) and write nothing");
  cmd->add_flag("--json", args->json, "Print the plan as JSON on standard output");
  cmd->add_option("--tokenizer", args->tokenizer, "Tokenizer for inputs that lack one");
  cmd->add_flag("-q,--quiet", args->quiet, "No progress line, summary or warnings");
  add_provenance_flag(cmd, args->provenance);
}

}  // namespace

QuantizeOptions recorded_quantize_options(const std::string& source,
                                          const std::vector<std::string>& options) {
  CLI::App app;
  auto args = std::make_shared<QuantizeArgs>();
  add_quantize_options(&app, args);
  parse_recorded(app, source, options);
  return options_from(*args);
}

void add_quantize_command(CLI::App& app) {
  auto args = std::make_shared<QuantizeArgs>();
  auto* cmd = app.add_subcommand("quantize",
                                 "Quantize a model to GGUF with one of llama.cpp's mixes (Q4_K_M, "
                                 "...), tensor types as llama-quantize picks them");
  add_quantize_options(cmd, args);
  cmd->callback([args, cmd] { run_quantize(*args, *cmd); });
}

}  // namespace owl
