// owl imatrix MODEL --text F: an importance matrix from owl's own forward pass, as llama-imatrix
// computes it, and the combination of existing ones (--in-file).
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

#include "converters/canonical.h"
#include "formats/imatrix/imatrix.h"
#include "formats/io/error.h"
#include "formats/io/mapped_file.h"
#include "tools/commands.h"
#include "tools/progress_line.h"
#include "validate/chunks.h"
#include "validate/forward.h"
#include "validate/imatrix_collector.h"
#include "validate/metrics.h"
#include "validate/run.h"
#include "validate/text_tokenizer.h"

namespace owl {
namespace {

struct ImatrixArgs {
  std::string model, text, output = "imatrix.gguf", output_format = "gguf";
  std::vector<std::string> in_files;
  uint64_t ctx = 512, chunks = 0, save_frequency = 0, output_frequency = 10;
  int threads = 0;
  bool process_output = false, no_ppl = false, quiet = false;
};

// The forward pass has no routed experts yet: say so rather than fail on a missing tensor.
void write(const Imatrix& m, const ImatrixArgs& a, const std::string& path) {
  if (a.output_format == "dat")
    write_imatrix_dat(m, path);
  else
    write_imatrix_gguf(m, path);
}

std::string read_text(const std::string& path) {
  auto file = MappedFile::open(path);
  const auto b = file->bytes();
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Mean negative log-likelihood of the second half of each chunk, as llama-imatrix prints it.
struct Perplexity {
  double nll = 0, nll2 = 0;
  uint64_t count = 0;

  void add_chunk(const std::vector<float>& logits, const validate::Chunk& c, uint64_t V) {
    const uint64_t n = c.tokens.size();
    for (uint64_t i = c.first_scored; i + 1 < n; ++i) {
      const double v = validate::nll(logits.data() + i * V, V, c.tokens[i + 1]);
      nll += v;
      nll2 += v * v;
      ++count;
    }
  }
  double ppl() const { return std::exp(nll / static_cast<double>(count)); }
  double ppl_error() const {
    const double mean = nll / count, var = nll2 / count - mean * mean;
    return var > 0 && count > 1 ? std::sqrt(var / (count - 1)) * ppl() : 0;
  }
};

// The matrices given with --in-file plus what the collector has so far.
Imatrix combined(const Imatrix& loaded, const validate::ImatrixCollector& collector,
                 const ImatrixArgs& a) {
  Imatrix m = loaded;
  const auto chunk_size = static_cast<int32_t>(a.ctx);
  accumulate(m, collector.result(chunk_size), a.text, chunk_size);
  return m;
}

void compute(const ImatrixArgs& a, validate::ImatrixCollector& collector, const Imatrix& loaded) {
  const Graph g = open_canonical(a.model);
  validate::Forward fwd(g);
  const uint64_t V = fwd.params().n_vocab;

  // llama-imatrix tokenizes with BOS first, then puts BOS at the start of every chunk.
  const auto bos = validate::bos_to_add(g);
  std::vector<int32_t> stream;
  if (bos) stream.push_back(*bos);
  const auto text = validate::tokenize_text(g, read_text(a.text));
  stream.insert(stream.end(), text.begin(), text.end());
  auto chunks = validate::make_chunks(stream, a.ctx, bos);
  if (chunks.empty())
    throw InputError(a.text, "the text holds " + std::to_string(stream.size()) +
                                 " tokens, fewer than one chunk of " + std::to_string(a.ctx) +
                                 " (--ctx)");
  if (a.chunks && chunks.size() > a.chunks) chunks.resize(a.chunks);
  collector.add_dataset(a.text);
  fwd.set_observer([&collector](const std::string& w, uint64_t expert, uint64_t experts,
                                const float* x, uint64_t T, uint64_t cols) {
    if (collector.collects(w)) collector.add(w, expert, experts, x, T, cols);
  });

  if (!a.quiet)
    std::fprintf(stderr, "owl: computing over %zu chunks of %llu tokens, %d threads\n",
                 chunks.size(), static_cast<unsigned long long>(a.ctx), omp_get_max_threads());
  // The perplexities already show the progress, and a progress line would overwrite them.
  ProgressLine progress(a.quiet || !a.no_ppl);
  progress.begin("chunks", chunks.size(), 0);
  Perplexity ppl;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto logits = fwd.logits(chunks[i].tokens);
    if (i == 0 && !a.quiet) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::fprintf(stderr, "owl: %.2f seconds per chunk, about %.2f minutes in all\n", s,
                   s * static_cast<double>(chunks.size()) / 60);
    }
    if (!a.no_ppl) {
      ppl.add_chunk(logits, chunks[i], V);
      std::printf("[%zu]%.4f,", i + 1, ppl.ppl());
      std::fflush(stdout);
    }
    progress.advance(1, 0);
    const uint64_t done = static_cast<uint64_t>(loaded.chunk_count) + i + 1;
    if (i + 1 < chunks.size() && done % a.output_frequency == 0)
      write(combined(loaded, collector, a), a, a.output);
    if (a.save_frequency && done % a.save_frequency == 0)
      write(combined(loaded, collector, a), a, a.output + ".at_" + std::to_string(done));
  }
  progress.end();
  if (!a.no_ppl) std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", ppl.ppl(), ppl.ppl_error());
}

void run_imatrix(const ImatrixArgs& a) {
  const auto t0 = std::chrono::steady_clock::now();
  if (a.threads > 0) omp_set_num_threads(a.threads);
  if (a.text.empty() && a.in_files.empty())
    throw UsageError("nothing to do: give --text to compute a matrix or --in-file to combine");
  const auto chunk_size = static_cast<int32_t>(a.ctx);
  // Earlier matrices first, then this run's statistics added to them, as llama-imatrix does.
  Imatrix m;
  for (const auto& f : a.in_files) accumulate(m, read_imatrix(f), f, chunk_size);
  if (!a.text.empty()) {
    validate::ImatrixCollector collector(a.process_output);
    compute(a, collector, m);
    m = combined(m, collector, a);
  }
  write(m, a, a.output);
  if (!a.quiet)
    std::fprintf(stderr, "owl: %zu entries over %d chunks of %d tokens to %s in %.1f s\n",
                 m.entries.size(), m.chunk_count, m.chunk_size, a.output.c_str(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

}  // namespace

void add_imatrix_command(CLI::App& app) {
  auto args = std::make_shared<ImatrixArgs>();
  auto* cmd = app.add_subcommand(
      "imatrix",
      "Compute an importance matrix over a text with owl's forward pass, as llama-imatrix does "
      "(for quantize --imatrix), or combine existing ones");
  auto* model = cmd->add_option("model", args->model, "The model (any format owl reads)");
  cmd->add_option("--text", args->text, "The text to run through the model")->needs(model);
  cmd->add_option("-o,--output", args->output, "The importance matrix to write")
      ->default_val("imatrix.gguf");
  cmd->add_option("--output-format", args->output_format,
                  "gguf (llama.cpp's current format) or dat (the legacy one)")
      ->check(CLI::IsMember({"gguf", "dat"}))
      ->default_val("gguf");
  cmd->add_option("-c,--ctx", args->ctx, "Tokens per chunk (BOS first when the model adds one)")
      ->default_val(512)
      ->check(CLI::Range(uint64_t{2}, uint64_t{1} << 20));
  cmd->add_option("--chunks", args->chunks, "Process at most this many chunks (0: all)");
  cmd->add_flag("--process-output", args->process_output,
                "Also collect output.weight (a tied output, token_embd, is never collected)");
  cmd->add_option("--in-file", args->in_files,
                  "An importance matrix (GGUF or .dat) to add to the result; repeatable")
      ->check(CLI::ExistingFile);
  cmd->add_option("--save-frequency", args->save_frequency,
                  "Also write the matrix so far to OUTPUT.at_N every N chunks (0: never)");
  cmd->add_option("--output-frequency", args->output_frequency,
                  "Rewrite OUTPUT with the matrix so far every N chunks")
      ->default_val(10)
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 30));
  cmd->add_flag("--no-ppl", args->no_ppl, "Do not print the perplexity of each chunk");
  cmd->add_option("--threads", args->threads, "Threads (default: every core)")
      ->check(CLI::Range(1, 4096));
  cmd->add_flag("-q,--quiet", args->quiet, "No progress line or summary");
  cmd->callback([args] { run_imatrix(*args); });
}

}  // namespace owl
