// libFuzzer target: model signatures (owl verify-signature's input), as a Sigstore bundle and as
// the in-toto statement inside one.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz_signature_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  owl::fuzz::read_signature(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
