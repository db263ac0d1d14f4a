// HttpRequest / HttpResponse / HttpHandler: the transport-neutral request and response values
// passed between HttpServer and the service's router. No Boost types leak through here.
//
// Thread-safety: plain values. HttpServer calls the HttpHandler concurrently from several
// threads, each call with its own HttpRequest; the handler must be safe for that.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace scaigrid::iam::http {

struct HttpRequest {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // request-target as sent, e.g. "/v1/roles?limit=10"
  std::string path;    // raw (still percent-encoded) path, without the query
  std::string query;   // raw query, without the leading '?'; see query.h to decode it
  // Header fields in arrival order with lower-case names; values as sent.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote_address;  // peer IP address, e.g. "127.0.0.1"
  // The client's X-Request-Id when it matches [A-Za-z0-9._-]{1,128}, else a generated
  // 32-hex-digit id. Always echoed in the response's X-Request-Id.
  std::string request_id;

  // Returns the value of the first header named `lower_name` (which must be lower case), or
  // an empty view when absent. The view lives as long as this request.
  std::string_view Header(std::string_view lower_name) const {
    for (const auto& [name, value] : headers) {
      if (name == lower_name) return value;
    }
    return {};
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Extra header fields, e.g. {"ETag", "\"3\""}. Content-Type, Content-Length, Connection and
  // X-Request-Id are set by the server; values containing CR, LF or NUL are dropped.
  std::vector<std::pair<std::string, std::string>> headers;
  // Route template for metrics and logs, e.g. "/v1/tenants/{tenant}/roles"; set by the handler.
  // Must have low cardinality: never put ids or user input here.
  std::string route = "unmatched";
};

// Produces the response for one request. Called concurrently from the server's threads. An
// exception escaping it is caught by the server and answered with 500 `internal`.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Hands back the response of a request whose handler deferred it (AsyncHttpHandler). Copyable;
// may be called from any thread. The first call delivers; later calls are ignored. If every
// copy is destroyed without a call, the request is answered 500 `internal`, so a lost
// responder never leaves a client waiting.
class Responder {
 public:
  Responder() = default;
  // `deliver` receives the response once (the server's side of the responder).
  explicit Responder(std::function<void(HttpResponse)> deliver);

  void operator()(HttpResponse response) const;
  // Marks the responder used without delivering anything: the server does this when the
  // handler answered at once.
  void Dismiss() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// A handler that may answer later: it returns the response, or std::nullopt after keeping a
// copy of `respond` and arranging for it to be called (e.g. when an audit batch commits).
// While a response is deferred the request holds no server thread; the connection reads no
// further request until it is answered (responses stay in request order), and
// HttpServerOptions::response_timeout bounds the wait.
using AsyncHttpHandler =
    std::function<std::optional<HttpResponse>(const HttpRequest&, const Responder& respond)>;

}  // namespace scaigrid::iam::http
