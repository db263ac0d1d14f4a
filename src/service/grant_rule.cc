// The grant rule (docs/engine.md, "The grant rule"): the one place that decides whether a
// change may leave principals holding keys, and which scopes a caller can see.
#include "service/service_internal.h"

namespace scaigrid::iam::service {
namespace {

// The keys a role's binding at `scope` gives: platform-level keys only at the platform.
KeySet RoleKeysAt(const Snapshot& s, RoleId role, ScopeId scope) {
  KeySet keys = s.role(role).keys;
  if (s.ScopeKindOf(scope) != ScopeKind::kPlatform) keys.Subtract(s.registry().platform_keys());
  return keys;
}

std::string KeyList(const Snapshot& s, const KeySet& keys, std::vector<std::string>* names) {
  std::string list;
  keys.ForEach([&](KeyId k) {
    const std::string& n = s.registry().key(k).key;
    names->push_back(n);
    list += (list.empty() ? "" : ", ") + n;
  });
  return list;
}

// Every binding of `principal` and of the groups it belongs to that has not expired.
std::vector<BindingView> BindingsReaching(const Snapshot& s, PrincipalId principal, Time now) {
  std::vector<BindingView> out;
  auto add = [&](PrincipalId p) {
    for (const BindingView& b : s.BindingsOf(p))
      if (b.expires_at > now) out.push_back(b);
  };
  add(principal);
  for (PrincipalId g : s.GroupsOf(principal)) add(g);
  return out;
}

}  // namespace

bool AtOrBelow(const Snapshot& s, ScopeId scope, ScopeId top) {
  for (ScopeId x = scope; x.valid(); x = s.ScopeParent(x))
    if (x == top) return true;
  return false;
}

bool Related(const Snapshot& s, ScopeId a, ScopeId b) { return AtOrBelow(s, a, b) || AtOrBelow(s, b, a); }

bool CanSeeScope(const ServiceState& st, const Caller& c, ScopeId scope, Time now) {
  const Snapshot& s = *st.snapshot;
  if (c.capability) return false;
  if (!c.restrict_scope.empty()) {
    auto top = s.FindScope(c.restrict_scope);
    if (!top || !Related(s, scope, *top)) return false;
  }
  // A service account lives in its tenant: it sees the tenant and what lies below.
  if (const store::PrincipalRow* row = st.directory.principals.Find(c.principal)) {
    auto home = s.FindScope(row->tenant);
    if (home && AtOrBelow(s, scope, *home)) return true;
  }
  auto p = s.FindPrincipal(c.principal);
  if (!p) return false;
  for (const BindingView& b : BindingsReaching(s, *p, now))
    if (Related(s, b.scope, scope)) return true;
  return false;
}

bool CanSeeScope(const ServiceState& st, const Caller& c, std::string_view scope, Time now) {
  auto id = st.snapshot->FindScope(scope);
  return id && CanSeeScope(st, c, *id, now);
}

Status CheckGrants(const Snapshot& s, const Caller& actor, std::span<const GrantAt> grants, Time now) {
  if (actor.capability) {
    return Status(StatusCode::kPermissionDenied, "a capability token grants nothing").WithReason("permission_denied");
  }
  auto restriction = CallerRestriction(s, actor);
  if (!restriction) return restriction.error();
  const Restriction* r = *restriction ? &**restriction : nullptr;
  auto who = s.FindPrincipal(actor.principal);
  const auto escalate = s.FindKey("iam:roles:escalate");
  for (const GrantAt& g : grants) {
    if (g.keys.Empty()) continue;
    KeySet held;
    if (who) held = s.EffectiveKeys(*who, g.scope, now, r);
    if (escalate && held.Test(*escalate)) continue;
    KeySet missing = g.keys;
    missing.Subtract(held);
    if (missing.Empty()) continue;
    std::vector<std::string> names;
    std::string list = KeyList(s, missing, &names);
    return Status(StatusCode::kPermissionDenied, "escalation: you do not hold " + list + " at " +
                                                     Quote(s.ScopeName(g.scope)) + ", so you cannot hand it out",
                  names)
        .WithReason("escalation");
  }
  return Status::Ok();
}

std::vector<GrantAt> GrantsThroughGroup(const Snapshot& s, PrincipalId group, Time now) {
  std::vector<GrantAt> out;
  for (const BindingView& b : s.BindingsOf(group))
    if (b.expires_at > now) out.push_back({RoleKeysAt(s, b.role, b.scope), b.scope});
  return out;
}

std::vector<GrantAt> GrantsOfCredential(const Snapshot& s, std::optional<PrincipalId> owner, const Restriction& r,
                                        Time now) {
  std::vector<GrantAt> out;
  if (!owner) return out;  // an owner with no binding holds nothing
  ScopeId top = r.scope.valid() ? r.scope : *s.FindScope("platform");
  // What the credential holds changes only where its reach starts and where the owner's
  // bindings are below that; the actor's keys only grow downwards, so these scopes suffice.
  const std::vector<BindingView> bindings = BindingsReaching(s, *owner, now);
  std::vector<ScopeId> where{top};
  for (const BindingView& b : bindings)
    if (b.scope != top && AtOrBelow(s, b.scope, top)) where.push_back(b.scope);
  // What the owner holds at each, from every binding that has not expired — bindings that
  // start later included: they will apply, and the key with them.
  for (ScopeId x : where) {
    KeySet keys;
    for (const BindingView& b : bindings)
      if (AtOrBelow(s, x, b.scope)) keys |= s.role(b.role).keys;
    if (s.ScopeKindOf(x) != ScopeKind::kPlatform) keys.Subtract(s.registry().platform_keys());
    if (r.limit_keys) keys &= r.keys;
    out.push_back({std::move(keys), x});
  }
  return out;
}

bool ScopeNotBroader(const Snapshot& s, const Caller& c, const Restriction& wanted) {
  if (c.restrict_scope.empty()) return true;
  auto have = s.FindScope(c.restrict_scope);
  return have && wanted.scope.valid() && AtOrBelow(s, wanted.scope, *have);
}

bool WithinKeyManagersReach(const Snapshot& s, const Caller& c, std::optional<PrincipalId> principal, Time now) {
  if (!principal) return false;
  const std::vector<BindingView> bindings = BindingsReaching(s, *principal, now);
  if (bindings.empty()) return false;
  for (const BindingView& b : bindings)
    if (!Holds(s, c, "iam:api_keys:manage", s.ScopeName(b.scope), now)) return false;
  return true;
}

Status CheckNotBroader(const Snapshot& s, const Caller& c, const Restriction& wanted) {
  auto mine = CallerRestriction(s, c);
  if (!mine) return mine.error();
  if (!*mine) return Status::Ok();
  const Restriction& have = **mine;
  if (!ScopeNotBroader(s, c, wanted)) {
    return Status(StatusCode::kPermissionDenied,
                  "your credential is restricted to " + Quote(s.ScopeName(have.scope)) +
                      ": it cannot create a credential reaching " +
                      Quote(wanted.scope.valid() ? s.ScopeName(wanted.scope) : std::string("platform")))
        .WithReason("escalation");
  }
  if (have.limit_keys) {
    KeySet extra = wanted.limit_keys ? wanted.keys : s.registry().all_keys();
    extra.Subtract(have.keys);
    if (!extra.Empty()) {
      std::vector<std::string> names;
      std::string list = KeyList(s, extra, &names);
      if (names.size() > 20) list = std::to_string(names.size()) + " keys";
      return Status(StatusCode::kPermissionDenied,
                    "your credential is restricted to fewer keys: it cannot create a credential with " + list, names)
          .WithReason("escalation");
    }
  }
  return Status::Ok();
}

}  // namespace scaigrid::iam::service
