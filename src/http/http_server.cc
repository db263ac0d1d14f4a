#include "http/http_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "http/errors.h"

namespace scaigrid::iam::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// After an error response the server stops sending but keeps reading (and discarding) until
// the client closes, the client is quiet for kLingerQuiet, or kLingerMax has passed, so that
// unread request bytes do not make the kernel send a RST that could destroy the response
// before the client reads it.
constexpr std::chrono::milliseconds kLingerQuiet{500};
constexpr std::chrono::milliseconds kLingerMax{2000};
constexpr std::size_t kReadChunk = 4096;
constexpr std::size_t kDrainChunk = 64 << 10;
constexpr std::size_t kMaxRequestIdLength = 128;

bool IsValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// 16 random bytes as 32 lowercase hex digits. Request ids correlate logs; they are not
// secrets, so a per-thread generator seeded from std::random_device is enough.
std::string NewRequestId() {
  thread_local std::mt19937_64 generator = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  return fmt::format("{:016x}{:016x}", generator(), generator());
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// RFC 9110 token characters: what a field name may consist of.
bool IsToken(std::string_view s) {
  constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kSpecials.find(c) != std::string_view::npos;
  });
}

bool IsSafeHeaderValue(std::string_view v) {
  return v.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool IsBeastHttpError(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

}  // namespace

struct Responder::State {
  std::function<void(HttpResponse)> deliver;
  std::atomic<bool> used{false};
  ~State() {
    if (used.exchange(true) || !deliver) return;
    try {
      deliver(ErrorResponse(500, "internal", "internal error: the response was lost"));
    } catch (...) {  // bad_alloc: the response timeout answers instead
    }
  }
};

Responder::Responder(std::function<void(HttpResponse)> deliver)
    : state_(std::make_shared<State>()) {
  state_->deliver = std::move(deliver);
}

void Responder::operator()(HttpResponse response) const {
  if (state_ && !state_->used.exchange(true)) state_->deliver(std::move(response));
}

void Responder::Dismiss() const {
  if (state_) state_->used.store(true);
}

namespace {

// Shared by the server and every Responder it made: a Responder called after the server's
// io_context is gone (e.g. from an audit writer stopping later) must not touch it.
struct DeferredHub {
  std::mutex mu;
  bool open = true;  // guarded by mu; false once the io_context is about to be destroyed
};

}  // namespace

class Session;

class ServerImpl {
 public:
  ServerImpl(HttpServerOptions options, AsyncHttpHandler handler, Metrics* metrics)
      : options_(std::move(options)), handler_(std::move(handler)), metrics_(metrics) {}
  ~ServerImpl() { Stop(); }

  Result<std::uint16_t> Start();
  void Stop();

  // Session interface (called on session strands).
  const HttpServerOptions& options() const { return options_; }
  std::optional<HttpResponse> Handle(const HttpRequest& request, const Responder& respond);
  const std::shared_ptr<DeferredHub>& hub() const { return hub_; }
  void Finished(std::string_view method, std::string_view route, int status,
                std::string_view request_id, std::string_view remote, Clock::time_point start);
  bool Register(const std::shared_ptr<Session>& session);
  void Unregister(Session* session);

 private:
  void StopLocked();  // Stop() with lifecycle_mu_ held
  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);

  const HttpServerOptions options_;
  const AsyncHttpHandler handler_;
  Metrics* const metrics_;
  const std::shared_ptr<DeferredHub> hub_ = std::make_shared<DeferredHub>();

  enum class State { kNew, kRunning, kStopped };
  std::mutex lifecycle_mu_;  // serializes Start() and Stop()
  State state_ = State::kNew;
  std::unique_ptr<net::io_context> ioc_;
  std::unique_ptr<tcp::acceptor> acceptor_;  // used on its own strand
  std::unique_ptr<net::steady_timer> accept_retry_;
  std::vector<std::thread> threads_;
  std::string endpoint_name_;

  std::mutex sessions_mu_;
  std::condition_variable sessions_cv_;
  bool stopping_ = false;  // guarded by sessions_mu_
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
};

// One connection. All member functions run on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, ServerImpl& server)
      : stream_(std::move(socket)),
        response_timer_(stream_.get_executor()),
        server_(server),
        options_(server.options()) {
    beast::error_code ec;
    const tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = peer.address().to_string();
  }
  ~Session() { server_.Unregister(this); }

  void Start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::ReadNext, shared_from_this()));
  }

  // Posted by HttpServer::Stop(): close now if waiting for the client, else after the
  // response in progress.
  void Shutdown() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      self->stopping_ = true;
      if (self->reading_) self->CloseNow();
    });
  }

 private:
  void ReadNext() {
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(options_.header_limit, UINT32_MAX)));
    parser_->body_limit(options_.body_limit);
    method_.clear();
    request_id_.clear();
    reading_ = true;
    if (stopping_) return CloseNow();
    if (first_ || buffer_.size() > 0) {
      // A new connection, or a pipelined request already (partly) buffered.
      stream_.expires_after(options_.header_timeout);
      return ReadHeader();
    }
    // Keep-alive: wait up to idle_timeout for the first byte of the next request.
    stream_.expires_after(options_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            beast::bind_front_handler(&Session::OnIdleData, shared_from_this()));
  }

  void OnIdleData(beast::error_code ec, std::size_t n) {
    if (ec) return CloseNow();  // idle timeout, client closed, or Stop()
    buffer_.commit(n);
    stream_.expires_after(options_.header_timeout);
    ReadHeader();
  }

  void ReadHeader() {
    first_ = false;
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, std::size_t) {
    if (ec) return OnReadError(ec);
    const auto& header = parser_->get();
    method_ = std::string(header.method_string());
    if (!parser_->is_done() && beast::iequals(header[bhttp::field::expect], "100-continue")) {
      continue_.emplace(bhttp::status::continue_, header.version());
      return bhttp::async_write(
          stream_, *continue_,
          beast::bind_front_handler(&Session::OnContinueWritten, shared_from_this()));
    }
    ReadBody();
  }

  void OnContinueWritten(beast::error_code ec, std::size_t) {
    continue_.reset();
    if (ec) return CloseNow();
    ReadBody();
  }

  void ReadBody() {
    // The deadline set before the header still runs: it bounds the whole request.
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::OnBody, shared_from_this()));
  }

  void OnBody(beast::error_code ec, std::size_t) {
    if (ec) return OnReadError(ec);
    reading_ = false;
    start_ = Clock::now();
    bhttp::request<bhttp::string_body> req = parser_->release();
    parser_.reset();

    HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    const std::size_t question = request.target.find('?');
    request.path = request.target.substr(0, question);
    if (question != std::string::npos) request.query = request.target.substr(question + 1);
    request.headers.reserve(static_cast<std::size_t>(std::distance(req.begin(), req.end())));
    for (const auto& field : req) {
      request.headers.emplace_back(ToLower(field.name_string()), std::string(field.value()));
    }
    request.remote_address = remote_;
    const std::string_view client_id = request.Header("x-request-id");
    request.request_id = IsValidRequestId(client_id) ? std::string(client_id) : NewRequestId();
    request_id_ = request.request_id;
    request.body = std::move(req.body());
    version_ = req.version();
    head_ = req.method() == bhttp::verb::head;
    keep_alive_ = req.keep_alive();

    // The responder posts the deferred response back to this connection's strand; it keeps
    // no reference that would hold the connection open (the response timer does that).
    const std::uint64_t generation = ++generation_;
    Responder respond([hub = server_.hub(), weak = weak_from_this(), generation](HttpResponse r) {
      std::lock_guard lock(hub->mu);
      if (!hub->open) return;
      if (std::shared_ptr<Session> self = weak.lock()) {
        net::post(self->stream_.get_executor(), [self, generation, r = std::move(r)]() mutable {
          self->OnDeferred(generation, std::move(r));
        });
      }
    });
    std::optional<HttpResponse> response = server_.Handle(request, respond);
    if (response) {
      respond.Dismiss();
      return Respond(std::move(*response));
    }
    awaiting_ = true;
    response_timer_.expires_after(options_.response_timeout);
    response_timer_.async_wait([self = shared_from_this(), generation](beast::error_code ec) {
      if (ec) return;  // cancelled: the response arrived
      self->OnDeferred(generation,
                       ErrorResponse(503, "timeout",
                                     fmt::format("the response was not ready within {} ms",
                                                 self->options_.response_timeout.count())));
    });
  }

  // A deferred response, or the timeout's 503: the first for the current request wins.
  void OnDeferred(std::uint64_t generation, HttpResponse response) {
    if (!awaiting_ || generation != generation_) return;
    awaiting_ = false;
    response_timer_.cancel();
    Respond(std::move(response));
  }

  void Respond(HttpResponse response) {
    Write(std::move(response), version_, head_, keep_alive_ && !stopping_, /*linger=*/false);
  }

  void OnReadError(beast::error_code ec) {
    reading_ = false;
    start_ = Clock::now();
    if (ec == bhttp::error::body_limit) {
      return SendError(ErrorResponse(
          413, "payload_too_large",
          fmt::format("request body exceeds the limit of {} bytes", options_.body_limit)));
    }
    if (ec == bhttp::error::header_limit) {
      return SendError(
          ErrorResponse(431, "headers_too_large",
                        fmt::format("request header block exceeds the limit of {} bytes",
                                    options_.header_limit)));
    }
    if (IsBeastHttpError(ec) && ec != bhttp::error::end_of_stream &&
        ec != bhttp::error::partial_message) {
      return SendError(ErrorResponse(400, "bad_request",
                                     fmt::format("malformed HTTP request: {}", ec.message())));
    }
    // Client closed, timeout (slow or idle client), or Stop(): nothing to answer.
    if (ec == beast::error::timeout) {
      spdlog::debug("http connection closed: request not complete in time remote={}", remote_);
    }
    CloseNow();
  }

  // Answers a request the parser rejected, then closes the connection.
  void SendError(HttpResponse response) {
    unsigned version = 11;
    bool head = false;
    if (parser_) {
      // Fields parsed before the error are in the message (best effort: a header block cut
      // short may not contain the client's X-Request-Id yet).
      const auto& header = parser_->get();
      const std::string_view client_id = header["x-request-id"];
      if (IsValidRequestId(client_id)) request_id_ = std::string(client_id);
      if (parser_->is_header_done()) {
        version = header.version();
        head = header.method() == bhttp::verb::head;
        method_ = std::string(header.method_string());
      }
    }
    if (request_id_.empty()) request_id_ = NewRequestId();
    Write(std::move(response), version, head, /*keep_alive=*/false, /*linger=*/true);
  }

  void Write(HttpResponse response, unsigned version, bool head, bool keep_alive, bool linger) {
    if (response.status < 100 || response.status > 599) {
      spdlog::error("http handler returned invalid status {} request_id={}", response.status,
                    request_id_);
      response = ErrorResponse(500, "internal", "internal error");
    }
    status_ = response.status;
    route_ = std::move(response.route);
    auto& res = response_.emplace();
    res.version(version);
    res.result(static_cast<unsigned>(response.status));
    for (auto& [name, value] : response.headers) {
      const std::string lower = ToLower(name);
      if (lower == "content-length" || lower == "transfer-encoding" || lower == "connection" ||
          lower == "content-type" || lower == "x-request-id" || !IsToken(name) ||
          !IsSafeHeaderValue(value)) {
        continue;
      }
      res.insert(name, value);
    }
    res.set("X-Request-Id", request_id_);
    const bool no_body = response.status < 200 || response.status == 204 || response.status == 304;
    if (!no_body) {
      if (IsSafeHeaderValue(response.content_type)) {
        res.set(bhttp::field::content_type, response.content_type);
      }
      res.content_length(response.body.size());
      if (!head) res.body() = std::move(response.body);
    }
    res.keep_alive(keep_alive);
    reading_ = false;
    stream_.expires_after(options_.write_timeout);
    bhttp::async_write(
        stream_, res,
        beast::bind_front_handler(&Session::OnWrite, shared_from_this(), keep_alive, linger));
  }

  void OnWrite(bool keep_alive, bool linger, beast::error_code ec, std::size_t) {
    response_.reset();
    server_.Finished(method_, route_, status_, request_id_, remote_, start_);
    if (ec) return CloseNow();
    if (keep_alive && !stopping_) return ReadNext();
    if (linger) return Linger();
    // Orderly close after a Connection: close exchange.
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    CloseNow();
  }

  void Linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    buffer_.clear();
    reading_ = true;
    if (stopping_) return CloseNow();
    linger_deadline_ = Clock::now() + kLingerMax;
    DrainSome();
  }

  void DrainSome() {
    stream_.expires_at(std::min(Clock::now() + kLingerQuiet, linger_deadline_));
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(kDrainChunk),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->CloseNow();
                              self->DrainSome();
                            });
  }

  void CloseNow() {
    reading_ = false;
    stream_.close();
  }

  beast::tcp_stream stream_;
  net::steady_timer response_timer_;  // bounds a deferred response
  beast::flat_buffer buffer_;
  ServerImpl& server_;
  const HttpServerOptions& options_;
  std::string remote_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::empty_body>> continue_;
  std::optional<bhttp::response<bhttp::string_body>> response_;
  bool first_ = true;      // no request read yet on this connection
  bool reading_ = false;   // waiting for the client (safe to close on Stop())
  bool stopping_ = false;  // Stop() asked: close after the current response
  bool awaiting_ = false;  // the handler deferred the response; it has not arrived yet
  std::uint64_t generation_ = 0;  // numbers the requests, so a late response is recognised
  unsigned version_ = 11;         // of the request being answered
  bool head_ = false;
  bool keep_alive_ = false;
  // The request being answered, for the log line and metrics.
  std::string method_;
  std::string request_id_;
  std::string route_;
  int status_ = 0;
  Clock::time_point start_;
  Clock::time_point linger_deadline_;
};

std::optional<HttpResponse> ServerImpl::Handle(const HttpRequest& request,
                                               const Responder& respond) {
  try {
    return handler_(request, respond);
  } catch (const std::exception& e) {
    spdlog::error("http handler threw: {} method={} path={} request_id={}", e.what(),
                  request.method, ToValidUtf8(request.path), request.request_id);
  } catch (...) {
    spdlog::error("http handler threw a non-std exception method={} request_id={}", request.method,
                  request.request_id);
  }
  return ErrorResponse(500, "internal", "internal error");
}

void ServerImpl::Finished(std::string_view method, std::string_view route, int status,
                          std::string_view request_id, std::string_view remote,
                          Clock::time_point start) {
  const auto duration = Clock::now() - start;
  if (metrics_ != nullptr) {
    try {
      metrics_->RecordRequest(route, method, status, duration);
    } catch (const std::exception& e) {  // bad_alloc only
      spdlog::warn("http metrics update failed: {}", e.what());
    }
  }
  spdlog::debug("http request method={} route={} status={} duration_us={} request_id={} remote={}",
                method, route, status,
                std::chrono::duration_cast<std::chrono::microseconds>(duration).count(), request_id,
                remote);
}

bool ServerImpl::Register(const std::shared_ptr<Session>& session) {
  std::lock_guard lock(sessions_mu_);
  if (stopping_) return false;
  sessions_.emplace(session.get(), session);
  return true;
}

void ServerImpl::Unregister(Session* session) {
  std::lock_guard lock(sessions_mu_);
  sessions_.erase(session);
  if (sessions_.empty()) sessions_cv_.notify_all();
}

Result<std::uint16_t> ServerImpl::Start() {
  std::lock_guard lifecycle(lifecycle_mu_);
  if (state_ != State::kNew) {
    return Err(Status::FailedPrecondition("http server was already started"));
  }
  endpoint_name_ = fmt::format("{}:{}", options_.address, options_.port);
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(options_.address, ec);
  if (ec) {
    return Err(Status::InvalidArgument(
        fmt::format("invalid listen address '{}': {}", options_.address, ec.message())));
  }
  const int threads = options_.threads > 0
                          ? options_.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  try {
    ioc_ = std::make_unique<net::io_context>(threads);
    acceptor_ = std::make_unique<tcp::acceptor>(net::make_strand(*ioc_));
    accept_retry_ = std::make_unique<net::steady_timer>(acceptor_->get_executor());
  } catch (const std::exception& e) {
    return Err(Status(StatusCode::kUnavailable,
                      fmt::format("cannot create the http server: {}", e.what())));
  }
  const tcp::endpoint endpoint(address, options_.port);
  auto fail = [&](std::string_view step) {
    const std::string message =
        fmt::format("cannot listen on {}: {} failed: {}", endpoint_name_, step, ec.message());
    acceptor_.reset();
    accept_retry_.reset();
    ioc_.reset();
    return Err(Status(StatusCode::kUnavailable, message));
  };
  if (acceptor_->open(endpoint.protocol(), ec); ec) return fail("open");
  if (acceptor_->set_option(net::socket_base::reuse_address(true), ec); ec) {
    return fail("setsockopt(SO_REUSEADDR)");
  }
  if (acceptor_->bind(endpoint, ec); ec) return fail("bind");
  if (acceptor_->listen(net::socket_base::max_listen_connections, ec); ec) return fail("listen");
  const std::uint16_t port = acceptor_->local_endpoint(ec).port();
  if (ec) return fail("getsockname");
  endpoint_name_ = fmt::format("{}:{}", options_.address, port);

  DoAccept();
  try {
    threads_.reserve(static_cast<std::size_t>(threads));
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] {
        for (;;) {
          try {
            ioc_->run();
            return;
          } catch (const std::exception& e) {
            spdlog::error("http server thread: unexpected exception: {}", e.what());
          } catch (...) {
            spdlog::error("http server thread: unexpected non-std exception");
          }
        }
      });
    }
  } catch (const std::system_error& e) {
    state_ = State::kRunning;  // so that StopLocked() joins the threads already started
    StopLocked();
    return Err(Status(StatusCode::kUnavailable,
                      fmt::format("cannot start http server threads: {}", e.what())));
  }
  state_ = State::kRunning;
  spdlog::info("http server listening on {}:{} with {} threads", options_.address, port, threads);
  return port;
}

void ServerImpl::DoAccept() {
  acceptor_->async_accept(net::make_strand(*ioc_),
                          beast::bind_front_handler(&ServerImpl::OnAccept, this));
}

void ServerImpl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (!acceptor_->is_open() || ec == net::error::operation_aborted) return;
  if (ec) {
    // E.g. out of file descriptors: back off briefly instead of spinning.
    spdlog::warn("http accept failed: {}", ec.message());
    accept_retry_->expires_after(std::chrono::milliseconds(50));
    accept_retry_->async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && acceptor_->is_open()) DoAccept();
    });
    return;
  }
  try {
    auto session = std::make_shared<Session>(std::move(socket), *this);
    if (Register(session)) session->Start();
  } catch (const std::exception& e) {  // bad_alloc
    spdlog::error("http session setup failed: {}", e.what());
  }
  DoAccept();
}

void ServerImpl::Stop() {
  std::lock_guard lifecycle(lifecycle_mu_);
  StopLocked();
}

void ServerImpl::StopLocked() {
  if (state_ != State::kRunning) {
    state_ = State::kStopped;
    return;
  }
  spdlog::info("http server on {} stopping", endpoint_name_);
  net::post(acceptor_->get_executor(), [this] {
    beast::error_code ignored;
    acceptor_->close(ignored);
    accept_retry_->cancel();
  });
  std::vector<std::shared_ptr<Session>> live;
  {
    std::unique_lock lock(sessions_mu_);
    stopping_ = true;
    for (auto& [ptr, weak] : sessions_) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
  }
  for (const auto& session : live) session->Shutdown();
  live.clear();  // a session must not outlive its last handler because of us
  {
    std::unique_lock lock(sessions_mu_);
    if (!sessions_cv_.wait_for(lock, options_.shutdown_grace,
                               [this] { return sessions_.empty(); })) {
      spdlog::warn("http server: {} connections still busy after the shutdown grace; cutting them",
                   sessions_.size());
    }
  }
  ioc_->stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  {
    // From now on a Responder called late (from another component's thread) does nothing.
    std::lock_guard lock(hub_->mu);
    hub_->open = false;
  }
  // Destroying the io_context destroys the handlers still queued, hence the remaining sessions
  // and their sockets. The acceptor and timer go first: they use the io_context.
  accept_retry_.reset();
  acceptor_.reset();
  ioc_.reset();
  state_ = State::kStopped;
  spdlog::info("http server on {} stopped", endpoint_name_);
}

class HttpServer::Impl : public ServerImpl {
 public:
  using ServerImpl::ServerImpl;
};

HttpServer::HttpServer(HttpServerOptions options, AsyncHttpHandler handler, Metrics* metrics)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), metrics)) {}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler, Metrics* metrics)
    : HttpServer(
          std::move(options),
          AsyncHttpHandler([handler = std::move(handler)](const HttpRequest& request,
                                                          const Responder&) {
            return std::optional<HttpResponse>(handler(request));
          }),
          metrics) {}

HttpServer::~HttpServer() = default;

Result<std::uint16_t> HttpServer::Start() { return impl_->Start(); }

void HttpServer::Stop() { impl_->Stop(); }

}  // namespace scaigrid::iam::http
