#include "service_fixture.h"

#include <unistd.h>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>

#include "fuzz_check.h"
#include "store/sqlite/sqlite_store.h"

namespace scaigrid::iam::fuzz {
namespace {

namespace json = boost::json;

// 2026-06-01T00:00:00Z: fixed, so that a crash reproduces whatever the date.
class FixedClock final : public Clock {
 public:
  Time Now() const override { return 1780272000; }
};

std::string g_dir_to_remove;

void RemoveDir() {
  std::error_code ec;
  if (!g_dir_to_remove.empty()) std::filesystem::remove_all(g_dir_to_remove, ec);
}

}  // namespace

ServiceFixture& ServiceFixture::Get() {
  static ServiceFixture* fixture = [] {
    spdlog::set_level(spdlog::level::off);
    auto* f = new ServiceFixture;
    f->dir_ = (std::filesystem::temp_directory_path() / "scaigrid_fuzz.XXXXXX").string();
    FUZZ_CHECK(::mkdtemp(f->dir_.data()) != nullptr, f->dir_);
    g_dir_to_remove = f->dir_;
    std::atexit(RemoveDir);
    auto store = store::SqliteStore::Open(f->dir_ + "/scaigrid.db", store::SqliteStore::Sync::kNormal);
    FUZZ_CHECK(store.has_value(), store.error().ToString());
    service::ServiceOptions options;
    options.manifests_dir = SCAIGRID_SOURCE_DIR "/manifests";
    options.min_revision_wait = std::chrono::milliseconds(0);  // no input waits for a revision
    options.follow_interval = std::chrono::milliseconds(0);    // one node: nothing to follow
    static const FixedClock clock;
    auto service = service::IamService::Open(std::move(*store), std::move(options), clock);
    FUZZ_CHECK(service.has_value(), service.error().ToString());
    f->service_ = std::move(*service);
    auto key = f->service_->Bootstrap("user:admin");
    FUZZ_CHECK(key.has_value(), key.error().ToString());
    f->key_ = std::string((*key)["key"].as_string());
    f->handler_ = std::make_unique<api::ApiHandler>(*f->service_, nullptr, R"({"openapi":"3.0.3","paths":{}})");
    for (const auto& [path, body] : {std::pair{"/v1/iam/partners", R"({"id":"northwind","name":"Northwind"})"},
                                     std::pair{"/v1/iam/tenants", R"({"id":"acme","name":"Acme","partner":"northwind"})"},
                                     std::pair{"/v1/iam/projects", R"({"id":"web","tenant":"acme"})"}}) {
      http::HttpRequest r{.method = "POST", .target = path, .path = path,
                          .headers = {{"authorization", "Bearer " + f->key_}, {"content-type", "application/json"}},
                          .body = body, .remote_address = "127.0.0.1", .request_id = "fuzz-setup"};
      const http::HttpResponse response = f->Call(r);
      FUZZ_CHECK(response.status == 201, std::string(path) + ": " + response.body);
    }
    return f;
  }();
  return *fixture;
}

std::string ServiceFixture::ExpandKey(std::string_view text) const {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    if (text.substr(i, 4) == "$KEY") {
      out += key_;
      i += 4;
    } else {
      out += text[i++];
    }
  }
  return out;
}

http::HttpResponse ServiceFixture::Call(const http::HttpRequest& request) {
  auto promise = std::make_shared<std::promise<http::HttpResponse>>();
  std::future<http::HttpResponse> future = promise->get_future();
  http::Responder respond([promise](http::HttpResponse r) { promise->set_value(std::move(r)); });
  std::optional<http::HttpResponse> now = handler_->Handle(request, respond);
  if (now) {
    respond.Dismiss();
    return std::move(*now);
  }
  FUZZ_CHECK(future.wait_for(std::chrono::seconds(10)) == std::future_status::ready,
             "a deferred response never came: " + request.method + " " + request.target);
  return future.get();
}

void CheckResponse(const http::HttpResponse& r, std::string_view request) {
  const std::string what = std::to_string(r.status) + " " + r.body.substr(0, 300) + " for " +
                           std::string(request.substr(0, 300));
  FUZZ_CHECK(r.status >= 100 && r.status <= 599, what);
  FUZZ_CHECK(r.status != 500, what);
  if (r.content_type != "application/json" || r.body.empty()) return;
  boost::system::error_code ec;
  const json::value body = json::parse(r.body, ec);
  FUZZ_CHECK(!ec, what);
  if (r.status < 400) return;
  const json::object* error = body.is_object() && body.as_object().contains("error")
                                  ? body.as_object().at("error").if_object()
                                  : nullptr;
  FUZZ_CHECK(error != nullptr && error->contains("code") && error->at("code").is_string() &&
                 error->contains("message") && error->at("message").is_string(),
             what);
}

}  // namespace scaigrid::iam::fuzz
