// owl imatrix MODEL --text F: an importance matrix from owl's own forward pass, as llama-imatrix
// computes it, and the combination of existing ones (--in-file).
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "converters/canonical.h"
#include "formats/imatrix/imatrix.h"
#include "formats/io/byte_cursor.h"
#include "formats/io/error.h"
#include "formats/io/mapped_file.h"
#include "tools/commands.h"
#include "tools/mpi_world.h"
#include "tools/progress_line.h"
#include "validate/chunks.h"
#include "validate/forward.h"
#include "validate/heap_reuse.h"
#include "validate/imatrix_collector.h"
#include "validate/metrics.h"
#include "validate/run.h"
#include "validate/shared_pass.h"
#include "validate/text_tokenizer.h"

namespace owl {
namespace {

struct ImatrixArgs {
  std::string model, text, output = "imatrix.gguf", output_format = "gguf";
  std::vector<std::string> in_files;
  uint64_t ctx = 512, chunks = 0, save_frequency = 0, output_frequency = 10;
  int threads = 0;
  bool process_output = false, no_ppl = false, quiet = false, pipeline = false;
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

  // The scored tokens' values of one chunk, as bytes to take on another rank.
  static std::string chunk_values(const std::vector<float>& logits, const validate::Chunk& c,
                                  uint64_t V) {
    // Each position alone, so the threads change no bit.
    const uint64_t first = c.first_scored,
                   n = c.tokens.size() > first + 1 ? c.tokens.size() - 1 - first : 0;
    std::vector<double> values(n);
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < static_cast<int64_t>(n); ++j) {
      const uint64_t i = first + static_cast<uint64_t>(j);
      values[j] = validate::nll(logits.data() + i * V, V, c.tokens[i + 1]);
    }
    return {reinterpret_cast<const char*>(values.data()), n * sizeof(double)};
  }
  void add_chunk(std::string_view values) {
    for (size_t i = 0; i + sizeof(double) <= values.size(); i += sizeof(double)) {
      double v;
      std::memcpy(&v, values.data() + i, sizeof v);
      nll += v;
      nll2 += v * v;
      ++count;
    }
  }
  double ppl() const {
    return std::exp(nll / static_cast<double>(count));
  }
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

// A data-parallel chunk's result: its perplexity values' byte count, those values, then its
// statistics.
std::string chunk_result(const std::string& values, const validate::ImatrixCollector& stats) {
  const uint64_t n = values.size();
  return std::string(reinterpret_cast<const char*>(&n), sizeof n) + values + stats.to_bytes();
}

// Runs the text through the model and returns the statistics, on rank 0 of an MPI job (the
// other ranks' return is theirs alone). Every chunk is collected apart and the chunks are added
// in order, by however many ranks, so the sums are the same for any number.
validate::ImatrixCollector compute(const ImatrixArgs& a, const Imatrix& loaded, MpiWorld* world) {
  const Graph g = open_canonical(a.model);
  const int rank = world ? world->rank() : 0, ranks = world ? world->size() : 1;
  const bool lead = rank == 0, quiet = a.quiet || !lead;
  const uint64_t n_layer = validate::read_model_params(g).n_layer;
  validate::Forward fwd(
      g, a.pipeline ? validate::split_layers(g, n_layer, ranks)[static_cast<size_t>(rank)]
                    : validate::LayerRange{});
  const uint64_t V = fwd.params().n_vocab, d = fwd.params().n_embd;

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

  validate::ImatrixCollector total(a.process_output), stats(a.process_output);
  total.add_dataset(a.text);
  fwd.set_observer([&stats](const std::string& w, uint64_t expert, uint64_t experts, const float* x,
                            uint64_t T, uint64_t cols) {
    if (stats.collects(w)) stats.add(w, expert, experts, x, T, cols);
  });

  if (!quiet)
    std::fprintf(stderr, "owl: computing over %zu chunks of %llu tokens, %d threads%s\n",
                 chunks.size(), static_cast<unsigned long long>(a.ctx), omp_get_max_threads(),
                 ranks > 1 ? (a.pipeline ? " per rank, layers split over the MPI ranks"
                                         : " per rank, chunks shared by the MPI ranks")
                           : "");
  // The perplexities already show the progress, and a progress line would overwrite them.
  ProgressLine progress(quiet || !a.no_ppl);
  progress.begin("chunks", chunks.size(), 0);
  Perplexity ppl;
  auto save_point = [&](size_t done_here, bool& rewrite, bool& keep) {
    const uint64_t done = static_cast<uint64_t>(loaded.chunk_count) + done_here;
    rewrite = done_here < chunks.size() && done % a.output_frequency == 0;
    keep = a.save_frequency && done % a.save_frequency == 0;
    return rewrite || keep;
  };
  // Rank 0, once the chunks before `done_here` are all in `so_far`.
  auto save = [&](size_t done_here, const validate::ImatrixCollector& so_far) {
    bool rewrite = false, keep = false;
    if (!save_point(done_here, rewrite, keep)) return;
    const uint64_t done = static_cast<uint64_t>(loaded.chunk_count) + done_here;
    if (rewrite) write(combined(loaded, so_far, a), a, a.output);
    if (keep) write(combined(loaded, so_far, a), a, a.output + ".at_" + std::to_string(done));
  };
  auto take_values = [&](size_t i, std::string_view values) {
    if (!a.no_ppl) {
      ppl.add_chunk(values);
      std::printf("[%zu]%.4f,", i + 1, ppl.ppl());
      std::fflush(stdout);
    }
    progress.advance(1, 0);
  };

  if (!a.pipeline) {
    validate::share_chunks(
        world, chunks.size(),
        [&](size_t i) {
          stats = validate::ImatrixCollector(a.process_output);
          const auto t0 = std::chrono::steady_clock::now();
          const auto logits = fwd.logits(chunks[i].tokens);
          if (i == 0 && !quiet) {
            const double s =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            const auto rounds = (chunks.size() + static_cast<size_t>(ranks) - 1) / ranks;
            std::fprintf(stderr, "owl: %.2f seconds per chunk, about %.2f minutes in all\n", s,
                         s * static_cast<double>(rounds) / 60);
          }
          return chunk_result(
              a.no_ppl ? std::string() : Perplexity::chunk_values(logits, chunks[i], V), stats);
        },
        [&](size_t i, std::string result) {
          ByteCursor c(std::as_bytes(std::span(result.data(), result.size())), "rank result");
          const uint64_t n = c.read<uint64_t>("perplexity value bytes");
          const std::string_view values = c.take_string(n, "perplexity values");
          total.merge_bytes(std::string_view(result).substr(sizeof n + n), "a rank's statistics");
          take_values(i, values);
          save(i + 1, total);
        });
  } else {
    validate::pipeline_chunks(
        world, chunks.size(),
        [&](size_t i, std::string in) {
          const validate::Chunk& c = chunks[i];
          const uint64_t T = c.tokens.size();
          stats = validate::ImatrixCollector(a.process_output);
          std::vector<float> x =
              rank == 0 ? fwd.embed(c.tokens) : validate::bytes_floats(in, T * d, "hidden state");
          fwd.run_layers(x, T);
          if (rank + 1 < ranks) {
            total.merge(stats);
            return validate::float_bytes(x);
          }
          // The head runs with --no-ppl too: --process-output collects its input.
          const auto logits = fwd.head(std::move(x), T);
          total.merge(stats);
          return a.no_ppl ? std::string() : Perplexity::chunk_values(logits, c, V);
        },
        [&](size_t i, std::string values) { take_values(i, values); },
        [&](size_t done) {
          bool rewrite = false, keep = false;
          return save_point(done, rewrite, keep);
        },
        [&](size_t done) {
          // Each rank holds its layers' statistics: rank 0 puts them together.
          const auto parts = world ? world->gather(total.to_bytes()) : std::vector<std::string>{};
          if (!lead || parts.empty()) {
            if (lead) save(done, total);
            return;
          }
          validate::ImatrixCollector all(a.process_output);
          all.add_dataset(a.text);
          for (const auto& p : parts) all.merge_bytes(p, "a rank's statistics");
          save(done, all);
          if (done == chunks.size()) total = std::move(all);
        });
  }
  progress.end();
  if (!a.no_ppl && lead)
    std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", ppl.ppl(), ppl.ppl_error());
  return total;
}

void run_imatrix(const ImatrixArgs& a) {
  const auto t0 = std::chrono::steady_clock::now();
  if (a.text.empty() && a.in_files.empty())
    throw UsageError("nothing to do: give --text to compute a matrix or --in-file to combine");
  validate::keep_freed_memory();  // the same activation buffers at every layer and chunk
  // Under mpirun: the ranks share the chunks (or, with --pipeline, the layers); rank 0 writes.
  const auto world = MpiWorld::join_if_launched();
  if (const int threads = threads_per_rank(world.get(), a.threads); threads > 0)
    omp_set_num_threads(threads);
  const auto chunk_size = static_cast<int32_t>(a.ctx);
  // Earlier matrices first, then this run's statistics added to them, as llama-imatrix does.
  Imatrix m;
  for (const auto& f : a.in_files) accumulate(m, read_imatrix(f), f, chunk_size);
  if (!a.text.empty()) {
    const auto collector = compute(a, m, world.get());
    if (world && world->rank() > 0) return;
    m = combined(m, collector, a);
  } else if (world && world->rank() > 0) {
    return;
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
  cmd->add_flag("--pipeline", args->pipeline,
                "Under mpirun: split the layers over the ranks, each reading only its own, and "
                "pass each chunk's activations from rank to rank (for a model too big for one "
                "machine); without it every rank runs the whole model on its share of the chunks");
  cmd->add_flag("--no-ppl", args->no_ppl, "Do not print the perplexity of each chunk");
  cmd->add_option("--threads", args->threads, "Threads (default: every core)")
      ->check(CLI::Range(1, 4096));
  cmd->add_flag("-q,--quiet", args->quiet, "No progress line or summary");
  cmd->callback([args] { run_imatrix(*args); });
}

}  // namespace owl
