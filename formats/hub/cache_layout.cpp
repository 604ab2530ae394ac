#include "formats/hub/cache_layout.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "formats/io/atomic_file.h"
#include "formats/io/error.h"

namespace owl::hub {
namespace {

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// mkdir -p of `rel` under `base` (which exists), one part at a time, refusing a part that exists
// as anything but a real folder.
void make_dirs_inside(const std::string& base, std::string_view rel) {
  std::string dir = base;
  size_t start = 0;
  while (start < rel.size()) {
    const size_t end = std::min(rel.find('/', start), rel.size());
    dir += "/";
    dir += rel.substr(start, end - start);
    start = end + 1;
    if (::mkdir(dir.c_str(), 0755) == 0) continue;
    if (errno != EEXIST) throw SystemError(dir, "cannot create the folder", errno);
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      throw InputError(dir,
                       "exists and is not a folder (a link or a file): refusing to write "
                       "through it");
  }
}

std::string parent_of(const std::string& rel) {
  const size_t slash = rel.rfind('/');
  return slash == std::string::npos ? std::string() : rel.substr(0, slash);
}

}  // namespace

std::string default_cache_dir() {
  if (auto v = env_or_empty("HF_HUB_CACHE"); !v.empty()) return v;
  if (auto v = env_or_empty("HF_HOME"); !v.empty()) return v + "/hub";
  if (auto v = env_or_empty("XDG_CACHE_HOME"); !v.empty()) return v + "/huggingface/hub";
  return env_or_empty("HOME") + "/.cache/huggingface/hub";
}

CacheLayout::CacheLayout(const std::string& cache_dir, std::string_view repo_id) {
  std::string name = "models--";
  for (char c : repo_id) {
    if (c == '/')
      name += "--";
    else
      name += c;
  }
  repo_dir_ = cache_dir + "/" + name;
}

std::string CacheLayout::blob_path(const std::string& blob_name) const {
  return repo_dir_ + "/blobs/" + blob_name;
}

std::string CacheLayout::incomplete_path(const std::string& blob_name) const {
  return blob_path(blob_name) + ".incomplete";
}

std::string CacheLayout::snapshot_dir(const std::string& commit) const {
  return repo_dir_ + "/snapshots/" + commit;
}

void CacheLayout::create_blob_dir() const {
  std::error_code ec;
  std::filesystem::create_directories(repo_dir_, ec);
  if (ec) throw SystemError(repo_dir_, "cannot create the folder", ec.value());
  make_dirs_inside(repo_dir_, "blobs");
}

void CacheLayout::link_snapshot_file(const std::string& commit, const std::string& file,
                                     const std::string& blob_name) const {
  make_dirs_inside(repo_dir_, "snapshots/" + commit);
  const std::string folder = parent_of(file);
  make_dirs_inside(snapshot_dir(commit), folder);
  std::string target = "../../";
  for (char c : file) target += c == '/' ? "../" : "";
  target += "blobs/" + blob_name;
  const std::string link = snapshot_dir(commit) + "/" + file;
  const std::string temp = link + ".owl-link";
  ::unlink(temp.c_str());
  if (::symlink(target.c_str(), temp.c_str()) != 0)
    throw SystemError(temp, "cannot create the link", errno);
  if (::rename(temp.c_str(), link.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    throw SystemError(link, "cannot create the link", err);
  }
}

void CacheLayout::write_ref(const std::string& rev, const std::string& commit) const {
  make_dirs_inside(repo_dir_, "refs/" + parent_of(rev));
  AtomicFile ref(repo_dir_ + "/refs/" + rev);
  ref.write(commit);
  ref.commit();
}

}  // namespace owl::hub
