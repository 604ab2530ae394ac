#include "formats/signing/statement.h"

#include <cctype>
#include <cmath>
#include <unordered_set>

#include "formats/io/error.h"
#include "formats/json/strict_json.h"
#include "formats/signing/json_fields.h"
#include "formats/signing/limits.h"

namespace owl::signing {

namespace {

// Shard sizes travel through protobuf's Struct, which holds numbers as doubles: model-signing
// writes 1000000000 as 1000000000.0. Beyond 2^53 a double no longer holds every integer.
constexpr double kMaxShardSize = 9007199254740992.0;

Json serialization_json(const Serialization& s) {
  Json j = Json::object();
  j["method"] = s.method;
  j["hash_type"] = s.hash_type;
  if (s.method == "shards") j["shard_size"] = s.shard_size;
  j["allow_symlinks"] = s.allow_symlinks;
  if (!s.ignore_paths.empty()) j["ignore_paths"] = s.ignore_paths;
  return j;
}

// A SHA-256 in hex (either case, as Python's bytes.fromhex takes it), returned in lowercase.
std::string sha256_hex_field(const JsonFields& f, const Json& j, const std::string& where) {
  std::string hex = f.string(j, where);
  bool ok = hex.size() == 64;
  for (char& c : hex) {
    ok = ok && std::isxdigit(static_cast<unsigned char>(c));
    c = char(std::tolower(static_cast<unsigned char>(c)));
  }
  if (!ok) f.fail(where, "is not a SHA-256 in hex (64 hex digits)");
  return hex;
}

uint64_t shard_size_field(const JsonFields& f, const Json& j, const std::string& where) {
  if (j.is_number_unsigned() && j.get<uint64_t>() > 0 && j.get<uint64_t>() <= kMaxShardSize)
    return j.get<uint64_t>();
  if (j.is_number_float()) {
    const double d = j.get<double>();
    if (d >= 1 && d <= kMaxShardSize && std::floor(d) == d) return uint64_t(d);
  }
  f.fail(where, "is not a whole number of bytes between 1 and 2^53");
}

Serialization parse_serialization(const JsonFields& f, const Json& j, const std::string& where) {
  Serialization s;
  s.method = f.string(f.member(j, "method", where), JsonFields::join(where, "method"));
  if (s.method != "files" && s.method != "shards")
    f.fail(JsonFields::join(where, "method"),
           "is '" + s.method + "', not 'files' or 'shards' (the methods owl verifies)");
  s.hash_type = f.string(f.member(j, "hash_type", where), JsonFields::join(where, "hash_type"));
  if (s.hash_type != "sha256")
    f.fail(JsonFields::join(where, "hash_type"),
           "is '" + s.hash_type + "'; owl verifies SHA-256 signatures only");
  s.allow_symlinks =
      f.boolean(f.member(j, "allow_symlinks", where), JsonFields::join(where, "allow_symlinks"));
  if (s.method == "shards")
    s.shard_size = shard_size_field(f, f.member(j, "shard_size", where),
                                    JsonFields::join(where, "shard_size"));
  if (const Json* ignore = f.find(j, "ignore_paths", where)) {
    const std::string at = JsonFields::join(where, "ignore_paths");
    f.array(*ignore, at, kMaxIgnorePaths);
    for (size_t i = 0; i < ignore->size(); ++i)
      s.ignore_paths.push_back(f.string((*ignore)[i], JsonFields::at(at, i)));
  }
  return s;
}

std::vector<Resource> parse_resources(const JsonFields& f, const Json& j, const std::string& where,
                                      const Serialization& s) {
  const std::string algorithm = resource_algorithm(s);
  f.array(j, where, kMaxResources);
  std::vector<Resource> out;
  std::unordered_set<std::string> names;
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string at = JsonFields::at(where, i);
    Resource r;
    r.name = f.string(f.member(j[i], "name", at), JsonFields::join(at, "name"));
    if (r.name.empty() || r.name.size() > kMaxResourceNameBytes)
      f.fail(JsonFields::join(at, "name"),
             "is empty or longer than " + std::to_string(kMaxResourceNameBytes) + " bytes");
    r.algorithm = f.string(f.member(j[i], "algorithm", at), JsonFields::join(at, "algorithm"));
    if (r.algorithm != algorithm)
      f.fail(JsonFields::join(at, "algorithm"),
             "is '" + r.algorithm + "', not '" + algorithm + "' as the serialization says");
    r.digest = sha256_hex_field(f, f.member(j[i], "digest", at), JsonFields::join(at, "digest"));
    if (!names.insert(r.name).second)
      f.fail(JsonFields::join(at, "name"), "'" + r.name + "' is listed twice");
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

std::string statement_json(const Manifest& m) {
  Json resources = Json::array();
  for (const Resource& r : m.resources)
    resources.push_back({{"name", r.name}, {"algorithm", r.algorithm}, {"digest", r.digest}});
  Json subject = {{"name", m.model_name}, {"digest", {{"sha256", root_digest(m.resources)}}}};
  Json j = Json::object();
  j["_type"] = kStatementType;
  j["subject"] = Json::array({subject});
  j["predicateType"] = kPredicateType;
  j["predicate"] = {{"serialization", serialization_json(m.serialization)},
                    {"resources", std::move(resources)}};
  return j.dump(2);
}

Manifest parse_statement(std::string_view payload, const std::string& file) {
  const JsonFields f(file);
  const Json j = parse_json_strict(payload, file + " (payload)");
  f.object(j, "the signed statement");
  const std::string& type = f.string(f.member(j, "_type", ""), "_type");
  if (type != kStatementType) f.fail("_type", "is '" + type + "', not an in-toto v1 statement");
  const std::string& predicate_type = f.string(f.member(j, "predicateType", ""), "predicateType");
  if (predicate_type != kPredicateType)
    f.fail("predicateType", "is '" + predicate_type + "', not '" + std::string(kPredicateType) +
                                "' (model-signing v1.x)");
  const Json& subjects = f.array(f.member(j, "subject", ""), "subject", 1);
  if (subjects.size() != 1) f.fail("subject", "is empty; a model signature names one subject");
  Manifest m;
  m.model_name = f.string(f.member(subjects[0], "name", "subject[0]"), "subject[0].name");
  const Json& digest = f.member(subjects[0], "digest", "subject[0]");
  const std::string root = sha256_hex_field(f, f.member(digest, "sha256", "subject[0].digest"),
                                            "subject[0].digest.sha256");

  const Json& predicate = f.member(j, "predicate", "");
  m.serialization = parse_serialization(f, f.member(predicate, "serialization", "predicate"),
                                        "predicate.serialization");
  m.resources = parse_resources(f, f.member(predicate, "resources", "predicate"),
                                "predicate.resources", m.serialization);
  const std::string listed = root_digest(m.resources);
  if (listed != root)
    f.fail("subject[0].digest.sha256", "is " + root + " but the listed resources hash to " +
                                           listed + " (inconsistent manifest)");
  sort_resources(m.resources);
  return m;
}

}  // namespace owl::signing
