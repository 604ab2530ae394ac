// libFuzzer target template for the rows of targets.h: CMake builds it once per row, naming the
// row in OWL_FUZZ_TARGET. Each input becomes the row's file in a private folder beside the
// fixture's other files, and is opened by path through the entry points `owl inspect` and
// `owl convert` use.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tests/fuzz/targets.h"

namespace {

const owl::fuzz::PathTarget& target() {
  static const owl::fuzz::PathTarget* t = owl::fuzz::find_path_target(OWL_FUZZ_TARGET);
  if (t == nullptr) std::abort();
  return *t;
}

const owl::fuzz::ScratchDir& scratch() {
  static const owl::fuzz::ScratchDir dir;
  static const bool prepared = (owl::fuzz::prepare(target(), dir, OWL_TEST_DATA), true);
  (void)prepared;
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  owl::fuzz::run(target(), scratch(), std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
