// Groups, memberships, service accounts, bindings and API keys.
#include "auth/api_key.h"
#include "scaigrid/iam/time_format.h"
#include "service/service_internal.h"

namespace scaigrid::iam::service {
namespace {

const char* ReadKeyFor(PrincipalKind kind) {
  return kind == PrincipalKind::kGroup ? "iam:groups:read" : "iam:service_accounts:read";
}
const char* ManageKeyFor(PrincipalKind kind) {
  return kind == PrincipalKind::kGroup ? "iam:groups:manage" : "iam:service_accounts:manage";
}

// The stored row of a group or service account the caller may see, or kNotFound.
Result<const store::PrincipalRow*> VisiblePrincipal(const ServiceState& st,
                                                    const Caller& c, std::string_view principal, Time now) {
  auto ref = PrincipalRef::Parse(principal);
  if (!ref) return Err(ref.error());
  const store::PrincipalRow* row = st.directory.principals.Find(principal);
  if (row == nullptr || !Holds(*st.snapshot, c, ReadKeyFor(ref->kind), row->tenant, now)) return Err(Hidden("principal", principal));
  return row;
}

// True when `scope` is `tenant`, under it, or above it.
bool RelatedToTenant(const Snapshot& s, std::string_view scope, std::string_view tenant) {
  auto sid = s.FindScope(scope);
  auto tid = s.FindScope(tenant);
  if (!sid || !tid) return false;
  for (ScopeId x = *sid; x.valid(); x = s.ScopeParent(x))
    if (x == *tid) return true;
  for (ScopeId x = *tid; x.valid(); x = s.ScopeParent(x))
    if (x == *sid) return true;
  return false;
}

// A scope-restricted credential sees its owner's keys only within its scope (an acme-scoped
// key neither lists nor revokes its owner's globex keys).
bool KeyInCallersScope(const Snapshot& s, const Caller& c, const store::ApiKeyRow& key) {
  if (c.restrict_scope.empty()) return true;
  auto r = s.MakeRestriction({}, key.scope);
  return r && ScopeNotBroader(s, c, *r);
}

}  // namespace

Result<json::object> IamService::CreateGroup(const Caller& c, const json::value& body) {
  return CreateOwned(c, PrincipalKind::kGroup, body);
}

Result<json::object> IamService::CreateServiceAccount(const Caller& c, const json::value& body) {
  return CreateOwned(c, PrincipalKind::kServiceAccount, body);
}

Result<json::object> IamService::CreateOwned(const Caller& c, PrincipalKind kind, const json::value& body) {
  JsonArgs args(body, {"id", "tenant", "name"});
  auto id = args.String("id", true, 128);
  auto tenant = args.String("tenant", true, 128);
  auto name = args.String("name", false, 200);
  if (id && !IsValidId(*id)) args.Problem("field 'id' must be 1-128 characters [A-Za-z0-9._-]");
  if (tenant && !IsValidId(*tenant)) args.Problem("field 'tenant' must be a tenant id (1-128 characters [A-Za-z0-9._-])");
  SCAIGRID_RETURN_IF_ERROR(args.Finish());
  std::string principal = PrincipalRef{kind, *id}.ToString();
  store::PrincipalRow row{principal, "tenant:" + *tenant, name.value_or(""), 0};
  auto rev = Commit(c, [&](Txn& t) -> Status {
    const Snapshot& s = *t.base.snapshot;
    if (!s.FindScope(row.tenant) || !Holds(s, c, ReadKeyFor(kind), row.tenant, t.now)) return Hidden("scope", row.tenant);
    SCAIGRID_RETURN_IF_ERROR(Require(s, c, ManageKeyFor(kind), row.tenant, t.now));
    if (t.base.directory.principals.Find(principal) != nullptr) {
      return Status::AlreadyExists(principal + " already exists").WithReason("already_exists");
    }
    SCAIGRID_RETURN_IF_ERROR(t.mutation.AddPrincipal(principal));
    row.created_at = t.now;
    t.change.ops.push_back(store::PutPrincipal{row});
    t.directory.principals.Put(principal, row, t.epoch);
    return Status::Ok();
  });
  if (!rev) return Err(rev.error());
  json::object out;
  out["id"] = *id;
  out["principal"] = principal;
  out["tenant"] = row.tenant;
  out["name"] = row.name;
  out["revision"] = *rev;
  return out;
}

Result<json::object> IamService::AddMember(const Caller& c, std::string_view group_id, std::string_view member) {
  std::string group = "group:" + std::string(group_id);
  auto rev = Commit(c, [&](Txn& t) -> Status {
    auto row = VisiblePrincipal(t.base, c, group, t.now);
    if (!row) return row.error();
    SCAIGRID_RETURN_IF_ERROR(Require(*t.base.snapshot, c, "iam:groups:manage", (*row)->tenant, t.now));
    auto mref = PrincipalRef::Parse(member);
    if (!mref) return mref.error();
    if (mref->kind == PrincipalKind::kGroup) return Status::InvalidArgument("groups contain users and service accounts, not groups");
    if (mref->kind == PrincipalKind::kServiceAccount) {
      const store::PrincipalRow* sa = t.base.directory.principals.Find(member);
      if (sa == nullptr || sa->tenant != (*row)->tenant) return Hidden("principal", member);
    }
    // The grant rule: a new member receives every key the group's bindings give, where they give it.
    if (auto gid = t.base.snapshot->FindPrincipal(group)) {
      SCAIGRID_RETURN_IF_ERROR(CheckGrants(*t.base.snapshot, c, GrantsThroughGroup(*t.base.snapshot, *gid, t.now), t.now));
    }
    Status added = t.mutation.AddMember(group, member);
    if (!added.ok()) return std::move(added).WithReason("already_exists");
    t.change.ops.push_back(store::AddMember{{group, std::string(member)}});
    t.sod_subjects.push_back(std::string(member));
    return Status::Ok();
  });
  if (!rev) return Err(rev.error());
  json::object out;
  out["group"] = group;
  out["member"] = std::string(member);
  out["revision"] = *rev;
  return out;
}

Result<json::object> IamService::RemoveMember(const Caller& c, std::string_view group_id, std::string_view member) {
  std::string group = "group:" + std::string(group_id);
  auto rev = Commit(c, [&](Txn& t) -> Status {
    auto row = VisiblePrincipal(t.base, c, group, t.now);
    if (!row) return row.error();
    SCAIGRID_RETURN_IF_ERROR(Require(*t.base.snapshot, c, "iam:groups:manage", (*row)->tenant, t.now));
    SCAIGRID_RETURN_IF_ERROR(t.mutation.RemoveMember(group, member));
    t.change.ops.push_back(store::RemoveMember{{group, std::string(member)}});
    return Status::Ok();
  });
  if (!rev) return Err(rev.error());
  json::object out;
  out["group"] = group;
  out["removed"] = std::string(member);
  out["revision"] = *rev;
  return out;
}

Result<json::object> IamService::CreateBinding(const Caller& c, const json::value& body) {
  JsonArgs args(body, {"subject", "role", "scope", "expires_at", "not_before", "justification"});
  auto subject = args.String("subject", true, 300);
  auto role = args.String("role", true, 200);
  auto scope = args.String("scope", false, 200);
  auto expires = args.TimeField("expires_at");
  auto not_before = args.TimeField("not_before");
  auto justification = args.String("justification", false, 2000);
  if (args.Raw("scope") == nullptr && c.restrict_scope.empty()) {
    args.Problem("missing field 'scope' (the credential has no scope to default to)");
  }
  if (subject) {
    if (auto ref = PrincipalRef::Parse(*subject); !ref) args.Problem("field 'subject': " + ref.error().message());
  }
  if (scope) {
    if (auto ref = ScopeRef::Parse(*scope); !ref) args.Problem("field 'scope': " + ref.error().message());
  }
  SCAIGRID_RETURN_IF_ERROR(args.Finish());
  store::BindingRow row{std::stoull(auth::RandomHex(7), nullptr, 16), *subject, *role, scope ? *scope : c.restrict_scope,
                        not_before.value_or(kTimeMin), expires.value_or(kTimeMax), justification.value_or(""), c.principal, 0};
  auto rev = Commit(c, [&](Txn& t) -> Status {
    const Snapshot& s = *t.base.snapshot;
    if (!s.FindScope(row.scope) || !Holds(s, c, "iam:bindings:read", row.scope, t.now)) return Hidden("scope", row.scope);
    SCAIGRID_RETURN_IF_ERROR(Require(s, c, "iam:bindings:manage", row.scope, t.now));
    auto sref = PrincipalRef::Parse(row.subject);
    if (sref->kind != PrincipalKind::kUser) {
      auto owned = VisiblePrincipal(t.base, c, row.subject, t.now);
      if (!owned) return owned.error();
      if (!RelatedToTenant(s, row.scope, (*owned)->tenant)) {
        return Status::InvalidArgument(row.subject + " belongs to " + (*owned)->tenant + " and cannot be bound at " + Quote(row.scope));
      }
    }
    auto rid = s.FindRole(row.role);
    if (!rid) return Hidden("role", row.role);
    const auto& role_node = s.role(*rid);
    if (role_node.kind == RoleKind::kCustom) {
      const store::CustomRoleRow* cr = t.base.directory.roles.Find(row.role);
      if (cr == nullptr || !Holds(s, c, "iam:roles:read", cr->scope, t.now)) return Hidden("role", row.role);
    }
    const ScopeId at = *s.FindScope(row.scope);
    KeySet keys = role_node.keys;
    if (s.ScopeKindOf(at) != ScopeKind::kPlatform) keys.Subtract(s.registry().platform_keys());
    SCAIGRID_RETURN_IF_ERROR(CheckGrant(s, c, keys, at, t.now));
    std::vector<std::string> sensitive;
    keys.ForEach([&](KeyId k) {
      if (s.registry().key(k).sensitive) sensitive.push_back(s.registry().key(k).key);
    });
    if (!sensitive.empty() && row.justification.empty()) {
      return Status::InvalidArgument("role " + Quote(row.role) + " grants sensitive key(s); a 'justification' is required", sensitive)
          .WithReason("justification_required");
    }
    row.created_at = t.now;
    SCAIGRID_RETURN_IF_ERROR(t.mutation.AddBinding({row.id, row.subject, row.role, row.scope, row.not_before, row.expires_at}));
    t.change.ops.push_back(store::PutBinding{row});
    t.directory.bindings.Put(std::to_string(row.id), row, t.epoch);
    t.sod_subjects.push_back(row.subject);
    return Status::Ok();
  });
  if (!rev) return Err(rev.error());
  json::object out = BindingToJson(row);
  out["revision"] = *rev;
  return out;
}

Result<json::object> IamService::ListBindings(const Caller& c, std::string_view scope, std::string_view subject) {
  auto st = state();
  const Snapshot& s = *st->snapshot;
  Time now = clock_.Now();
  std::vector<BindingView> views;
  if (scope.empty() && subject.empty()) scope = c.restrict_scope;  // SPEC §7: the key's scope
  if (!scope.empty()) {
    if (auto ref = ScopeRef::Parse(scope); !ref) return Err(ref.error());
    auto sid = s.FindScope(scope);
    if (!sid || !Holds(s, c, "iam:bindings:read", scope, now)) return Err(Hidden("scope", scope));
    views = s.BindingsAt(*sid);
  } else if (!subject.empty()) {
    if (auto ref = PrincipalRef::Parse(subject); !ref) return Err(ref.error());
    if (auto p = s.FindPrincipal(subject)) views = s.BindingsOf(*p);
  } else {
    return Err(Status::InvalidArgument("give 'scope' or 'subject' (or both)"));
  }
  json::array items;
  for (const BindingView& v : views) {
    const store::BindingRow* row = st->directory.bindings.Find(std::to_string(v.id));
    if (row == nullptr) continue;
    if (!subject.empty() && row->subject != subject) continue;
    if (!Holds(s, c, "iam:bindings:read", row->scope, now)) continue;  // other tenants' stay invisible
    items.push_back(BindingToJson(*row));
  }
  json::object out;
  out["items"] = std::move(items);
  out["revision"] = s.revision();
  return out;
}

Result<json::object> IamService::DeleteBinding(const Caller& c, std::string_view id) {
  auto rev = Commit(c, [&](Txn& t) -> Status {
    const Snapshot& s = *t.base.snapshot;
    const store::BindingRow* row = t.base.directory.bindings.Find(id);
    if (row == nullptr || !Holds(s, c, "iam:bindings:read", row->scope, t.now)) return Hidden("binding", id);
    SCAIGRID_RETURN_IF_ERROR(Require(s, c, "iam:bindings:manage", row->scope, t.now));
    SCAIGRID_RETURN_IF_ERROR(t.mutation.RemoveBinding(row->subject, row->id));
    t.change.ops.push_back(store::DeleteBinding{row->id});
    t.directory.bindings.Erase(id, t.epoch);
    return Status::Ok();
  });
  if (!rev) return Err(rev.error());
  json::object out;
  out["deleted"] = std::string(id);
  out["revision"] = *rev;
  return out;
}

Result<json::object> IamService::CreateApiKey(const Caller& c, const json::value& body) {
  JsonArgs args(body, {"owner", "name", "permissions", "scope", "expires_at"});
  auto owner = args.String("owner", true, 300);
  auto name = args.String("name", true, 200);
  auto perms = args.Strings("permissions", false, 500);
  auto scope = args.String("scope", false, 200);
  auto expires = args.TimeField("expires_at");
  if (owner) {
    auto ref = PrincipalRef::Parse(*owner);
    if (!ref) args.Problem("field 'owner': " + ref.error().message());
    else if (ref->kind == PrincipalKind::kGroup) args.Problem("an API key is owned by a user or a service account, not a group");
  }
  if (scope) {
    if (auto ref = ScopeRef::Parse(*scope); !ref) args.Problem("field 'scope': " + ref.error().message());
  }
  SCAIGRID_RETURN_IF_ERROR(args.Finish());
  auth::NewApiKey key = auth::GenerateApiKey();
  store::ApiKeyRow row{key.id, *owner, *name, key.hash, perms.value_or(std::vector<std::string>{}),
                       scope.value_or(""), expires.value_or(kTimeMax), 0, 0, c.principal};
  // A restricted credential makes keys within its own restriction (and lifetime) by default.
  if (row.permissions.empty()) row.permissions = c.restrict_keys;
  if (row.scope.empty()) row.scope = c.restrict_scope;
  if (!expires) row.expires_at = c.expires_at;
  auto rev = Commit(c, [&](Txn& t) -> Status {
    const Snapshot& s = *t.base.snapshot;
    if (row.expires_at <= t.now) return Status::InvalidArgument("field 'expires_at' is in the past");
    // A scope the caller cannot see answers like a missing one, and no key is made there.
    if (!row.scope.empty() && !CanSeeScope(t.base, c, row.scope, t.now)) return Hidden("scope", row.scope);
    std::string gate_scope = row.scope.empty() ? "platform" : row.scope;
    auto oref = PrincipalRef::Parse(row.owner);
    if (oref->kind == PrincipalKind::kServiceAccount) {
      auto owned = VisiblePrincipal(t.base, c, row.owner, t.now);
      if (!owned) return owned.error();
      if (row.scope.empty()) gate_scope = (*owned)->tenant;
    }
    auto restriction = s.MakeRestriction(row.permissions, row.scope);
    if (!restriction) return restriction.error();
    // A credential never creates a credential broader than itself (for its owner or another):
    // not in scope, not in keys, not in time.
    SCAIGRID_RETURN_IF_ERROR(CheckNotBroader(s, c, *restriction));
    if (row.expires_at > c.expires_at) {
      return Status(StatusCode::kPermissionDenied, "your credential expires at " + FormatTime(c.expires_at) +
                                                       ": it cannot create a key that outlives it")
          .WithReason("escalation");
    }
    // Nobody names keys it lacks: a key's listed keys are held by its maker where it starts.
    if (restriction->limit_keys) {
      const ScopeId top = restriction->scope.valid() ? restriction->scope : *s.FindScope("platform");
      SCAIGRID_RETURN_IF_ERROR(CheckGrant(s, c, restriction->keys, top, t.now));
    }
    if (row.owner != c.principal) {
      SCAIGRID_RETURN_IF_ERROR(Require(s, c, "iam:api_keys:manage", gate_scope, t.now));
      // A key for another user acts as that user: only for users who live wholly within the
      // caller's reach (every binding of theirs where the caller manages keys), so nobody
      // mints a credential of another tenant's user or of an administrator above it; others
      // answer like a missing one.
      if (oref->kind == PrincipalKind::kUser && !WithinKeyManagersReach(s, c, s.FindPrincipal(row.owner), t.now)) {
        return Hidden("principal", row.owner);
      }
      // The grant rule: whoever holds the key holds what its owner holds within its
      // restriction, at every scope it reaches; the caller must hold all of that.
      SCAIGRID_RETURN_IF_ERROR(CheckGrants(s, c, GrantsOfCredential(s, s.FindPrincipal(row.owner), *restriction, t.now), t.now));
    }
    row.created_at = t.now;
    t.change.ops.push_back(store::PutApiKey{row});
    t.directory.api_keys.Put(row.id, row, t.epoch);
    t.directory.api_key_by_hash.Put(row.secret_hash, row.id, t.epoch);
    return Status::Ok();
  });
  if (!rev) return Err(rev.error());
  json::object out;
  out["id"] = row.id;
  out["key"] = key.secret;
  out["owner"] = row.owner;
  out["name"] = row.name;
  json::array p;
  for (const auto& k : row.permissions) p.emplace_back(k);
  out["permissions"] = std::move(p);
  out["scope"] = row.scope.empty() ? json::value(nullptr) : json::value(row.scope);
  out["expires_at"] = TimeToJson(row.expires_at);
  out["revision"] = *rev;
  return out;
}

Result<json::object> IamService::RevokeApiKey(const Caller& c, std::string_view id) {
  auto rev = Commit(c, [&](Txn& t) -> Status {
    const Snapshot& s = *t.base.snapshot;
    const store::ApiKeyRow* row = t.base.directory.api_keys.Find(id);
    if (row == nullptr) return Hidden("API key", id);
    if (row->owner != c.principal || !KeyInCallersScope(s, c, *row)) {
      std::string gate = row->scope.empty() ? "platform" : row->scope;
      if (const store::PrincipalRow* sa = t.base.directory.principals.Find(row->owner)) gate = row->scope.empty() ? sa->tenant : gate;
      if (!Holds(s, c, "iam:api_keys:manage", gate, t.now)) return Hidden("API key", id);
    }
    if (row->revoked_at != 0) return Status::Ok();  // idempotent
    store::ApiKeyRow revoked = *row;
    revoked.revoked_at = t.now;
    t.change.ops.push_back(store::RevokeApiKey{revoked.id, t.now});
    t.directory.api_keys.Put(revoked.id, revoked, t.epoch);
    return Status::Ok();
  });
  if (!rev) return Err(rev.error());
  json::object out;
  out["revoked"] = std::string(id);
  out["revision"] = *rev;
  return out;
}

}  // namespace scaigrid::iam::service

namespace scaigrid::iam::service {

Result<json::object> IamService::GetOwned(const Caller& c, PrincipalKind kind, std::string_view id) {
  auto st = state();
  std::string principal = PrincipalRef{kind, std::string(id)}.ToString();
  auto row = VisiblePrincipal(*st, c, principal, clock_.Now());
  if (!row) return Err(row.error());
  json::object out;
  out["id"] = std::string(id);
  out["principal"] = principal;
  out["tenant"] = (*row)->tenant;
  out["name"] = (*row)->name;
  out["created_at"] = TimeToJson((*row)->created_at);
  const Snapshot& s = *st->snapshot;
  if (auto p = s.FindPrincipal(principal)) {
    json::array list;
    for (PrincipalId m : kind == PrincipalKind::kGroup ? s.MembersOf(*p) : s.GroupsOf(*p)) list.emplace_back(s.PrincipalName(m));
    out[kind == PrincipalKind::kGroup ? "members" : "groups"] = std::move(list);
  }
  out["revision"] = s.revision();
  return out;
}

Result<json::object> IamService::ListOwned(const Caller& c, PrincipalKind kind, std::string_view tenant_id) {
  std::string tenant = tenant_id.empty() ? c.restrict_scope : "tenant:" + std::string(tenant_id);
  if (tenant_id.empty() && (tenant.empty() || ScopeRef::Parse(tenant)->kind != ScopeKind::kTenant)) {
    return Err(Status::InvalidArgument("missing query parameter 'tenant' (the credential is not scoped to a tenant)"));
  }
  if (auto ref = ScopeRef::Parse(tenant); !ref || ref->kind != ScopeKind::kTenant) {
    return Err(Status::InvalidArgument("query parameter 'tenant' must be a tenant id, not " + Quote(tenant)));
  }
  auto st = state();
  if (!st->snapshot->FindScope(tenant) || !Holds(*st->snapshot, c, ReadKeyFor(kind), tenant, clock_.Now())) {
    return Err(Hidden("scope", tenant));
  }
  std::vector<const store::PrincipalRow*> rows;
  st->directory.principals.ForEach([&](const std::string& name, const store::PrincipalRow& row) {
    if (row.tenant == tenant && PrincipalRef::Parse(name)->kind == kind) rows.push_back(&row);
  });
  std::sort(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->principal < b->principal; });
  json::array items;
  for (auto* r : rows) {
    json::object o;
    o["principal"] = r->principal;
    o["name"] = r->name;
    o["created_at"] = TimeToJson(r->created_at);
    items.push_back(std::move(o));
  }
  json::object out;
  out["tenant"] = tenant;
  out["items"] = std::move(items);
  out["revision"] = st->snapshot->revision();
  return out;
}

Result<json::object> IamService::DeleteOwned(const Caller& c, PrincipalKind kind, std::string_view id) {
  std::string principal = PrincipalRef{kind, std::string(id)}.ToString();
  auto rev = Commit(c, [&](Txn& t) -> Status {
    auto row = VisiblePrincipal(t.base, c, principal, t.now);
    if (!row) return row.error();
    SCAIGRID_RETURN_IF_ERROR(Require(*t.base.snapshot, c, ManageKeyFor(kind), (*row)->tenant, t.now));
    const Snapshot& s = *t.base.snapshot;
    if (auto p = s.FindPrincipal(principal)) {
      // Its bindings go with it, so the caller must be able to remove each of them.
      size_t out_of_reach = 0;
      for (const BindingView& b : s.BindingsOf(*p))
        if (!Holds(s, c, "iam:bindings:manage", s.ScopeName(b.scope), t.now)) ++out_of_reach;
      if (out_of_reach > 0) {
        return Status::FailedPrecondition(principal + " has " + std::to_string(out_of_reach) +
                                          " binding(s) at scopes where you may not manage bindings; "
                                          "an administrator there must remove them first")
            .WithReason("in_use");
      }
      for (const BindingView& b : s.BindingsOf(*p)) t.directory.bindings.Erase(std::to_string(b.id), t.epoch);
    }
    SCAIGRID_RETURN_IF_ERROR(t.mutation.RemovePrincipal(principal));
    t.change.ops.push_back(store::DeletePrincipal{principal});
    t.directory.principals.Erase(principal, t.epoch);
    // A deleted service account's keys die with it.
    std::vector<store::ApiKeyRow> keys;
    t.base.directory.api_keys.ForEach([&](const std::string&, const store::ApiKeyRow& k) {
      if (k.owner == principal && k.revoked_at == 0) keys.push_back(k);
    });
    for (store::ApiKeyRow& k : keys) {
      k.revoked_at = t.now;
      t.change.ops.push_back(store::RevokeApiKey{k.id, t.now});
      t.directory.api_keys.Put(k.id, k, t.epoch);
    }
    return Status::Ok();
  });
  if (!rev) return Err(rev.error());
  json::object out;
  out["deleted"] = principal;
  out["revision"] = *rev;
  return out;
}

Result<json::object> IamService::ListApiKeys(const Caller& c, std::string_view owner) {
  std::string who = owner.empty() ? c.principal : std::string(owner);
  if (auto ref = PrincipalRef::Parse(who); !ref) return Err(ref.error());
  auto st = state();
  Time now = clock_.Now();
  json::array items;
  std::vector<const store::ApiKeyRow*> rows;
  st->directory.api_keys.ForEach([&](const std::string&, const store::ApiKeyRow& k) {
    if (k.owner != who) return;
    if (k.owner != c.principal || !KeyInCallersScope(*st->snapshot, c, k)) {
      std::string gate = k.scope.empty() ? "platform" : k.scope;
      if (const store::PrincipalRow* sa = st->directory.principals.Find(k.owner); sa && k.scope.empty()) gate = sa->tenant;
      if (!Holds(*st->snapshot, c, "iam:api_keys:read", gate, now)) return;
    }
    rows.push_back(&k);
  });
  std::sort(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->created_at != b->created_at ? a->created_at < b->created_at : a->id < b->id; });
  for (auto* k : rows) {
    json::object o;
    o["id"] = k->id;
    o["owner"] = k->owner;
    o["name"] = k->name;
    json::array p;
    for (const auto& x : k->permissions) p.emplace_back(x);
    o["permissions"] = std::move(p);
    o["scope"] = k->scope.empty() ? json::value(nullptr) : json::value(k->scope);
    o["expires_at"] = TimeToJson(k->expires_at);
    o["created_at"] = TimeToJson(k->created_at);
    o["revoked_at"] = k->revoked_at == 0 ? json::value(nullptr) : TimeToJson(k->revoked_at);
    items.push_back(std::move(o));
  }
  json::object out;
  out["owner"] = who;
  out["items"] = std::move(items);
  out["revision"] = st->snapshot->revision();
  return out;
}

}  // namespace scaigrid::iam::service
