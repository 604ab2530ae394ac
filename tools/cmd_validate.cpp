// owl validate REF TEST: run both models on the same tokens and report what TEST lost.
#include <omp.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>

#include "converters/canonical.h"
#include "formats/io/atomic_file.h"
#include "formats/io/error.h"
#include "formats/io/mapped_file.h"
#include "tools/commands.h"
#include "tools/mpi_world.h"
#include "tools/progress_line.h"
#include "validate/heap_reuse.h"
#include "validate/report.h"
#include "validate/run.h"
#include "validate/text_tokenizer.h"

namespace owl {
namespace {

struct ValidateArgs {
  std::string ref, test, tokens_file, text_file, json_file, html_file, save_ref, ref_logits,
      dump_tokens;
  uint64_t random_tokens = 0, seed = 42, ctx = 512, chunks = 0;
  bool no_tensors = false, quiet = false, pipeline = false;
};

// Token ids separated by spaces, commas or newlines.
std::vector<int32_t> read_token_file(const std::string& path) {
  auto file = MappedFile::open(path);
  const auto bytes = file->bytes();
  std::vector<int32_t> out;
  int64_t value = -1;
  for (size_t i = 0; i <= bytes.size(); ++i) {
    const char c = i < bytes.size() ? static_cast<char>(bytes[i]) : ' ';
    if (c >= '0' && c <= '9') {
      value = (value < 0 ? 0 : value) * 10 + (c - '0');
      if (value > INT32_MAX)
        throw InputError(path, "token id too large at byte " + std::to_string(i));
    } else if (c == ' ' || c == ',' || c == '\n' || c == '\r' || c == '\t') {
      if (value >= 0) out.push_back(static_cast<int32_t>(value));
      value = -1;
    } else {
      throw InputError(path, std::string("not a token id list: unexpected '") + c + "' at byte " +
                                 std::to_string(i));
    }
  }
  return out;
}

std::vector<int32_t> random_stream(uint64_t n, uint64_t seed, uint64_t n_vocab) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> d(0, static_cast<int32_t>(n_vocab - 1));
  std::vector<int32_t> out(n);
  for (auto& t : out) t = d(rng);
  return out;
}

void write_text(const std::string& path, const std::string& text) {
  AtomicFile f(path);
  f.write(text);
  f.commit();
}

// A sentence-embedding model's folder with the sentence-transformers Dense modules it ships, so
// that it compares with a GGUF converted with them.
Graph open_for_validation(const std::string& path) {
  NormalizeOptions opt;
  opt.sentence_transformers_dense = true;
  return open_canonical(path, opt);
}

void run_validate(const ValidateArgs& a) {
  validate::keep_freed_memory();  // the same activation buffers at every layer and chunk
  // Under mpirun: the ranks share the chunks (or, with --pipeline, the layers); rank 0 reports.
  const auto world = MpiWorld::join_if_launched();
  const bool lead = !world || world->rank() == 0;
  if (const int threads = threads_per_rank(world.get(), 0); threads > 0)
    omp_set_num_threads(threads);
  const Graph ref = open_for_validation(a.ref);
  const Graph test = open_for_validation(a.test);
  std::vector<int32_t> stream;
  if (!a.tokens_file.empty()) {
    stream = read_token_file(a.tokens_file);
  } else if (!a.text_file.empty()) {
    auto file = MappedFile::open(a.text_file);
    const auto b = file->bytes();
    // Either model's vocabulary will do (they share it); a safetensors folder may carry none.
    const Graph& vocab = test.metadata.find("tokenizer.ggml.tokens") ? test : ref;
    stream = validate::tokenize_text(vocab, {reinterpret_cast<const char*>(b.data()), b.size()});
  } else {
    const Tensor* embd = test.find("token_embd.weight");
    if (!embd) throw UsageError("the test model has no token_embd.weight");
    stream = random_stream(a.random_tokens ? a.random_tokens : 4 * a.ctx, a.seed, embd->shape[0]);
  }
  if (!a.dump_tokens.empty()) {
    if (!lead) return;
    std::string ids;
    for (int32_t id : stream) ids += std::to_string(id) + "\n";
    write_text(a.dump_tokens, ids);
    return;
  }
  ProgressLine progress(a.quiet || !lead);
  validate::ValidateOptions opt;
  opt.n_ctx = a.ctx;
  opt.max_chunks = a.chunks;
  opt.save_ref = a.save_ref;
  opt.ref_logits = a.ref_logits;
  opt.tensors = !a.no_tensors;
  opt.progress = &progress;
  opt.group = world.get();
  opt.pipeline = a.pipeline;
  const auto r = validate::run_validation(ref, test, stream, opt);
  if (!lead) return;
  const validate::ReportNames names{a.ref, a.test};
  std::cout << validate::report_table(r, names);
  if (!a.json_file.empty()) write_text(a.json_file, validate::report_json(r, names).dump(2) + "\n");
  if (!a.html_file.empty()) write_text(a.html_file, validate::report_html(r, names));
}

}  // namespace

void add_validate_command(CLI::App& app) {
  auto args = std::make_shared<ValidateArgs>();
  auto* cmd = app.add_subcommand(
      "validate",
      "Run the original and the quantized model on the same tokens and report the drift "
      "(KL divergence, top-1 agreement, perplexity, per-tensor error)");
  cmd->add_option("reference", args->ref, "The original model (any format owl reads)")->required();
  cmd->add_option("test", args->test, "The model to check, e.g. a quantized GGUF")->required();
  auto* tokens = cmd->add_option("--tokens", args->tokens_file,
                                 "Token ids to evaluate, separated by spaces, commas or newlines");
  auto* text = cmd->add_option("--text", args->text_file,
                               "A text file, tokenized with the test model's own vocabulary")
                   ->excludes(tokens);
  cmd->add_option("--random-tokens", args->random_tokens,
                  "Evaluate N random tokens (a smoke test; default 4 chunks)")
      ->excludes(tokens)
      ->excludes(text);
  cmd->add_option("--seed", args->seed, "Seed for --random-tokens")->default_val(42);
  cmd->add_option("--ctx", args->ctx,
                  "Tokens per chunk; the second half of each is scored, as llama-perplexity does")
      ->default_val(512)
      ->check(CLI::Range(uint64_t{2}, uint64_t{1} << 20));
  cmd->add_option("--chunks", args->chunks, "Evaluate at most this many chunks (0: all)");
  cmd->add_option("--dump-tokens", args->dump_tokens,
                  "Write the token ids of --text to this file, one per line (no BOS), and stop "
                  "without running "
                  "the models (reusable with --tokens)")
      ->needs(text);
  cmd->add_option("--json", args->json_file, "Write the figures as JSON to this file");
  cmd->add_option("--report", args->html_file,
                  "Write a self-contained HTML report with charts to this file");
  cmd->add_option("--save-ref", args->save_ref,
                  "Save the reference logits (zstd) for reuse with --ref-logits");
  cmd->add_option("--ref-logits", args->ref_logits,
                  "Use reference logits saved by --save-ref instead of running REF");
  cmd->add_flag("--pipeline", args->pipeline,
                "Under mpirun: split the layers over the ranks, each reading only its own, and "
                "pass each chunk's activations from rank to rank (for models too big for one "
                "machine; add --no-tensors to keep rank 0 from reading every tensor); without it "
                "every rank runs both models on its share of the chunks");
  cmd->add_flag("--no-tensors", args->no_tensors, "Skip the per-tensor weight comparison");
  cmd->add_flag("-q,--quiet", args->quiet, "No progress line");
  cmd->callback([args] { run_validate(*args); });
}

}  // namespace owl
