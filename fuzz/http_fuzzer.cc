// Feeds: raw bytes, as a client would send them on one TCP connection, to a real HttpServer
// on 127.0.0.1 (port 0) in front of the ApiHandler and the in-process service of
// service_fixture.h: the request parser (Boost.Beast), limits, keep-alive and pipelining,
// request ids, then routing, authentication and the bodies. "$KEY" in the input stands for
// the super_admin key. The client sends everything, half-closes, and reads until the server
// closes.
// Asserts: the server closes within 10 s (no hang); every response it sends, in order, has an
// HTTP/1.x status line with a status from 100 to 599 that is not 500, and (but 100 Continue)
// an X-Request-Id, and a body as long as its Content-Length.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "http/http_server.h"
#include "service_fixture.h"

namespace {

using namespace scaigrid::iam;

std::uint16_t g_port = 0;

void StartServer() {
  static http::HttpServer* server = [] {
    fuzz::ServiceFixture& f = fuzz::ServiceFixture::Get();
    http::HttpServerOptions options;
    options.address = "127.0.0.1";
    options.port = 0;
    options.threads = 1;
    options.body_limit = 64 << 10;
    options.header_limit = 8 << 10;
    auto* s = new http::HttpServer(
        options,
        http::AsyncHttpHandler([&f](const http::HttpRequest& r, const http::Responder& respond) {
          return f.handler().Handle(r, respond);
        }),
        nullptr);
    auto port = s->Start();
    FUZZ_CHECK(port.has_value(), port.error().ToString());
    g_port = *port;
    return s;
  }();
  (void)server;
}

// Sends `request`, half-closes, and returns everything read until the server closes.
std::string Exchange(const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  FUZZ_CHECK(fd >= 0, "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(g_port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // libFuzzer's timeout alarm interrupts system calls now and then (EINTR): a connect carries
  // on in the background then, and poll is simply called again.
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    FUZZ_CHECK(errno == EINTR, std::strerror(errno));
    pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
    while (::poll(&p, 1, 10000) < 0 && errno == EINTR) {
    }
    int error = 0;
    socklen_t len = sizeof error;
    FUZZ_CHECK(::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0, std::strerror(error));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string received;
  std::size_t sent = 0;
  auto wait = [&](short events) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{.fd = fd, .events = events, .revents = 0};
    int ready = -1;
    while (left.count() > 0 && (ready = ::poll(&p, 1, static_cast<int>(left.count()))) < 0 && errno == EINTR) {
    }
    FUZZ_CHECK(left.count() > 0 && ready > 0,
               "the server did not finish within 10 s; sent " + std::to_string(sent) + " of " +
                   std::to_string(request.size()) + " bytes, received: " + received.substr(0, 500));
  };
  char buf[16384];
  // Writes and reads interleaved: the server may answer (and stop reading) before the end.
  while (sent < request.size()) {
    wait(POLLOUT | POLLIN);
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      const ssize_t r = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (r > 0) received.append(buf, static_cast<std::size_t>(r));
      continue;
    }
    if (n < 0) break;  // the server closed (after an error response): read what it sent
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  for (;;) {
    wait(POLLIN);
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    received.append(buf, static_cast<std::size_t>(n));
  }
  const linger no_time_wait{.l_onoff = 1, .l_linger = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_time_wait, sizeof no_time_wait);
  ::close(fd);
  return received;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Checks the responses in `stream` in order.
void CheckResponses(std::string_view stream, std::string_view request) {
  while (!stream.empty()) {
    const std::string what = std::string(stream.substr(0, 200)) + " for " + std::string(request.substr(0, 200));
    FUZZ_CHECK(stream.size() >= 12 && (stream.starts_with("HTTP/1.1 ") || stream.starts_with("HTTP/1.0 ")), what);
    const int status = std::atoi(std::string(stream.substr(9, 3)).c_str());
    FUZZ_CHECK(status >= 100 && status <= 599 && status != 500, what);
    const std::size_t end = stream.find("\r\n\r\n");
    FUZZ_CHECK(end != std::string_view::npos, what);
    const std::string head = Lower(stream.substr(0, end + 2));
    FUZZ_CHECK(status == 100 || head.find("\r\nx-request-id: ") != std::string::npos, what);
    std::size_t length = 0;
    if (const std::size_t cl = head.find("\r\ncontent-length: "); cl != std::string::npos) {
      length = static_cast<std::size_t>(std::strtoull(head.c_str() + cl + 18, nullptr, 10));
    }
    stream.remove_prefix(end + 4);
    // 100 Continue precedes the real response; a response to HEAD announces a body it does
    // not send, so another response (or the end) follows its header block at once.
    if (status == 100 || (length > 0 && stream.starts_with("HTTP/1."))) continue;
    if (length > stream.size()) {
      FUZZ_CHECK(stream.empty(), "a body cut short: " + what);
      return;
    }
    stream.remove_prefix(length);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  StartServer();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  StartServer();
  const std::string request = fuzz::ServiceFixture::Get().ExpandKey(fuzz::AsText(data, size));
  const std::string response = Exchange(request);
  CheckResponses(response, request);
  return 0;
}
