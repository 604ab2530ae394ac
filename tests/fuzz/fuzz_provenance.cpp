// libFuzzer target: the provenance record a file's metadata holds (owl.provenance.*, read by
// `owl verify`), its values given as the input's NUL-separated fields.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz_provenance_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  owl::fuzz::read_provenance_record(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
