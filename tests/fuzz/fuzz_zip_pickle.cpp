// libFuzzer target: the zip checkpoint reader, given a well-formed zip (valid directory and
// CRCs) around the fuzzer's input as data.pkl. fuzz_zip_checkpoint mutates whole archives, whose
// data.pkl CRC check stops most pickle mutations; here every input reaches the unpickler and the
// tensor, storage and view checks behind it. Only InputError is an accepted outcome.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "formats/pytorch/checkpoint.h"
#include "tests/formats/pytorch_builder.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

// The storages the pickle may name, by key and contents. make_malicious.py's seeds name "0"
// holding 6 floats.
std::vector<std::pair<std::string, std::string>> storages() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, bytes] : {std::pair{"0", 24}, {"1", 96}, {"2", 2}, {"3", 0}}) {
    std::string data(static_cast<size_t>(bytes), '\0');
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 37 + 11);
    out.emplace_back(key, std::move(data));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto kStorages = storages();
  const std::string zip =
      owl::test::zip_checkpoint(std::string(reinterpret_cast<const char*>(data), size), kStorages);
  owl::fuzz::read_checkpoint(owl::test::as_bytes(zip), owl::pytorch::parse_zip_checkpoint);
  return 0;
}
