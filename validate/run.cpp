#include "validate/run.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <string_view>

#include "formats/io/error.h"
#include "formats/io/hash.h"
#include "validate/chunks.h"
#include "validate/forward.h"
#include "validate/ref_store.h"
#include "validate/shared_pass.h"

namespace owl::validate {
namespace {

std::string hash_tokens(std::span<const int32_t> stream) {
  Xxh3Hasher h;
  h.update(std::as_bytes(stream));
  return h.hex();
}

// Without tokenizer.ggml.add_bos_token, llama.cpp adds BOS for SentencePiece vocabularies and
// for the byte-level BPE vocabularies of the Llama 3 family and a few others.
bool adds_bos_by_default(const Graph& g) {
  const auto model = g.metadata.get_string("tokenizer.ggml.model");
  if (model == "llama") return true;
  if (model != "gpt2") return false;
  static constexpr std::array<std::string_view, 11> kBosFirst = {
      "llama3",   "llama-v3", "llama-bpe",    "falcon3", "falcon-h1", "pixtral",
      "midm-2.0", "lfm2",     "jina-v5-nano", "tekken",  "chameleon"};
  const auto pre = g.metadata.get_string("tokenizer.ggml.pre").value_or("default");
  return std::find(kBosFirst.begin(), kBosFirst.end(), pre) != kBosFirst.end();
}

// Each chunk embedded whole by both models, scored by the cosine of the two embeddings. The Dense
// layers after the pooling change the space the embedding lives in, so they run only when both
// models have them.
void compare_embeddings(const Forward& ref, const Forward& test, const std::vector<Chunk>& chunks,
                        const ValidateOptions& opt, ValidateResult& r) {
  if (!opt.save_ref.empty() || !opt.ref_logits.empty())
    throw UsageError("--save-ref and --ref-logits keep logits; the " + r.params.arch +
                     " model gives sentence embeddings");
  const bool dense = ref.has_dense() && test.has_dense();
  r.dense = dense              ? "both models"
            : ref.has_dense()  ? "only the reference (not applied)"
            : test.has_dense() ? "only the test model (not applied)"
                               : "neither model";
  if (opt.progress) opt.progress->begin("embedding", chunks.size(), 0);
  for (const Chunk& c : chunks) {
    const auto a = ref.embedding(c.tokens, dense), b = test.embedding(c.tokens, dense);
    double dot = 0, aa = 0, bb = 0;
    for (uint64_t i = 0; i < a.size(); ++i) {
      dot += static_cast<double>(a[i]) * b[i];
      aa += static_cast<double>(a[i]) * a[i];
      bb += static_cast<double>(b[i]) * b[i];
    }
    r.cosines.push_back(aa > 0 && bb > 0 ? dot / std::sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0));
    if (opt.progress) opt.progress->advance(1, 0);
  }
  if (opt.progress) opt.progress->end();
  double sum = 0;
  r.cosine_min = r.cosines.front();
  for (double c : r.cosines) {
    sum += c;
    r.cosine_min = std::min(r.cosine_min, c);
  }
  r.cosine_mean = sum / static_cast<double>(r.cosines.size());
}

}  // namespace

std::optional<int32_t> bos_to_add(const Graph& g) {
  const Value* add = g.metadata.find("tokenizer.ggml.add_bos_token");
  const bool adds = add ? add->type() == ValueType::BOOL && add->as_bool() : adds_bos_by_default(g);
  auto id = g.metadata.get_int("tokenizer.ggml.bos_token_id");
  if (!adds || !id) return std::nullopt;
  return static_cast<int32_t>(*id);
}

ValidateResult run_validation(const Graph& ref, const Graph& test, std::span<const int32_t> stream,
                              const ValidateOptions& opt) {
  const int rank = opt.group ? opt.group->rank() : 0, ranks = opt.group ? opt.group->size() : 1;
  if ((ranks > 1 || opt.pipeline) && (!opt.save_ref.empty() || !opt.ref_logits.empty()))
    throw UsageError(
        "--save-ref and --ref-logits need the whole pass in one process: run them "
        "without mpirun and --pipeline");
  ValidateResult r;
  r.params = read_model_params(test);
  require_same_network(read_model_params(ref), r.params);
  const LayerRange layers =
      opt.pipeline ? split_layers(ref, r.params.n_layer, ranks)[static_cast<size_t>(rank)]
                   : LayerRange{};
  const Forward test_fwd(test, layers);
  r.n_ctx = opt.n_ctx;
  const uint64_t V = r.params.n_vocab, d = r.params.n_embd;

  auto chunks = make_chunks(stream, opt.n_ctx, bos_to_add(test));
  if (opt.max_chunks && chunks.size() > opt.max_chunks) chunks.resize(opt.max_chunks);
  if (chunks.empty())
    throw UsageError("the token stream holds " + std::to_string(stream.size()) +
                     " tokens, fewer than one chunk of " + std::to_string(opt.n_ctx) + " (--ctx)");
  if (r.params.pooling) {
    if (ranks > 1 || opt.pipeline)
      throw UsageError(
          "sentence-embedding models are compared in one process: run without "
          "mpirun and --pipeline");
    r.chunks = chunks.size();
    compare_embeddings(Forward(ref), test_fwd, chunks, opt, r);
    if (opt.tensors) r.tensors = diff_tensors(ref, test, nullptr);
    return r;
  }

  std::unique_ptr<Forward> ref_fwd;
  std::unique_ptr<RefReader> stored;
  if (!opt.ref_logits.empty()) {
    stored = std::make_unique<RefReader>(opt.ref_logits);
    const RefHeader& h = stored->header();
    if (h.n_vocab != V || h.n_ctx != opt.n_ctx || h.tokens_hash != hash_tokens(stream))
      throw UsageError(opt.ref_logits +
                       " was saved for another token stream, context or vocabulary");
  } else {
    ref_fwd = std::make_unique<Forward>(ref, layers);
  }

  if (stored && stored->header().n_chunks < chunks.size()) chunks.resize(stored->header().n_chunks);
  r.chunks = chunks.size();

  std::unique_ptr<RefWriter> saver;
  if (!opt.save_ref.empty())
    saver = std::make_unique<RefWriter>(
        opt.save_ref, RefHeader{V, opt.n_ctx, chunks.size(), hash_tokens(stream)});

  // A chunk's scored positions, as bytes for rank 0; `ref_scored` starts at the first of them.
  auto score_chunk = [&](const Chunk& c, const float* ref_scored,
                         const std::vector<float>& test_all) {
    // Each position is scored alone, so the threads change no bit.
    const uint64_t first = c.first_scored, n = opt.n_ctx > first + 1 ? opt.n_ctx - 1 - first : 0;
    std::vector<TokenScore> scores(n);
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < static_cast<int64_t>(n); ++j) {
      const uint64_t i = first + static_cast<uint64_t>(j);
      scores[j] =
          score_position(ref_scored + (i - first) * V, test_all.data() + i * V, V, c.tokens[i + 1]);
    }
    std::string out(scores.size() * sizeof(TokenScore), '\0');
    std::memcpy(out.data(), scores.data(), out.size());
    return out;
  };
  auto take = [&](size_t, std::string bytes) {
    const size_t n = bytes.size() / sizeof(TokenScore);
    const size_t at = r.scores.size();
    r.scores.resize(at + n);
    std::memcpy(r.scores.data() + at, bytes.data(), n * sizeof(TokenScore));
    if (opt.progress) opt.progress->advance(1, 0);
  };

  if (opt.progress) opt.progress->begin("evaluating", chunks.size(), 0);
  if (!opt.pipeline) {
    share_chunks(
        opt.group, chunks.size(),
        [&](size_t i) {
          const Chunk& c = chunks[i];
          const uint64_t first = c.first_scored, n_scored = opt.n_ctx - 1 - first;
          std::vector<float> ref_scored(n_scored * V);
          if (stored) {
            std::vector<int32_t> tokens(opt.n_ctx);
            stored->next_chunk(tokens, ref_scored);
            if (tokens != c.tokens)
              throw UsageError(opt.ref_logits + " holds other tokens than this run");
          } else {
            const auto all = ref_fwd->logits(c.tokens);
            std::copy(all.begin() + static_cast<std::ptrdiff_t>(first * V),
                      all.begin() + static_cast<std::ptrdiff_t>((first + n_scored) * V),
                      ref_scored.begin());
          }
          if (saver) saver->add_chunk(c.tokens, ref_scored);
          return score_chunk(c, ref_scored.data(), test_fwd.logits(c.tokens));
        },
        take);
  } else {
    pipeline_chunks(
        opt.group, chunks.size(),
        [&](size_t i, std::string in) {
          const Chunk& c = chunks[i];
          const uint64_t T = c.tokens.size(), state = T * d * sizeof(float);
          // Both models' hidden states travel together, the reference's first.
          std::vector<float> x_ref, x_test;
          if (rank == 0) {
            x_ref = ref_fwd->embed(c.tokens);
            x_test = test_fwd.embed(c.tokens);
          } else {
            if (in.size() != 2 * state)
              throw UsageError("rank " + std::to_string(rank) + " got " +
                               std::to_string(in.size()) + " bytes of hidden states, not " +
                               std::to_string(2 * state));
            x_ref = bytes_floats(std::string_view(in).substr(0, state), T * d, "hidden state");
            x_test = bytes_floats(std::string_view(in).substr(state), T * d, "hidden state");
          }
          ref_fwd->run_layers(x_ref, T);
          test_fwd.run_layers(x_test, T);
          if (rank + 1 < ranks) return float_bytes(x_ref) + float_bytes(x_test);
          const auto ref_all = ref_fwd->head(std::move(x_ref), T);
          return score_chunk(c, ref_all.data() + c.first_scored * V,
                             test_fwd.head(std::move(x_test), T));
        },
        take, [](size_t) { return false; }, [](size_t) {});
  }
  if (opt.progress) opt.progress->end();
  if (saver) saver->finish();
  if (rank > 0) return r;
  r.drift = summarize(r.scores);
  if (opt.tensors) r.tensors = diff_tensors(ref, test, nullptr);
  return r;
}

}  // namespace owl::validate
