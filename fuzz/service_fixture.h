// The in-process server of the request targets: an IamService on a SQLite store in a fresh
// temporary directory (removed at exit), with the shipped manifests, a fixed clock, a
// bootstrapped super_admin key and a little state (a partner, a tenant, a project), behind
// the ApiHandler. Made once per fuzzing process; inputs change its state as they go (as
// requests to a live server would), so a crash found late may need the inputs before it:
// libFuzzer's -runs with the whole corpus replays them.
//
// Inputs name the super_admin key as "$KEY" (ExpandKey); a request without an Authorization
// header is sent with it. Responses are checked with CheckResponse.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "api/api_handler.h"
#include "http/http_types.h"
#include "service/service.h"

namespace scaigrid::iam::fuzz {

class ServiceFixture {
 public:
  // The process's fixture, made on first use.
  static ServiceFixture& Get();

  api::ApiHandler& handler() { return *handler_; }
  const std::string& key() const { return key_; }

  // `text` with every "$KEY" replaced by the super_admin key.
  std::string ExpandKey(std::string_view text) const;

  // Calls the handler and waits for a deferred response (aborts after 10 s without one).
  http::HttpResponse Call(const http::HttpRequest& request);

 private:
  ServiceFixture() = default;
  std::string dir_;
  std::unique_ptr<service::IamService> service_;
  std::unique_ptr<api::ApiHandler> handler_;
  std::string key_;
};

// Aborts unless `r` is a well-formed answer: a status from 100 to 599 and never 500 (an
// internal error is a bug whatever the input), a JSON body that parses, and for 4xx/5xx the
// error body {"error":{"code":…,"message":…}}.
void CheckResponse(const http::HttpResponse& r, std::string_view request);

}  // namespace scaigrid::iam::fuzz
