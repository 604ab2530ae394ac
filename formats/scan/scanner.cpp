#include "formats/scan/scanner.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <system_error>

#include "formats/io/error.h"
#include "formats/io/mapped_file.h"
#include "formats/json/strict_json.h"
#include "formats/scan/file_scans.h"

namespace owl::scan {
namespace fs = std::filesystem;
namespace {

inline constexpr uint64_t kMaxConfigBytes = 64ull << 20;

// What one folder holds that the checks across files need.
struct FolderFacts {
  std::vector<std::string> gguf_templates;  // each GGUF's default chat template
};

void scan_one_file(const std::string& path, std::vector<Finding>& out, FolderFacts& facts) {
  Findings f{path, out};
  try {
    const auto file = MappedFile::open(path);
    const auto bytes = file->bytes();
    switch (sniff(bytes, path)) {
      case Kind::Gguf:
        return scan_gguf(path, f, facts.gguf_templates);
      case Kind::Safetensors:
        return scan_safetensors(path, bytes, f);
      default:
        return scan_bytes(bytes, "", f, 0);
    }
  } catch (const InputError& e) {
    f.add("", std::string("unreadable: ") + e.what(),
          "a file that owl's reader refuses is malformed or hostile; other loaders may read it "
          "differently",
          Risk::Integrity);
  }
}

// `auto_map` in config.json or tokenizer_config.json names Python classes in the repo that
// transformers imports and runs under trust_remote_code=True.
void check_auto_map(const fs::path& json_path, std::vector<Finding>& out) {
  if (!fs::is_regular_file(json_path)) return;
  Findings f{json_path.string(), out};
  Json j;
  try {
    j = read_json_file(json_path.string(), kMaxConfigBytes);
  } catch (const InputError& e) {
    f.add("", std::string("unreadable: ") + e.what(), "loaders fail on it or read it their own way",
          Risk::Integrity);
    return;
  }
  if (!j.is_object() || !j.contains("auto_map") || !j["auto_map"].is_object()) return;
  for (const auto& [cls, target] : j["auto_map"].items()) {
    std::vector<std::string> refs;
    if (target.is_string()) refs.push_back(target.get<std::string>());
    if (target.is_array())
      for (const auto& t : target)
        if (t.is_string()) refs.push_back(t.get<std::string>());
    for (const auto& ref : refs) {
      // "module.Class" or "org/repo--module.Class": the module is a .py file of that repo.
      const size_t dashes = ref.find("--");
      const std::string local = dashes == std::string::npos ? ref : ref.substr(dashes + 2);
      const std::string module = local.substr(0, local.rfind('.'));
      f.add("auto_map." + cls,
            "runs remote code: " + module + ".py" +
                (dashes == std::string::npos ? "" : " from " + ref.substr(0, dashes)),
            "transformers imports and executes it when the model is loaded with "
            "trust_remote_code=True",
            Risk::Code);
    }
  }
}

// The chat template the folder's tokenizer files hold (chat_template.jinja wins, as in
// transformers), or "" if none.
std::string folder_chat_template(const fs::path& dir) {
  if (const fs::path jinja = dir / "chat_template.jinja"; fs::is_regular_file(jinja)) {
    const auto file = MappedFile::open(jinja.string());
    const auto b = file->bytes();
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }
  const fs::path cfg = dir / "tokenizer_config.json";
  if (!fs::is_regular_file(cfg)) return {};
  try {
    const Json j = read_json_file(cfg.string(), kMaxConfigBytes);
    if (!j.is_object() || !j.contains("chat_template")) return {};
    const Json& t = j["chat_template"];
    if (t.is_string()) return t.get<std::string>();
    if (t.is_array())  // [{"name": "default", "template": "..."}, ...]
      for (const auto& e : t)
        if (e.is_object() && e.value("name", "") == "default" && e.contains("template") &&
            e["template"].is_string())
          return e["template"].get<std::string>();
  } catch (const InputError&) {
    // check_auto_map reports the unreadable file.
  }
  return {};
}

void check_folder(const fs::path& dir, const FolderFacts& facts, std::vector<Finding>& out) {
  check_auto_map(dir / "config.json", out);
  check_auto_map(dir / "tokenizer_config.json", out);
  if (facts.gguf_templates.empty()) return;
  const std::string expected = folder_chat_template(dir);
  if (expected.empty()) return;
  for (const auto& t : facts.gguf_templates)
    if (t != expected)
      out.push_back({dir.string(), "tokenizer.chat_template",
                     "a GGUF's chat template differs from the one the folder's tokenizer files "
                     "hold",
                     "someone changed the template after conversion: templates run on every "
                     "request and steer what the model is told",
                     Risk::Integrity});
}

// In a Hugging Face cache, snapshots/COMMIT/DIR.../FILE links to ../../(../)blobs/HASH: that is
// the layout, not an escape.
bool hf_cache_blob(const fs::path& link, const fs::path& target) {
  for (fs::path commit = link.parent_path(); commit.has_relative_path();
       commit = commit.parent_path())
    if (commit.parent_path().filename() == "snapshots")
      return target.parent_path() ==
             fs::weakly_canonical(commit.parent_path().parent_path() / "blobs");
  return false;
}

bool inside(const fs::path& p, const fs::path& root) {
  const auto rel = p.lexically_relative(root);
  return !rel.empty() && *rel.begin() != "..";
}

void scan_folder(const fs::path& root, Report& r) {
  const fs::path canon_root = fs::weakly_canonical(root);
  std::vector<fs::path> files, dirs{root};
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::directory_entry& e = *it;
    if (it.depth() >= kMaxScanDepth) {
      it.disable_recursion_pending();
      continue;
    }
    if (files.size() >= kMaxScanFiles) {
      r.findings.push_back({root.string(), "",
                            "more than " + std::to_string(kMaxScanFiles) + " files: scan stopped",
                            "no model needs that many; the rest was not checked", Risk::Integrity});
      break;
    }
    if (e.is_symlink()) {
      const fs::path target = fs::weakly_canonical(e.path(), ec);
      if (ec) break;
      if (!inside(target, canon_root) && !hf_cache_blob(e.path(), target))
        r.findings.push_back({e.path().string(), "",
                              "a link to " + target.string() + ", outside the scanned folder",
                              "loaders follow it and read (or overwrite) a file the folder "
                              "does not hold",
                              Risk::Integrity});
      else if (fs::is_regular_file(target))
        files.push_back(e.path());
      continue;
    }
    if (e.is_directory()) {
      dirs.push_back(e.path());
      continue;
    }
    if (e.is_regular_file()) files.push_back(e.path());
  }
  if (ec) throw InputError(root.string(), "cannot list the folder: " + ec.message());
  std::sort(files.begin(), files.end());
  std::sort(dirs.begin(), dirs.end());
  std::map<fs::path, std::vector<fs::path>> by_folder;
  for (auto& f : files) by_folder[f.parent_path()].push_back(std::move(f));
  // Per-folder facts (GGUF templates) belong to the folder that holds the GGUF.
  for (const auto& d : dirs) {
    FolderFacts facts;
    for (const auto& f : by_folder[d]) {
      r.scanned.push_back(f.string());
      scan_one_file(f.string(), r.findings, facts);
    }
    check_folder(d, facts, r.findings);
  }
}

}  // namespace

Report scan_paths(const std::vector<std::string>& paths) {
  Report r;
  for (const auto& p : paths) {
    std::error_code ec;
    const auto status = fs::status(p, ec);
    if (ec || !fs::exists(status)) throw InputError(p, "no such file or folder");
    if (fs::is_directory(status)) {
      scan_folder((fs::path(p) / "").parent_path(), r);  // "dir/" and "dir" alike
    } else {
      FolderFacts facts;
      r.scanned.push_back(p);
      scan_one_file(p, r.findings, facts);
    }
  }
  return r;
}

}  // namespace owl::scan
