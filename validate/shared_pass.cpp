#include "validate/shared_pass.h"

#include <algorithm>
#include <cstring>

#include "formats/io/error.h"
#include "quant/recipe.h"

namespace owl::validate {

void share_chunks(WriteGroup* group, size_t chunks, const RunChunk& run, const TakeChunk& take) {
  if (!group || group->size() == 1) {
    for (size_t i = 0; i < chunks; ++i) take(i, run(i));
    return;
  }
  const auto size = static_cast<size_t>(group->size()), rank = static_cast<size_t>(group->rank());
  for (size_t first = 0; first < chunks; first += size) {
    const size_t mine = first + rank;
    auto results = group->gather(mine < chunks ? run(mine) : std::string());
    for (size_t r = 0; r < results.size() && first + r < chunks; ++r)
      take(first + r, std::move(results[r]));
  }
}

void pipeline_chunks(WriteGroup* group, size_t chunks, const StageChunk& stage,
                     const TakeChunk& take, const std::function<bool(size_t done)>& stop,
                     const std::function<void(size_t done)>& drained) {
  const int size = group ? group->size() : 1, rank = group ? group->rank() : 0, last = size - 1;
  // Chunks past rank 0's stage and not yet back as results.
  const auto depth = static_cast<size_t>(last);
  for (size_t begin = 0, end = 0; begin < chunks; begin = end) {
    for (end = begin + 1; end < chunks && !stop(end);) ++end;
    size_t taken = begin;
    for (size_t i = begin; i < end; ++i) {
      std::string out = stage(i, rank == 0 ? std::string() : group->receive(rank - 1));
      if (size == 1) {
        take(taken++, std::move(out));
      } else if (rank == 0) {
        // Take the oldest result before passing this chunk on: the last rank may be waiting to
        // hand it over, and its sends must not wait on rank 0's.
        if (i - begin >= depth) {
          take(taken, group->receive(last));
          ++taken;
        }
        group->send(1, out);
      } else {
        group->send(rank == last ? 0 : rank + 1, out);
      }
    }
    if (rank == 0)
      for (; taken < end; ++taken) take(taken, group->receive(last));
    drained(end);
  }
}

std::vector<LayerRange> split_layers(const Graph& g, uint64_t n_layer, int stages) {
  std::vector<uint64_t> bytes(n_layer, 0);
  for (const Tensor& t : g.tensors) {
    const int32_t layer = layer_of_name(t.name);
    if (layer >= 0 && static_cast<uint64_t>(layer) < n_layer)
      bytes[static_cast<size_t>(layer)] += t.byte_size();
  }
  uint64_t total = 0;
  for (uint64_t b : bytes) total += b;
  std::vector<LayerRange> ranges;
  uint64_t layer = 0, done = 0;
  for (int s = 0; s < stages; ++s) {
    LayerRange r{layer, layer};
    // This stage's share ends where the bytes so far pass (s + 1) / stages of the total; the
    // last stage takes whatever is left.
    const unsigned __int128 goal = static_cast<unsigned __int128>(total) * (s + 1);
    while (r.end < n_layer &&
           (s == stages - 1 ||
            static_cast<unsigned __int128>(done + bytes[r.end]) * stages <= goal ||
            (r.end == r.begin && n_layer - r.end > static_cast<uint64_t>(stages - 1 - s))))
      done += bytes[r.end++];
    ranges.push_back(r);
    layer = r.end;
  }
  return ranges;
}

std::string float_bytes(const std::vector<float>& v) {
  std::string out(v.size() * sizeof(float), '\0');
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

std::vector<float> bytes_floats(std::string_view bytes, uint64_t count, std::string_view what) {
  if (bytes.size() != count * sizeof(float))
    throw UsageError(std::string(what) + " holds " + std::to_string(bytes.size()) +
                     " bytes, not the " + std::to_string(count) + " floats expected");
  std::vector<float> out(count);
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

}  // namespace owl::validate
