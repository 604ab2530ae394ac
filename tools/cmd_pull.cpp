// owl pull ORG/NAME[@REV]: fetch a model from the Hugging Face Hub (or HF_ENDPOINT) into
// Hugging Face's cache layout, every file checked against the hash the Hub publishes before it
// is linked into the snapshot. Prints the snapshot folder, which owl and transformers can open.
#include <fnmatch.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "formats/hub/cache_layout.h"
#include "formats/hub/repo_info.h"
#include "formats/io/error.h"
#include "formats/io/utf8.h"
#include "formats/scan/scanner.h"
#include "tools/commands.h"
#include "tools/hub_download.h"
#include "tools/human.h"
#include "tools/progress_line.h"

namespace owl {
namespace {

constexpr int kMaxJobs = 32;

struct PullArgs {
  std::string repo_rev;
  std::vector<std::string> include, exclude;
  std::string cache_dir;
  int jobs = 8;
  bool json = false;
  bool quiet = false;
  bool scan = false;
};

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string endpoint() {
  std::string e = env("HF_ENDPOINT");
  if (e.empty()) e = "https://huggingface.co";
  while (!e.empty() && e.back() == '/') e.pop_back();
  return e;
}

// Percent-encodes all but unreserved characters ('/' too, unless `keep_slash`).
std::string url_escape(std::string_view s, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

bool matches_any(const std::vector<std::string>& globs, const std::string& path) {
  for (const auto& g : globs)
    if (::fnmatch(g.c_str(), path.c_str(), 0) == 0) return true;
  return false;
}

hub::RepoInfo resolve(HttpClient& http, const std::string& repo, const std::string& rev) {
  const std::string url =
      endpoint() + "/api/models/" + repo + "/revision/" + url_escape(rev, false) + "?blobs=true";
  std::string body;
  const HttpResult r = http.get_text(url, hub::kMaxApiResponseBytes, body);
  if (!r.transport_error.empty()) throw InputError(url, r.transport_error);
  if (r.status != 200) throw InputError(url, describe_http_status(r.status, http.has_token()));
  return hub::parse_repo_info(body, url);
}

struct Outcome {
  const hub::RepoFile* file;
  BlobFetch fetch;
};

// Fetches every distinct blob with `jobs` connections; the first error stops the others.
std::vector<Outcome> fetch_all(const std::vector<const hub::RepoFile*>& files,
                               const std::string& repo, const std::string& commit,
                               const hub::CacheLayout& cache, const PullArgs& a) {
  std::map<std::string, const hub::RepoFile*> blobs;  // one download per content
  for (const auto* f : files) blobs.emplace(f->blob_name(), f);
  std::vector<const hub::RepoFile*> work;
  uint64_t total = 0;
  for (const auto& entry : blobs) {
    work.push_back(entry.second);
    total += entry.second->size;
  }
  std::vector<Outcome> outcomes(work.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex mu;
  ProgressLine progress(a.quiet || a.json, "files");
  progress.begin("pull " + repo, work.size(), total);
  const std::string token = env("HF_TOKEN");
  const auto worker = [&] {
    HttpClient http(token);
    for (size_t i = next++; i < work.size() && !failed; i = next++) {
      const hub::RepoFile& f = *work[i];
      const std::string url =
          endpoint() + "/" + repo + "/resolve/" + commit + "/" + url_escape(f.path, true);
      try {
        outcomes[i] = {&f, fetch_blob(
                               http, url, f, cache,
                               [&](uint64_t n) {
                                 std::lock_guard lock(mu);
                                 progress.advance(0, n);
                               },
                               [&] { return failed.load(); })};
        std::lock_guard lock(mu);
        progress.advance(1, outcomes[i].fetch.cached ? f.size : 0);
      } catch (...) {
        std::lock_guard lock(mu);
        if (!failed.exchange(true)) first_error = std::current_exception();
      }
    }
  };
  const int threads =
      std::clamp<int>(a.jobs, 1, static_cast<int>(std::max<size_t>(work.size(), 1)));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  progress.end();
  if (first_error) std::rethrow_exception(first_error);
  return outcomes;
}

const char* status_word(const BlobFetch& f) {
  if (f.cached) return "cached";
  if (f.restarted) return "restarted";
  return f.resumed ? "resumed" : "fetched";
}

void scan_snapshot(const std::string& snapshot, bool quiet) {
  const scan::Report r = scan::scan_paths({snapshot});
  if (r.clean()) return;
  if (!quiet)
    for (const auto& f : r.findings)
      std::fprintf(stderr, "owl pull: scan: %s%s%s: %s\n", printable(f.file).c_str(),
                   f.where.empty() ? "" : ": ", printable(f.where).c_str(),
                   printable(f.what).c_str());
  throw InputError(snapshot, std::to_string(r.findings.size()) +
                                 " scan finding(s): the files are in the cache, run `owl scan " +
                                 snapshot + "` before loading them");
}

void run_pull(const PullArgs& a) {
  const auto start = std::chrono::steady_clock::now();
  const size_t at = a.repo_rev.find('@');
  const std::string repo = a.repo_rev.substr(0, at);
  const std::string rev = at == std::string::npos ? "main" : a.repo_rev.substr(at + 1);
  if (!hub::valid_repo_id(repo)) throw UsageError("pull: \"" + repo + "\" is not ORG/NAME");
  if (!hub::valid_revision(rev)) throw UsageError("pull: \"" + rev + "\" is not a revision");
  if (a.jobs < 1 || a.jobs > kMaxJobs)
    throw UsageError("pull: --jobs must be 1.." + std::to_string(kMaxJobs));

  HttpClient http(env("HF_TOKEN"));
  const hub::RepoInfo info = resolve(http, repo, rev);
  std::vector<const hub::RepoFile*> files;
  for (const auto& f : info.files)
    if ((a.include.empty() || matches_any(a.include, f.path)) && !matches_any(a.exclude, f.path))
      files.push_back(&f);
  if (files.empty()) throw UsageError("pull: no file of " + repo + "@" + rev + " matches");

  const hub::CacheLayout cache(a.cache_dir.empty() ? hub::default_cache_dir() : a.cache_dir, repo);
  cache.create_blob_dir();
  const std::vector<Outcome> outcomes = fetch_all(files, repo, info.commit, cache, a);
  // Only verified blobs exist under their final names; link the snapshot, then name the commit.
  std::map<std::string, const BlobFetch*> by_blob;
  for (const auto& o : outcomes) by_blob[o.file->blob_name()] = &o.fetch;
  for (const auto* f : files) cache.link_snapshot_file(info.commit, f->path, f->blob_name());
  if (rev != info.commit) cache.write_ref(rev, info.commit);
  const std::string snapshot = cache.snapshot_dir(info.commit);

  uint64_t downloaded = 0, bytes = 0;
  nlohmann::json list = nlohmann::json::array();
  for (const auto* f : files) {
    const BlobFetch& fetch = *by_blob.at(f->blob_name());
    bytes += f->size;
    list.push_back({{"path", printable(f->path)},
                    {"size", f->size},
                    {"hash", published_hash(*f)},
                    {"status", status_word(fetch)}});
    if (!a.quiet && !a.json)
      std::fprintf(stderr, "  %-9s %10s  %s\n", status_word(fetch), human_bytes(f->size).c_str(),
                   printable(f->path).c_str());
  }
  for (const auto& o : outcomes) downloaded += o.fetch.downloaded;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (a.scan) scan_snapshot(snapshot, a.quiet);
  if (a.json) {
    nlohmann::json j{{"repo", repo},
                     {"revision", rev},
                     {"commit", info.commit},
                     {"snapshot", snapshot},
                     {"files", list},
                     {"bytes", bytes},
                     {"downloaded_bytes", downloaded},
                     {"seconds", seconds},
                     {"scanned", a.scan}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  if (!a.quiet)
    std::fprintf(stderr, "%s@%s = %s: %zu files, %s (%s downloaded) in %s, hashes checked\n",
                 repo.c_str(), rev.c_str(), info.commit.c_str(), files.size(),
                 human_bytes(bytes).c_str(), human_bytes(downloaded).c_str(),
                 human_duration(seconds).c_str());
  std::cout << snapshot << "\n";
}

}  // namespace

void add_pull_command(CLI::App& app) {
  auto args = std::make_shared<PullArgs>();
  CLI::App* cmd = app.add_subcommand(
      "pull",
      "Download a model from the Hugging Face Hub (HF_ENDPOINT, HF_TOKEN) into Hugging Face's "
      "cache layout, checking every file against the SHA-256 or git hash the Hub publishes "
      "before linking it into the snapshot; resumes interrupted files. Prints the snapshot "
      "folder");
  cmd->add_option("repo", args->repo_rev, "ORG/NAME or ORG/NAME@REVISION (branch, tag, commit)")
      ->required();
  cmd->add_option("--include", args->include, "Only files matching this glob (repeatable)");
  cmd->add_option("--exclude", args->exclude, "Skip files matching this glob (repeatable)");
  cmd->add_option("-o,--cache-dir", args->cache_dir,
                  "Cache folder (default: HF_HUB_CACHE, HF_HOME/hub or "
                  "~/.cache/huggingface/hub)");
  cmd->add_option("-j,--jobs", args->jobs, "Parallel connections (default 8)");
  cmd->add_flag("--json", args->json, "Print a JSON summary instead of the snapshot folder");
  cmd->add_flag("-q,--quiet", args->quiet, "No progress or file list");
  cmd->add_flag("--scan", args->scan,
                "Run `owl scan` on the snapshot; exit 2 when it finds anything");
  cmd->callback([args] { run_pull(*args); });
}

}  // namespace owl
