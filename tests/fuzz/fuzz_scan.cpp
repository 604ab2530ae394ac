// libFuzzer target: `owl scan` on a folder holding the input as one file (sniffed as any kind:
// pickle, zip, npy, GGUF, safetensors, executable, LFS pointer) and the chat-template check on
// the input as text. The scanner turns bad input into findings: any exception escaping it, or a
// crash, is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz_scan_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  owl::fuzz::scan_input(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
