#include "formats/tensor_stream.h"

#include <stdexcept>

namespace owl {

uint64_t stream_tensor(AtomicFile& f, const Tensor& t, Progress* progress) {
  uint64_t written = 0;
  if (t.data) {
    for_each_chunk(*t.data, [&](std::span<const std::byte> chunk) {
      f.write(chunk);
      written += chunk.size();
      if (progress) progress->advance(0, chunk.size());
    });
    t.data->release();
  }
  if (written != t.byte_size()) throw std::logic_error("tensor '" + t.name + "' produced the wrong byte count");
  if (progress) progress->advance(1, 0);
  return written;
}

}  // namespace owl
