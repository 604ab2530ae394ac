#include "quant/read_ahead.h"

#include <algorithm>
#include <atomic>
#include <utility>

namespace owl {
namespace {

// Touching one byte per page is enough to bring a mapped range into memory.
constexpr uint64_t kPageBytes = 4096;

// Keeps the page-touching reads from being optimised away.
std::atomic<std::byte> g_touched{};

void touch(std::span<const std::byte> bytes) {
  std::byte seen{};
  for (uint64_t off = 0; off < bytes.size(); off += kPageBytes) seen ^= bytes[off];
  g_touched.store(seen, std::memory_order_relaxed);
}

}  // namespace

ReadAhead::ReadAhead(std::vector<Input> inputs)
    : inputs_(std::move(inputs)), worker_([this] { work(); }) {}

ReadAhead::~ReadAhead() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

ReadAhead::Rows ReadAhead::load(const Range& r) const {
  const Input& in = inputs_[r.input];
  const uint64_t offset = r.first * in.row_bytes, length = r.count * in.row_bytes;
  Rows rows;
  const auto view = in.source->view();
  if (view.data() && view.size() == in.source->byte_size()) {
    rows.bytes = view.subspan(offset, length);
    touch(rows.bytes);
  } else {
    rows.buffer.resize(length);
    in.source->read(offset, rows.buffer);
    rows.bytes = rows.buffer;
  }
  return rows;
}

std::optional<ReadAhead::Range> ReadAhead::after(const Range& r) const {
  const uint64_t end = r.first + r.count;
  if (end < inputs_[r.input].rows)
    return Range{r.input, end, std::min(r.count, inputs_[r.input].rows - end)};
  for (size_t i = r.input + 1; i < inputs_.size(); ++i)
    if (inputs_[i].rows > 0)
      return Range{i, 0, std::min(inputs_[i].rows_per_read, inputs_[i].rows)};
  return std::nullopt;
}

ReadAhead::Rows ReadAhead::take(size_t input, uint64_t first, uint64_t count) {
  const Range want{input, first, count};
  std::optional<Rows> rows;
  {
    std::unique_lock lock(mutex_);
    // A guess not yet started and not this request is dropped; one started is let finish.
    if (state_ == State::Queued && !(pending_ == want)) state_ = State::None;
    if (state_ != State::None) {
      done_.wait(lock, [&] { return state_ == State::Ready; });
      state_ = State::None;
      Rows got = std::move(pending_rows_);
      pending_rows_ = {};
      const std::exception_ptr error = std::exchange(pending_error_, nullptr);
      if (pending_ == want) {
        if (error) std::rethrow_exception(error);
        rows = std::move(got);
      } else {
        // A wrong guess: the consumer skips that input (another MPI rank's tensor, or one a
        // resumed run finished), so nothing else would ever drop the pages the guess brought in.
        const Input& guessed = inputs_[pending_.input];
        guessed.source->release_range(pending_.first * guessed.row_bytes,
                                      pending_.count * guessed.row_bytes);
      }
    }
  }
  if (!rows) rows = load(want);
  if (const auto next = after(want)) {
    std::lock_guard lock(mutex_);
    pending_ = *next;
    state_ = State::Queued;
    wake_.notify_all();
  }
  return std::move(*rows);
}

void ReadAhead::work() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stop_ || state_ == State::Queued; });
    if (stop_) return;
    state_ = State::Loading;
    const Range r = pending_;
    lock.unlock();
    Rows rows;
    std::exception_ptr error;
    try {
      rows = load(r);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    pending_rows_ = std::move(rows);
    pending_error_ = error;
    state_ = State::Ready;
    done_.notify_all();
  }
}

}  // namespace owl
