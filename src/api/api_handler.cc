#include "api/api_handler.h"

#include <boost/json.hpp>

#include "api/json_body.h"
#include "http/errors.h"
#include "http/query.h"

namespace scaigrid::iam::api {
namespace json = boost::json;
using http::HttpRequest;
using http::HttpResponse;
using service::Caller;

namespace {

struct Params {
  std::vector<std::string> path;  // decoded values of the {…} segments, in order
  http::QueryParams query;
  // Where a durable-audit action records the events the answer must wait for.
  service::PendingAudit* pending = nullptr;
  std::string Query(std::string_view key) const {
    const std::string* v = http::FindParam(query, key);
    return v ? *v : std::string();
  }
};

using Action = std::function<Result<json::object>(const Caller&, const Params&, const HttpRequest&)>;

Result<json::value> ParseBody(const HttpRequest& req) { return ParseJsonBody(req.body); }

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

HttpResponse JsonResponse(int status, const json::object& body) {
  HttpResponse r;
  r.status = status;
  r.body = json::serialize(body);
  return r;
}

}  // namespace

struct ApiHandler::Route {
  std::string method;
  std::string pattern;  // "/v1/iam/tenants/{id}"
  std::vector<std::string> segments;
  bool authenticated = true;
  int success_status = 200;
  Action action;
};

ApiHandler::~ApiHandler() = default;

ApiHandler::ApiHandler(service::IamService& svc, http::Metrics* metrics, std::string openapi_json)
    : service_(svc), metrics_(metrics), openapi_json_(std::move(openapi_json)) {
  auto add = [&](std::string method, std::string pattern, int status, Action action) {
    Route r{std::move(method), pattern, {}, true, status, std::move(action)};
    for (auto seg : Split(pattern)) r.segments.emplace_back(seg);
    routes_.push_back(std::move(r));
  };
  using K = ScopeKind;
  for (auto [plural, kind] : {std::pair{"partners", K::kPartner}, std::pair{"tenants", K::kTenant},
                              std::pair{"projects", K::kProject}}) {
    std::string base = std::string("/v1/iam/") + plural;
    add("POST", base, 201, [this, kind](const Caller& c, const Params&, const HttpRequest& req) -> Result<json::object> {
      auto body = ParseBody(req);
      if (!body) return Err(body.error());
      return service_.CreateScope(c, kind, *body);
    });
    add("GET", base, 200, [this, kind](const Caller& c, const Params&, const HttpRequest&) { return service_.ListScopes(c, kind); });
    add("GET", base + "/{id}", 200, [this, kind](const Caller& c, const Params& p, const HttpRequest&) { return service_.GetScope(c, kind, p.path[0]); });
    add("DELETE", base + "/{id}", 200, [this, kind](const Caller& c, const Params& p, const HttpRequest&) { return service_.DeleteScope(c, kind, p.path[0]); });
  }
  add("GET", "/v1/iam/modules", 200, [this](const Caller& c, const Params&, const HttpRequest&) { return service_.ListModules(c); });
  add("GET", "/v1/iam/modules/{module}", 200, [this](const Caller& c, const Params& p, const HttpRequest&) { return service_.GetModule(c, p.path[0]); });
  add("PUT", "/v1/iam/modules/{module}", 200, [this](const Caller& c, const Params& p, const HttpRequest& req) {
    // YAML or JSON (JSON is YAML): the manifest parser reads both.
    return service_.PutModule(c, p.path[0], req.body);
  });
  add("GET", "/v1/iam/roles", 200, [this](const Caller& c, const Params& p, const HttpRequest&) { return service_.ListRoles(c, p.Query("scope")); });
  add("POST", "/v1/iam/custom-roles", 201, [this](const Caller& c, const Params&, const HttpRequest& req) -> Result<json::object> {
    auto body = ParseBody(req);
    if (!body) return Err(body.error());
    return service_.CreateCustomRole(c, *body);
  });
  add("GET", "/v1/iam/custom-roles/{id}", 200, [this](const Caller& c, const Params& p, const HttpRequest&) { return service_.GetCustomRole(c, p.path[0]); });
  add("PATCH", "/v1/iam/custom-roles/{id}", 200, [this](const Caller& c, const Params& p, const HttpRequest& req) -> Result<json::object> {
    auto body = ParseBody(req);
    if (!body) return Err(body.error());
    return service_.PatchCustomRole(c, p.path[0], *body, req.Header("if-match"));
  });
  add("DELETE", "/v1/iam/custom-roles/{id}", 200, [this](const Caller& c, const Params& p, const HttpRequest&) { return service_.DeleteCustomRole(c, p.path[0]); });
  add("POST", "/v1/iam/groups", 201, [this](const Caller& c, const Params&, const HttpRequest& req) -> Result<json::object> {
    auto body = ParseBody(req);
    if (!body) return Err(body.error());
    return service_.CreateGroup(c, *body);
  });
  add("PUT", "/v1/iam/groups/{id}/members/{principal}", 200, [this](const Caller& c, const Params& p, const HttpRequest&) { return service_.AddMember(c, p.path[0], p.path[1]); });
  add("DELETE", "/v1/iam/groups/{id}/members/{principal}", 200, [this](const Caller& c, const Params& p, const HttpRequest&) { return service_.RemoveMember(c, p.path[0], p.path[1]); });
  for (auto [plural, kind] : {std::pair{"groups", PrincipalKind::kGroup}, std::pair{"service-accounts", PrincipalKind::kServiceAccount}}) {
    std::string base = std::string("/v1/iam/") + plural;
    add("GET", base, 200, [this, kind](const Caller& c, const Params& p, const HttpRequest&) { return service_.ListOwned(c, kind, p.Query("tenant")); });
    add("GET", base + "/{id}", 200, [this, kind](const Caller& c, const Params& p, const HttpRequest&) { return service_.GetOwned(c, kind, p.path[0]); });
    add("DELETE", base + "/{id}", 200, [this, kind](const Caller& c, const Params& p, const HttpRequest&) { return service_.DeleteOwned(c, kind, p.path[0]); });
  }
  add("GET", "/v1/iam/api-keys", 200, [this](const Caller& c, const Params& p, const HttpRequest&) { return service_.ListApiKeys(c, p.Query("owner")); });
  add("POST", "/v1/iam/service-accounts", 201, [this](const Caller& c, const Params&, const HttpRequest& req) -> Result<json::object> {
    auto body = ParseBody(req);
    if (!body) return Err(body.error());
    return service_.CreateServiceAccount(c, *body);
  });
  add("POST", "/v1/iam/bindings", 201, [this](const Caller& c, const Params&, const HttpRequest& req) -> Result<json::object> {
    auto body = ParseBody(req);
    if (!body) return Err(body.error());
    return service_.CreateBinding(c, *body);
  });
  add("GET", "/v1/iam/bindings", 200, [this](const Caller& c, const Params& p, const HttpRequest&) { return service_.ListBindings(c, p.Query("scope"), p.Query("subject")); });
  add("DELETE", "/v1/iam/bindings/{id}", 200, [this](const Caller& c, const Params& p, const HttpRequest&) { return service_.DeleteBinding(c, p.path[0]); });
  add("POST", "/v1/iam/api-keys", 201, [this](const Caller& c, const Params&, const HttpRequest& req) -> Result<json::object> {
    auto body = ParseBody(req);
    if (!body) return Err(body.error());
    return service_.CreateApiKey(c, *body);
  });
  add("DELETE", "/v1/iam/api-keys/{id}", 200, [this](const Caller& c, const Params& p, const HttpRequest&) { return service_.RevokeApiKey(c, p.path[0]); });
  add("POST", "/v1/iam/check", 200, [this](const Caller& c, const Params& p, const HttpRequest& req) -> Result<json::object> {
    auto body = ParseBody(req);
    if (!body) return Err(body.error());
    auto r = service_.Check(c, *body, p.pending);
    if (r && metrics_ != nullptr) {
      auto count = [&](const json::object& one) {
        metrics_->AddCounter(one.at("allowed").as_bool() ? "scaigrid_checks_total{decision=\"allowed\"}" : "scaigrid_checks_total{decision=\"denied\"}",
                             "Permission checks answered, by decision.", 1);
      };
      if (auto* results = r->if_contains("results")) {
        for (const auto& one : results->as_array()) count(one.as_object());
      } else {
        count(*r);
      }
    }
    return r;
  });
  add("POST", "/v1/iam/capability-tokens", 201, [this](const Caller& c, const Params&, const HttpRequest& req) -> Result<json::object> {
    auto body = ParseBody(req);
    if (!body) return Err(body.error());
    return service_.MintCapabilityToken(c, *body);
  });
  add("GET", "/v1/iam/capability-tokens", 200, [this](const Caller& c, const Params& p, const HttpRequest&) {
    return service_.ListCapabilityTokens(c, p.Query("scope"), p.Query("resource"), p.Query("cursor"), p.Query("limit"));
  });
  add("GET", "/v1/iam/capability-tokens/{id}", 200, [this](const Caller& c, const Params& p, const HttpRequest&) { return service_.GetCapabilityToken(c, p.path[0]); });
  add("DELETE", "/v1/iam/capability-tokens/{id}", 200, [this](const Caller& c, const Params& p, const HttpRequest&) { return service_.RevokeCapabilityToken(c, p.path[0]); });
  add("POST", "/v1/iam/capability-tokens:revoke-resource", 200, [this](const Caller& c, const Params&, const HttpRequest& req) -> Result<json::object> {
    auto body = ParseBody(req);
    if (!body) return Err(body.error());
    return service_.RevokeCapabilityResource(c, *body);
  });
  add("POST", "/v1/iam/capability-tokens/keys:rotate", 200, [this](const Caller& c, const Params&, const HttpRequest&) { return service_.RotateSigningKey(c); });
  add("GET", "/v1/iam/principals/{principal}/permissions", 200, [this](const Caller& c, const Params& p, const HttpRequest&) { return service_.PrincipalPermissions(c, p.path[0], p.Query("scope")); });
  add("GET", "/v1/iam/who-can", 200, [this](const Caller& c, const Params& p, const HttpRequest&) {
    return service_.WhoCan(c, p.Query("permission"), p.Query("scope"), p.Query("cursor"), p.Query("limit"));
  });
  add("POST", "/v1/audit/events", 201, [this](const Caller& c, const Params& p, const HttpRequest& req) -> Result<json::object> {
    auto body = ParseBody(req);
    if (!body) return Err(body.error());
    return service_.AppendAuditEvent(c, *body, p.pending);
  });
  add("GET", "/v1/audit/events", 200, [this](const Caller& c, const Params& p, const HttpRequest&) { return service_.QueryAuditEvents(c, p.query); });
  add("GET", "/v1/iam/me/permissions", 200, [this](const Caller& c, const Params& p, const HttpRequest&) { return service_.MyPermissions(c, p.Query("scope")); });
}

std::optional<HttpResponse> ApiHandler::Handle(const HttpRequest& req, const http::Responder& responder) const {
  // Operations endpoints: no credential.
  if (req.method == "GET" && req.path == "/healthz") {
    HttpResponse r = JsonResponse(200, json::object{{"status", "ok"}});
    r.route = "/healthz";
    return r;
  }
  if (req.method == "GET" && req.path == "/readyz") {
    // Not ready while the store is unreachable: a load balancer sends changes elsewhere, while
    // checks here still answer from the last applied state (its revision is in the body).
    const Status health = service_.Health();
    HttpResponse r = JsonResponse(health.ok() ? 200 : 503,
                                  health.ok() ? json::object{{"status", "ready"}, {"revision", service_.revision()}}
                                              : json::object{{"status", "unavailable"},
                                                             {"reason", health.message()},
                                                             {"revision", service_.revision()}});
    r.route = "/readyz";
    return r;
  }
  if (req.method == "GET" && req.path == "/metrics") {
    HttpResponse r;
    if (metrics_ != nullptr) {
      metrics_->SetGauge("scaigrid_revision", "Revision of the policy state this node answers from.", static_cast<double>(service_.revision()));
      const audit::AuditWriter::Counters a = service_.audit_counters();
      metrics_->SetCounter("scaigrid_audit_events_committed_total", "Audit events durable in the store.", static_cast<double>(a.committed));
      metrics_->SetCounter("scaigrid_audit_batches_total", "Audit batches committed (one store transaction each).", static_cast<double>(a.batches));
      metrics_->SetCounter("scaigrid_audit_failed_batches_total", "Audit batch commits that failed (each retry counts).", static_cast<double>(a.failed_batches));
      metrics_->SetCounter("scaigrid_audit_rejected_total", "Audit events refused: queue full past the bound (503) or writer stopped.", static_cast<double>(a.rejected));
      metrics_->SetGauge("scaigrid_audit_queue_depth", "Audit events accepted and not yet committed.", static_cast<double>(a.queue_depth));
      r.body = metrics_->RenderPrometheus();
    }
    r.content_type = "text/plain; version=0.0.4";
    r.route = "/metrics";
    return r;
  }
  if (req.method == "GET" && req.path == "/v1/iam/capability-tokens/keys") {
    // Public keys, for modules that verify capability tokens offline: no credential.
    HttpResponse r = JsonResponse(200, service_.CapabilityKeys());
    r.headers.push_back({"Cache-Control", "max-age=300"});
    r.route = "/v1/iam/capability-tokens/keys";
    return r;
  }
  if (req.method == "GET" && req.path == "/openapi.json") {
    HttpResponse r;
    r.body = openapi_json_;
    r.route = "/openapi.json";
    return r;
  }

  std::vector<std::string_view> segments = Split(req.path);
  const Route* match = nullptr;
  bool path_matched = false;
  std::string allowed;  // methods of the routes whose path matched
  Params params;
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::vector<std::string> values;
    bool ok = true;
    for (size_t i = 0; i < segments.size() && ok; ++i) {
      const std::string& want = route.segments[i];
      if (want.size() > 2 && want.front() == '{') {
        auto decoded = http::PercentDecodeSegment(segments[i]);
        if (!decoded || decoded->empty()) ok = false;
        else values.push_back(std::move(*decoded));
      } else {
        ok = segments[i] == want;
      }
    }
    if (!ok) continue;
    path_matched = true;
    if (route.method != req.method) {
      allowed += (allowed.empty() ? "" : ", ") + route.method;
      continue;
    }
    match = &route;
    params.path = std::move(values);
    break;
  }
  if (match == nullptr) {
    if (!path_matched) return http::ErrorResponse(404, "not_found", "no such endpoint");
    HttpResponse r = http::ErrorResponse(405, "method_not_allowed",
                                         "method " + req.method.substr(0, 16) + " is not allowed here; allowed: " + allowed);
    r.headers.push_back({"Allow", allowed});
    return r;
  }
  auto respond = [&](HttpResponse r) {
    r.route = match->pattern;
    return r;
  };
  auto query = http::ParseQuery(req.query);
  if (!query) return respond(http::StatusResponse(query.error()));
  params.query = std::move(*query);

  std::string_view auth = req.Header("authorization");
  std::string_view bearer;
  if (auth.size() > 7 && (auth.substr(0, 7) == "Bearer " || auth.substr(0, 7) == "bearer ")) bearer = auth.substr(7);
  auto caller = service_.Authenticate(bearer);
  if (!caller) {
    HttpResponse r = http::StatusResponse(caller.error());
    r.headers.push_back({"WWW-Authenticate", "Bearer"});
    return respond(std::move(r));
  }
  if (caller->capability && !(match->method == "POST" && match->pattern == "/v1/iam/check")) {
    return respond(http::StatusResponse(
        Status(StatusCode::kPermissionDenied,
               "a capability token is accepted only by POST /v1/iam/check, for its one action on its one resource")
            .WithReason("permission_denied")));
  }
  caller->request_id = req.request_id;
  caller->source_ip = req.remote_address;
  service::PendingAudit pending;
  params.pending = &pending;
  auto result = match->action(*caller, params, req);
  if (!result) return respond(http::StatusResponse(result.error()));
  HttpResponse r = JsonResponse(match->success_status, *result);
  if (auto* etag = result->if_contains("etag"); etag && etag->is_string()) r.headers.push_back({"ETag", std::string(etag->get_string())});
  if (!pending.last) return respond(std::move(r));
  // Answer once the events are durable. The callback may run on the audit writer's thread,
  // possibly while the server shuts down: it holds only its own copies, never `this`.
  r.route = match->pattern;
  service_.WhenAuditDurable(pending, [responder, r = std::move(r)](Status durable) mutable {
    if (durable.ok()) return responder(std::move(r));
    HttpResponse failed = http::StatusResponse(durable);
    failed.route = std::move(r.route);
    responder(std::move(failed));
  });
  return std::nullopt;
}

}  // namespace scaigrid::iam::api
