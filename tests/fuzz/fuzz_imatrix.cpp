// libFuzzer target: importance-matrix files, both formats (the input's first bytes choose, as
// they do for `owl quantize --imatrix`), read from a file as the CLI reads them.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz_common.h"
#include "tests/fuzz/scratch_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const owl::fuzz::ScratchDir dir;
  const std::string path =
      dir.put("imatrix", std::string_view(reinterpret_cast<const char*>(data), size));
  owl::fuzz::read_imatrix_like_cli(path);
  return 0;
}
