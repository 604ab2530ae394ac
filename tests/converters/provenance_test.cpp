#include <catch2/catch.hpp>

#include <fstream>

#include "converters/describe.h"
#include "converters/provenance.h"
#include "formats/gguf/reader.h"
#include "formats/gguf/writer.h"
#include "formats/io/error.h"
#include "formats/io/file_digest.h"
#include "formats/io/file_digests.h"
#include "formats/safetensors/limits.h"
#include "formats/safetensors/reader.h"
#include "formats/safetensors/writer.h"
#include "tests/fuzz/fuzz_provenance_input.h"
#include "tests/test_util.h"

using namespace owl;

namespace {

SourcePtr bytes_of(std::string text) {
  std::vector<std::byte> b(text.size());
  std::memcpy(b.data(), text.data(), text.size());
  return std::make_shared<BufferSource>(std::move(b));
}

// A model folder with one input file, and the graph that stands for it.
Graph sample(const test::TempDir& dir) {
  const std::string input = dir.file("model/weights.bin");
  std::filesystem::create_directories(dir.path() / "model");
  std::ofstream(input) << "the input's bytes";
  Graph g;
  g.metadata.set("general.architecture", Value::string("llama"));
  g.tensors.push_back({"a", {4}, ElemType::F32, bytes_of("0123456789abcdef")});
  g.tensors.push_back({"b", {2}, ElemType::F32, bytes_of("ghijklmn")});
  g.inputs.push_back({input, std::filesystem::file_size(input)});
  return g;
}

Recipe recipe() {
  Recipe r;
  r.command = "convert";
  r.options = {"--dtype=f32"};
  return r;
}

void check_record(const ProvenanceRecord& r, const Graph& written, const std::string& input) {
  CHECK(r.command == "convert");
  CHECK(r.options == std::vector<std::string>{"--dtype=f32"});
  REQUIRE(r.inputs.size() == 1);
  CHECK(r.inputs[0].name == "weights.bin");
  CHECK(r.inputs[0].sha256 == sha256_file_hex(input));
  REQUIRE(r.tensors.size() == written.tensors.size());
  for (size_t i = 0; i < r.tensors.size(); ++i) {
    CHECK(r.tensors[i].first == written.tensors[i].name);
    CHECK(r.tensors[i].second == hash_tensor(written.tensors[i]));
  }
  CHECK(r.tensors_digest == tensors_digest(r.tensors));
}

}  // namespace

TEST_CASE("a Hugging Face cache path gives its repo and commit", "[provenance]") {
  const auto o = hf_cache_origin("/h/hub/models--TinyOrg--tiny-llama/snapshots/abc123/config.json");
  REQUIRE(o);
  CHECK(o->repo == "TinyOrg/tiny-llama");
  CHECK(o->commit == "abc123");
  CHECK(hf_cache_origin("/h/hub/models--solo/snapshots/c0/model.safetensors")->repo == "solo");
  CHECK_FALSE(hf_cache_origin("/data/models/tiny/model.safetensors"));
  CHECK_FALSE(hf_cache_origin("/h/models--a--b/blobs/123"));
}

TEST_CASE("the record reads back from the metadata it writes", "[provenance]") {
  ProvenanceRecord r;
  r.tool = "owl 0.1.0";
  r.command = "quantize";
  r.options = {"--type=Q4_K_M", "--pure"};
  r.inputs = {{"model.safetensors", 12, std::string(64, 'a')}};
  r.hf_repo = "org/name";
  r.hf_commit = "c0ffee";
  r.relation = "quantized";
  r.tensors = {{"z", std::string(32, '1')}, {"a", std::string(32, '2')}};
  r.tensors_digest = tensors_digest(r.tensors);
  for (const std::string prefix : {"", "safetensors.metadata."}) {
    const auto back = read_provenance(provenance_metadata(r, prefix), "f");
    REQUIRE(back);
    CHECK(back->options == r.options);
    CHECK(back->inputs[0].sha256 == r.inputs[0].sha256);
    CHECK(back->hf_repo == "org/name");
    CHECK(back->relation == "quantized");
    CHECK(back->tensors == r.tensors);  // file order, not sorted
    CHECK(back->tensors_digest == r.tensors_digest);
  }
  CHECK_FALSE(read_provenance(Metadata(), "f"));
  Metadata bad = provenance_metadata(r, "");
  bad.set("owl.provenance.tensors_xxh3", Value::string("[1,"));
  CHECK_THROWS_AS(read_provenance(bad, "f"), InputError);
}

TEST_CASE("GGUF: the record's hashes are patched into the header in place", "[provenance]") {
  test::TempDir dir;
  Graph g = sample(dir);
  strip_provenance(g.metadata);
  ProvenanceWriter record(recipe(), g.inputs[0].path, g);
  record.add_to(g, "", "");
  gguf::WriteOptions w;
  w.finish_metadata = record.finisher();
  gguf::write(g, dir.file("out.gguf"), w);
  record.write_manifest(g, dir.file("out.gguf"));

  const Graph back = gguf::read(dir.file("out.gguf"));
  const auto r = read_provenance(back.metadata, "out.gguf");
  REQUIRE(r);
  check_record(*r, back, g.inputs[0].path);
  CHECK(std::filesystem::exists(dir.file("out.gguf.manifest.json")));
  // A second record replaces the first, whole.
  Graph again = back;
  strip_provenance(again.metadata);
  CHECK_FALSE(read_provenance(again.metadata, "again"));
}

TEST_CASE("safetensors: the record lives in __metadata__ of every shard", "[provenance]") {
  test::TempDir dir;
  Graph g = sample(dir);
  ProvenanceWriter record(recipe(), g.inputs[0].path, g);
  record.add_to(g, "", safetensors::kMetadataPrefix);
  safetensors::WriteOptions w;
  w.shard_bytes = 16;  // one tensor a shard
  w.finish_metadata = record.finisher();
  const auto files = safetensors::write(g, dir.file("out.safetensors"), w);
  REQUIRE(files.size() == 3);
  const Graph back = safetensors::read_index(files.back());
  const auto r = read_provenance(back.metadata, "out");
  REQUIRE(r);
  check_record(*r, back, g.inputs[0].path);
}

TEST_CASE("hostile record values are an InputError; a record that reads writes back the same",
          "[provenance]") {
  ProvenanceRecord r;
  r.tool = "owl 0.1.0";
  r.command = "quantize";
  r.options = {"--type=Q4_K_M"};
  r.inputs = {{"model.safetensors", 1234, std::string(64, 'a')}};
  r.tensors = {{"output.weight", std::string(32, 'b')}};
  r.tensors_digest = tensors_digest(r.tensors);
  for (const std::string prefix : {"", safetensors::kMetadataPrefix})
    CHECK_NOTHROW(fuzz::read_provenance_record(
        fuzz::provenance_input_of(provenance_metadata(r, prefix), prefix)));
  const std::string base = std::string("\0owl\0c\0quantize\0", 16);
  auto with = [&](const std::string& options, const std::string& inputs,
                  const std::string& tensors) {
    return base + options + '\0' + inputs + "\0\0\0\0" + tensors + '\0';
  };
  Metadata m;
  const std::string kHostile[] = {
      with("[1]", "[]", "{}"),
      with("[]", "[5]", "{}"),
      with("[]", R"([{"name":"x","size":1e300,"sha256":"y"}])", "{}"),
      with("[]", R"([{"name":"x","size":-1,"sha256":"y"}])", "{}"),
      with("[]", "[]", R"({"a":1})"),
      with("[]", "[]", "[]"),
      with("{", "[]", "{}"),
  };
  for (const auto& input : kHostile) {
    std::string prefix;
    INFO(input);
    CHECK_THROWS_AS(read_provenance(fuzz::provenance_metadata_of(input, prefix), "f.gguf"),
                    InputError);
    CHECK_NOTHROW(fuzz::read_provenance_record(input));
  }
}
