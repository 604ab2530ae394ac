// One fuzz input through the provenance record reader (`owl verify`'s first step), shared by
// fuzz_provenance, the regression replay and make_seeds. The record sits in a file's metadata as
// string keys, several of them JSON; the input holds their values, separated by NUL bytes, in
// kProvenanceFields' order (fewer values: the later keys are absent), and its first byte picks
// where they sit, GGUF's keys or safetensors' __metadata__. Bad input may only end in InputError;
// a record that reads is written back and must read back the same.
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>

#include "converters/provenance.h"
#include "formats/io/error.h"
#include "formats/safetensors/limits.h"

namespace owl::fuzz {

inline constexpr std::string_view kProvenanceFields[] = {
    "tool",    "source_commit", "command",  "options",      "inputs",
    "hf_repo", "hf_commit",     "relation", "tensors_xxh3", "tensors_digest"};

// The metadata an input stands for, and the key prefix it chose.
inline Metadata provenance_metadata_of(std::string_view input, std::string& prefix) {
  prefix = !input.empty() && (input.front() & 1) ? safetensors::kMetadataPrefix : "";
  if (!input.empty()) input.remove_prefix(1);
  Metadata m;
  for (const std::string_view field : kProvenanceFields) {
    if (input.empty()) break;
    const size_t end = input.find('\0');
    m.set(prefix + kProvenancePrefix + std::string(field),
          Value::string(std::string(input.substr(0, end))));
    input.remove_prefix(end == input.npos ? input.size() : end + 1);
  }
  return m;
}

// The input that stands for `m` (make_seeds writes records owl wrote this way).
inline std::string provenance_input_of(const Metadata& m, const std::string& prefix) {
  std::string out(1, prefix.empty() ? '\0' : '\1');
  for (const std::string_view field : kProvenanceFields) {
    if (field != kProvenanceFields[0]) out += '\0';
    out += m.get_string(prefix + kProvenancePrefix + std::string(field)).value_or("");
  }
  return out;
}

inline void read_provenance_record(std::string_view input) {
  std::string prefix;
  const Metadata m = provenance_metadata_of(input, prefix);
  std::optional<ProvenanceRecord> r;
  try {
    r = read_provenance(m, "fuzz.gguf");
  } catch (const InputError&) {
    return;
  }
  if (!r) return;
  // What owl writes of a record it read, it reads back as the same record.
  const auto again = read_provenance(provenance_metadata(*r, prefix), "fuzz.gguf");
  if (!again || again->tool != r->tool || again->source_commit != r->source_commit ||
      again->command != r->command || again->options != r->options ||
      again->hf_repo != r->hf_repo || again->hf_commit != r->hf_commit ||
      again->relation != r->relation || again->tensors != r->tensors ||
      again->tensors_digest != r->tensors_digest || again->inputs.size() != r->inputs.size())
    std::abort();
  for (size_t i = 0; i < r->inputs.size(); ++i) {
    const InputRecord &a = r->inputs[i], &b = again->inputs[i];
    if (a.name != b.name || a.size != b.size || a.sha256 != b.sha256) std::abort();
  }
}

}  // namespace owl::fuzz
