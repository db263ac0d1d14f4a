// Checks, effective permissions, who-can.
#include "auth/capability_token.h"
#include "scaigrid/iam/time_format.h"
#include "service/service_internal.h"

namespace scaigrid::iam::service {
namespace {

constexpr size_t kMaxBatch = 1000;

json::object ReasonToJson(const Snapshot& s, const GrantReason& g) {
  json::object o;
  o["binding"] = std::to_string(g.binding);
  o["role"] = s.role(g.role).ref;
  o["scope"] = s.ScopeName(g.scope);
  if (g.via_group.valid()) o["via_group"] = s.PrincipalName(g.via_group);
  return o;
}

json::object ExplanationToJson(const Explanation& e) {
  json::object r;
  r["code"] = std::string(DecisionCodeName(e.code));
  r["summary"] = e.summary;
  if (e.grant) {
    r["binding"] = std::to_string(e.grant->binding);
    r["role"] = e.grant->role;
    r["scope"] = e.grant->scope;
    if (!e.grant->via_group.empty()) r["via_group"] = e.grant->via_group;
    if (!e.grant->implied_from.empty()) {
      json::array chain;
      for (const auto& k : e.grant->implied_from) chain.emplace_back(k);
      r["implied_from"] = std::move(chain);
    }
    if (e.grant->catch_all) r["catch_all"] = true;
    if (e.by_override) r["by_override"] = true;
  }
  return r;
}

}  // namespace

Result<json::object> IamService::Check(const Caller& c, const json::value& body, PendingAudit* pending) {
  const json::object* obj = body.if_object();
  if (obj != nullptr && obj->contains("checks")) {
    if (c.capability) {
      return Err(Status(StatusCode::kPermissionDenied, "a capability token asks one check at a time, not a batch")
                     .WithReason("permission_denied"));
    }
    JsonArgs args(body, {"checks"});
    const json::value* list = args.Raw("checks");
    if (list == nullptr || !list->is_array()) args.Problem("field 'checks' must be a list of checks");
    else if (list->get_array().size() > kMaxBatch) args.Problem("at most " + std::to_string(kMaxBatch) + " checks per batch");
    else if (list->get_array().empty()) args.Problem("field 'checks' must not be empty");
    SCAIGRID_RETURN_IF_ERROR(args.Finish());
    json::array results;
    std::uint64_t revision = 0;
    auto st = state();  // the whole batch is answered on one snapshot
    for (const json::value& one : list->get_array()) {
      auto r = CheckOne(c, one, st, pending);
      if (!r) {  // one bad check fails the batch: nothing is half-answered
        Status s = r.error();
        return Err(Status(s.code(), "check " + std::to_string(results.size()) + ": " + s.message(), s.details())
                       .WithReason(s.reason()));
      }
      revision = std::max<std::uint64_t>(revision, (*r)["revision"].as_uint64());
      results.push_back(std::move(*r));
    }
    json::object out;
    out["results"] = std::move(results);
    out["revision"] = revision;
    return out;
  }

  return CheckOne(c, body, nullptr, pending);
}

Result<json::object> IamService::CheckOne(const Caller& c, const json::value& body,
                                          std::shared_ptr<const ServiceState> st, PendingAudit* pending) {
  JsonArgs args(body, {"subject", "token", "permission", "scope", "resource", "audit", "min_revision", "explain"});
  auto subject = args.String("subject", false, 300);
  auto token = args.String("token", false, auth::kMaxTokenBytes);  // an API key or a JWT
  auto permission = args.String("permission", true, 256);
  auto scope = args.String("scope", false, 200);
  auto min_revision = args.Int("min_revision", 0, INT64_MAX);
  auto audit_requested = args.Bool("audit");
  (void)args.Bool("explain");
  std::optional<std::string> resource_owner, resource_id;
  bool has_resource = false;
  if (const json::value* res = args.Raw("resource")) {
    JsonArgs r(*res, {"id", "owner"});
    resource_id = r.String("id", true, 300);
    resource_owner = r.String("owner", false, 300);
    if (Status s = r.Finish(); !s.ok()) {
      for (const auto& d : s.details().empty() ? std::vector<std::string>{s.message()} : s.details()) args.Problem("resource: " + d);
    }
    has_resource = true;
  }
  if (subject && token) args.Problem("give 'subject' or 'token', not both");
  // A capability token answers for its own scope: the check needs none.
  const bool token_is_capability = token && auth::LooksLikeCapabilityToken(*token);
  if (args.Raw("scope") == nullptr && c.restrict_scope.empty() && !token_is_capability) {
    args.Problem("missing field 'scope' (the credential has no scope to default to)");
  }
  SCAIGRID_RETURN_IF_ERROR(args.Finish());
  if (c.capability && (subject || token)) {
    return Err(Status(StatusCode::kPermissionDenied,
                      "a capability token may only ask about its own action: omit 'subject' and 'token'")
                   .WithReason("permission_denied"));
  }
  std::string where = scope ? *scope : c.restrict_scope;

  if (!st) st = state();
  if (min_revision && static_cast<std::uint64_t>(*min_revision) > st->snapshot->revision()) {
    st = WaitForRevision(static_cast<std::uint64_t>(*min_revision));
    if (static_cast<std::uint64_t>(*min_revision) > st->snapshot->revision()) {
      return Err(Status(StatusCode::kUnavailable,
                        "this node is at revision " + std::to_string(st->snapshot->revision()) +
                            " and did not reach min_revision " + std::to_string(*min_revision) + " in time")
                     .WithReason("revision_not_reached"));
    }
  }
  // A capability token, as the caller or in 'token': its one action on its one resource.
  std::shared_ptr<const auth::CapabilityClaims> capability = c.capability;
  std::string refused;  // why a token in 'token' does not verify
  if (token_is_capability) {
    auto verified = AuthenticateCapability(*token);
    if (verified) capability = verified->capability;
    else refused = verified.error().message();
  }
  // A token names the revision that minted it: a node behind it waits, like min_revision.
  if (capability && static_cast<std::uint64_t>(capability->revision) > st->snapshot->revision()) {
    const auto needed = static_cast<std::uint64_t>(capability->revision);
    st = WaitForRevision(needed);
    if (needed > st->snapshot->revision()) {
      return Err(Status(StatusCode::kUnavailable, "this node is at revision " + std::to_string(st->snapshot->revision()) +
                                                      " and did not reach the token's revision " +
                                                      std::to_string(needed) + " in time")
                     .WithReason("revision_not_reached"));
    }
  }
  const Snapshot& s = *st->snapshot;
  Time now = clock_.Now();
  // An audited decision's event; it must be durable before the answer when the key says
  // `audit: always` or the service waits for audited checks (fail closed).
  auto audit_decision = [&](const KeyInfo& key_info, bool allowed, std::string actor, std::string actor_type,
                            std::string credential, std::string tenant, json::object details) -> Status {
    store::AuditEvent event = NewEvent(c);
    event.module = key_info.module;
    event.action = key_info.key;
    event.decision = allowed ? "allowed" : "denied";
    event.actor_user_id = std::move(actor);  // whose permission it is
    event.actor_type = std::move(actor_type);
    if (!credential.empty()) event.credential_id = std::move(credential);
    event.tenant = std::move(tenant);
    event.resource_id = resource_id.value_or("");
    details["revision"] = s.revision();
    event.details = json::serialize(details);
    if (key_info.audit_always || options_.wait_for_audited_checks) return SubmitDurable(std::move(event), pending);
    if (auto ticket = audit_->Submit(std::move(event)); !ticket) return ticket.error();
    return Status::Ok();
  };

  if (capability || !refused.empty()) {
    // Asking through someone else's token: only about scopes the asker can see, so nobody
    // files events in (or learns answers of) a tenant it cannot see.
    if (!c.capability && capability && !CanSeeScope(*st, c, capability->scope, now)) {
      return Err(Hidden("scope", scope ? where : capability->scope));
    }
    auto key = s.FindKey(*permission);
    if (!key) {
      if (Status v = ValidateKey(*permission); !v.ok()) return Err(v);
      return Err(Status::InvalidArgument("unknown permission key " + Quote(*permission)).WithReason("unknown_permission"));
    }
    if (!scope && capability) where = capability->scope;
    if (auto ref = ScopeRef::Parse(where); !where.empty() && !ref) return Err(ref.error());
    TokenDecision d;
    if (capability) {
      d = DecideWithToken(*st, *capability, *permission, where, resource_id, now);
    } else {
      d.code = "token_invalid";
      d.summary = "capability token refused: " + refused;
    }
    json::object reason{{"code", d.code}, {"summary", d.summary}};
    const std::string who = capability ? CapabilitySubject(*capability) : std::string("capability_token");
    json::object token_json;  // what the claims do not say offline: the token's id and its issuer
    if (capability) {
      token_json["id"] = capability->id;
      token_json["issued_by"] = capability->issued_by;
    }
    const KeyInfo& key_info = s.registry().key(*key);
    // A token's own bearer (a visitor's browser) cannot ask for audit events; a module can.
    const bool audited = (audit_requested.value_or(false) && !c.capability) || key_info.audit_always;
    if (audited) {
      json::object details;
      details["scope"] = where;
      details["reason"] = reason;
      if (capability) details["capability_token"] = token_json;
      if (!c.capability) details["asked_by"] = c.principal;
      // Filed under the tenant of the token's own scope, never one the asker names: a token that
      // does not verify has no tenant, and its event goes to the platform's log.
      SCAIGRID_RETURN_IF_ERROR(audit_decision(key_info, d.allowed, who, "capability_token",
                                              capability ? capability->id : std::string(),
                                              capability ? TenantOf(s, capability->scope) : std::string(),
                                              std::move(details)));
    }
    json::object out;
    if (audited) out["audited"] = true;
    out["allowed"] = d.allowed;
    out["subject"] = who;
    out["permission"] = *permission;
    out["scope"] = where;
    out["reason"] = std::move(reason);
    if (capability) out["capability_token"] = std::move(token_json);
    out["revision"] = s.revision();
    return out;
  }

  // Whose decision: the caller's own, an end user's token, or a subject the caller asks about.
  Caller who = c;
  if (token) {
    auto end_user = Authenticate(*token);
    if (!end_user) return Err(Status(StatusCode::kInvalidArgument, "field 'token': " + end_user.error().message()).WithReason("invalid_token"));
    who = *end_user;
  } else if (subject && *subject != c.principal) {
    if (auto ref = PrincipalRef::Parse(*subject); !ref) return Err(ref.error());
    who = Caller{*subject};
  }
  if (auto ref = ScopeRef::Parse(where); !ref) return Err(ref.error());
  // A scope the caller cannot see answers like a missing one, whoever the check is about, so
  // other tenants' scopes cannot be probed and no event lands in their logs. Asking about
  // someone else (a subject) needs iam:check there.
  const bool about_other = subject && *subject != c.principal;
  if (!about_other || !Holds(s, c, "iam:check", where, now)) {
    if (!CanSeeScope(*st, c, where, now)) return Err(Hidden("scope", where));
    if (about_other) return Err(Require(s, c, "iam:check", where, now));
  }
  auto restriction = CallerRestriction(s, who);
  if (!restriction) return Err(restriction.error());
  // CheckInput holds views: the owner's string must outlive the check, so it is a named local.
  const std::string owner = resource_owner.value_or("");
  CheckInput input{who.principal, where, *permission, *restriction ? &**restriction : nullptr, has_resource, owner};
  auto request = s.Resolve(input);
  if (!request) return Err(request.error());
  Decision d = s.Check(*request, now);
  // Named as asked: a principal the snapshot does not know reads like one it knows.
  Explanation e = s.Explain(*request, d, now, who.principal);
  const KeyInfo& key_info = s.registry().key(request->key);
  bool audited = audit_requested.value_or(false) || key_info.audit_always;
  if (audited) {
    auto ref = PrincipalRef::Parse(who.principal);
    json::object details;
    details["scope"] = where;
    details["reason"] = ExplanationToJson(e);
    if (who.principal != c.principal) details["asked_by"] = c.principal;
    SCAIGRID_RETURN_IF_ERROR(audit_decision(key_info, d.allowed, who.principal,
                                            ref ? std::string(PrincipalKindName(ref->kind)) : "user",
                                            who.credential_id, TenantOf(s, where), std::move(details)));
  }
  json::object out;
  if (audited) out["audited"] = true;
  out["allowed"] = d.allowed;
  out["subject"] = who.principal;
  out["permission"] = *permission;
  out["scope"] = where;
  out["reason"] = ExplanationToJson(e);
  out["revision"] = s.revision();
  return out;
}

namespace {

Result<json::object> Effective(const Snapshot& s, const Caller& who, std::string_view principal, std::string_view scope, Time now) {
  if (auto ref = ScopeRef::Parse(scope); !ref) return Err(ref.error());
  auto sid = s.FindScope(scope);
  if (!sid) return Err(Hidden("scope", scope));
  auto restriction = CallerRestriction(s, who);
  if (!restriction) return Err(restriction.error());
  json::array items;
  if (auto p = s.FindPrincipal(principal)) {
    for (const auto& perm : s.EffectivePermissions(*p, *sid, now, *restriction ? &**restriction : nullptr)) {
      json::object o;
      o["permission"] = s.registry().key(perm.key).key;
      json::array why;
      for (const auto& g : perm.reasons) why.push_back(ReasonToJson(s, g));
      o["granted_by"] = std::move(why);
      items.push_back(std::move(o));
    }
  }
  json::object out;
  out["principal"] = std::string(principal);
  out["scope"] = std::string(scope);
  out["permissions"] = std::move(items);
  out["revision"] = s.revision();
  return out;
}

}  // namespace

Result<json::object> IamService::PrincipalPermissions(const Caller& c, std::string_view principal, std::string_view scope) {
  if (auto ref = PrincipalRef::Parse(principal); !ref) return Err(ref.error());
  if (scope.empty()) scope = c.restrict_scope;
  if (scope.empty()) return Err(Status::InvalidArgument("missing query parameter 'scope'"));
  auto st = state();
  Time now = clock_.Now();
  if (auto ref = ScopeRef::Parse(scope); !ref) return Err(ref.error());
  if (principal != c.principal) {
    if (!st->snapshot->FindScope(scope) || !Holds(*st->snapshot, c, "iam:permissions:read", scope, now)) return Err(Hidden("scope", scope));
    return Effective(*st->snapshot, Caller{std::string(principal)}, principal, scope, now);
  }
  // One's own permissions, at a scope one can see; elsewhere as if it did not exist.
  if (!CanSeeScope(*st, c, scope, now)) return Err(Hidden("scope", scope));
  return Effective(*st->snapshot, c, principal, scope, now);
}

Result<json::object> IamService::MyPermissions(const Caller& c, std::string_view scope) {
  return PrincipalPermissions(c, c.principal, scope);
}

Result<json::object> IamService::WhoCan(const Caller& c, std::string_view permission, std::string_view scope,
                                        std::string_view cursor, std::string_view limit_text) {
  if (permission.empty()) return Err(Status::InvalidArgument("missing query parameter 'permission'"));
  if (scope.empty()) scope = c.restrict_scope;
  if (scope.empty()) return Err(Status::InvalidArgument("missing query parameter 'scope'"));
  size_t limit = 100;
  if (!limit_text.empty()) {
    char* end = nullptr;
    std::string text(limit_text);
    long v = std::strtol(text.c_str(), &end, 10);
    if (end == text.c_str() || *end != '\0' || v < 1 || v > 1000) return Err(Status::InvalidArgument("query parameter 'limit' must be an integer from 1 to 1000"));
    limit = static_cast<size_t>(v);
  }
  auto st = state();
  const Snapshot& s = *st->snapshot;
  if (auto ref = ScopeRef::Parse(scope); !ref) return Err(ref.error());
  auto sid = s.FindScope(scope);
  Time now = clock_.Now();
  if (!sid || !Holds(s, c, "iam:permissions:read", scope, now)) return Err(Hidden("scope", scope));
  auto key = s.FindKey(permission);
  if (!key) {
    if (Status v = ValidateKey(permission); !v.ok()) return Err(v);
    return Err(Status::InvalidArgument("unknown permission key " + Quote(permission)).WithReason("unknown_permission"));
  }
  WhoCanPage page = s.WhoCan(*key, *sid, now, cursor, limit);
  json::array items;
  for (const auto& e : page.entries) {
    json::object o;
    o["principal"] = s.PrincipalName(e.principal);
    json::array why;
    for (const auto& g : e.reasons) why.push_back(ReasonToJson(s, g));
    o["granted_by"] = std::move(why);
    items.push_back(std::move(o));
  }
  json::object out;
  out["permission"] = std::string(permission);
  out["scope"] = std::string(scope);
  out["items"] = std::move(items);
  out["next_cursor"] = page.next_cursor.empty() ? json::value(nullptr) : json::value(page.next_cursor);
  out["revision"] = s.revision();
  return out;
}

}  // namespace scaigrid::iam::service
