#include <catch2/catch.hpp>

#include "formats/io/atomic_file.h"
#include "formats/io/error.h"
#include "formats/io/resume_journal.h"
#include "formats/write_group.h"
#include "tests/test_util.h"

using namespace owl;
using namespace owl::resume;
using owl::test::TempDir;

namespace {

const std::string kId(32, 'a');

JournalEntry entry(const std::string& name, uint64_t offset) {
  return {1, offset, 4096, std::string(32, '0'), name};
}

}  // namespace

TEST_CASE("a resume journal reads back what was appended, names with any bytes included") {
  TempDir dir;
  const auto path = dir.file(".out.gguf.owl-journal");
  {
    JournalAppender j(path, kId);
    j.append(entry("blk.0.attn_q.weight", 640));
    j.append(entry("odd name %20\n\xff", 8832));
  }
  {
    JournalAppender j(path, "");  // a resumed run appends
    j.append(entry("output.weight", 12928));
  }
  const Journal j = read_journal(path);
  CHECK(j.identity == kId);
  CHECK(j.damaged == 0);
  REQUIRE(j.entries.size() == 3);
  CHECK(j.entries[1].name == "odd name %20\n\xff");
  CHECK(j.entries[1].offset == 8832);
  CHECK(j.entries[2].part == 1);
  CHECK(j.entries[2].size == 4096);
}

TEST_CASE("a damaged or torn journal entry is skipped and counted") {
  std::string text = journal_header(kId) + journal_line(entry("a", 64)) +
                     journal_line(entry("b", 4160)) + journal_line(entry("c", 8256));
  // Alter one digit of the second entry's offset: its check no longer matches.
  const size_t b = text.find(" 4160 ");
  text[b + 1] = '5';
  // And cut the last line short, as a kill mid-write leaves it.
  text.resize(text.size() - 7);
  const Journal j = parse_journal(text, "j");
  CHECK(j.damaged == 2);
  REQUIRE(j.entries.size() == 1);
  CHECK(j.entries[0].name == "a");
}

TEST_CASE("entries appended after a torn line are kept") {
  TempDir dir;
  const auto path = dir.file("j");
  owl::test::write_bytes(path, journal_header(kId) + journal_line(entry("a", 64)).substr(0, 30));
  {
    JournalAppender j(path, "");
    j.append(entry("b", 4160));
  }
  const Journal j = read_journal(path);
  CHECK(j.damaged == 1);
  REQUIRE(j.entries.size() == 1);
  CHECK(j.entries[0].name == "b");
}

TEST_CASE("a journal header cut short is an empty journal; other text is refused") {
  CHECK(parse_journal("", "j").identity.empty());
  CHECK(parse_journal("owl-jour", "j").identity.empty());
  CHECK(parse_journal("owl-journal 1 abc", "j").entries.empty());
  CHECK_THROWS_AS(parse_journal("GGUF\x03", "j"), InputError);
  CHECK_THROWS_WITH(parse_journal("owl-journal 2 " + kId + "\n", "j"),
                    Catch::Contains("j: not an owl resume journal"));
  CHECK_THROWS_AS(parse_journal("owl-journal 1 xyz\n", "j"), InputError);
}

TEST_CASE("a journal past its size limit is refused before it is read") {
  const std::string big(kMaxJournalBytes + 1, 'x');
  CHECK_THROWS_WITH(parse_journal(big, "j"), Catch::Contains("larger than"));
}

TEST_CASE("tensors are shared out by size, the same way for any run") {
  const std::vector<uint64_t> sizes = {10, 100, 10, 50, 50, 1};
  CHECK(share_by_size(sizes, 1) == std::vector<int>{0, 0, 0, 0, 0, 0});
  // 100 -> 0; 50 -> 1; 50 -> 1 (100 against 50); the first 10 -> 0 (a tie: the lower rank);
  // the second 10 -> 1; 1 -> 0 (a tie again).
  CHECK(share_by_size(sizes, 2) == std::vector<int>{0, 0, 1, 1, 1, 0});
  CHECK(share_by_size(sizes, 8)[1] == 0);
}

TEST_CASE("a partial temporary takes writes at any offset and can be continued") {
  TempDir dir;
  const auto path = dir.file("out.bin");
  {
    AtomicFile f(path, PartialOpen::Fresh, true);
    f.resize(12);
    f.seek(8);
    f.write(std::string_view("tail"));
    f.flush();
  }  // not committed, but kept
  CHECK(owl::test::read_bytes(AtomicFile::partial_path(path)) == std::string(8, '\0') + "tail");
  {
    AtomicFile f(path, PartialOpen::Continue, true);
    f.resize(12);
    f.seek(0);
    f.write(std::string_view("head"));
    f.seek(4);
    f.write(std::string_view("mid."));
    f.commit();
  }
  CHECK(dir.list() == std::vector<std::string>{"out.bin"});
  CHECK(owl::test::read_bytes(path) == "headmid.tail");
}

TEST_CASE("a partial temporary not kept is removed when the run fails") {
  TempDir dir;
  const auto path = dir.file("out.bin");
  {
    AtomicFile f(path, PartialOpen::Fresh, false);
    f.write(std::string_view("x"));
  }
  CHECK(dir.list().empty());
}
