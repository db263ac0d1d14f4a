// HttpServer: the HTTP/1.1 listener in front of an HttpHandler. Keep-alive with one request
// in flight per connection (pipelined requests are answered in order), bounded header and
// body sizes, per-phase timeouts, a request id on every response, one metrics sample and one
// debug log line per request. Boost.Beast stays inside http_server.cc.
//
// Rejections the handler never sees (answered with the JSON error body of errors.h, then the
// connection is closed): body over body_limit -> 413 `payload_too_large`, header block over
// header_limit -> 431 `headers_too_large`, unparsable request -> 400 `bad_request`. A request
// not complete within header_timeout, or a keep-alive connection idle for idle_timeout, is
// closed without a response. An exception from the handler is answered with 500 `internal`.
//
// Deferred responses: an AsyncHttpHandler may return no response and hand it back later
// through its Responder, from any thread; meanwhile the request holds no thread, so a server
// with two threads can have thousands of requests waiting (e.g. for an audit commit).
//
// Thread-safety: Start() and Stop() may be called from any thread but not concurrently with
// each other, and never from inside the handler. The handler is called concurrently from
// `threads` threads. A Responder may outlive the server: calling it then does nothing.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "http/http_types.h"
#include "http/metrics.h"
#include "scaigrid/iam/status.h"

namespace scaigrid::iam::http {

struct HttpServerOptions {
  std::string address = "127.0.0.1";    // IPv4 or IPv6 literal to bind
  std::uint16_t port = 8080;            // 0: any free port (Start() returns it)
  int threads = 0;                      // 0: std::thread::hardware_concurrency()
  std::size_t body_limit = 1 << 20;     // bytes of request body
  std::size_t header_limit = 16 << 10;  // bytes of request line plus header fields
  // The whole request (line, headers and body) must arrive within this time, counted from the
  // connection's accept or from the first byte of a keep-alive request (slow-loris defence).
  std::chrono::milliseconds header_timeout{10000};
  // A keep-alive connection with no new request for this long is closed.
  std::chrono::milliseconds idle_timeout{60000};
  // Writing one response must finish within this time.
  std::chrono::milliseconds write_timeout{30000};
  // A deferred response (AsyncHttpHandler) not handed back within this time is answered
  // 503 `timeout` instead; the late response is dropped.
  std::chrono::milliseconds response_timeout{10000};
  // Stop() lets requests in flight finish for up to this long before cutting them off.
  std::chrono::milliseconds shutdown_grace{5000};
};

class HttpServer {
 public:
  // `metrics` may be null; when set it must outlive the server.
  HttpServer(HttpServerOptions options, HttpHandler handler, Metrics* metrics);
  // A handler that may defer responses (http_types.h).
  HttpServer(HttpServerOptions options, AsyncHttpHandler handler, Metrics* metrics);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the threads; returns the bound port.
  // Errors: kInvalidArgument for an unparsable address; kUnavailable when the socket cannot
  // be bound or listened on (the message names address:port and the OS reason);
  // kFailedPrecondition when called twice.
  Result<std::uint16_t> Start();

  // Stops accepting, closes idle connections, lets requests in flight finish (up to
  // shutdown_grace), closes the rest and joins the threads. Idempotent; a server cannot be
  // restarted.
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scaigrid::iam::http
