#include <catch2/catch.hpp>

#include <filesystem>

#include "formats/io/error.h"
#include "formats/scan/chat_template_check.h"
#include "formats/scan/scanner.h"
#include "tests/formats/pytorch_builder.h"
#include "tests/test_util.h"

using namespace owl;
using Catch::Matchers::Contains;
using owl::test::PickleBuilder;
using owl::test::zip_bytes;

namespace {

std::vector<std::string> issues_of(std::string_view t) {
  std::vector<std::string> out;
  for (const auto& i : scan::check_chat_template(t)) out.push_back(i.what);
  return out;
}

std::string all(const scan::Report& r) {
  std::string s;
  for (const auto& f : r.findings) s += f.where + ": " + f.what + "\n";
  return s;
}

}  // namespace

TEST_CASE("chat templates: what real ones do passes", "[scan]") {
  CHECK(issues_of("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' }}"
                  "{% if m.content is string %}{{ m.content | trim }}{% endif %}{% endfor %}"
                  "{% set ns = namespace(found=false) %}{{ tools | tojson }}"
                  "{%- set _args = x.items() -%}{{ raise_exception('no') }}{# __class__ #}")
            .empty());
  // The names only matter as code, not as text around the tags.
  CHECK(issues_of("os.system and __class__ outside any tag").empty());
}

TEST_CASE("chat templates: each sandbox escape route is flagged", "[scan]") {
  CHECK_THAT(issues_of("{{ ''.__class__.__mro__ }}").at(0), Contains("`__class__`"));
  CHECK_THAT(issues_of("{{ lipsum.x }}").at(0), Contains("`lipsum`"));
  CHECK_THAT(issues_of("{{ x|attr('y') }}").at(0), Contains("attr"));
  CHECK_THAT(issues_of("{{ x['\\x5f\\x5fclass\\x5f\\x5f'] }}").at(0), Contains("escapes"));
  CHECK_THAT(issues_of("{{ x['__globals__'] }}").at(0), Contains("Python internal"));
  CHECK_THAT(issues_of("{{ m.open('f') }}").at(0), Contains("open(...)"));
  CHECK(issues_of("{{ m.open }}").empty());  // a field called "open" is data
  CHECK_THAT(issues_of("{%- include 'other' %}").at(0), Contains("another template"));
  // Offsets point at the token; an unterminated tag still ends the scan.
  CHECK(scan::check_chat_template("ab{{ self }}").at(0).offset == 5);
  CHECK(issues_of("{{ 'unterminated").empty());
}

TEST_CASE("scan: files are sniffed by content and each problem is a finding", "[scan]") {
  const test::TempDir tmp;
  const std::filesystem::path dir = tmp.path();
  auto put = [&](const std::string& name, const std::string& bytes) {
    test::write_bytes(tmp.file(name), bytes);
    return tmp.file(name);
  };
  const std::string evil =
      PickleBuilder().proto().global("os", "system").str("id").op(0x85).reduce().stop().bytes();
  SECTION("a pickle in a zip, under a name that escapes") {
    const auto r = scan::scan_paths({put("a.zip", zip_bytes({{"../x/data.pkl", evil}}))});
    CHECK_THAT(all(r), Contains("leaves the folder") && Contains("os.system"));
  }
  SECTION("an LFS pointer and an empty weights file") {
    put("model.safetensors", "version https://git-lfs.github.com/spec/v1\noid sha256:00\n");
    put("pytorch_model.bin", "");
    const auto r = scan::scan_paths({dir.string()});
    CHECK(r.scanned.size() == 2);
    CHECK_THAT(all(r), Contains("LFS pointer") && Contains("empty file"));
  }
  SECTION("nothing to say about plain text") {
    CHECK(scan::scan_paths({put("notes.txt", "hello")}).clean());
  }
  CHECK_THROWS_AS(scan::scan_paths({(dir / "missing").string()}), InputError);
}
