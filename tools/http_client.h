// HTTP GET over libcurl for `owl pull`: one request at a time per client (one client per
// thread), redirects followed here rather than inside libcurl so that the rule for the token is
// visible: the Authorization header goes only to the host the request started on.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace owl {

inline constexpr int kMaxRedirects = 10;

struct HttpResult {
  long status = 0;              // of the last response; 0 when no response came
  std::string transport_error;  // libcurl's words when the connection failed or was cut
  std::string final_url;
  bool ok() const { return transport_error.empty() && (status == 200 || status == 206); }
};

class HttpClient {
 public:
  // `token`: sent as "Authorization: Bearer <token>" to the first host only ("" for none).
  explicit HttpClient(std::string token);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // GETs `url`, from byte `range_start` on when it is not 0. `on_status` hears the final
  // response's status before its body; `on_body` hears the body of a 200 or 206 response in
  // pieces and returns false to abort. Bodies of other responses are dropped.
  HttpResult get(const std::string& url, uint64_t range_start,
                 const std::function<void(long status)>& on_status,
                 const std::function<bool(std::span<const std::byte>)>& on_body);

  bool has_token() const { return !token_.empty(); }

  // A small body, at most `max_bytes`, as text.
  HttpResult get_text(const std::string& url, uint64_t max_bytes, std::string& body);

 private:
  void* curl_;
  std::string token_;
};

// "https://host:port" of a URL (lowercased host), to tell whether a redirect leaves the host.
std::string url_origin(const std::string& url);

}  // namespace owl
