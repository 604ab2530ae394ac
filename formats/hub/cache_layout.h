// Hugging Face's own cache layout, so that huggingface_hub, transformers and owl all find what
// `owl pull` fetched:
//   <cache>/models--ORG--NAME/blobs/<sha256 or git blob id>      the bytes, once per content
//   <cache>/models--ORG--NAME/snapshots/<commit>/<file>          relative links to the blobs
//   <cache>/models--ORG--NAME/refs/<branch or tag>               the commit it names
#pragma once

#include <string>
#include <string_view>

namespace owl::hub {

// HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub: where huggingface_hub looks.
std::string default_cache_dir();

class CacheLayout {
 public:
  CacheLayout(const std::string& cache_dir, std::string_view repo_id);

  const std::string& repo_dir() const { return repo_dir_; }
  std::string blob_path(const std::string& blob_name) const;
  // Where a blob grows while it downloads (huggingface_hub's name for it too); kept between runs
  // so that the next one resumes it.
  std::string incomplete_path(const std::string& blob_name) const;
  std::string snapshot_dir(const std::string& commit) const;

  // Creates blobs/ (and the folders above it).
  void create_blob_dir() const;
  // snapshots/<commit>/<file> -> ../../blobs/<blob> (one more "../" per folder in `file`),
  // replacing what was there. `file` must have passed check_repo_path(). Refuses to go through a
  // link on the way: a folder inside the snapshot that is a link could lead anywhere.
  void link_snapshot_file(const std::string& commit, const std::string& file,
                          const std::string& blob_name) const;
  // refs/<rev> holds `commit`, written atomically.
  void write_ref(const std::string& rev, const std::string& commit) const;

 private:
  std::string repo_dir_;
};

}  // namespace owl::hub
