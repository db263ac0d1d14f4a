// Scopes and modules.
#include "scaigrid/iam/time_format.h"
#include "service/service_internal.h"

namespace scaigrid::iam::service {
namespace {

json::object ScopeToJson(const store::ScopeRow& row) {
  json::object o;
  auto ref = ScopeRef::Parse(row.scope);
  o["id"] = ref ? ref->id : row.scope;
  o["scope"] = row.scope;
  o["name"] = row.name;
  o["parent"] = row.parent;
  o["created_at"] = TimeToJson(row.created_at);
  return o;
}

}  // namespace

Result<json::object> IamService::CreateScope(const Caller& c, ScopeKind kind, const json::value& body) {
  JsonArgs args(body, kind == ScopeKind::kProject ? std::initializer_list<std::string_view>{"id", "name", "tenant"}
                      : kind == ScopeKind::kTenant ? std::initializer_list<std::string_view>{"id", "name", "partner"}
                                                   : std::initializer_list<std::string_view>{"id", "name"});
  auto id = args.String("id", true, 128);
  auto name = args.String("name", false, 200);
  std::optional<std::string> parent_id;
  if (kind == ScopeKind::kProject) parent_id = args.String("tenant", true, 128);
  if (kind == ScopeKind::kTenant) parent_id = args.String("partner", false, 128);
  if (id && !IsValidId(*id)) args.Problem("field 'id' must be 1-128 characters [A-Za-z0-9._-]");
  SCAIGRID_RETURN_IF_ERROR(args.Finish());
  std::string scope = ScopeRef{kind, *id}.ToString();
  std::string parent = kind == ScopeKind::kProject ? "tenant:" + *parent_id
                       : parent_id                 ? "partner:" + *parent_id
                                                   : "platform";
  store::ScopeRow row{scope, parent, name.value_or(""), 0};
  json::object out;
  auto rev = Commit(c, [&](Txn& t) -> Status {
    const Snapshot& s = *t.base.snapshot;
    if (!s.FindScope(parent)) return Hidden("scope", parent);
    // Creating partners is a platform operation; other scopes are managed from their parent.
    const char* key = kind == ScopeKind::kPartner ? "iam:partners:manage" : "iam:scopes:manage";
    if (!Holds(s, c, "iam:scopes:read", parent, t.now) && parent != "platform") return Hidden("scope", parent);
    SCAIGRID_RETURN_IF_ERROR(Require(s, c, key, parent, t.now));
    if (s.FindScope(scope)) return Status::AlreadyExists(scope + " already exists").WithReason("already_exists");
    SCAIGRID_RETURN_IF_ERROR(t.mutation.AddScope(scope, parent));
    row.created_at = t.now;
    t.change.ops.push_back(store::PutScope{row});
    t.directory.scopes.Put(scope, row, t.epoch);
    return Status::Ok();
  });
  if (!rev) return Err(rev.error());
  out = ScopeToJson(row);
  out["revision"] = *rev;
  return out;
}

Result<json::object> IamService::ListScopes(const Caller& c, ScopeKind kind) {
  auto st = state();
  Time now = clock_.Now();
  std::vector<const store::ScopeRow*> rows;
  st->directory.scopes.ForEach([&](const std::string&, const store::ScopeRow& row) {
    auto ref = ScopeRef::Parse(row.scope);
    if (ref && ref->kind == kind && Holds(*st->snapshot, c, "iam:scopes:read", row.scope, now)) rows.push_back(&row);
  });
  std::sort(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->scope < b->scope; });
  json::array items;
  for (auto* r : rows) items.push_back(ScopeToJson(*r));
  json::object out;
  out["items"] = std::move(items);
  out["revision"] = st->snapshot->revision();
  return out;
}

Result<json::object> IamService::GetScope(const Caller& c, ScopeKind kind, std::string_view id) {
  auto st = state();
  std::string scope = ScopeRef{kind, std::string(id)}.ToString();
  const store::ScopeRow* row = st->directory.scopes.Find(scope);
  if (row == nullptr || !Holds(*st->snapshot, c, "iam:scopes:read", scope, clock_.Now())) return Err(Hidden("scope", scope));
  json::object out = ScopeToJson(*row);
  out["revision"] = st->snapshot->revision();
  return out;
}

Result<json::object> IamService::DeleteScope(const Caller& c, ScopeKind kind, std::string_view id) {
  std::string scope = ScopeRef{kind, std::string(id)}.ToString();
  auto rev = Commit(c, [&](Txn& t) -> Status {
    const Snapshot& s = *t.base.snapshot;
    const store::ScopeRow* row = t.base.directory.scopes.Find(scope);
    if (row == nullptr || !Holds(s, c, "iam:scopes:read", scope, t.now)) return Hidden("scope", scope);
    SCAIGRID_RETURN_IF_ERROR(Require(s, c, kind == ScopeKind::kPartner ? "iam:partners:manage" : "iam:scopes:manage", row->parent, t.now));
    Status removed = t.mutation.RemoveScope(scope);
    if (!removed.ok()) return std::move(removed).WithReason("in_use");
    t.change.ops.push_back(store::DeleteScope{scope});
    t.directory.scopes.Erase(scope, t.epoch);
    return Status::Ok();
  });
  if (!rev) return Err(rev.error());
  json::object out;
  out["deleted"] = scope;
  out["revision"] = *rev;
  return out;
}

// ---- Modules: readable by every authenticated caller (keys are not secret: tenant admins
// need them to write custom roles); registering one is a platform operation.

Result<json::object> IamService::ListModules(const Caller&) {
  auto st = state();
  json::array items;
  for (const Manifest& m : st->snapshot->registry().manifests()) {
    json::object o;
    o["module"] = m.module;
    o["title"] = m.title;
    o["version"] = m.version;
    o["keys"] = m.permissions.size();
    items.push_back(std::move(o));
  }
  json::object out;
  out["items"] = std::move(items);
  out["revision"] = st->snapshot->revision();
  return out;
}

Result<json::object> IamService::GetModule(const Caller&, std::string_view module) {
  auto st = state();
  const Registry& reg = st->snapshot->registry();
  const Manifest* m = reg.FindModule(module);
  if (m == nullptr) return Err(Hidden("module", module));
  json::object out;
  out["module"] = m->module;
  out["title"] = m->title;
  out["version"] = m->version;
  json::array perms;
  for (const PermissionSpec& p : m->permissions) {
    json::object k;
    k["key"] = p.key.value;
    k["description"] = p.description;
    if (p.platform_level) k["level"] = "platform";
    if (p.audit_always) k["audit"] = "always";
    if (p.sensitive) k["sensitive"] = true;
    if (p.owner_only) k["owner_only"] = true, k["override"] = p.override_key.value;
    json::array implies;
    if (auto id = reg.FindKey(p.key.value))
      for (KeyId t : reg.DirectImplications(*id)) implies.emplace_back(reg.key(t).key);
    if (!implies.empty()) k["implies"] = std::move(implies);
    perms.push_back(std::move(k));
  }
  out["permissions"] = std::move(perms);
  if (const store::ModuleRow* row = st->directory.modules.Find(module)) out["source"] = row->source;
  out["revision"] = st->snapshot->revision();
  return out;
}

Result<json::object> IamService::PutModule(const Caller& c, std::string_view module, std::string_view text) {
  // The gate first: only those who may register modules learn what is wrong with one.
  SCAIGRID_RETURN_IF_ERROR(Require(*state()->snapshot, c, "iam:modules:manage", "platform", clock_.Now()));
  auto manifest = ParseManifest(text, "request body");
  if (!manifest) return Err(manifest.error());
  if (manifest->module != module) {
    return Err(Status::InvalidArgument("the manifest declares module " + Quote(manifest->module) + " but the path names " + Quote(module)));
  }
  json::object out;
  auto rev = Commit(c, [&](Txn& t) -> Status {
    const Snapshot& s = *t.base.snapshot;
    SCAIGRID_RETURN_IF_ERROR(Require(s, c, "iam:modules:manage", "platform", t.now));
    // The grant rule: a manifest hands keys the actor may not hold (new ones among them) to
    // roles everybody is bound to, so registering one needs iam:roles:escalate as well.
    if (!Holds(s, c, "iam:roles:escalate", "platform", t.now)) {
      return Status(StatusCode::kPermissionDenied,
                    "escalation: a manifest grants its keys to roles; registering one needs 'iam:roles:escalate' at 'platform'")
          .WithReason("escalation");
    }
    const Registry& old = s.registry();
    if (const Manifest* current = old.FindModule(module); current && manifest->version < current->version) {
      return Status::FailedPrecondition("module " + Quote(module) + " is at version " + std::to_string(current->version) +
                                        "; a registration may not go back to version " + std::to_string(manifest->version))
          .WithReason("stale_version");
    }
    // A new version takes the old one's place: the registry keeps the order of first
    // registration, as the store does (and so a node that loads the store agrees).
    std::vector<Manifest> all;
    bool replaced = false;
    for (const Manifest& m : old.manifests()) {
      replaced = replaced || m.module == module;
      all.push_back(m.module == module ? *manifest : m);
    }
    if (!replaced) all.push_back(*manifest);
    auto reg = Registry::Build(std::move(all), &old);
    if (!reg) return reg.error();
    Status set = t.mutation.SetRegistry(*reg);
    if (!set.ok()) return std::move(set).WithReason("in_use");
    store::ModuleRow row{std::string(module), manifest->version, std::string(text), t.now};
    t.change.ops.push_back(store::PutModule{row});
    t.directory.modules.Put(row.module, row, t.epoch);
    return Status::Ok();
  });
  if (!rev) return Err(rev.error());
  out["module"] = std::string(module);
  out["version"] = manifest->version;
  out["keys"] = manifest->permissions.size();
  out["revision"] = *rev;
  return out;
}

}  // namespace scaigrid::iam::service
