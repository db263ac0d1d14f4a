// The audit log: events for changes, module events, the query API.
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <cctype>
#include <cmath>
#include <set>

#include "auth/api_key.h"
#include "scaigrid/iam/time_format.h"
#include "service/service_internal.h"
#include "store/change_codec.h"

namespace scaigrid::iam::service {
namespace {

constexpr size_t kMaxDetailsBytes = 16 * 1024;

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ActorType(std::string_view principal) {
  auto ref = PrincipalRef::Parse(principal);
  if (!ref) return "system";
  return std::string(PrincipalKindName(ref->kind));
}

// What one op is about: its action name, the object's id, and the scope it lives at.
struct OpFacts {
  std::string action, resource, scope;
};

OpFacts FactsOf(const store::Op& op) {
  return std::visit(
      [](const auto& o) -> OpFacts {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, store::PutModule>) return {"iam.module.register", o.row.module, "platform"};
        else if constexpr (std::is_same_v<T, store::PutScope>) return {"iam.scope.create", o.row.scope, o.row.scope};
        else if constexpr (std::is_same_v<T, store::DeleteScope>) return {"iam.scope.delete", o.scope, o.scope};
        else if constexpr (std::is_same_v<T, store::PutPrincipal>) return {"iam.principal.create", o.row.principal, o.row.tenant};
        else if constexpr (std::is_same_v<T, store::DeletePrincipal>) return {"iam.principal.delete", o.principal, ""};
        else if constexpr (std::is_same_v<T, store::AddMember>) return {"iam.member.add", o.row.group + " " + o.row.member, ""};
        else if constexpr (std::is_same_v<T, store::RemoveMember>) return {"iam.member.remove", o.row.group + " " + o.row.member, ""};
        else if constexpr (std::is_same_v<T, store::PutCustomRole>) return {"iam.custom_role.put", o.row.id, o.row.scope};
        else if constexpr (std::is_same_v<T, store::DeleteCustomRole>) return {"iam.custom_role.delete", o.id, ""};
        else if constexpr (std::is_same_v<T, store::PutBinding>) return {"iam.binding.create", std::to_string(o.row.id), o.row.scope};
        else if constexpr (std::is_same_v<T, store::DeleteBinding>) return {"iam.binding.delete", std::to_string(o.id), ""};
        else if constexpr (std::is_same_v<T, store::PutApiKey>) return {"iam.api_key.create", o.row.id, o.row.scope};
        else if constexpr (std::is_same_v<T, store::RevokeApiKey>) return {"iam.api_key.revoke", o.id, ""};
        else if constexpr (std::is_same_v<T, store::PutSigningKey>) {
          return {o.row.retired_at == 0 ? "iam.signing_key.create" : "iam.signing_key.retire", o.row.kid, "platform"};
        } else if constexpr (std::is_same_v<T, store::PutCapabilityToken>) return {"iam.capability_token.mint", o.row.id, o.row.scope};
        else if constexpr (std::is_same_v<T, store::RevokeCapabilityToken>) return {"iam.capability_token.revoke", o.id, ""};
        else {
          static_assert(std::is_same_v<T, store::PutResourceRevocation>, "every op needs its audit action");
          return {"iam.capability_token.revoke_resource", o.row.resource, o.row.scope};
        }
      },
      op);
}

// The op as JSON (its row), without secrets' hashes or secret keys.
json::value OpJson(const store::Op& op) {
  store::Change one;
  one.ops.push_back(op);
  json::value v = json::parse(store::EncodeChange(one));
  json::object o = v.as_object()["ops"].as_array()[0].as_object();
  o.erase("secret_hash");
  o.erase("secret_key");  // a signing key's secret half never enters the log
  return o;
}

// The row an op replaces or removes, as it was, or null.
json::value BeforeOf(const Directory& dir, const store::Op& op) {
  auto row_json = [](auto row) -> json::value {
    store::Change one;
    if constexpr (std::is_same_v<decltype(row), store::CustomRoleRow>) one.ops.push_back(store::PutCustomRole{row});
    else if constexpr (std::is_same_v<decltype(row), store::BindingRow>) one.ops.push_back(store::PutBinding{row});
    else if constexpr (std::is_same_v<decltype(row), store::ScopeRow>) one.ops.push_back(store::PutScope{row});
    else if constexpr (std::is_same_v<decltype(row), store::PrincipalRow>) one.ops.push_back(store::PutPrincipal{row});
    else if constexpr (std::is_same_v<decltype(row), store::CapabilityTokenRow>) one.ops.push_back(store::PutCapabilityToken{row});
    else if constexpr (std::is_same_v<decltype(row), store::ModuleRow>) {
      row.source.clear();  // the manifest text itself is in the after
      one.ops.push_back(store::PutModule{row});
    } else {
      row.secret_hash.clear();
      one.ops.push_back(store::PutApiKey{row});
    }
    json::object o = json::parse(store::EncodeChange(one)).as_object()["ops"].as_array()[0].as_object();
    o.erase("op");
    o.erase("secret_hash");
    return o;
  };
  return std::visit(
      [&](const auto& o) -> json::value {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, store::PutModule>) {
          if (auto* r = dir.modules.Find(o.row.module)) return row_json(*r);
        } else if constexpr (std::is_same_v<T, store::DeleteScope>) {
          if (auto* r = dir.scopes.Find(o.scope)) return row_json(*r);
        } else if constexpr (std::is_same_v<T, store::DeletePrincipal>) {
          if (auto* r = dir.principals.Find(o.principal)) return row_json(*r);
        } else if constexpr (std::is_same_v<T, store::PutCustomRole>) {
          if (auto* r = dir.roles.Find(o.row.id)) return row_json(*r);
        } else if constexpr (std::is_same_v<T, store::DeleteCustomRole>) {
          if (auto* r = dir.roles.Find(o.id)) return row_json(*r);
        } else if constexpr (std::is_same_v<T, store::DeleteBinding>) {
          if (auto* r = dir.bindings.Find(std::to_string(o.id))) return row_json(*r);
        } else if constexpr (std::is_same_v<T, store::RevokeApiKey>) {
          if (auto* r = dir.api_keys.Find(o.id)) return row_json(*r);
        } else if constexpr (std::is_same_v<T, store::RevokeCapabilityToken>) {
          if (auto* r = dir.capability_tokens.Find(o.id)) return row_json(*r);
        }
        return nullptr;
      },
      op);
}

}  // namespace

std::string TenantOf(const Snapshot& s, std::string_view scope) {
  auto id = s.FindScope(scope);
  if (!id) {
    auto ref = ScopeRef::Parse(scope);
    return ref && ref->kind == ScopeKind::kTenant ? std::string(scope) : std::string();
  }
  for (ScopeId x = *id; x.valid(); x = s.ScopeParent(x))
    if (s.ScopeKindOf(x) == ScopeKind::kTenant) return s.ScopeName(x);
  return "";
}

store::AuditEvent NewEvent(const Caller& c) {
  store::AuditEvent e;
  e.time_us = NowMicros();
  e.actor_user_id = c.principal;
  e.actor_type = ActorType(c.principal);
  e.credential_id = c.credential_id;
  e.request_id = c.request_id;
  e.source_ip = c.source_ip;
  return e;
}

namespace {

// The note on a change's events written at start from the change log (ReconcileChangeEvents).
constexpr const char* kRecoveredNote =
    "written at start from the change log: the server stopped after committing this change and "
    "before logging it; the state before it is not known";

// The audit event of one op of an applied change. `before` is the state the change was made
// on, or null when it is not known (an event recovered from the change log at start).
store::AuditEvent ChangeEvent(const Caller& c, const store::Op& op, const ServiceState* before,
                              const ServiceState& after, std::uint64_t revision) {
  OpFacts f = FactsOf(op);
  store::AuditEvent e = NewEvent(c);
  e.module = "iam";
  e.action = f.action;
  e.resource_id = f.resource;
  // Where a deleted object lived: the snapshot before the change still knows.
  std::string scope = f.scope;
  // Where the object lives: the state before the change knows; for an event recovered at start
  // (before unknown), the state after it still holds what was changed rather than deleted.
  for (const ServiceState* st : {before, &after}) {
    if (!scope.empty() || st == nullptr) continue;
    json::value b = BeforeOf(st->directory, op);
    if (auto* o = b.if_object()) {
      for (const char* k : {"scope", "tenant"})
        if (auto* v = o->if_contains(k); v && v->is_string() && !v->get_string().empty()) scope = std::string(v->get_string());
    }
  }
  if (scope.empty()) {
    const store::MemberRow* m = nullptr;
    if (const auto* add = std::get_if<store::AddMember>(&op)) m = &add->row;
    if (const auto* remove = std::get_if<store::RemoveMember>(&op)) m = &remove->row;
    for (const ServiceState* st : {before, &after}) {
      if (m != nullptr && st != nullptr && scope.empty()) {
        if (const auto* group = st->directory.principals.Find(m->group)) scope = group->tenant;
      }
    }
  }
  if (!scope.empty()) {
    e.tenant = TenantOf(*after.snapshot, scope);
    if (e.tenant.empty() && before != nullptr) e.tenant = TenantOf(*before->snapshot, scope);
  }
  json::object details;
  details["revision"] = revision;
  if (before != nullptr) {
    details["before"] = BeforeOf(before->directory, op);
  } else {
    details["recovered"] = kRecoveredNote;
  }
  json::value after_row = OpJson(op);
  if (std::holds_alternative<store::DeleteScope>(op) || std::holds_alternative<store::DeletePrincipal>(op) ||
      std::holds_alternative<store::DeleteCustomRole>(op) || std::holds_alternative<store::DeleteBinding>(op) ||
      std::holds_alternative<store::RemoveMember>(op)) {
    details["after"] = nullptr;
    details["op"] = after_row;
  } else {
    details["after"] = after_row;
  }
  e.details = json::serialize(details);
  return e;
}

}  // namespace

Status IamService::AuditChange(const Caller& c, const ServiceState& before, const ServiceState& after,
                               const store::Change& change, std::uint64_t revision) {
  Result<audit::AuditWriter::Ticket> last;
  for (const store::Op& op : change.ops) {
    last = audit_->Submit(ChangeEvent(c, op, &before, after, revision));
    if (!last) return last.error();
  }
  if (last) return audit_->Wait(*last, options_.audit_wait);
  return Status::Ok();
}

Status IamService::ReconcileChangeEvents() {
  // Which changes have their events: change events are module "iam", without a decision, with
  // an "iam." action and the revision in their details. With several nodes they are not
  // appended in revision order (node A commits 10, node B commits and logs 11, then A logs
  // 10), so the revisions seen are collected, newest first, until they are a reorder window
  // below the newest; every change of the log above that floor that was not seen is logged.
  // Only the service writes module "iam" events now; a log from before that rule may hold
  // module events under "iam" too, which are skipped.
  constexpr std::uint64_t kReorderWindow = 4096;
  std::set<std::uint64_t> seen;
  std::uint64_t top = 0;
  bool below_window = false;
  store::AuditQuery query{.module = "iam", .decision = "", .descending = true, .limit = 1000};
  while (!below_window) {
    Result<store::AuditPage> page = store_->QueryAudit(query);
    if (!page) return page.error();
    for (const store::AuditEvent& e : page->events) {
      boost::system::error_code ec;
      json::value d = json::parse(e.details, ec);
      const json::value* rev = ec || !d.is_object() ? nullptr : d.as_object().if_contains("revision");
      if (!e.action.starts_with("iam.") || rev == nullptr || !(rev->is_uint64() || rev->is_int64())) continue;
      const std::uint64_t r = rev->to_number<std::uint64_t>();
      top = std::max(top, r);
      if (top > kReorderWindow && r <= top - kReorderWindow) {
        below_window = true;
        break;
      }
      seen.insert(r);
    }
    if (below_window || !page->more) break;
    query.after_seq = page->events.back().seq;
  }
  // Revisions at or below the floor are taken as logged: the log reached below the window.
  std::uint64_t audited = below_window ? top - kReorderWindow : 0;
  auto st = state();
  std::optional<audit::AuditWriter::Ticket> wait_for;
  for (;;) {
    auto changes = store_->ChangesSince(audited, 1000);
    if (!changes) return changes.error();
    if (changes->empty()) break;
    for (const auto& [revision, change] : *changes) {
      audited = revision;
      if (seen.contains(revision)) continue;
      Caller who{change.actor};
      who.request_id = change.request_id;
      // The first start's module registration is logged here, normally: its before is known
      // (nothing was registered). Anything else here was committed and never logged.
      const bool first_start = revision == 1 && change.request_id == "first-start";
      ServiceState empty;
      empty.snapshot = st->snapshot;
      for (const store::Op& op : change.ops) {
        store::AuditEvent e = ChangeEvent(who, op, first_start ? &empty : nullptr, *st, revision);
        e.time_us = change.at * 1'000'000;
        Result<audit::AuditWriter::Ticket> ticket = audit_->Submit(std::move(e));
        if (!ticket) return ticket.error();
        wait_for = *ticket;
      }
      if (!first_start) spdlog::warn("audit: change at revision {} had no audit events; logged them from the change log", revision);
    }
  }
  if (wait_for) return audit_->Wait(*wait_for, options_.audit_wait);
  return Status::Ok();
}

Status IamService::SubmitDurable(store::AuditEvent event, PendingAudit* pending) {
  if (pending == nullptr) return audit_->SubmitAndWait(std::move(event), options_.audit_wait);
  Result<audit::AuditWriter::Ticket> ticket = audit_->Submit(std::move(event));
  if (!ticket) return std::move(ticket).error();
  pending->Add(*ticket);
  return Status::Ok();
}

void IamService::WhenAuditDurable(const PendingAudit& pending, audit::AuditWriter::Done done) const {
  if (!pending.last) return done(Status::Ok());
  audit_->WhenSettled(*pending.last, std::move(done));
}

Result<json::object> IamService::AppendAuditEvent(const Caller& c, const json::value& body, PendingAudit* pending) {
  JsonArgs args(body, {"module", "action", "resource_id", "tenant", "decision", "actor_user_id", "details"});
  auto module = args.String("module", true, 64);
  auto action = args.String("action", true, 200);
  auto resource = args.String("resource_id", false, 300);
  auto tenant = args.String("tenant", false, 140);
  auto decision = args.String("decision", false, 16);
  auto actor = args.String("actor_user_id", false, 300);
  const json::value* details = args.Raw("details");
  auto st = state();
  if (module && *module == "iam") {
    args.Problem("field 'module': events of module 'iam' are written by the service itself; report under your own module");
  } else if (module && st->snapshot->registry().FindModule(*module) == nullptr) {
    args.Problem("field 'module': unknown module '" + module->substr(0, 64) + "'");
  }
  if (action && action->empty()) args.Problem("field 'action' must not be empty");
  if (decision && *decision != "allowed" && *decision != "denied") args.Problem("field 'decision' must be allowed or denied");
  if (actor) {
    if (auto ref = PrincipalRef::Parse(*actor); !ref) args.Problem("field 'actor_user_id': " + ref.error().message());
  }
  std::string details_text = "{}";
  if (details != nullptr) {
    if (!details->is_object()) args.Problem("field 'details' must be a JSON object");
    else if ((details_text = json::serialize(*details)).size() > kMaxDetailsBytes) {
      args.Problem("field 'details' is larger than " + std::to_string(kMaxDetailsBytes) + " bytes");
    }
  }
  std::string tenant_scope = tenant ? "tenant:" + *tenant : (c.restrict_scope.empty() ? "" : TenantOf(*st->snapshot, c.restrict_scope));
  if (tenant && !IsValidId(*tenant)) args.Problem("field 'tenant' must be a tenant id");
  SCAIGRID_RETURN_IF_ERROR(args.Finish());
  std::string gate = tenant_scope.empty() ? "platform" : tenant_scope;
  Time now = clock_.Now();
  if (!st->snapshot->FindScope(gate) || (!tenant_scope.empty() && !Holds(*st->snapshot, c, "iam:scopes:read", gate, now) &&
                                         !Holds(*st->snapshot, c, "iam:audit:write", gate, now))) {
    return Err(Hidden("scope", gate));
  }
  SCAIGRID_RETURN_IF_ERROR(Require(*st->snapshot, c, "iam:audit:write", gate, now));
  store::AuditEvent e = NewEvent(c);
  e.module = *module;
  e.action = *action;
  e.decision = decision.value_or("");
  if (actor) {  // the module reports on behalf of its end user; the caller stays the credential
    e.actor_user_id = *actor;
    e.actor_type = ActorType(*actor);
  }
  e.tenant = tenant_scope;
  e.resource_id = resource.value_or("");
  json::object d = json::parse(details_text).as_object();
  d["reported_by"] = c.principal;
  e.details = json::serialize(d);
  SCAIGRID_RETURN_IF_ERROR(SubmitDurable(std::move(e), pending));
  json::object out;
  out["accepted"] = true;
  out["revision"] = st->snapshot->revision();
  return out;
}

namespace {

// The opaque cursor: the last seq of the page and a digest of the filters it belongs to.
std::string QueryDigest(const std::vector<std::pair<std::string, std::string>>& params) {
  std::vector<std::pair<std::string, std::string>> sorted(params.begin(), params.end());
  std::sort(sorted.begin(), sorted.end());  // the same filters in any order are one query
  std::string text;
  for (const auto& [k, v] : sorted)
    if (k != "cursor" && k != "limit") text += k + "=" + v + "&";
  return auth::HashSecret(text).substr(0, 12);
}

bool AllFinite(const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_: return std::isfinite(v.get_double());
    case json::kind::array:
      for (const json::value& x : v.get_array())
        if (!AllFinite(x)) return false;
      return true;
    case json::kind::object:
      for (const auto& kv : v.get_object())
        if (!AllFinite(kv.value())) return false;
      return true;
    default: return true;
  }
}

}  // namespace

json::object AuditEventToJson(const store::AuditEvent& e) {
  json::object o;
  o["id"] = e.id;
  o["seq"] = e.seq;
  // Floor division by parts, so that no time (an imported one near INT64_MIN) overflows.
  std::int64_t secs = e.time_us / 1000000, micros = e.time_us % 1000000;
  if (micros < 0) micros += 1000000, secs -= 1;
  std::string t = FormatTime(secs);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(micros));
  o["time"] = t.substr(0, t.size() - 1) + frac + "Z";
  o["module"] = e.module;
  o["action"] = e.action;
  o["decision"] = e.decision.empty() ? json::value(nullptr) : json::value(e.decision);
  o["actor_user_id"] = e.actor_user_id;
  o["actor_type"] = e.actor_type;
  o["credential_id"] = e.credential_id.empty() ? json::value(nullptr) : json::value(e.credential_id);
  o["tenant"] = e.tenant.empty() ? json::value(nullptr) : json::value(e.tenant);
  o["resource_id"] = e.resource_id.empty() ? json::value(nullptr) : json::value(e.resource_id);
  o["request_id"] = e.request_id;
  o["source_ip"] = e.source_ip;
  // Stored details are JSON text; shown as JSON when they parse to finite numbers only (an
  // imported "1e400" would read as infinity and be written out as text that is not JSON), as
  // the text itself otherwise.
  boost::system::error_code ec;
  json::value details = json::parse(e.details, ec);
  o["details"] = ec || !AllFinite(details) ? json::value(e.details) : details;
  o["prev_hash"] = e.prev_hash;
  o["hash"] = e.hash;
  return o;
}

Result<json::object> IamService::QueryAuditEvents(const Caller& c,
                                                  const std::vector<std::pair<std::string, std::string>>& params) {
  static const std::vector<std::string> kKnown = {"module", "since", "until", "actor", "action", "resource",
                                                  "tenant", "decision", "cursor", "order", "limit"};
  std::vector<std::string> problems;
  store::AuditQuery q;
  std::string cursor;
  std::set<std::string> seen;
  for (const auto& [k, v] : params) {
    if (std::find(kKnown.begin(), kKnown.end(), k) == kKnown.end()) {
      problems.push_back("unknown parameter '" + k.substr(0, 64) + "' (expected module, since, until, actor, action, resource, tenant, decision, cursor, order, limit)");
      continue;
    }
    if (!seen.insert(k).second) {
      problems.push_back("parameter '" + k + "' is given twice");
      continue;
    }
    if (v.size() > 300) {
      problems.push_back("parameter '" + k + "' is longer than 300 characters");
      continue;
    }
    if (k == "since" || k == "until") {
      auto t = ParseTimeMicros(v);
      if (!t) problems.push_back("parameter '" + k + "': " + t.error().message());
      else (k == "since" ? q.since_us : q.until_us) = *t;
    } else if (k == "limit") {
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || !std::isdigit(static_cast<unsigned char>(v[0])) || n < 1 || n > 1000) {
        problems.push_back("parameter 'limit' must be an integer from 1 to 1000");
      } else {
        q.limit = static_cast<size_t>(n);
      }
    } else if (k == "order") {
      if (v != "asc" && v != "desc") problems.push_back("parameter 'order' must be asc or desc");
      q.descending = v == "desc";
    } else if (k == "cursor") {
      cursor = v;
    } else if (k == "decision") {
      if (v != "allowed" && v != "denied") problems.push_back("parameter 'decision' must be allowed or denied");
      q.decision = v;
    } else if (k == "tenant") {
      if (!IsValidId(v)) problems.push_back("parameter 'tenant' must be a tenant id");
      q.tenant = "tenant:" + v;
    } else if (k == "module") {
      q.module = v;
    } else if (k == "actor") {
      q.actor = v;
    } else if (k == "action") {
      q.action = v;
    } else if (k == "resource") {
      q.resource = v;
    }
  }
  if (q.since_us && q.until_us && *q.until_us <= *q.since_us) problems.push_back("parameter 'until' must be after 'since'");
  std::string digest = QueryDigest(params);
  if (!cursor.empty()) {
    size_t dot = cursor.find('.');
    bool digits = dot != std::string::npos && dot > 0 && dot <= 19 &&
                  std::all_of(cursor.begin(), cursor.begin() + static_cast<long>(dot), [](char ch) { return ch >= '0' && ch <= '9'; });
    unsigned long long after = digits ? std::strtoull(cursor.substr(0, dot).c_str(), nullptr, 10) : 0;
    if (!digits || cursor.substr(dot + 1) != digest) {
      problems.push_back("parameter 'cursor' does not belong to this query (its filters or order differ)");
    } else {
      q.after_seq = after;
    }
  }
  if (!problems.empty()) {
    std::string message = problems.size() == 1 ? problems[0] : std::to_string(problems.size()) + " problems in the query";
    if (problems.size() == 1) problems.clear();
    return Err(Status::InvalidArgument(std::move(message), std::move(problems)));
  }
  // Tenant isolation: without iam:audit:read at the platform, only one tenant's events.
  auto st = state();
  Time now = clock_.Now();
  if (!Holds(*st->snapshot, c, "iam:audit:read", "platform", now)) {
    if (!q.tenant) {
      std::string own = c.restrict_scope.empty() ? "" : TenantOf(*st->snapshot, c.restrict_scope);
      if (own.empty()) {
        return Err(Status(StatusCode::kPermissionDenied, "missing permission 'iam:audit:read' at 'platform': give 'tenant' to read one tenant's events")
                       .WithReason("permission_denied"));
      }
      q.tenant = own;
    }
    if (!st->snapshot->FindScope(*q.tenant) || (!Holds(*st->snapshot, c, "iam:audit:read", *q.tenant, now) &&
                                                 !Holds(*st->snapshot, c, "iam:scopes:read", *q.tenant, now))) {
      return Err(Hidden("scope", *q.tenant));
    }
    SCAIGRID_RETURN_IF_ERROR(Require(*st->snapshot, c, "iam:audit:read", *q.tenant, now));
  }
  auto page = store_->QueryAudit(q);
  if (!page) return Err(page.error());
  json::array items;
  for (const auto& e : page->events) items.push_back(AuditEventToJson(e));
  json::object out;
  out["items"] = std::move(items);
  out["next_cursor"] = page->more && !page->events.empty() ? json::value(std::to_string(page->events.back().seq) + "." + digest)
                                                           : json::value(nullptr);
  out["revision"] = st->snapshot->revision();
  return out;
}

}  // namespace scaigrid::iam::service
