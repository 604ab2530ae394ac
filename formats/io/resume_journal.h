// The journal a resumable write keeps beside its temporary output: one line per finished tensor
// (its part, offset, size, xxh3-128 and name), so a later run with --resume can check those bytes
// and write only the rest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace owl::resume {

// Bounds on what a journal may hold, so a damaged or hostile one cannot take unbounded memory.
inline constexpr size_t kMaxJournalLineBytes = 512;
inline constexpr size_t kMaxJournalEntries = size_t{1} << 20;
inline constexpr uint64_t kMaxJournalBytes = uint64_t{kMaxJournalEntries} * kMaxJournalLineBytes;
inline constexpr size_t kMaxJournalNameBytes = 255;

struct JournalEntry {
  uint32_t part = 0;  // which output file (split parts), 0 for one file
  uint64_t offset = 0, size = 0;
  std::string xxh3;  // 32 lowercase hex digits
  std::string name;
};

struct Journal {
  std::string identity;  // what the output is: the same header bytes, recipe and inputs
  std::vector<JournalEntry> entries;
  size_t damaged = 0;  // entry lines that failed their check (torn by a kill, or altered)
};

// The first line of a journal for an output of this identity (hex digits).
std::string journal_header(std::string_view identity);
// One entry as a line, ending with its own checksum and a newline.
std::string journal_line(const JournalEntry& e);

// Parses a journal's text. An empty text, or a first line cut short by a kill, is an empty
// journal (identity ""). Throws InputError naming `path` when the text is not an owl journal or
// exceeds the limits above; a damaged entry line is counted and skipped (its tensor is rewritten).
Journal parse_journal(std::string_view text, const std::string& path);

// Reads and parses the journal at `path` (missing: an empty journal).
Journal read_journal(const std::string& path);

// Appends lines to a journal, each with one write(2), so concurrent writers (MPI ranks on one
// file system) interleave whole lines.
class JournalAppender {
 public:
  // Truncates the journal and writes the header when `identity` is not empty; else opens it to
  // append after what is there (ending a line a kill left torn). Several processes appending
  // together: the first opens it before the others do.
  JournalAppender(std::string path, std::string_view identity);
  ~JournalAppender();
  JournalAppender(const JournalAppender&) = delete;
  JournalAppender& operator=(const JournalAppender&) = delete;

  void append(const JournalEntry& e);

 private:
  void write_all(std::string_view text);
  std::string path_;
  int fd_ = -1;
};

}  // namespace owl::resume
