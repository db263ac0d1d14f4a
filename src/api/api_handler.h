// ApiHandler: the HTTP API of SPEC §7 on top of IamService — routing, authentication,
// JSON decoding, and the mapping of results and errors to responses. Transport-agnostic:
// http::HttpServer calls Handle for every request.
//
// Requests whose audit events must be durable before the answer (audited checks, module
// events) do not block a server thread: Handle returns no response and hands it to the
// Responder when the audit batch commits (or a 503 when it cannot be acknowledged).
//
// Thread-safety: Handle may be called from any number of threads at once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/http_types.h"
#include "http/metrics.h"
#include "service/service.h"

namespace scaigrid::iam::api {

class ApiHandler {
 public:
  // `service` and `metrics` (nullable) must outlive the handler. `openapi_json` is served
  // at /openapi.json.
  ApiHandler(service::IamService& service, http::Metrics* metrics, std::string openapi_json);
  ~ApiHandler();

  // An http::AsyncHttpHandler.
  std::optional<http::HttpResponse> Handle(const http::HttpRequest& request,
                                           const http::Responder& respond) const;

  struct Route;

 private:
  service::IamService& service_;
  http::Metrics* metrics_;
  std::string openapi_json_;
  std::vector<Route> routes_;
};

}  // namespace scaigrid::iam::api
