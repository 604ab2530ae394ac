// libFuzzer target: the sensitivity measurement that `owl quantize --sensitivity` reads
// (owl::parse_sensitivity).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "formats/io/error.h"
#include "quant/sensitivity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    owl::parse_sensitivity(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const owl::InputError&) {
  }
  return 0;
}
