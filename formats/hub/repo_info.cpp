#include "formats/hub/repo_info.h"

#include <algorithm>
#include <unordered_set>

#include "formats/io/error.h"
#include "formats/json/strict_json.h"

namespace owl::hub {
namespace {

bool is_lower_hex(std::string_view s, size_t length) {
  return s.size() == length && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

// Splits on '/', refusing empty, "." and ".." parts.
bool safe_parts(std::string_view s, size_t max_parts, bool (*allowed)(char)) {
  if (s.empty()) return false;
  size_t parts = 0;
  size_t start = 0;
  while (true) {
    const size_t end = std::min(s.find('/', start), s.size());
    const std::string_view part = s.substr(start, end - start);
    if (part.empty() || part == "." || part == ".." || ++parts > max_parts) return false;
    if (!std::all_of(part.begin(), part.end(), allowed)) return false;
    if (end == s.size()) return true;
    start = end + 1;
  }
}

bool path_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x20 && u != 0x7f && c != '\\';
}

const Json& member(const Json& object, const char* key, const std::string& source,
                   const std::string& where) {
  auto it = object.find(key);
  if (it == object.end()) throw InputError(source, where + " has no \"" + key + "\"");
  return *it;
}

std::string hex_member(const Json& object, const char* key, size_t length,
                       const std::string& source, const std::string& where) {
  const Json& v = member(object, key, source, where);
  if (!v.is_string() || !is_lower_hex(v.get_ref<const std::string&>(), length))
    throw InputError(source, where + ": \"" + key + "\" is not " + std::to_string(length) +
                                 " lowercase hex digits");
  return v.get<std::string>();
}

uint64_t size_member(const Json& object, const std::string& source, const std::string& where) {
  const Json& v = member(object, "size", source, where);
  if (!v.is_number_unsigned()) throw InputError(source, where + ": \"size\" is not a byte count");
  return v.get<uint64_t>();
}

RepoFile parse_sibling(const Json& s, const std::string& source) {
  if (!s.is_object()) throw InputError(source, "a \"siblings\" entry is " + json_kind(s));
  const Json& name = member(s, "rfilename", source, "a \"siblings\" entry");
  if (!name.is_string()) throw InputError(source, "a file name (\"rfilename\") is not a string");
  RepoFile f;
  f.path = name.get<std::string>();
  check_repo_path(f.path, source);
  const std::string where = "file " + f.path;
  f.blob_id = hex_member(s, "blobId", 40, source, where);
  f.size = size_member(s, source, where);
  auto lfs = s.find("lfs");
  if (lfs != s.end() && !lfs->is_null()) {
    if (!lfs->is_object()) throw InputError(source, where + ": \"lfs\" is " + json_kind(*lfs));
    f.lfs = true;
    f.sha256 = hex_member(*lfs, "sha256", 64, source, where + " (lfs)");
    if (size_member(*lfs, source, where + " (lfs)") != f.size)
      throw InputError(source, where + ": the LFS size and the file size differ");
  }
  return f;
}

}  // namespace

void check_repo_path(std::string_view path, const std::string& source) {
  if (path.size() > kMaxFilePathBytes || !safe_parts(path, kMaxPathDepth, path_char))
    throw InputError(source, "unsafe file name \"" + std::string(path.substr(0, 200)) +
                                 "\" (empty, absolute, \"..\", backslash or control characters)");
}

bool valid_repo_id(std::string_view repo) {
  const size_t slash = repo.find('/');
  return slash != std::string_view::npos && repo.size() <= 200 && safe_parts(repo, 2, name_char);
}

bool valid_revision(std::string_view rev) {
  return rev.size() <= 200 && safe_parts(rev, 8, name_char);
}

bool is_commit_hash(std::string_view s) {
  return is_lower_hex(s, 40);
}

RepoInfo parse_repo_info(std::string_view json, const std::string& source) {
  if (json.size() > kMaxApiResponseBytes)
    throw InputError(
        source, "the answer is larger than " + std::to_string(kMaxApiResponseBytes >> 20) + " MiB");
  const Json j = parse_json_strict(json, source);
  if (!j.is_object()) throw InputError(source, "the answer is " + json_kind(j) + ", not an object");
  RepoInfo info;
  info.commit = hex_member(j, "sha", 40, source, "the answer");
  const Json& siblings = member(j, "siblings", source, "the answer");
  if (!siblings.is_array()) throw InputError(source, "\"siblings\" is " + json_kind(siblings));
  if (siblings.size() > kMaxRepoFiles)
    throw InputError(source, "lists " + std::to_string(siblings.size()) + " files, more than " +
                                 std::to_string(kMaxRepoFiles));
  std::unordered_set<std::string> seen;
  for (const Json& s : siblings) {
    RepoFile f = parse_sibling(s, source);
    if (!seen.insert(f.path).second) throw InputError(source, "lists " + f.path + " twice");
    info.files.push_back(std::move(f));
  }
  // "a" and "a/b" cannot both be files of one folder.
  for (const RepoFile& f : info.files)
    for (size_t slash = f.path.find('/'); slash != std::string::npos;
         slash = f.path.find('/', slash + 1))
      if (seen.count(f.path.substr(0, slash)))
        throw InputError(source, "lists " + f.path.substr(0, slash) + " as a file and a folder");
  return info;
}

}  // namespace owl::hub
