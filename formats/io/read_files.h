// The files this process has opened for reading, by identity (device and inode, so another name
// for the same file, a hard link or a symbolic link, is the same file): no output may be one.
#pragma once

#include <string>

namespace owl {

// Records `path` as read. MappedFile::open records every file it maps.
void remember_read_file(const std::string& path);

// Whether `path` exists and is a file this process has read.
bool was_read(const std::string& path);

// Throws UsageError if writing `path` would replace a file this process has read: converting a
// split model onto its own name, or re-sharding a folder onto itself.
void refuse_if_read(const std::string& path);

}  // namespace owl
