#include "formats/io/read_files.h"

#include <sys/stat.h>

#include <mutex>
#include <set>
#include <tuple>

#include "formats/io/error.h"

namespace owl {
namespace {

// Device and inode name a file; its modification time tells it from a later file that reuses
// the inode of one read and deleted meanwhile.
using FileId = std::tuple<dev_t, ino_t, time_t, long>;

struct Registry {
  std::mutex mutex;
  std::set<FileId> ids;
};

Registry& registry() {
  static Registry r;
  return r;
}

bool file_id(const std::string& path, FileId& id) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  id = {st.st_dev, st.st_ino, st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
  return true;
}

}  // namespace

void remember_read_file(const std::string& path) {
  FileId id;
  if (!file_id(path, id)) return;
  std::lock_guard lock(registry().mutex);
  registry().ids.insert(id);
}

bool was_read(const std::string& path) {
  FileId id;
  if (!file_id(path, id)) return false;
  std::lock_guard lock(registry().mutex);
  return registry().ids.count(id) > 0;
}

void refuse_if_read(const std::string& path) {
  if (was_read(path))
    throw UsageError("the output " + path +
                     " is one of the files being read; write to another path or folder");
}

}  // namespace owl
