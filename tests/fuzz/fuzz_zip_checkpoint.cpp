// libFuzzer target: the zip container and the zip checkpoint reader on top of it. Only
// InputError is an accepted outcome for bad input; any other exception escapes and the fuzzer
// reports it as a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "formats/io/error.h"
#include "formats/pytorch/checkpoint.h"
#include "formats/pytorch/zip_archive.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

const std::string kFile = "fuzz.pt";

// Every entry the directory accepts lies inside the input.
void walk_archive(std::span<const std::byte> bytes) {
  try {
    const auto zip = owl::pytorch::ZipArchive::parse(bytes, kFile);
    for (const auto& e : zip.entries()) {
      if (e.data_offset > bytes.size() || e.size > bytes.size() - e.data_offset) std::abort();
      if (zip.find(e.name) == nullptr) std::abort();
      try {
        zip.verify_crc(e);
      } catch (const owl::InputError&) {
      }
    }
  } catch (const owl::InputError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  walk_archive(bytes);
  owl::fuzz::read_checkpoint(bytes, owl::pytorch::parse_zip_checkpoint);
  return 0;
}
