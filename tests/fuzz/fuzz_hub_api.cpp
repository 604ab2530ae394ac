// libFuzzer target: the Hugging Face Hub's answer to /api/models/{repo}/revision/{rev}, as
// `owl pull` parses it before fetching anything (owl::hub::parse_repo_info).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "formats/hub/repo_info.h"
#include "formats/io/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    owl::hub::parse_repo_info(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const owl::InputError&) {
  }
  return 0;
}
