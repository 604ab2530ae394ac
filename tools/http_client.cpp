#include "tools/http_client.h"

#include <curl/curl.h>

#include <exception>
#include <memory>
#include <mutex>

#include "formats/io/error.h"

namespace owl {
namespace {

// A connection that delivers nothing for this long is given up (and the download retried).
constexpr long kLowSpeedSeconds = 60;
constexpr long kConnectTimeoutSeconds = 30;

struct Transfer {
  CURL* curl;
  const std::function<void(long)>* on_status;
  const std::function<bool(std::span<const std::byte>)>* on_body;
  bool started = false;
  bool wanted = false;
  std::exception_ptr error;  // thrown by a callback: carried across libcurl's C frames
};

size_t write_body_unguarded(Transfer* t, char* data, size_t n) {
  if (!t->started) {
    t->started = true;
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    t->wanted = status == 200 || status == 206;
    if (t->wanted && *t->on_status) (*t->on_status)(status);
  }
  if (!t->wanted) return n;
  return (*t->on_body)(std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), n)) ? n
                                                                                                : 0;
}

size_t write_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  try {
    return write_body_unguarded(t, data, size * count);
  } catch (...) {
    t->error = std::current_exception();
    return 0;
  }
}

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

std::string url_origin(const std::string& url) {
  CURLU* u = curl_url();
  std::string origin;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char *scheme = nullptr, *host = nullptr, *port = nullptr;
    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    std::string h = host ? host : "";
    for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    origin = std::string(scheme ? scheme : "") + "://" + h + ":" + (port ? port : "");
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
  }
  curl_url_cleanup(u);
  return origin;
}

HttpClient::HttpClient(std::string token) : token_(std::move(token)) {
  global_init_once();
  curl_ = curl_easy_init();
  if (!curl_) throw std::runtime_error("libcurl: cannot create a transfer");
}

HttpClient::~HttpClient() {
  curl_easy_cleanup(static_cast<CURL*>(curl_));
}

HttpResult HttpClient::get(const std::string& url, uint64_t range_start,
                           const std::function<void(long)>& on_status,
                           const std::function<bool(std::span<const std::byte>)>& on_body) {
  CURL* curl = static_cast<CURL*>(curl_);
  const std::string origin = url_origin(url);
  std::string current = url;
  HttpResult result;
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    curl_easy_reset(curl);
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    const auto add_header = [&headers](const std::string& h) {
      headers.reset(curl_slist_append(headers.release(), h.c_str()));
    };
    add_header("User-Agent: owl/0.1");
    if (!token_.empty() && url_origin(current) == origin)
      add_header("Authorization: Bearer " + token_);
    Transfer t{curl, &on_status, &on_body, false, false, nullptr};
    const std::string range = std::to_string(range_start) + "-";
    curl_easy_setopt(curl, CURLOPT_URL, current.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, kLowSpeedSeconds);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    if (range_start > 0) curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());
    const CURLcode rc = curl_easy_perform(curl);
    if (t.error) std::rethrow_exception(t.error);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
    result.final_url = current;
    if (rc != CURLE_OK) {
      result.transport_error = curl_easy_strerror(rc);
      return result;
    }
    // An empty body never reached write_body.
    if (!t.started && (result.status == 200 || result.status == 206) && on_status)
      on_status(result.status);
    if (result.status < 300 || result.status >= 400) return result;
    char* location = nullptr;
    curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &location);
    if (!location) return result;
    current = location;
  }
  result.transport_error = "more than " + std::to_string(kMaxRedirects) + " redirects";
  return result;
}

HttpResult HttpClient::get_text(const std::string& url, uint64_t max_bytes, std::string& body) {
  body.clear();
  bool too_large = false;
  HttpResult r = get(url, 0, {}, [&](std::span<const std::byte> bytes) {
    if (body.size() + bytes.size() > max_bytes) {
      too_large = true;
      return false;
    }
    body.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return true;
  });
  if (too_large)
    r.transport_error = "the answer is larger than " + std::to_string(max_bytes) + " bytes";
  return r;
}

}  // namespace owl
