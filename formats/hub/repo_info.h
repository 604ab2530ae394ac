// The Hugging Face Hub's answer to /api/models/{repo}/revision/{rev}?blobs=true: the commit a
// revision names and the files it holds, each with the hash the Hub publishes for it. The answer
// comes from the network and is treated as hostile: its size, its file count and every file name
// are checked before anything is fetched or written.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace owl::hub {

// A real repository's answer is a few hundred bytes per file; the largest have tens of thousands
// of files.
inline constexpr uint64_t kMaxApiResponseBytes = 64ull << 20;
inline constexpr size_t kMaxRepoFiles = 100000;
inline constexpr size_t kMaxFilePathBytes = 1024;
inline constexpr size_t kMaxPathDepth = 32;

struct RepoFile {
  std::string path;  // rfilename: relative, '/'-separated, checked by check_repo_path()
  uint64_t size = 0;
  bool lfs = false;
  std::string sha256;   // LFS files: the SHA-256 of the content (lowercase hex)
  std::string blob_id;  // git's blob SHA-1 (lowercase hex); the published hash of non-LFS files

  // The name of the file's blob in the cache, as huggingface_hub names it (its ETag): the
  // SHA-256 of an LFS file, the git blob id of any other.
  const std::string& blob_name() const { return lfs ? sha256 : blob_id; }
};

struct RepoInfo {
  std::string commit;  // 40 lowercase hex digits
  std::vector<RepoFile> files;
};

// Parses the API answer. Throws InputError naming `source` (the URL) when it is not the expected
// JSON, lacks a commit or a hash, holds too many files, a file twice, or a name that could leave
// the snapshot folder.
RepoInfo parse_repo_info(std::string_view json, const std::string& source);

// Throws InputError unless `path` is a relative '/'-separated path whose parts are neither empty,
// "." nor "..", with no backslash or control character: a name the Hub lists must stay inside
// the snapshot folder on every system.
void check_repo_path(std::string_view path, const std::string& source);

// ORG/NAME as the Hub spells repository ids (letters, digits, '-', '_', '.'; no "..").
bool valid_repo_id(std::string_view repo);
// A branch, tag or commit: parts as check_repo_path() allows, of the same characters as a repo id.
bool valid_revision(std::string_view rev);
bool is_commit_hash(std::string_view s);

}  // namespace owl::hub
