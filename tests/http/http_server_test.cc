// Drives a real HttpServer on 127.0.0.1 (port 0) through a small blocking POSIX-socket client.
// No sleeps to wait for the server: every wait is a blocking read with a generous deadline.

#include "http/http_server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "http/errors.h"
#include "http/metrics.h"

namespace scaigrid::iam::http {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using testing::HasSubstr;
using testing::MatchesRegex;

constexpr milliseconds kDeadline{10000};  // generous: only reached when something is wrong

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  json::value Json() const {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    EXPECT_FALSE(ec) << "not JSON: " << body;
    return v;
  }
};

// A blocking HTTP/1.1 client on one TCP connection; just enough to test the server.
class Client {
 public:
  explicit Client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }

  // Sends all of `data`; false when the connection fails.
  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads one response (Content-Length framed; no body for 1xx or a HEAD). nullopt on
  // close, error or deadline.
  std::optional<Response> Read(bool head_request = false) {
    const auto deadline = Clock::now() + kDeadline;
    std::size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(deadline)) return std::nullopt;
    }
    Response r;
    const std::string head = buffer_.substr(0, header_end);
    buffer_.erase(0, header_end + 4);
    std::size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.")) return std::nullopt;
    r.status = std::stoi(status_line.substr(9, 3));
    while (line_end != std::string::npos) {
      const std::size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line = head.substr(start, line_end - start);
      const std::size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      r.headers[name] = value;
    }
    if (r.status >= 200 && !head_request) {
      const std::size_t length =
          std::stoul(r.Header("content-length").empty() ? "0" : r.Header("content-length"));
      while (buffer_.size() < length) {
        if (!Fill(deadline)) return std::nullopt;
      }
      r.body = buffer_.substr(0, length);
      buffer_.erase(0, length);
    }
    return r;
  }

  std::optional<Response> Request(std::string_view raw) {
    if (!Send(raw)) return std::nullopt;
    return Read();
  }

  // Blocks until the server closes the connection (EOF or reset), discarding data. False if
  // the connection is still open at the deadline.
  bool WaitForClose(milliseconds timeout = kDeadline) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      buffer_.clear();
      const int r = FillOnce(deadline);
      if (r == 0) return true;  // closed
      if (r < 0) return false;  // deadline
    }
  }

 private:
  // 1: got data, 0: closed or error, -1: deadline.
  int FillOnce(Clock::time_point deadline) {
    for (;;) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return -1;
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(left));
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) return -1;
      char chunk[16384];
      const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return 0;
      buffer_.append(chunk, static_cast<std::size_t>(n));
      return 1;
    }
  }
  bool Fill(Clock::time_point deadline) { return FillOnce(deadline) == 1; }

  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

std::string Get(std::string_view target, std::string_view extra_headers = "") {
  return fmt::format("GET {} HTTP/1.1\r\nHost: test\r\n{}\r\n", target, extra_headers);
}

std::string Post(std::string_view target, std::string_view body) {
  return fmt::format("POST {} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n{}", target,
                     body.size(), body);
}

class HttpServerTest : public testing::Test {
 protected:
  // Echo handler: /throw throws, /block waits for Release(), everything else echoes.
  HttpResponse Handle(const HttpRequest& req) {
    calls_.fetch_add(1);
    if (req.path == "/throw") throw std::runtime_error("boom");
    if (req.path == "/block") {
      std::unique_lock lock(block_mu_);
      blocked_ = true;
      block_cv_.notify_all();
      block_cv_.wait(lock, [this] { return released_; });
    }
    json::object o;
    o["method"] = req.method;
    o["path"] = req.path;
    o["query"] = req.query;
    o["body"] = req.body;
    o["request_id"] = req.request_id;
    o["remote"] = req.remote_address;
    o["user_agent"] = std::string(req.Header("user-agent"));
    HttpResponse r;
    r.body = json::serialize(o);
    r.route = "/echo";
    r.headers.emplace_back("X-Echo", "1");
    r.headers.emplace_back("X-Evil", "a\r\nInjected: yes");
    return r;
  }

  std::uint16_t StartServer(HttpServerOptions options = {}) {
    options.address = "127.0.0.1";
    options.port = 0;
    if (options.threads == 0) options.threads = 2;
    server_ = std::make_unique<HttpServer>(
        options, [this](const HttpRequest& r) { return Handle(r); }, &metrics_);
    Result<std::uint16_t> port = server_->Start();
    EXPECT_TRUE(port.has_value()) << port.error().ToString();
    return port.value_or(0);
  }

  void Release() {
    std::lock_guard lock(block_mu_);
    released_ = true;
    block_cv_.notify_all();
  }
  void WaitUntilBlocked() {
    std::unique_lock lock(block_mu_);
    block_cv_.wait(lock, [this] { return blocked_; });
  }

  void TearDown() override {
    Release();
    if (server_) server_->Stop();
  }

  Metrics metrics_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<int> calls_{0};
  std::mutex block_mu_;
  std::condition_variable block_cv_;
  bool blocked_ = false;
  bool released_ = false;
};

void ExpectJsonError(const Response& r, int status, std::string_view code) {
  EXPECT_EQ(r.status, status);
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.Header("content-length"), std::to_string(r.body.size()));
  EXPECT_FALSE(r.Header("x-request-id").empty());
  const json::value v = r.Json();
  ASSERT_TRUE(v.is_object()) << r.body;
  EXPECT_EQ(v.at("error").at("code").as_string(), code) << r.body;
  EXPECT_TRUE(v.at("error").at("message").is_string());
}

TEST_F(HttpServerTest, TwoRequestsOnOneKeepAliveConnection) {
  Client c(StartServer());
  ASSERT_TRUE(c.connected());
  auto r1 = c.Request(Get("/a?x=1", "User-Agent: gtest\r\n"));
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r1->Header("content-type"), "application/json");
  EXPECT_EQ(r1->Header("content-length"), std::to_string(r1->body.size()));
  EXPECT_EQ(r1->Header("x-echo"), "1");
  EXPECT_EQ(r1->Header("x-evil"), "");  // a value with CR/LF is dropped, not injected
  EXPECT_EQ(r1->Header("injected"), "");
  const json::value v1 = r1->Json();
  EXPECT_EQ(v1.at("method").as_string(), "GET");
  EXPECT_EQ(v1.at("path").as_string(), "/a");
  EXPECT_EQ(v1.at("query").as_string(), "x=1");
  EXPECT_EQ(v1.at("user_agent").as_string(), "gtest");
  EXPECT_EQ(v1.at("remote").as_string(), "127.0.0.1");

  auto r2 = c.Request(Post("/b", "hello"));
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 200);
  EXPECT_EQ(r2->Json().at("body").as_string(), "hello");
  EXPECT_EQ(calls_.load(), 2);
}

TEST_F(HttpServerTest, PipelinedRequestsAnsweredInOrder) {
  Client c(StartServer());
  ASSERT_TRUE(c.Send(Get("/one") + Post("/two", "2") + Get("/three")));
  for (const char* path : {"/one", "/two", "/three"}) {
    auto r = c.Read();
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->Json().at("path").as_string(), path);
  }
}

TEST_F(HttpServerTest, HeadResponseHasLengthButNoBody) {
  Client c(StartServer());
  ASSERT_TRUE(c.Send("HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto head = c.Read(/*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_NE(head->Header("content-length"), "0");
  auto next = c.Request(Get("/after-head"));  // framing intact: no stray body bytes
  ASSERT_TRUE(next);
  EXPECT_EQ(next->Json().at("path").as_string(), "/after-head");
}

TEST_F(HttpServerTest, ConnectionCloseIsHonoured) {
  Client c(StartServer());
  auto r = c.Request(Get("/x", "Connection: close\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(c.WaitForClose());
}

TEST_F(HttpServerTest, RequestIdEchoedWhenValidElseGenerated) {
  Client c(StartServer());
  auto r = c.Request(Get("/x", "X-Request-Id: abc-123.X_y\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->Header("x-request-id"), "abc-123.X_y");
  EXPECT_EQ(r->Json().at("request_id").as_string(), "abc-123.X_y");

  auto generated1 = c.Request(Get("/x"));
  auto generated2 = c.Request(Get("/x", "X-Request-Id: not valid!\r\n"));
  auto too_long = c.Request(Get("/x", "X-Request-Id: " + std::string(129, 'a') + "\r\n"));
  ASSERT_TRUE(generated1 && generated2 && too_long);
  for (const Response* g : {&*generated1, &*generated2, &*too_long}) {
    EXPECT_THAT(g->Header("x-request-id"), MatchesRegex("[0-9a-f]{32}"));
    EXPECT_EQ(g->Json().at("request_id").as_string(), g->Header("x-request-id"));
  }
  EXPECT_NE(generated1->Header("x-request-id"), generated2->Header("x-request-id"));
}

TEST_F(HttpServerTest, BodyOverLimitIs413AndHandlerNotCalled) {
  Client c(StartServer());
  const std::size_t size = 10 << 20;
  std::thread sender([&c, size] {
    // The server answers after the header and drains the rest; send failures are expected.
    if (c.Send(fmt::format("POST /x HTTP/1.1\r\nHost: t\r\nX-Request-Id: big-1\r\n"
                           "Content-Length: {}\r\n\r\n",
                           size))) {
      (void)c.Send(std::string(size, 'b'));
    }
  });
  auto r = c.Read();
  sender.join();
  ASSERT_TRUE(r);
  ExpectJsonError(*r, 413, "payload_too_large");
  EXPECT_EQ(r->Header("x-request-id"), "big-1");
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(c.WaitForClose());
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(HttpServerTest, ChunkedBodyOverLimitIs413) {
  HttpServerOptions options;
  options.body_limit = 1000;
  Client c(StartServer(options));
  std::string req = "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) req += "1f4\r\n" + std::string(500, 'c') + "\r\n";
  req += "0\r\n\r\n";
  auto r = c.Request(req);
  ASSERT_TRUE(r);
  ExpectJsonError(*r, 413, "payload_too_large");
  EXPECT_TRUE(c.WaitForClose());
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(HttpServerTest, ExpectContinueGetsInterimResponse) {
  Client c(StartServer());
  ASSERT_TRUE(
      c.Send("POST /x HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
             "Content-Length: 5\r\n\r\n"));
  auto interim = c.Read();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  auto r = c.Request("hello");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Json().at("body").as_string(), "hello");
}

TEST_F(HttpServerTest, MalformedRequestIs400ThenClose) {
  const std::uint16_t port = StartServer();
  for (const char* raw : {"THIS IS NOT HTTP\r\n\r\n", "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
                          "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"}) {
    Client c(port);
    auto r = c.Request(raw);
    ASSERT_TRUE(r) << raw;
    ExpectJsonError(*r, 400, "bad_request");
    EXPECT_TRUE(c.WaitForClose());
  }
  EXPECT_EQ(calls_.load(), 0);
  Client after(port);  // the server still serves
  auto r = after.Request(Get("/x"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, HeaderOverLimitIs431) {
  Client c(StartServer());
  auto r = c.Request(Get("/x", "X-Big: " + std::string(20 << 10, 'h') + "\r\n"));
  ASSERT_TRUE(r);
  ExpectJsonError(*r, 431, "headers_too_large");
  EXPECT_TRUE(c.WaitForClose());
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(HttpServerTest, SlowClientIsDisconnectedAfterHeaderTimeout) {
  HttpServerOptions options;
  options.header_timeout = milliseconds(300);
  Client c(StartServer(options));
  const auto start = Clock::now();
  ASSERT_TRUE(c.Send("GET /x HTTP/1.1\r\nHost: t\r\n"));  // never finishes the header
  EXPECT_TRUE(c.WaitForClose());
  EXPECT_GE(Clock::now() - start, milliseconds(250));
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(HttpServerTest, TricklingClientIsDisconnectedAtTheRequestDeadline) {
  HttpServerOptions options;
  options.header_timeout = milliseconds(300);
  Client c(StartServer(options));
  // One byte every 20 ms keeps every single read short, but the whole request is late.
  std::atomic<bool> done{false};
  std::thread trickler([&] {
    const std::string header = "GET /x HTTP/1.1\r\nX-Pad: " + std::string(200, 'p');
    for (char ch : header) {
      if (done.load() || !c.Send(std::string_view(&ch, 1))) return;
      std::this_thread::sleep_for(milliseconds(20));  // pacing the client, not waiting
    }
  });
  EXPECT_TRUE(c.WaitForClose());
  done.store(true);
  trickler.join();
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  HttpServerOptions options;
  options.idle_timeout = milliseconds(300);
  Client c(StartServer(options));
  auto r = c.Request(Get("/x"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const auto start = Clock::now();
  EXPECT_TRUE(c.WaitForClose());
  EXPECT_GE(Clock::now() - start, milliseconds(250));
}

TEST_F(HttpServerTest, HandlerExceptionIs500AndServerKeepsServing) {
  const std::uint16_t port = StartServer();
  Client c(port);
  auto r = c.Request(Get("/throw", "X-Request-Id: throw-1\r\n"));
  ASSERT_TRUE(r);
  ExpectJsonError(*r, 500, "internal");
  EXPECT_EQ(r->Json().at("error").at("message").as_string(), "internal error");
  EXPECT_EQ(r->Header("x-request-id"), "throw-1");

  auto same_connection = c.Request(Get("/after"));
  ASSERT_TRUE(same_connection);
  EXPECT_EQ(same_connection->status, 200);
  Client c2(port);
  auto new_connection = c2.Request(Get("/after"));
  ASSERT_TRUE(new_connection);
  EXPECT_EQ(new_connection->status, 200);
}

TEST_F(HttpServerTest, ConcurrentClientsAllAnswered) {
  HttpServerOptions options;
  options.threads = 4;
  const std::uint16_t port = StartServer(options);
  constexpr int kClients = 4;
  constexpr int kRequests = 200;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      Client c(port);
      for (int i = 0; i < kRequests; ++i) {
        const std::string body = fmt::format("client {} request {}", t, i);
        auto r = c.Request(Post("/c", body));
        if (!r || r->status != 200) return;
        const json::value v = r->Json();
        if (v.at("body").as_string() == body) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), kClients * kRequests);
  EXPECT_EQ(calls_.load(), kClients * kRequests);
}

TEST_F(HttpServerTest, RecordsMetricsPerRoute) {
  Client c(StartServer());
  ASSERT_TRUE(c.Request(Get("/x")));
  ASSERT_TRUE(c.Request(Post("/y", "z")));
  ASSERT_TRUE(c.Request(Get("/throw")));
  // Each sample is recorded after its response is written, i.e. possibly just after the
  // client read it; a further response on the same connection orders them.
  ASSERT_TRUE(c.Request(Get("/sync")));
  const std::string text = metrics_.RenderPrometheus();
  EXPECT_THAT(
      text,
      HasSubstr("scaigrid_http_requests_total{route=\"/echo\",method=\"GET\",status=\"200\"} "));
  EXPECT_THAT(
      text,
      HasSubstr(
          "scaigrid_http_requests_total{route=\"/echo\",method=\"POST\",status=\"200\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "scaigrid_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"500\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("scaigrid_http_request_duration_seconds_bucket{route=\"/echo\""));
}

TEST_F(HttpServerTest, StopWithOpenConnectionsReturns) {
  const std::uint16_t port = StartServer();
  Client idle(port);
  ASSERT_TRUE(idle.Request(Get("/x")));
  Client partial(port);
  ASSERT_TRUE(partial.Send("GET /x HTTP/1.1\r\nHost: t\r\n"));
  Client fresh(port);
  ASSERT_TRUE(fresh.connected());
  const auto start = Clock::now();
  server_->Stop();
  EXPECT_LT(Clock::now() - start, milliseconds(4000));  // shutdown_grace is 5 s
  EXPECT_TRUE(idle.WaitForClose());
  EXPECT_TRUE(partial.WaitForClose());
  EXPECT_TRUE(fresh.WaitForClose());
  server_->Stop();  // idempotent
  Client after(port);
  EXPECT_FALSE(after.connected() && after.Request(Get("/x")).has_value());
}

TEST_F(HttpServerTest, StopLetsTheRequestInFlightFinish) {
  Client c(StartServer());
  ASSERT_TRUE(c.Send(Get("/block")));
  WaitUntilBlocked();
  std::thread stopper([this] { server_->Stop(); });
  Release();
  auto r = c.Read();
  stopper.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(c.WaitForClose());
}

TEST_F(HttpServerTest, StartFailsClearlyWhenThePortIsTaken) {
  const std::uint16_t port = StartServer();
  HttpServerOptions options;
  options.port = port;
  HttpServer second(
      options, [](const HttpRequest&) { return HttpResponse{}; }, nullptr);
  Result<std::uint16_t> result = second.Start();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), StatusCode::kUnavailable);
  EXPECT_THAT(result.error().message(), HasSubstr(fmt::format("127.0.0.1:{}", port)));

  options.address = "not-an-address";
  HttpServer third(
      options, [](const HttpRequest&) { return HttpResponse{}; }, nullptr);
  result = third.Start();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), StatusCode::kInvalidArgument);
}

}  // namespace
// ---- Deferred responses (AsyncHttpHandler).

// Keeps the responders of deferred requests until the test hands them their responses.
class DeferredTest : public testing::Test {
 protected:
  // "/now" answers at once; "/drop" defers and drops its responder; anything else defers.
  std::uint16_t StartServer(HttpServerOptions options = {}) {
    options.address = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    server_ = std::make_unique<HttpServer>(
        options,
        [this](const HttpRequest& req, const Responder& respond) -> std::optional<HttpResponse> {
          HttpResponse r;
          r.body = req.path;
          r.route = "/deferred";
          if (req.path == "/now") return r;
          if (req.path == "/drop") return std::nullopt;
          std::lock_guard lock(mu_);
          waiting_.push_back(respond);
          paths_.push_back(req.path);
          cv_.notify_all();
          return std::nullopt;
        },
        &metrics_);
    Result<std::uint16_t> port = server_->Start();
    EXPECT_TRUE(port.has_value()) << port.error().ToString();
    return port.value_or(0);
  }

  // Waits until `n` requests are deferred, then answers each with its own path, from this
  // thread (not a server thread).
  bool AnswerWhenDeferred(std::size_t n) {
    std::vector<Responder> take;
    std::vector<std::string> paths;
    {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, kDeadline, [&] { return waiting_.size() >= n; })) return false;
      take.swap(waiting_);
      paths.swap(paths_);
    }
    for (std::size_t i = 0; i < take.size(); ++i) {
      HttpResponse r;
      r.status = 201;
      r.body = "late " + paths[i];
      r.route = "/deferred";
      take[i](r);
      take[i](HttpResponse{.status = 500});  // a second call is ignored
    }
    return true;
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  Metrics metrics_;
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Responder> waiting_;
  std::vector<std::string> paths_;
};

TEST_F(DeferredTest, ManyMoreWaitingRequestsThanThreads) {
  // 200 requests wait at once on a server with two threads: none of them holds a thread.
  const std::uint16_t port = StartServer();
  constexpr int kClients = 200;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<Client>(port));
    ASSERT_TRUE(clients.back()->Send(Get(fmt::format("/c{}", i))));
  }
  // While they wait, the server still answers others at once.
  Client other(port);
  auto now = other.Request(Get("/now"));
  ASSERT_TRUE(now);
  EXPECT_EQ(now->body, "/now");
  ASSERT_TRUE(AnswerWhenDeferred(kClients));
  for (int i = 0; i < kClients; ++i) {
    auto r = clients[static_cast<std::size_t>(i)]->Read();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(r->body, fmt::format("late /c{}", i));
  }
}

TEST_F(DeferredTest, PipelinedRequestsWaitForTheDeferredOneAndStayInOrder) {
  Client c(StartServer());
  ASSERT_TRUE(c.Send(Get("/first") + Get("/now")));
  ASSERT_TRUE(AnswerWhenDeferred(1));
  auto first = c.Read();
  auto second = c.Read();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->body, "late /first");
  EXPECT_EQ(second->body, "/now");
}

TEST_F(DeferredTest, AResponseNotHandedBackInTimeIs503AndTheLateOneIsDropped) {
  HttpServerOptions options;
  options.response_timeout = milliseconds(200);
  Client c(StartServer(options));
  auto r = c.Request(Get("/slow", "X-Request-Id: slow-1\r\n"));
  ASSERT_TRUE(r);
  ExpectJsonError(*r, 503, "timeout");
  EXPECT_THAT(std::string(r->Json().at("error").at("message").as_string()), HasSubstr("200 ms"));
  EXPECT_EQ(r->Header("x-request-id"), "slow-1");
  ASSERT_TRUE(AnswerWhenDeferred(1));  // too late: dropped
  auto next = c.Request(Get("/now"));  // the connection serves the next request normally
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "/now");
}

TEST_F(DeferredTest, ALostResponderIs500NotAHang) {
  Client c(StartServer());
  auto r = c.Request(Get("/drop"));
  ASSERT_TRUE(r);
  ExpectJsonError(*r, 500, "internal");
  EXPECT_THAT(std::string(r->Json().at("error").at("message").as_string()), HasSubstr("lost"));
}

TEST_F(DeferredTest, AResponderCalledAfterStopDoesNothing) {
  HttpServerOptions options;
  options.shutdown_grace = milliseconds(300);
  Client c(StartServer(options));
  ASSERT_TRUE(c.Send(Get("/pending")));
  {
    std::unique_lock lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, kDeadline, [&] { return waiting_.size() == 1; }));
  }
  server_->Stop();  // waits shutdown_grace for the deferred request, then cuts it off
  server_.reset();
  ASSERT_TRUE(AnswerWhenDeferred(1));  // the server is gone: nothing happens, nothing crashes
  EXPECT_TRUE(c.WaitForClose());
}

}  // namespace scaigrid::iam::http
