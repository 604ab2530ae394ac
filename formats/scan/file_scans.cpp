#include "formats/scan/file_scans.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "formats/gguf/reader.h"
#include "formats/io/error.h"
#include "formats/pytorch/checkpoint.h"
#include "formats/pytorch/unpickler.h"
#include "formats/pytorch/zip_archive.h"
#include "formats/safetensors/reader.h"
#include "formats/scan/chat_template_check.h"

namespace owl::scan {
namespace {

std::string_view text_of(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

bool starts_with(std::span<const std::byte> b, std::string_view magic) {
  return text_of(b).starts_with(magic);
}

bool ends_with_any(const std::string& name, std::initializer_list<std::string_view> exts) {
  return std::any_of(exts.begin(), exts.end(), [&](std::string_view e) {
    return name.size() >= e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0;
  });
}

bool weights_name(const std::string& name) {
  return ends_with_any(name, {".bin", ".pt", ".pth", ".ckpt", ".safetensors", ".gguf", ".pkl",
                              ".npy", ".npz", ".joblib", ".h5", ".msgpack"});
}

bool executable_magic(std::span<const std::byte> b) {
  static constexpr std::string_view kMachO[] = {"\xfe\xed\xfa\xce", "\xfe\xed\xfa\xcf",
                                                "\xce\xfa\xed\xfe", "\xcf\xfa\xed\xfe"};
  if (starts_with(b,
                  "\x7f"
                  "ELF") ||
      starts_with(b, "#!"))
    return true;
  for (auto m : kMachO)
    if (starts_with(b, m)) return true;
  // A PE image: "MZ", then at 0x3c the offset of "PE\0\0".
  if (!starts_with(b, "MZ") || b.size() < 0x40) return false;
  uint32_t pe = 0;
  std::memcpy(&pe, b.data() + 0x3c, sizeof pe);
  return pe <= b.size() - 4 && text_of(b.subspan(pe, 4)) == std::string_view("PE\0\0", 4);
}

constexpr const char* kUnpickleRuns =
    "unpickling runs it: torch.load(weights_only=False), pickle.load, joblib.load and "
    "np.load(allow_pickle=True) execute every callable a pickle names";

void report_pickle(const std::vector<pytorch::GlobalUse>& globals, const std::string& broken,
                   const std::string& where, Findings& f) {
  for (const auto& g : globals)
    if (g.kind == pytorch::GlobalKind::Refused)
      f.add(where, "the pickle references " + g.name + " (outside the allow-list)", kUnpickleRuns,
            Risk::Code);
  if (!broken.empty())
    f.add(where, "the pickle stream breaks before its end: " + broken,
          "Python's unpickler runs every opcode before the break, while scanners that give up "
          "at the break see none of them; a deliberately broken stream hides a payload",
          Risk::Integrity);
}

void scan_pickle(std::span<const std::byte> bytes, const std::string& where, Findings& f) {
  const pytorch::Pickle p = pytorch::unpickle(bytes, f.file, pytorch::UnpickleMode::Scan, where);
  report_pickle(p.globals, p.broken, where, f);
}

// An entry name that, extracted, lands outside the folder it is extracted to.
bool escapes(std::string_view name) {
  if (name.starts_with('/') || name.starts_with('\\') || (name.size() > 1 && name[1] == ':'))
    return true;
  size_t pos = 0;
  while (pos <= name.size()) {
    size_t end = name.find_first_of("/\\", pos);
    if (end == std::string_view::npos) end = name.size();
    if (name.substr(pos, end - pos) == "..") return true;
    pos = end + 1;
  }
  return false;
}

void scan_zip(std::span<const std::byte> bytes, const std::string& where, Findings& f,
              int nesting) {
  const pytorch::ZipArchive zip = pytorch::ZipArchive::parse(bytes, f.file);
  for (const auto& e : zip.entries()) {
    const std::string inner = where.empty() ? e.name : where + "/" + e.name;
    if (escapes(e.name))
      f.add(inner, "an archive entry whose name leaves the folder it is extracted to",
            "extracting the archive writes over files elsewhere (zip slip)", Risk::Code);
    if (ends_with_any(e.name, {".py"}) || e.name.find("/code/") != std::string::npos)
      f.add(inner, "code inside the archive (a TorchScript or Python module)",
            "torch.jit.load and loaders of such archives compile and run it", Risk::Code);
    scan_bytes(zip.data(e), inner, f, nesting + 1);
  }
}

// NumPy's .npy: magic, version, header length, then a Python dict literal; an object array
// ('O' in the descr) is a pickle after the header.
void scan_npy(std::span<const std::byte> bytes, const std::string& where, Findings& f) {
  if (bytes.size() < 10) throw InputError(f.file, where + ": .npy header is truncated");
  const auto major = static_cast<uint8_t>(bytes[6]);
  uint64_t len = 0, start = 0;
  if (major == 1) {
    uint16_t n = 0;
    std::memcpy(&n, bytes.data() + 8, 2);
    len = n, start = 10;
  } else {
    if (bytes.size() < 12) throw InputError(f.file, where + ": .npy header is truncated");
    uint32_t n = 0;
    std::memcpy(&n, bytes.data() + 8, 4);
    len = n, start = 12;
  }
  if (len > bytes.size() - start)
    throw InputError(f.file, where + ": .npy header runs past the end of the data");
  const std::string_view header = text_of(bytes.subspan(start, len));
  const size_t d = header.find("'descr'");
  const size_t q = d == std::string_view::npos ? d : header.find('\'', d + 7);
  const size_t q2 = q == std::string_view::npos ? q : header.find('\'', q + 1);
  if (q2 == std::string_view::npos) throw InputError(f.file, where + ": .npy header has no descr");
  if (header.substr(q + 1, q2 - q - 1).find('O') == std::string_view::npos) return;
  f.add(where, "a NumPy object array (its elements are a pickle)", kUnpickleRuns, Risk::Code);
  scan_pickle(bytes.subspan(start + len), where.empty() ? "object array" : where, f);
}

}  // namespace

Kind sniff(std::span<const std::byte> b, const std::string& name) {
  if (b.empty()) return Kind::Empty;
  if (starts_with(b, "version https://git-lfs.github.com/spec/")) return Kind::LfsPointer;
  if (gguf::looks_like_gguf(b)) return Kind::Gguf;
  if (starts_with(b, "7z\xbc\xaf\x27\x1c")) return Kind::SevenZip;
  if (pytorch::looks_like_zip(b)) return Kind::Zip;
  if (starts_with(b, "\x93NUMPY")) return Kind::Npy;
  if (executable_magic(b)) return Kind::Executable;
  if (pytorch::looks_like_legacy(b)) return Kind::LegacyTorch;
  if (safetensors::looks_like_safetensors(b, b.size())) return Kind::Safetensors;
  // PROTO 2-5 opens every pickle a current writer makes; older protocols only by name.
  const auto first = static_cast<uint8_t>(b[0]);
  if ((first == 0x80 && b.size() > 1 && static_cast<uint8_t>(b[1]) <= 5) ||
      ends_with_any(name, {".pkl", ".pickle", ".joblib", ".dill"}))
    return Kind::Pickle;
  return Kind::Other;
}

void scan_bytes(std::span<const std::byte> bytes, const std::string& where, Findings& f,
                int nesting) {
  const std::string& name = where.empty() ? f.file : where;
  switch (sniff(bytes, name)) {
    case Kind::Empty:
      if (weights_name(name))
        f.add(where, "an empty file where weights belong",
              "the download or copy was cut short; loaders fail or load nothing", Risk::Integrity);
      return;
    case Kind::LfsPointer:
      f.add(where, "a Git LFS pointer in place of the file's contents",
            "the clone fetched the pointer, not the weights (git lfs was not run)",
            Risk::Integrity);
      return;
    case Kind::SevenZip:
      f.add(where, "a 7-Zip archive",
            "some loaders unpack it and unpickle what is inside, where scanners that cannot open "
            "7-Zip (owl included) see nothing; no checkpoint format uses it",
            Risk::Code);
      return;
    case Kind::Executable:
      f.add(where, "an executable program or script",
            "a model needs no program of its own; one in a model folder or archive runs with "
            "the user's rights when anything launches it",
            Risk::Code);
      return;
    case Kind::Zip:
      if (nesting >= kMaxArchiveNesting) {
        f.add(where, "archives nested more than " + std::to_string(kMaxArchiveNesting) + " deep",
              "nothing a model needs; deep nesting hides content from scanners", Risk::Integrity);
        return;
      }
      return scan_zip(bytes, where, f, nesting);
    case Kind::Npy:
      return scan_npy(bytes, where, f);
    case Kind::LegacyTorch: {
      const pytorch::ScanReport r = pytorch::scan_checkpoint(bytes, f.file);
      return report_pickle(r.globals, r.broken, where, f);
    }
    case Kind::Pickle:
      return scan_pickle(bytes, where.empty() ? "pickle" : where, f);
    case Kind::Gguf:
    case Kind::Safetensors:
    case Kind::Other:
      return;  // inside an archive: nothing loads these from there
  }
}

void scan_gguf(const std::string& path, Findings& f, std::vector<std::string>& templates) {
  const Graph g = gguf::read(path);
  for (const auto& [key, value] : g.metadata) {
    if (!key.starts_with("tokenizer.chat_template")) continue;
    const auto text = g.metadata.get_string(key);
    if (!text) continue;
    if (key == "tokenizer.chat_template") templates.push_back(*text);
    for (const auto& issue : check_chat_template(*text))
      f.add("key " + key + ", offset " + std::to_string(issue.offset),
            "the chat template " + issue.what,
            "runtimes execute chat templates (Jinja) on every request; this is how template "
            "sandboxes are escaped, and no real chat template needs it",
            Risk::Code);
  }
}

void scan_safetensors(const std::string& path, std::span<const std::byte> bytes, Findings& f) {
  (void)safetensors::read_file(path);  // every structural check: gaps, overlaps, trailing bytes
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), sizeof n);
  const std::string_view header = text_of(bytes.subspan(8, n));
  // The writers emit compact JSON padded with trailing spaces to align the data; whitespace
  // anywhere else is room to hide bytes meant for another parser.
  const size_t end = header.find_last_not_of(' ') + 1;
  bool in_string = false;
  for (size_t i = 0; i < end; ++i) {
    const char c = header[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      f.add("header offset " + std::to_string(8 + i), "the header is not compact JSON",
            "safetensors writers never put whitespace there; files shaped to be read as two "
            "formats at once (polyglots) use such room",
            Risk::Integrity);
      return;
    }
  }
}

}  // namespace owl::scan
