// The provenance record owl writes into every output: what it was made from (each input file's
// name, size and SHA-256; the Hugging Face repo and commit when known), how (the command and
// every option that changes the bytes, owl's version and source commit), and what came out
// (each tensor's xxh3-128 and a digest of them all). It is deterministic: no time, no host.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "converters/graph.h"
#include "formats/tensor_stream.h"

namespace owl {

class FileDigests;

// The record's metadata keys start with this (in safetensors, under __metadata__).
inline constexpr const char* kProvenancePrefix = "owl.provenance.";

// What the command line asked for; filled by the CLI.
struct Recipe {
  bool enabled = true;               // --no-provenance clears it
  std::string command;               // quantize, convert, imatrix
  std::vector<std::string> options;  // --name=value, only options that change the bytes
  std::vector<std::string> files;    // files those options name (imatrix, ...): hashed as inputs
};

struct InputRecord {
  std::string name;  // relative to the model's folder; files named by options as given
  uint64_t size = 0;
  std::string sha256;
};

struct ProvenanceRecord {
  std::string tool, source_commit, command;
  std::vector<std::string> options;
  std::vector<InputRecord> inputs;
  std::string hf_repo, hf_commit;  // when the model sat in models--ORG--NAME/snapshots/COMMIT/
  std::string relation;            // quantized, or empty
  std::vector<std::pair<std::string, std::string>> tensors;  // name, xxh3-128, in file order
  std::string tensors_digest;
};

// An input's name as the record holds it: relative to the model's folder (`input` when it is a
// folder, else the folder it sits in); a file elsewhere keeps its path as given.
std::string relative_name(const std::string& path, const std::string& input);

struct HfOrigin {
  std::string repo, commit;
};
// The repo id and commit of a path inside a Hugging Face cache snapshot, if it is in one.
std::optional<HfOrigin> hf_cache_origin(const std::string& path);

// SHA-256 of the tensor list as the record stores it.
std::string tensors_digest(const std::vector<std::pair<std::string, std::string>>& tensors);

// The record's keys, as GGUF holds them (prefix "owl.provenance.") or, with `key_prefix`
// "safetensors.metadata.", as owl's graph holds a safetensors header's __metadata__.
Metadata provenance_metadata(const ProvenanceRecord& r, const std::string& key_prefix);

// Removes a record the input carried (it described the input, not what is being written).
void strip_provenance(Metadata& m);

// The record in a file's metadata, or nullopt when it has none. Throws InputError naming `file`
// when the record is malformed.
std::optional<ProvenanceRecord> read_provenance(const Metadata& m, const std::string& file);

// Records one run: hashes the inputs on a background thread from construction on, puts the
// record into the output graph with placeholders, and completes it once the writer has hashed
// the tensors.
class ProvenanceWriter {
 public:
  // hash_inputs: false where another process finishes the record (an MPI rank other than 0),
  // so the inputs are read for their SHA-256 once, not once per rank.
  ProvenanceWriter(const Recipe& recipe, const std::string& input, const Graph& g,
                   bool hash_inputs = true);
  ~ProvenanceWriter();

  // Adds the record's keys to the metadata (key_prefix as for provenance_metadata).
  void add_to(Graph& g, const std::string& relation, const std::string& key_prefix);
  // For the writer's WriteOptions::finish_metadata; valid while this object lives.
  FinishMetadata finisher();
  // `<output>.manifest.json`: the written graph's description (graph.proto's JSON mapping) with
  // the tensor hashes and the record. Returns its path.
  std::string write_manifest(const Graph& g, const std::string& output) const;

 private:
  Metadata finish(const std::vector<std::string>& xxh3);

  ProvenanceRecord record_;
  std::string key_prefix_;
  std::unique_ptr<FileDigests> digests_;
};

// Once `output` is in place: the record's manifest beside it (its path added to `files`); or, for
// a run without a record, removes the `<output>.manifest.json` an earlier run with one left
// there, which describes a file no longer there (its tensor hashes and inputs would be taken for
// this file's), and says so through `note`. After the output's commit, so a failed run leaves the
// earlier pair as it was.
void finish_manifest(const ProvenanceWriter* record, const Graph& g, const std::string& output,
                     std::vector<std::string>& files,
                     const std::function<void(const std::string&)>& note);

}  // namespace owl
