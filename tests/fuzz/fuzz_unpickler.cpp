// libFuzzer target: the restricted unpickler, in both modes, and the legacy checkpoint reader
// (whose input is a run of pickles followed by raw storages). Only InputError is an accepted
// outcome for bad input; any other exception escapes and the fuzzer reports it as a crash.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "formats/io/error.h"
#include "formats/pytorch/checkpoint.h"
#include "formats/pytorch/unpickler.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

const std::string kFile = "fuzz.pkl";

void unpickle_both_modes(std::span<const std::byte> bytes) {
  for (auto mode : {owl::pytorch::UnpickleMode::Strict, owl::pytorch::UnpickleMode::Scan}) {
    try {
      const owl::pytorch::Pickle p = owl::pytorch::unpickle(bytes, kFile, mode);
      if (p.end_offset > bytes.size()) std::abort();
      if (p.root) (void)owl::pytorch::describe(p.root);
    } catch (const owl::InputError&) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  unpickle_both_modes(bytes);
  owl::fuzz::read_checkpoint(bytes, owl::pytorch::parse_legacy_checkpoint);
  return 0;
}
