// A one-line progress display on a terminal: tensors done, bytes, rate, time left.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "converters/progress.h"

namespace owl {

class ProgressLine final : public Progress {
 public:
  // Shows nothing when `quiet` or when standard error is not a terminal.
  // `unit` names the items counted ("tensors", "files").
  explicit ProgressLine(bool quiet, std::string unit = "tensors");
  ~ProgressLine() override;

  void begin(std::string_view what, uint64_t total_items, uint64_t total_bytes) override;
  void advance(uint64_t items, uint64_t bytes) override;
  void end() override;

 private:
  void draw(bool final);

  bool enabled_;
  bool active_ = false;
  std::string what_;
  std::string unit_;
  uint64_t total_items_ = 0, total_bytes_ = 0, items_ = 0, bytes_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace owl
