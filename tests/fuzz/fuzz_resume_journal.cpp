// libFuzzer target: the resume journal `owl quantize --resume` reads beside its temporary output
// (owl::resume::parse_journal). Every entry it accepts must write back as a line that parses to
// the same entry: what a resumed run trusts is exactly what a run wrote.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "formats/io/error.h"
#include "formats/io/resume_journal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace owl::resume;
  try {
    const Journal j =
        parse_journal(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    for (const JournalEntry& e : j.entries) {
      const Journal again =
          parse_journal(journal_header(std::string(32, '0')) + journal_line(e), "x");
      if (again.entries.size() != 1 || again.entries[0].name != e.name ||
          again.entries[0].offset != e.offset || again.entries[0].size != e.size ||
          again.entries[0].xxh3 != e.xxh3 || again.entries[0].part != e.part)
        std::abort();
    }
  } catch (const owl::InputError&) {
  }
  return 0;
}
