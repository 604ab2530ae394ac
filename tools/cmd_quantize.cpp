// owl quantize IN -o OUT.gguf -t Q4_K_M [--dry-run] ...: a model quantized with one of
// llama.cpp's mixes, each tensor getting the type llama-quantize would give it.
#include <omp.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>

#include "converters/canonical.h"
#include "converters/lora/adapter.h"
#include "converters/measured_recipe.h"
#include "converters/quantize.h"
#include "formats/io/error.h"
#include "formats/io/utf8.h"
#include "formats/json/strict_json.h"
#include "quant/driver.h"
#include "tools/commands.h"
#include "tools/human.h"
#include "tools/mpi_world.h"
#include "tools/progress_line.h"
#include "tools/recipe_options.h"
#include "tools/rederive.h"
#include "validate/calibration.h"

namespace owl {
namespace {

struct QuantizeArgs {
  std::string input, output, mix, output_tensor_type, token_embedding_type, tokenizer, imatrix;
  std::vector<std::string> loras;
  std::vector<std::string> tensor_types, tensor_type_files, include_weights, exclude_weights;
  std::vector<std::string> override_kv;
  std::string prune_layers, split_max_size;
  std::string calibration_text;  // --optimize --text
  uint64_t calibration_ctx = 512, calibration_chunks = 0;
  bool optimize = false;
  // Measured recipes: a target, and where the measurement comes from or goes.
  double target_bpw = 0;
  std::string target_size, sensitivity_in, sensitivity_out;
  std::vector<std::string> recipe_types;
  int threads = 0;
  bool pure = false, leave_output = false, allow_requantize = false, no_fallback = false;
  bool keep_split = false, resume = false;
  bool dry_run = false, json = false, quiet = false, provenance = true;
  bool provenance_given = false;  // --provenance on the command line, not by default
};

// Options that do not change the bytes written.
const std::set<std::string> kNotRecipe = {"output", "threads",    "dry-run",       "json",
                                          "quiet",  "provenance", "no-provenance", "resume"};

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

bool has_target(const QuantizeArgs& a) {
  return a.target_bpw > 0 || !a.target_size.empty();
}
bool measures(const QuantizeArgs& a) {
  return has_target(a) || !a.sensitivity_out.empty();
}

QuantizeOptions options_from(const QuantizeArgs& a) {
  QuantizeOptions opt;
  // A measured recipe picks its mix once the types are chosen; Q8_0 plans until then.
  opt.plan.mix = find_mix(a.mix.empty() && measures(a) ? "Q8_0" : a.mix);
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
  for (const auto& l : a.loras) opt.loras.push_back(lora::parse_lora_spec(l));
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

Json plan_json(const Plan& plan, const std::vector<std::string>& files,
               const MeasuredRecipe* recipe) {
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
    if (const RecipeCandidate* c = recipe ? recipe_choice(*recipe, t.name) : nullptr)
      e["predicted_error"] = c->error;
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
  if (recipe) {
    j["target"] = {{"budget_bytes", recipe->budget},
                   {"fixed_bytes", recipe->fixed_bytes},
                   {"allocated_bytes", recipe->allocation.bytes},
                   {"predicted_error", recipe->allocation.error},
                   {"calibration", recipe->table.calibration}};
  }
  return j;
}

void print_json(const Plan& plan, const std::vector<std::string>& files,
                const MeasuredRecipe* recipe) {
  // Tensor names come from the input: invalid UTF-8 is replaced rather than refused.
  std::cout << plan_json(plan, files, recipe).dump(2, ' ', false, Json::error_handler_t::replace)
            << "\n";
}

// The options a measured recipe decides itself, or cannot record.
void check_recipe_options(const QuantizeArgs& a) {
  auto refuse = [](const std::string& option) {
    throw UsageError(option +
                     " cannot be combined with --target-bpw, --target-size or "
                     "--sensitivity-out: the measured recipe chooses every type");
  };
  if (!a.mix.empty()) refuse("--type");
  if (!a.tensor_types.empty() || !a.tensor_type_files.empty()) refuse("--tensor-type");
  if (!a.output_tensor_type.empty()) refuse("--output-tensor-type");
  if (!a.token_embedding_type.empty()) refuse("--token-embedding-type");
  if (a.pure) refuse("--pure");
  if (!a.prune_layers.empty()) refuse("--prune-layers");
  if (a.keep_split) refuse("--keep-split");
  // The record is on by default, but verify cannot re-derive a measured recipe yet: only an
  // explicit --provenance is an error, the default is quietly off.
  if (a.provenance && a.provenance_given) refuse("--provenance");
  if (a.target_bpw > 0 && !a.target_size.empty())
    throw UsageError("give --target-bpw or --target-size, not both");
  if (a.sensitivity_in.empty() && a.calibration_text.empty())
    throw UsageError(
        "a measured recipe needs calibration text (--text) or a saved measurement "
        "(--sensitivity)");
}

RecipeTarget recipe_target(const QuantizeArgs& a) {
  RecipeTarget t;
  t.bits_per_weight = a.target_bpw;
  for (const auto& name : a.recipe_types) {
    const ElemType type = parse_tensor_type(name, "--recipe-types");
    const auto all = recipe_candidate_types();
    if (std::find(all.begin(), all.end(), type) == all.end())
      throw UsageError("--recipe-types: " + name + " is not a type measured recipes choose among");
    t.types.push_back(type);
  }
  if (!a.target_size.empty()) {
    const auto bytes = parse_size(a.target_size);
    if (!bytes || *bytes == 0)
      throw UsageError("--target-size '" + a.target_size +
                       "' is not a size (e.g. 700M, 2GiB, 123456789)");
    t.file_bytes = *bytes;
  }
  return t;
}

// Measures (or reads) every tensor's sensitivity, saves it when asked, and solves for the
// target; nullopt when only the measurement was asked for. `moments`: the calibration pass's,
// when there is no saved measurement.
std::optional<MeasuredRecipe> measured_recipe(
    const QuantizeArgs& a, const QuantizeOptions& opt,
    const std::map<std::string, std::vector<float>>& moments) {
  SensitivityTable table;
  if (!a.sensitivity_in.empty())
    table = read_sensitivity(a.sensitivity_in);
  else
    table =
        measure_sensitivity(a.input, opt, moments, a.calibration_text, resolve_threads(a.threads));
  if (!a.sensitivity_out.empty()) {
    write_sensitivity(table, a.sensitivity_out);
    if (!a.quiet)
      std::fprintf(stderr, "owl: %zu tensors measured, saved to %s\n", table.tensors.size(),
                   a.sensitivity_out.c_str());
  }
  if (!has_target(a)) return std::nullopt;
  return solve_measured_recipe(a.input, opt, table,
                               a.sensitivity_in.empty() ? a.calibration_text : a.sensitivity_in,
                               recipe_target(a));
}

// The plan's reasons name the recipe's prediction; its types must be the recipe's.
void annotate(Plan& plan, const MeasuredRecipe& r) {
  for (auto& t : plan.tensors) {
    const RecipeCandidate* c = recipe_choice(r, t.name);
    if (!c) continue;
    if (c->type != t.to)
      throw std::logic_error("the measured recipe chose " + std::string(type_name(c->type)) +
                             " for '" + t.name + "', the plan " + std::string(type_name(t.to)));
    const double e = c->error;
    char buf[96];
    std::snprintf(buf, sizeof buf, "measured: predicted error %.4g (%.1f%% of %.4g)", e,
                  r.allocation.error > 0 ? 100 * e / r.allocation.error : 0.0, r.allocation.error);
    t.why = buf;
  }
}

void run_quantize(const QuantizeArgs& a, const CLI::App& cmd) {
  if (a.mix.empty() && !measures(a))
    throw UsageError("--type is required (or --target-bpw / --target-size)");
  if (!a.recipe_types.empty() && !has_target(a))
    throw UsageError("--recipe-types needs --target-bpw or --target-size");
  QuantizeOptions opt = options_from(a);
  opt.recipe.enabled = a.provenance && !measures(a);
  opt.recipe.command = "quantize";
  opt.recipe.options = recorded_options(cmd, kNotRecipe);
  opt.recipe.files = a.tensor_type_files;
  if (!a.imatrix.empty()) opt.recipe.files.push_back(a.imatrix);
  if (!a.tokenizer.empty()) opt.recipe.files.push_back(a.tokenizer);
  for (const auto& l : opt.loras)
    for (const auto& f : lora::adapter_files(l.folder)) opt.recipe.files.push_back(f);
  if (measures(a)) check_recipe_options(a);
  if (a.optimize && !a.prune_layers.empty())
    throw UsageError("--optimize cannot be combined with --prune-layers");
  // One pass over the calibration text for all the run needs: the input moments a measurement
  // scores with, the second moments --optimize rounds with (not for a dry run).
  const bool wants_moments = measures(a) && a.sensitivity_in.empty();
  const bool wants_hessians = a.optimize && !a.dry_run;
  validate::CalibrationStats stats;
  if (wants_moments || wants_hessians) {
    if (a.threads > 0) omp_set_num_threads(a.threads);
    stats = validate::collect_calibration(open_canonical(a.input), a.calibration_text,
                                          a.calibration_ctx, a.calibration_chunks, a.quiet,
                                          wants_moments, wants_hessians);
  }
  std::optional<MeasuredRecipe> recipe;
  if (measures(a)) {
    recipe = measured_recipe(a, opt, stats.moments);
    if (!recipe) return;
    opt.plan.mix = recipe->mix;
    opt.plan.overrides = recipe->overrides;
  }
  const MeasuredRecipe* r = recipe ? &*recipe : nullptr;
  if (!a.calibration_text.empty()) opt.recipe.files.push_back(a.calibration_text);
  if (a.dry_run) {
    Plan plan = plan_quantization(a.input, opt);
    if (r) annotate(plan, *r);
    if (a.json)
      print_json(plan, {}, r);
    else
      print_table(plan);
    check_plan(plan);
    return;
  }
  if (a.output.empty()) throw UsageError("--output is required unless --dry-run");
  // Under mpirun: every rank plans alike and writes its share of the tensors.
  const auto world = MpiWorld::join_if_launched();
  const bool quiet = a.quiet || (world && world->rank() > 0);
  opt.group = world.get();
  opt.threads = threads_per_rank(world.get(), a.threads);
  opt.resume = a.resume;
  if (!a.split_max_size.empty()) {
    if (a.keep_split) throw UsageError("--split-max-size cannot be combined with --keep-split");
    opt.split_max_bytes = *parse_size(a.split_max_size);
  }
  if (world && world->rank() > 0) opt.warn = [](const std::string&) {};  // said once, by rank 0
  if (wants_hessians) opt.hessians = std::make_shared<const Hessians>(std::move(stats.hessians));
  ProgressLine progress(quiet);
  opt.progress = &progress;
  const auto start = std::chrono::steady_clock::now();
  auto result = quantize(a.input, a.output, opt);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (r) annotate(result.plan, *r);
  if (a.json && (!world || world->rank() == 0)) print_json(result.plan, result.files, r);
  if (!quiet) {
    std::fprintf(
        stderr, "%s: %zu tensors (%zu retyped), %s -> %s (%s bpw), %d threads, in %s to:\n",
        std::string(result.plan.mix->name).c_str(), result.plan.tensors.size(),
        result.plan.changed(), human_bytes(result.plan.in_bytes).c_str(),
        human_bytes(result.plan.out_bytes).c_str(), bpw(result.plan.bits_per_weight()).c_str(),
        resolve_threads(opt.threads), human_duration(secs).c_str());
    if (world)
      std::fprintf(stderr, "  (%d MPI ranks, each with that many threads)\n", world->size());
    for (const auto& f : result.files) std::fprintf(stderr, "  %s\n", f.c_str());
  }
}

void add_quantize_options(CLI::App* cmd, const std::shared_ptr<QuantizeArgs>& args) {
  cmd->add_option("input", args->input,
                  "A model: GGUF, Hugging Face folder, .safetensors (or its index), "
                  "PyTorch .bin/.pt (or its index), llama2.c checkpoint")
      ->required();
  cmd->add_option("-o,--output", args->output, "The output .gguf (not needed with --dry-run)");
  cmd->add_option("-t,--type", args->mix, mix_help() + "\n(not with --target-bpw/--target-size)");
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
  auto* text = cmd->add_option("--text", args->calibration_text,
                               "Calibration text for --optimize and measured recipes")
                   ->check(CLI::ExistingFile);
  cmd->add_flag("--optimize", args->optimize,
                "Error-compensated rounding (GPTQ-style) driven by the second moments of each "
                "matrix's inputs over --text: same types and sizes, lower output error; the file "
                "decodes unchanged in llama.cpp")
      ->needs(text);
  cmd->add_option("--target-bpw", args->target_bpw,
                  "A measured recipe: each tensor's type chosen from measurements on --text so "
                  "that the predicted error is least with at most this many bits per weight "
                  "(every tensor's data over every weight, as the plan prints it)")
      ->check(CLI::Range(1.0, 32.0));
  cmd->add_option("--target-size", args->target_size,
                  "A measured recipe for an output file of at most this size (700M, 2GiB, bytes)");
  cmd->add_option("--recipe-types", args->recipe_types,
                  "Choose only among these types (comma-separated; default: Q2_K Q3_K Q4_0 IQ4_XS "
                  "IQ4_NL Q4_1 Q4_K Q5_0 Q5_1 Q5_K Q6_K Q8_0, those a tensor's rows fit)")
      ->delimiter(',');
  cmd->add_option("--sensitivity", args->sensitivity_in,
                  "A measurement saved with --sensitivity-out, instead of measuring on --text")
      ->check(CLI::ExistingFile);
  cmd->add_option("--sensitivity-out", args->sensitivity_out,
                  "Save each tensor's measured error at each candidate type (JSON), reusable for "
                  "any target; alone, only measures");
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
  cmd->add_option("--split-max-size", args->split_max_size,
                  "Split the output into parts of at most this size (2G, 500M), as gguf-split")
      ->check(check_size_option);
  cmd->add_flag("--leave-output-tensor", args->leave_output, "Keep output.weight as it is");
  cmd->add_flag(
      "--allow-requantize", args->allow_requantize,
      "Allow quantizing tensors that are quantized already (a second rounding: worse quality)");
  cmd->add_flag("--no-fallback", args->no_fallback,
                "Fail instead of falling back to another type when a tensor's rows do not fit the "
                "chosen type");
  cmd->add_flag("--resume", args->resume,
                "Keep a journal of finished tensors beside a kept temporary output; run the same "
                "command again after a crash or kill and it checks them and writes only the rest");
  cmd->add_flag("--dry-run", args->dry_run,
                "Print the plan (each tensor's type, why, its size) and write nothing");
  cmd->add_flag("--json", args->json, "Print the plan as JSON on standard output");
  cmd->add_option("--tokenizer", args->tokenizer, "Tokenizer for inputs that lack one");
  cmd->add_option("--lora", args->loras,
                  "Merge a PEFT LoRA adapter folder (DIR or DIR:SCALE) into a Hugging Face input "
                  "as it is quantized; repeat for more");
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
  cmd->callback([args, cmd] {
    args->provenance_given = cmd->count("--provenance") > 0;
    run_quantize(*args, *cmd);
  });
}

}  // namespace owl
