#include "tools/progress_line.h"

#include <unistd.h>

#include <cstdio>

#include "tools/human.h"

namespace owl {
namespace {
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
}

ProgressLine::ProgressLine(bool quiet, std::string unit)
    : enabled_(!quiet && ::isatty(STDERR_FILENO)), unit_(std::move(unit)) {}

ProgressLine::~ProgressLine() {
  if (active_) std::fputs("\n", stderr);
}

void ProgressLine::begin(std::string_view what, uint64_t total_items, uint64_t total_bytes) {
  what_ = what;
  total_items_ = total_items;
  total_bytes_ = total_bytes;
  items_ = bytes_ = 0;
  start_ = last_draw_ = std::chrono::steady_clock::now();
  active_ = enabled_;
  if (active_) draw(false);
}

void ProgressLine::advance(uint64_t items, uint64_t bytes) {
  items_ += items;
  bytes_ += bytes;
  if (!active_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ >= kRedrawInterval) {
    last_draw_ = now;
    draw(false);
  }
}

void ProgressLine::end() {
  if (!active_) return;
  draw(true);
  std::fputs("\n", stderr);
  active_ = false;
}

void ProgressLine::draw(bool final) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(bytes_) / elapsed : 0;
  std::string line = what_ + "  " + std::to_string(items_) + "/" + std::to_string(total_items_) +
                     " " + unit_ + "  " + human_bytes(bytes_) + " / " + human_bytes(total_bytes_);
  if (elapsed > 0.2) line += "  " + human_bytes(static_cast<uint64_t>(rate)) + "/s";
  if (final) {
    line += "  in " + human_duration(elapsed);
  } else if (rate > 0 && total_bytes_ > bytes_) {
    line += "  " + human_duration(static_cast<double>(total_bytes_ - bytes_) / rate) + " left";
  }
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
}

}  // namespace owl
