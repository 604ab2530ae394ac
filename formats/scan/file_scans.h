// The scanner's per-format checks, each given one file's bytes (internal to formats/scan/).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "formats/scan/scanner.h"

namespace owl::scan {

// Every scan adds to this list; `file` names the file in each finding.
struct Findings {
  std::string file;
  std::vector<Finding>& out;
  void add(std::string where, std::string what, std::string why, Risk risk) {
    out.push_back({file, std::move(where), std::move(what), std::move(why), risk});
  }
};

// Archives inside archives are opened this deep, no deeper (each level is a finding's worth of
// work for an attacker and nothing a checkpoint needs).
inline constexpr int kMaxArchiveNesting = 4;

// The bytes' kind by their first bytes; `name` (the file or entry name) breaks ties for raw
// pickles, whose first byte alone says little.
enum class Kind {
  Empty,
  LfsPointer,
  Gguf,
  Safetensors,
  Zip,
  SevenZip,
  LegacyTorch,
  Pickle,
  Npy,
  Executable,
  Other
};
Kind sniff(std::span<const std::byte> bytes, const std::string& name);

// Scans bytes of a known kind; `what` names them in findings ("" for the file itself, or the
// archive entry's name).
void scan_bytes(std::span<const std::byte> bytes, const std::string& name, Findings& f,
                int nesting);

// A GGUF or safetensors file, which the readers take by path.
void scan_gguf(const std::string& path, Findings& f, std::vector<std::string>& templates);
void scan_safetensors(const std::string& path, std::span<const std::byte> bytes, Findings& f);

}  // namespace owl::scan
