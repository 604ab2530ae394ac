// One file of a Hub repository into the cache's blobs/ folder: fetched (resuming a previous
// attempt with an HTTP range), checked against the hash the Hub publishes, and only then given
// its final name. A file whose bytes do not match is deleted, never kept.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "formats/hub/cache_layout.h"
#include "formats/hub/repo_info.h"
#include "tools/http_client.h"

namespace owl {

// Attempts per file: a cut connection is resumed from where it stopped.
inline constexpr int kMaxFetchAttempts = 5;

struct BlobFetch {
  uint64_t downloaded = 0;  // bytes received in this run
  bool cached = false;      // the verified blob was already there
  bool resumed = false;     // a range request continued earlier bytes
  bool restarted = false;   // the server answered a range request with the whole file
};

// Throws InputError naming the file on a hash or size mismatch, on a refused or missing file,
// or when every attempt failed. `on_bytes` hears each piece received; `cancelled` is polled.
BlobFetch fetch_blob(HttpClient& http, const std::string& url, const hub::RepoFile& file,
                     const hub::CacheLayout& cache, const std::function<void(uint64_t)>& on_bytes,
                     const std::function<bool()>& cancelled);

// The published hash of `file`'s content: "sha256:<hex>" or "git-sha1:<hex>".
std::string published_hash(const hub::RepoFile& file);

// Why an HTTP status refused a request, in words ("401: the repository needs a token ...").
std::string describe_http_status(long status, bool have_token);

}  // namespace owl
