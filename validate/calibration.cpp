#include "validate/calibration.h"

#include <chrono>
#include <cstdio>

#include "formats/io/error.h"
#include "formats/io/mapped_file.h"
#include "validate/chunks.h"
#include "validate/hessian_collector.h"
#include "validate/imatrix_collector.h"
#include "validate/run.h"
#include "validate/text_tokenizer.h"

namespace owl::validate {
namespace {

std::string read_text(const std::string& path) {
  auto file = MappedFile::open(path);
  const auto b = file->bytes();
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace

size_t run_calibration(const Graph& g, const std::string& text_file, uint64_t ctx,
                       uint64_t max_chunks, bool quiet, MatmulObserver observer) {
  Forward fwd(g);
  const auto bos = bos_to_add(g);
  std::vector<int32_t> stream;
  if (bos) stream.push_back(*bos);
  const auto text = tokenize_text(g, read_text(text_file));
  stream.insert(stream.end(), text.begin(), text.end());
  auto chunks = make_chunks(stream, ctx, bos);
  if (chunks.empty())
    throw InputError(text_file, "the text holds " + std::to_string(stream.size()) +
                                    " tokens, fewer than one chunk of " + std::to_string(ctx));
  if (max_chunks && chunks.size() > max_chunks) chunks.resize(max_chunks);
  fwd.set_observer(std::move(observer));
  const auto t0 = std::chrono::steady_clock::now();
  for (const Chunk& c : chunks) fwd.logits(c.tokens);
  if (!quiet)
    std::fprintf(stderr, "owl: calibration over %zu chunks of %llu tokens in %.1f s\n",
                 chunks.size(), static_cast<unsigned long long>(ctx),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return chunks.size();
}

CalibrationStats collect_calibration(const Graph& g, const std::string& text_file, uint64_t ctx,
                                     uint64_t max_chunks, bool quiet, bool moments, bool hessians) {
  // The importance matrix's sums, over every product rather than llama-imatrix's selection.
  ImatrixCollector squares(true);
  HessianCollector products;
  run_calibration(g, text_file, ctx, max_chunks, quiet,
                  [&](const std::string& w, uint64_t expert, uint64_t experts, const float* x,
                      uint64_t tokens, uint64_t cols) {
                    if (moments) squares.add(w, expert, experts, x, tokens, cols);
                    if (hessians && HessianCollector::collects(w, experts))
                      products.add(w, x, tokens, cols);
                  });
  CalibrationStats out;
  if (moments) out.moments = importance_weights(squares.result(static_cast<int32_t>(ctx)));
  if (hessians) out.hessians = products.result();
  return out;
}

}  // namespace owl::validate
