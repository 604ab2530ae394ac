// One fuzz input through the scanner, shared by fuzz_scan and the regression replay.
#pragma once

#include <string_view>

#include "formats/scan/chat_template_check.h"
#include "formats/scan/scanner.h"
#include "tests/fuzz/scratch_dir.h"

namespace owl::fuzz {

inline void scan_input(std::string_view input) {
  static const ScratchDir dir;
  dir.put("model.bin", input);
  (void)scan::scan_paths({dir.path().string()});
  (void)scan::check_chat_template(input);
}

}  // namespace owl::fuzz
