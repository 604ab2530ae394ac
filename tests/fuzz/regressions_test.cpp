// Replays every input the fuzzers found (tests/data/<format>/fuzz_regressions/<target>/*)
// through the setup of the target that found it: each must end cleanly (accepted, or refused
// with InputError/UsageError), never in another exception or a crash. Part of owl_tests, so the
// gcc build and the ASan/UBSan build (tools/test.sh) both replay them.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "formats/hf/peft_config.h"
#include "formats/hub/repo_info.h"
#include "formats/io/error.h"
#include "formats/io/resume_journal.h"
#include "formats/pytorch/checkpoint.h"
#include "tests/fuzz/fuzz_common.h"
#include "tests/fuzz/fuzz_provenance_input.h"
#include "tests/fuzz/fuzz_scan_input.h"
#include "tests/fuzz/fuzz_signature_input.h"
#include "tests/fuzz/targets.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;

namespace {

// The targets that take bytes, not paths, replay as they parse (the imatrix target writes its
// input to a file first).
bool replay_bytes(const std::string& target, const std::string& input) {
  if (target == "fuzz_imatrix") {
    const owl::fuzz::ScratchDir dir;
    owl::fuzz::read_imatrix_like_cli(dir.put("imatrix", input));
    return true;
  }
  const auto bytes = std::as_bytes(std::span(input.data(), input.size()));
  if (target == "fuzz_unpickler") {
    owl::fuzz::read_checkpoint(bytes, owl::pytorch::parse_legacy_checkpoint);
    return true;
  }
  if (target == "fuzz_signature") {
    owl::fuzz::read_signature(input);
    return true;
  }
  if (target == "fuzz_provenance") {
    owl::fuzz::read_provenance_record(input);
    return true;
  }
  if (target == "fuzz_scan") {
    owl::fuzz::scan_input(input);
    return true;
  }
  if (target == "fuzz_hub_api") {
    try {
      owl::hub::parse_repo_info(input, "fuzz");
    } catch (const owl::InputError&) {
    }
    return true;
  }
  if (target == "fuzz_resume_journal") {
    try {
      owl::resume::parse_journal(input, "fuzz");
    } catch (const owl::InputError&) {
    }
    return true;
  }
  if (target == "fuzz_peft_config") {
    try {
      (void)owl::peft::parse_lora_config(input, "adapter_config.json");
    } catch (const owl::InputError&) {
    }
    return true;
  }
  if (target == "fuzz_zip_checkpoint") {
    owl::fuzz::read_checkpoint(bytes, owl::pytorch::parse_zip_checkpoint);
    return true;
  }
  return false;
}

}  // namespace

TEST_CASE("inputs the fuzzers found replay cleanly", "[fuzz]") {
  const fs::path data = OWL_TEST_DATA;
  size_t replayed = 0;
  for (const auto& format : fs::directory_iterator(data)) {
    const fs::path kept = format.path() / "fuzz_regressions";
    if (!fs::is_directory(kept)) continue;
    for (const auto& folder : fs::directory_iterator(kept)) {
      // Files directly in fuzz_regressions/ (tests/data/pytorch's) are the interop tests' to
      // replay.
      if (!folder.is_directory()) continue;
      const std::string target = folder.path().filename().string();
      const owl::fuzz::PathTarget* t = owl::fuzz::find_path_target(target);
      for (const auto& file : fs::directory_iterator(folder.path())) {
        INFO(file.path().string());
        const std::string input = owl::test::read_bytes(file.path().string());
        if (t != nullptr) {
          const owl::fuzz::ScratchDir dir;
          owl::fuzz::prepare(*t, dir, data);
          REQUIRE_NOTHROW(owl::fuzz::run(*t, dir, input));
        } else {
          bool known = false;
          REQUIRE_NOTHROW(known = replay_bytes(target, input));
          CHECK(known);  // a folder named after no target: its inputs would never be replayed
        }
        ++replayed;
      }
    }
  }
  INFO(replayed << " inputs replayed");
  SUCCEED();
}
