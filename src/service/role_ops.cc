// Roles: listing, custom roles with etags, escalation prevention.
#include "auth/api_key.h"
#include "service/service_internal.h"

namespace scaigrid::iam::service {
Result<json::object> IamService::ListRoles(const Caller& c, std::string_view scope) {
  auto st = state();
  const Snapshot& s = *st->snapshot;
  if (scope.empty() && !c.restrict_scope.empty()) scope = c.restrict_scope;
  if (scope.empty()) return Err(Status::InvalidArgument("missing query parameter 'scope'"));
  if (auto ref = ScopeRef::Parse(scope); !ref) return Err(ref.error());
  auto sid = s.FindScope(scope);
  if (!sid || !Holds(s, c, "iam:roles:read", scope, clock_.Now())) return Err(Hidden("scope", scope));
  json::array items;
  for (RoleId id : s.RolesUsableAt(*sid)) {
    const auto& role = s.role(id);
    json::object o;
    o["role"] = role.ref;
    o["kind"] = role.kind == RoleKind::kBuiltIn ? "built_in" : role.kind == RoleKind::kModule ? "module" : "custom";
    o["name"] = role.name;
    if (!role.description.empty()) o["description"] = role.description;
    KeySet keys = role.keys;
    if (s.ScopeKindOf(*sid) != ScopeKind::kPlatform) keys.Subtract(s.registry().platform_keys());
    o["permissions"] = KeysToJson(s, keys);
    if (role.kind == RoleKind::kCustom) o["defined_at"] = s.ScopeName(role.defined_at);
    items.push_back(std::move(o));
  }
  json::object out;
  out["scope"] = std::string(scope);
  out["items"] = std::move(items);
  out["revision"] = s.revision();
  return out;
}

Result<json::object> IamService::CreateCustomRole(const Caller& c, const json::value& body) {
  JsonArgs args(body, {"name", "module_permissions", "description", "scope"});
  auto name = args.String("name", true, 200);
  auto perms = args.Strings("module_permissions", true, 500);
  auto description = args.String("description", false, 2000);
  auto scope = args.String("scope", false, 200);
  if (args.Raw("scope") == nullptr && c.restrict_scope.empty()) {
    args.Problem("missing field 'scope' (the credential has no scope to default to)");
  }
  if (name && name->empty()) args.Problem("field 'name' must not be empty");
  if (perms && perms->empty()) args.Problem("field 'module_permissions' must name at least one permission");
  SCAIGRID_RETURN_IF_ERROR(args.Finish());
  std::string where = scope ? *scope : c.restrict_scope;
  store::CustomRoleRow row{"cr_" + auth::RandomHex(8), where, *name, description.value_or(""), *perms, 1, 0, 0};
  json::object out;
  auto rev = Commit(c, [&](Txn& t) -> Status {
    const Snapshot& s = *t.base.snapshot;
    if (auto ref = ScopeRef::Parse(where); !ref) return ref.error();
    if (!s.FindScope(where) || !Holds(s, c, "iam:roles:read", where, t.now)) return Hidden("scope", where);
    SCAIGRID_RETURN_IF_ERROR(Require(s, c, "iam:roles:manage", where, t.now));
    row.created_at = row.updated_at = t.now;
    SCAIGRID_RETURN_IF_ERROR(t.mutation.PutCustomRole({row.id, row.name, row.description, row.scope, row.permissions}));
    auto keys = s.registry().ResolvePatterns(row.permissions, ScopeRef::Parse(where)->kind == ScopeKind::kPlatform);
    if (!keys) return keys.error();
    SCAIGRID_RETURN_IF_ERROR(CheckGrant(s, c, *keys, *s.FindScope(where), t.now));
    t.change.ops.push_back(store::PutCustomRole{row});
    t.directory.roles.Put(row.id, row, t.epoch);
    return Status::Ok();
  });
  if (!rev) return Err(rev.error());
  out = CustomRoleToJson(*state()->snapshot, row);
  out["revision"] = *rev;
  return out;
}

Result<json::object> IamService::GetCustomRole(const Caller& c, std::string_view id) {
  auto st = state();
  const store::CustomRoleRow* row = st->directory.roles.Find(id);
  if (row == nullptr || !Holds(*st->snapshot, c, "iam:roles:read", row->scope, clock_.Now())) return Err(Hidden("custom role", id));
  json::object out = CustomRoleToJson(*st->snapshot, *row);
  out["revision"] = st->snapshot->revision();
  return out;
}

Result<json::object> IamService::PatchCustomRole(const Caller& c, std::string_view id, const json::value& body,
                                                 std::string_view if_match) {
  JsonArgs args(body, {"name", "module_permissions", "description"});
  auto name = args.String("name", false, 200);
  auto perms = args.Strings("module_permissions", false, 500);
  auto description = args.String("description", false, 2000);
  if (name && name->empty()) args.Problem("field 'name' must not be empty");
  if (perms && perms->empty()) args.Problem("field 'module_permissions' must name at least one permission");
  SCAIGRID_RETURN_IF_ERROR(args.Finish());
  store::CustomRoleRow row;
  auto rev = Commit(c, [&](Txn& t) -> Status {
    const Snapshot& s = *t.base.snapshot;
    const store::CustomRoleRow* current = t.base.directory.roles.Find(id);
    if (current == nullptr || !Holds(s, c, "iam:roles:read", current->scope, t.now)) return Hidden("custom role", id);
    SCAIGRID_RETURN_IF_ERROR(Require(s, c, "iam:roles:manage", current->scope, t.now));
    std::string etag = "\"" + std::to_string(current->version) + "\"";
    if (!if_match.empty() && if_match != "*" && if_match != etag && if_match != std::to_string(current->version)) {
      return Status::FailedPrecondition("custom role " + Quote(id) + " changed since you read it: its etag is " + etag + ", not " + std::string(if_match))
          .WithReason("stale_etag");
    }
    row = *current;
    if (name) row.name = *name;
    if (perms) row.permissions = *perms;
    if (description) row.description = *description;
    if (row.name == current->name && row.permissions == current->permissions &&
        row.description == current->description) {
      return Status::Ok();  // nothing changes: no new version, no new revision
    }
    row.version++;
    row.updated_at = t.now;
    SCAIGRID_RETURN_IF_ERROR(t.mutation.PutCustomRole({row.id, row.name, row.description, row.scope, row.permissions}));
    auto keys = s.registry().ResolvePatterns(row.permissions, ScopeRef::Parse(row.scope)->kind == ScopeKind::kPlatform);
    if (!keys) return keys.error();
    auto defined_at = s.FindScope(row.scope);
    if (!defined_at) return Hidden("custom role", id);
    SCAIGRID_RETURN_IF_ERROR(CheckGrant(s, c, *keys, *defined_at, t.now));
    if (auto rid = s.FindRole(row.id))
      for (PrincipalId p : s.SubjectsBoundTo(*rid)) t.sod_subjects.push_back(s.PrincipalName(p));
    t.change.ops.push_back(store::PutCustomRole{row});
    t.directory.roles.Put(row.id, row, t.epoch);
    return Status::Ok();
  });
  if (!rev) return Err(rev.error());
  json::object out = CustomRoleToJson(*state()->snapshot, row);
  out["revision"] = *rev;
  return out;
}

Result<json::object> IamService::DeleteCustomRole(const Caller& c, std::string_view id) {
  auto rev = Commit(c, [&](Txn& t) -> Status {
    const Snapshot& s = *t.base.snapshot;
    const store::CustomRoleRow* current = t.base.directory.roles.Find(id);
    if (current == nullptr || !Holds(s, c, "iam:roles:read", current->scope, t.now)) return Hidden("custom role", id);
    SCAIGRID_RETURN_IF_ERROR(Require(s, c, "iam:roles:manage", current->scope, t.now));
    Status removed = t.mutation.RemoveCustomRole(id);
    if (!removed.ok()) return std::move(removed).WithReason("in_use");
    t.change.ops.push_back(store::DeleteCustomRole{std::string(id)});
    t.directory.roles.Erase(id, t.epoch);
    return Status::Ok();
  });
  if (!rev) return Err(rev.error());
  json::object out;
  out["deleted"] = std::string(id);
  out["revision"] = *rev;
  return out;
}

}  // namespace scaigrid::iam::service
