#include "formats/io/resume_journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>

#include "formats/io/error.h"

namespace owl::resume {
namespace {

constexpr std::string_view kMagic = "owl-journal 1 ";
constexpr size_t kHexDigest = 32;  // xxh3-128
constexpr size_t kHexCheck = 16;   // xxh3-64 of the line before it

bool is_hex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string check_of(std::string_view text) {
  char buf[kHexCheck + 1];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(text.data(), text.size())));
  return buf;
}

// Names are tensor names from hostile inputs: bytes outside printable ASCII, spaces and '%' are
// written as %XX so a line always splits into its fields.
std::string escaped(std::string_view name) {
  std::string out;
  for (unsigned char c : name) {
    if (c > 0x20 && c < 0x7f && c != '%') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unescape(std::string_view s, std::string& out) {
  out.clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return false;
    const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out.size() <= kMaxJournalNameBytes;
}

template <typename T>
bool parse_number(std::string_view s, T& v) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size();
}

// Splits `line` at single spaces into exactly `n` fields.
bool split_fields(std::string_view line, std::string_view* fields, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const size_t sp = i + 1 < n ? line.find(' ') : line.npos;
    if (i + 1 < n && sp == line.npos) return false;
    fields[i] = line.substr(0, sp);
    if (fields[i].empty()) return false;
    line = i + 1 < n ? line.substr(sp + 1) : std::string_view();
  }
  return true;
}

// "t PART OFFSET SIZE XXH3 NAME CHECK": false when any field is malformed or the check differs.
bool parse_entry(std::string_view line, JournalEntry& e) {
  std::string_view f[7];
  if (!split_fields(line, f, 7) || f[0] != "t") return false;
  if (!is_hex(f[6], kHexCheck) || check_of(line.substr(0, line.size() - kHexCheck - 1)) != f[6])
    return false;
  if (!parse_number(f[1], e.part) || !parse_number(f[2], e.offset) || !parse_number(f[3], e.size) ||
      !is_hex(f[4], kHexDigest) || !unescape(f[5], e.name))
    return false;
  e.xxh3 = std::string(f[4]);
  return true;
}

}  // namespace

std::string journal_header(std::string_view identity) {
  return std::string(kMagic) + std::string(identity) + "\n";
}

std::string journal_line(const JournalEntry& e) {
  char numbers[80];
  std::snprintf(numbers, sizeof numbers, "t %u %llu %llu ", e.part,
                static_cast<unsigned long long>(e.offset), static_cast<unsigned long long>(e.size));
  std::string line = numbers;
  line.append(e.xxh3).append(" ").append(escaped(e.name));
  const std::string check = check_of(line);
  line.append(" ").append(check).append("\n");
  return line;
}

Journal parse_journal(std::string_view text, const std::string& path) {
  Journal j;
  if (text.size() > kMaxJournalBytes)
    throw InputError(path, "the journal is larger than " + std::to_string(kMaxJournalBytes) +
                               " bytes; it cannot be one owl wrote");
  const size_t first_end = text.find('\n');
  if (first_end == text.npos) {
    // A header cut short by a kill before any tensor finished: nothing to resume.
    const size_t magic_part = std::min(text.size(), kMagic.size());
    if (text.substr(0, magic_part) == kMagic.substr(0, magic_part) &&
        text.size() <= kMagic.size() + kHexDigest)
      return j;
    throw InputError(path, "not an owl resume journal (no header line)");
  }
  const std::string_view header = text.substr(0, first_end);
  if (!header.starts_with(kMagic) || !is_hex(header.substr(kMagic.size()), kHexDigest))
    throw InputError(path,
                     "not an owl resume journal (its first line is not 'owl-journal 1 "
                     "<identity>')");
  j.identity = std::string(header.substr(kMagic.size()));
  text.remove_prefix(first_end + 1);
  while (!text.empty()) {
    const size_t end = text.find('\n');
    // The last line may be cut short by a kill: it counts as damaged, like an altered one.
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end == text.npos ? text.size() : end + 1);
    JournalEntry e;
    if (line.empty()) continue;
    if (line.size() > kMaxJournalLineBytes || !parse_entry(line, e)) {
      ++j.damaged;
      continue;
    }
    if (j.entries.size() == kMaxJournalEntries)
      throw InputError(
          path, "the journal holds more than " + std::to_string(kMaxJournalEntries) + " entries");
    j.entries.push_back(std::move(e));
  }
  return j;
}

Journal read_journal(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return {};
    throw SystemError(path, "cannot read the resume journal", errno);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) > kMaxJournalBytes) {
    ::close(fd);
    throw InputError(path, "the journal is larger than " + std::to_string(kMaxJournalBytes) +
                               " bytes; it cannot be one owl wrote");
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(got);
  return parse_journal(text, path);
}

JournalAppender::JournalAppender(std::string path, std::string_view identity)
    : path_(std::move(path)) {
  const int flags = O_RDWR | O_APPEND | O_CLOEXEC | O_CREAT | (identity.empty() ? 0 : O_TRUNC);
  fd_ = ::open(path_.c_str(), flags, 0644);
  if (fd_ < 0) throw SystemError(path_, "cannot open the resume journal", errno);
  if (!identity.empty()) {
    write_all(journal_header(identity));
    return;
  }
  // A line torn by a kill would swallow the first one appended now: end it first.
  struct stat st {};
  char last = '\n';
  if (::fstat(fd_, &st) == 0 && st.st_size > 0) (void)::pread(fd_, &last, 1, st.st_size - 1);
  if (last != '\n') write_all("\n");
}

JournalAppender::~JournalAppender() {
  if (fd_ >= 0) ::close(fd_);
}

void JournalAppender::append(const JournalEntry& e) {
  write_all(journal_line(e));
}

void JournalAppender::write_all(std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd_, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SystemError(path_, "cannot write the resume journal", errno);
    text.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace owl::resume
