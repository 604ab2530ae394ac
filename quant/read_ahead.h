// Reading ahead of a consumer that walks several tensors' inputs in order, a range of rows at a
// time: while the consumer works on one range, a background thread brings the next into memory
// (the rest of the same tensor, or the start of the next one). The quantization driver uses it
// so that reading the input overlaps quantizing it, with at most two ranges in memory.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "converters/source.h"

namespace owl {

class ReadAhead {
 public:
  struct Input {
    SourcePtr source;
    uint64_t rows = 0;
    uint64_t row_bytes = 0;
    uint64_t rows_per_read = 1;  // the consumer's expected first read of this input
  };

  // Rows [first, first + count) of one input, in memory.
  struct Rows {
    std::span<const std::byte> bytes;
    std::vector<std::byte> buffer;  // holds them when the input has no view to read in place
  };

  // `inputs` in the order the consumer takes them.
  explicit ReadAhead(std::vector<Input> inputs);
  ~ReadAhead();
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // The rows, from the background read when it guessed this request, else read now; then starts
  // the background read of the rows expected next. Rethrows what reading the rows threw.
  Rows take(size_t input, uint64_t first, uint64_t count);

 private:
  struct Range {
    size_t input;
    uint64_t first, count;
    bool operator==(const Range&) const = default;
  };
  enum class State { None, Queued, Loading, Ready };

  Rows load(const Range& r) const;
  std::optional<Range> after(const Range& r) const;
  void work();

  std::vector<Input> inputs_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  // The one range read in the background.
  State state_ = State::None;
  Range pending_{};
  Rows pending_rows_;
  std::exception_ptr pending_error_;
  bool stop_ = false;
  std::thread worker_;  // last: it starts once the members it uses exist
};

}  // namespace owl
