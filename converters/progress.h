// Progress of long work, reported by the pipeline and shown (or not) by the CLI.
#pragma once

#include <cstdint>
#include <string_view>

namespace owl {

class Progress {
 public:
  virtual ~Progress() = default;
  virtual void begin(std::string_view what, uint64_t total_items, uint64_t total_bytes) = 0;
  virtual void advance(uint64_t items, uint64_t bytes) = 0;
  virtual void end() = 0;
};

// Reports nothing: for library callers and tests.
class NoProgress final : public Progress {
 public:
  void begin(std::string_view, uint64_t, uint64_t) override {}
  void advance(uint64_t, uint64_t) override {}
  void end() override {}
};

}  // namespace owl
