// owl scan: what in a model file or folder could run code when it is loaded, or is not what it
// claims to be. One scanner for everything owl reads: pickles (PyTorch zip and legacy
// checkpoints, raw pickles and joblib files, NumPy object arrays), archives, safetensors, GGUF
// (structure and chat templates), and the folder around them (remote code, executables, LFS
// pointer stubs, links that leave the folder). It reads, never loads: nothing in a file runs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace owl::scan {

enum class Risk : uint8_t {
  Code,       // loading the file (or the folder) can run code
  Integrity,  // the file is malformed, truncated or not what its name says
};

struct Finding {
  std::string file;   // the path as scanned
  std::string where;  // "data.pkl", "key tokenizer.chat_template", "offset 120", or ""
  std::string what;   // what was found
  std::string why;    // why it matters
  Risk risk = Risk::Code;
};

struct Report {
  std::vector<std::string> scanned;  // every file read, in order
  std::vector<Finding> findings;
  bool clean() const { return findings.empty(); }
};

// Limits on what a folder walk costs; past them the walk stops with a finding.
inline constexpr uint64_t kMaxScanFiles = 100000;
inline constexpr int kMaxScanDepth = 32;

// Scans each path (a file, or a folder walked recursively without following links). Never
// throws for what a file holds: every problem is a finding. Throws InputError only for a path
// that does not exist.
Report scan_paths(const std::vector<std::string>& paths);

}  // namespace owl::scan
