#include "scaigrid/iam/mutation.h"

#include <algorithm>

namespace scaigrid::iam {
namespace {

using detail::Grant;
using detail::PrincipalNode;
using detail::RoleNode;
using detail::ScopeBinding;
using detail::ScopeNode;

std::string Quote(std::string_view v) { return "'" + std::string(v.substr(0, 200)) + "'"; }

bool GrantLess(const Grant& a, const Grant& b) {
  return a.scope != b.scope ? a.scope < b.scope : a.id < b.id;
}

bool IsBuiltInName(std::string_view ref) {
  return ref == "super_admin" || ref == "partner_admin" || ref == "tenant_admin" ||
         ref == "tenant_user" || ref == "tenant_viewer";
}

}  // namespace

Mutation::Mutation(const Snapshot& base) : next_(base), epoch_(detail::NewEpoch()) {
  next_.revision_ = base.revision_ + 1;
}

detail::PrincipalNode& Mutation::MutablePrincipal(PrincipalId id) {
  return detail::MutableNode(next_.principals_.Mutable(id.value, epoch_), epoch_);
}
detail::ScopeNode& Mutation::MutableScope(ScopeId id) {
  return detail::MutableNode(next_.scopes_.Mutable(id.value, epoch_), epoch_);
}
detail::RoleNode& Mutation::MutableRole(RoleId id) {
  return detail::MutableNode(next_.roles_.Mutable(id.value, epoch_), epoch_);
}

Result<PrincipalId> Mutation::Intern(std::string_view principal) {
  if (auto id = next_.FindPrincipal(principal)) return *id;
  auto ref = PrincipalRef::Parse(principal);
  if (!ref) return Err(ref.error());
  PrincipalId id(static_cast<std::uint32_t>(next_.principals_.size()));
  auto node = std::make_shared<PrincipalNode>();
  node->epoch = epoch_;
  node->kind = ref->kind;
  node->name = std::string(principal);
  next_.principals_.PushBack(std::move(node), epoch_);
  next_.principal_index_.Put(std::string(principal), id.value, epoch_);
  return id;
}

Status Mutation::ResolveRoleKeys(const Registry& reg, RoleNode& role) const {
  switch (role.kind) {
    case RoleKind::kBuiltIn:
      if (role.ref == "super_admin") role.keys = reg.all_keys();
      else if (role.ref == "partner_admin" || role.ref == "tenant_admin") role.keys = reg.non_platform_keys();
      else if (role.ref == "tenant_user") role.keys = reg.tenant_user_defaults();
      else role.keys = reg.tenant_viewer_defaults();
      return Status::Ok();
    case RoleKind::kModule: {
      const ModuleRole* mr = reg.FindModuleRole(role.ref);
      if (mr == nullptr) return Status::NotFound("module role " + Quote(role.ref) + " is no longer registered");
      role.keys = mr->keys;
      role.patterns = mr->permissions;
      role.description = mr->description;
      role.bind_kind = mr->scope;
      return Status::Ok();
    }
    case RoleKind::kCustom: {
      bool at_platform = next_.scopes_[role.defined_at.value]->kind == ScopeKind::kPlatform;
      auto keys = reg.ResolvePatterns(role.patterns, at_platform);
      if (!keys) return keys.error();
      role.keys = std::move(*keys);
      return Status::Ok();
    }
  }
  return Status::Internal("unknown role kind");
}

Status Mutation::SetRegistry(std::shared_ptr<const Registry> registry) {
  const Registry& old = *next_.registry_;
  const Registry& reg = *registry;
  // Key sets held outside the snapshot (credential restrictions) rely on stable ids.
  for (KeyId k = 0; k < old.key_count(); ++k) {
    if (k >= reg.key_count() || reg.key(k).key != old.key(k).key) {
      return Status::FailedPrecondition("the new registry renumbers keys: build it from the current one");
    }
  }
  // Phase 1, no writes: resolve every role against the new registry and collect problems.
  std::vector<std::string> problems;
  std::vector<std::pair<std::uint32_t, RoleNode>> updates;
  std::vector<std::uint32_t> removals;
  for (std::uint32_t i = 0; i < next_.roles_.size(); ++i) {
    const RoleNode& current = *next_.roles_[i];
    if (current.removed) continue;
    RoleNode updated = current;
    Status s = ResolveRoleKeys(reg, updated);
    if (!s.ok() && current.kind == RoleKind::kModule && current.binding_count == 0) {
      removals.push_back(i);
    } else if (!s.ok()) {
      problems.push_back("role " + Quote(current.ref) + ": " + s.message());
      for (const auto& d : s.details()) problems.push_back("  " + d);
    } else if (updated.bind_kind != current.bind_kind && current.binding_count > 0) {
      problems.push_back("role " + Quote(current.ref) + " would move from " +
                         std::string(ScopeKindName(current.bind_kind)) + " to " +
                         std::string(ScopeKindName(updated.bind_kind)) + " scopes while " +
                         std::to_string(current.binding_count) + " binding(s) use it");
    } else if (!(updated.keys == current.keys) || updated.patterns != current.patterns ||
               updated.description != current.description || updated.bind_kind != current.bind_kind) {
      updates.emplace_back(i, std::move(updated));
    }
  }
  if (!problems.empty()) {
    return Status::FailedPrecondition("the new registry would break roles in use", std::move(problems));
  }
  // Phase 2: apply.
  next_.registry_ = std::move(registry);
  for (auto& [i, node] : updates) {
    node.epoch = epoch_;
    MutableRole(RoleId(i)) = std::move(node);
  }
  for (std::uint32_t i : removals) MutableRole(RoleId(i)).removed = true;
  for (const ModuleRole& mr : reg.module_roles()) {  // roles new to this snapshot, or back
    const std::uint32_t* existing = next_.role_index_.Find(mr.ref);
    if (existing != nullptr && !next_.roles_[*existing]->removed) continue;
    RoleNode node;
    node.epoch = epoch_;
    node.kind = RoleKind::kModule;
    node.ref = mr.ref;
    node.name = mr.name;
    Status s = ResolveRoleKeys(reg, node);
    if (!s.ok()) return Status::Internal("module role " + Quote(mr.ref) + " does not resolve: " + s.message());
    if (existing != nullptr) {
      node.binding_count = next_.roles_[*existing]->binding_count;
      MutableRole(RoleId(*existing)) = std::move(node);
      continue;
    }
    RoleId id(static_cast<std::uint32_t>(next_.roles_.size()));
    next_.roles_.PushBack(std::make_shared<RoleNode>(std::move(node)), epoch_);
    next_.role_index_.Put(mr.ref, id.value, epoch_);
  }
  return Status::Ok();
}

Status Mutation::AddScope(std::string_view scope, std::string_view parent) {
  auto ref = ScopeRef::Parse(scope);
  if (!ref) return ref.error();
  auto parent_ref = ScopeRef::Parse(parent);
  if (!parent_ref) return parent_ref.error();
  if (ref->kind == ScopeKind::kPlatform) return Status::AlreadyExists("the platform scope always exists");
  bool parent_ok = (ref->kind == ScopeKind::kPartner && parent_ref->kind == ScopeKind::kPlatform) ||
                   (ref->kind == ScopeKind::kTenant && (parent_ref->kind == ScopeKind::kPlatform ||
                                                       parent_ref->kind == ScopeKind::kPartner)) ||
                   (ref->kind == ScopeKind::kProject && parent_ref->kind == ScopeKind::kTenant);
  if (!parent_ok) {
    return Status::InvalidArgument("a " + std::string(ScopeKindName(ref->kind)) + " cannot be placed under " +
                                   Quote(parent) + ": partners and tenants go under the platform, tenants may go under a partner, projects under a tenant");
  }
  auto parent_id = next_.FindScope(parent);
  if (!parent_id) return Status::NotFound("no scope " + Quote(parent));
  if (next_.FindScope(scope)) return Status::AlreadyExists("scope " + Quote(scope) + " already exists");
  ScopeId id(static_cast<std::uint32_t>(next_.scopes_.size()));
  auto node = std::make_shared<ScopeNode>();
  node->epoch = epoch_;
  node->kind = ref->kind;
  node->name = std::string(scope);
  node->path = next_.scopes_[parent_id->value]->path;
  node->path[static_cast<int>(ref->kind)] = id;
  node->parent = *parent_id;
  next_.scopes_.PushBack(std::move(node), epoch_);
  next_.scope_index_.Put(std::string(scope), id.value, epoch_);
  MutableScope(*parent_id).children++;
  return Status::Ok();
}

Status Mutation::RemoveScope(std::string_view scope) {
  auto id = next_.FindScope(scope);
  if (!id) return Status::NotFound("no scope " + Quote(scope));
  const ScopeNode& node = *next_.scopes_[id->value];
  if (node.kind == ScopeKind::kPlatform) return Status::FailedPrecondition("the platform scope cannot be removed");
  if (node.children > 0 || !node.bindings.empty() || node.custom_roles > 0) {
    return Status::FailedPrecondition(
        "scope " + Quote(scope) + " is in use: " + std::to_string(node.children) + " child scope(s), " +
        std::to_string(node.bindings.size()) + " binding(s), " + std::to_string(node.custom_roles) +
        " custom role(s)");
  }
  ScopeId parent = node.parent;
  MutableScope(*id).removed = true;
  next_.scope_index_.Erase(scope, epoch_);
  MutableScope(parent).children--;
  return Status::Ok();
}

Status Mutation::AddPrincipal(std::string_view principal) {
  auto id = Intern(principal);
  if (!id) return id.error();
  if (next_.principals_[id->value]->removed) MutablePrincipal(*id).removed = false;
  return Status::Ok();
}

void Mutation::DropGrants(PrincipalId id) {
  for (const Grant& g : next_.principals_[id.value]->grants) {
    ScopeNode& scope = MutableScope(g.scope);
    auto it = std::find_if(scope.bindings.begin(), scope.bindings.end(),
                           [&](const ScopeBinding& b) { return b.id == g.id && b.subject == id; });
    if (it != scope.bindings.end()) {
      *it = scope.bindings.back();
      scope.bindings.pop_back();
    }
    MutableRole(g.role).binding_count--;
  }
  MutablePrincipal(id).grants.clear();
}

Status Mutation::RemovePrincipal(std::string_view principal) {
  auto id = next_.FindPrincipal(principal);
  if (!id || next_.principals_[id->value]->removed) return Status::NotFound("no principal " + Quote(principal));
  DropGrants(*id);
  PrincipalNode& node = MutablePrincipal(*id);
  for (PrincipalId g : std::vector<PrincipalId>(node.groups)) {
    auto& members = MutablePrincipal(g).members;
    members.erase(std::remove(members.begin(), members.end(), *id), members.end());
  }
  for (PrincipalId m : std::vector<PrincipalId>(node.members)) {
    auto& groups = MutablePrincipal(m).groups;
    groups.erase(std::remove(groups.begin(), groups.end(), *id), groups.end());
  }
  PrincipalNode& again = MutablePrincipal(*id);
  again.groups.clear();
  again.members.clear();
  again.removed = true;
  return Status::Ok();
}

Status Mutation::AddMember(std::string_view group, std::string_view member) {
  auto gref = PrincipalRef::Parse(group);
  if (!gref) return gref.error();
  auto mref = PrincipalRef::Parse(member);
  if (!mref) return mref.error();
  if (gref->kind != PrincipalKind::kGroup) return Status::InvalidArgument(Quote(group) + " is not a group");
  if (mref->kind == PrincipalKind::kGroup) return Status::InvalidArgument("groups cannot contain groups: " + Quote(member));
  auto gid = Intern(group);
  if (!gid) return gid.error();
  auto mid = Intern(member);
  if (!mid) return mid.error();
  const auto& groups = next_.principals_[mid->value]->groups;
  if (std::find(groups.begin(), groups.end(), *gid) != groups.end()) {
    return Status::AlreadyExists(Quote(member) + " is already a member of " + Quote(group));
  }
  if (next_.principals_[gid->value]->removed) MutablePrincipal(*gid).removed = false;
  if (next_.principals_[mid->value]->removed) MutablePrincipal(*mid).removed = false;
  MutablePrincipal(*gid).members.push_back(*mid);
  MutablePrincipal(*mid).groups.push_back(*gid);
  return Status::Ok();
}

Status Mutation::RemoveMember(std::string_view group, std::string_view member) {
  auto gid = next_.FindPrincipal(group);
  auto mid = next_.FindPrincipal(member);
  auto not_member = Status::NotFound(Quote(member) + " is not a member of " + Quote(group));
  if (!gid || !mid) return not_member;
  const auto& groups = next_.principals_[mid->value]->groups;
  if (std::find(groups.begin(), groups.end(), *gid) == groups.end()) return not_member;
  auto& g = MutablePrincipal(*mid).groups;
  g.erase(std::remove(g.begin(), g.end(), *gid), g.end());
  auto& m = MutablePrincipal(*gid).members;
  m.erase(std::remove(m.begin(), m.end(), *mid), m.end());
  return Status::Ok();
}

Status Mutation::PutCustomRole(const CustomRoleSpec& spec) {
  bool id_ok = IsValidId(spec.id) && spec.id.find('.') == std::string::npos && !IsBuiltInName(spec.id);
  if (!id_ok) {
    return Status::InvalidArgument("invalid custom role id " + Quote(spec.id) +
                                   ": 1-128 characters [A-Za-z0-9_-], not a built-in role name");
  }
  if (spec.name.empty() || spec.name.size() > 200) {
    return Status::InvalidArgument("custom role name must be 1-200 characters");
  }
  if (spec.permissions.empty()) return Status::InvalidArgument("custom role needs at least one permission");
  auto scope_ref = ScopeRef::Parse(spec.scope);
  if (!scope_ref) return scope_ref.error();
  if (scope_ref->kind == ScopeKind::kProject) {
    return Status::InvalidArgument("custom roles are defined at the platform, a partner or a tenant, not at " + Quote(spec.scope));
  }
  auto scope = next_.FindScope(spec.scope);
  if (!scope) return Status::NotFound("no scope " + Quote(spec.scope));

  RoleNode role;
  role.epoch = epoch_;
  role.kind = RoleKind::kCustom;
  role.ref = spec.id;
  role.name = spec.name;
  role.description = spec.description;
  role.defined_at = *scope;
  role.patterns = spec.permissions;
  SCAIGRID_RETURN_IF_ERROR(ResolveRoleKeys(*next_.registry_, role));

  if (const std::uint32_t* existing = next_.role_index_.Find(spec.id)) {
    const RoleNode& old = *next_.roles_[*existing];
    if (old.kind != RoleKind::kCustom) return Status::InvalidArgument(Quote(spec.id) + " is not a custom role");
    if (old.defined_at != *scope) {
      return Status::FailedPrecondition("custom role " + Quote(spec.id) + " is defined at " +
                                        Quote(next_.ScopeName(old.defined_at)) + " and cannot move");
    }
    role.binding_count = old.binding_count;
    MutableRole(RoleId(*existing)) = std::move(role);
    return Status::Ok();
  }
  RoleId id(static_cast<std::uint32_t>(next_.roles_.size()));
  next_.roles_.PushBack(std::make_shared<RoleNode>(std::move(role)), epoch_);
  next_.role_index_.Put(spec.id, id.value, epoch_);
  MutableScope(*scope).custom_roles++;
  return Status::Ok();
}

Status Mutation::RemoveCustomRole(std::string_view id) {
  const std::uint32_t* rid = next_.role_index_.Find(id);
  if (rid == nullptr || next_.roles_[*rid]->kind != RoleKind::kCustom) {
    return Status::NotFound("no custom role " + Quote(id));
  }
  const RoleNode& role = *next_.roles_[*rid];
  if (role.binding_count > 0) {
    return Status::FailedPrecondition("custom role " + Quote(id) + " is used by " +
                                      std::to_string(role.binding_count) + " binding(s)");
  }
  ScopeId scope = role.defined_at;
  RoleId role_id(*rid);
  next_.role_index_.Erase(id, epoch_);
  MutableRole(role_id).removed = true;
  MutableScope(scope).custom_roles--;
  return Status::Ok();
}

Status Mutation::AddBinding(const BindingSpec& spec) {
  auto subject_ref = PrincipalRef::Parse(spec.subject);
  if (!subject_ref) return subject_ref.error();
  auto scope_ref = ScopeRef::Parse(spec.scope);
  if (!scope_ref) return scope_ref.error();
  if (spec.expires_at <= spec.not_before) {
    return Status::InvalidArgument("binding expires_at must be after not_before");
  }
  auto scope = next_.FindScope(spec.scope);
  if (!scope) return Status::NotFound("no scope " + Quote(spec.scope));
  auto role_id = next_.FindRole(spec.role);
  if (!role_id) return Status::NotFound("no role " + Quote(spec.role));
  const RoleNode& role = *next_.roles_[role_id->value];
  const ScopeNode& scope_node = *next_.scopes_[scope->value];
  if (role.kind == RoleKind::kCustom) {
    const ScopeNode& def = *next_.scopes_[role.defined_at.value];
    if (scope_node.path[static_cast<int>(def.kind)] != role.defined_at) {
      return Status::InvalidArgument("custom role " + Quote(role.ref) + " is defined at " + Quote(def.name) +
                                     " and can only be bound there or below, not at " + Quote(spec.scope));
    }
  } else if (role.bind_kind != scope_node.kind) {
    return Status::InvalidArgument("role " + Quote(role.ref) + " is bound at a " +
                                   std::string(ScopeKindName(role.bind_kind)) + " scope, not at " + Quote(spec.scope));
  }
  auto subject = Intern(spec.subject);
  if (!subject) return subject.error();
  const PrincipalNode& existing = *next_.principals_[subject->value];
  for (const Grant& g : existing.grants) {
    if (g.id == spec.id) return Status::AlreadyExists("binding " + std::to_string(spec.id) + " already exists");
  }

  Grant grant{spec.id, spec.not_before, spec.expires_at, *scope, *role_id};
  PrincipalNode& p = MutablePrincipal(*subject);
  p.removed = false;
  if (!p.grants_unsorted && !p.grants.empty() && GrantLess(grant, p.grants.back())) {
    if (p.grants.size() < 64) {
      p.grants.insert(std::upper_bound(p.grants.begin(), p.grants.end(), grant, GrantLess), grant);
    } else {  // bulk loads: sort once in Finish
      p.grants.push_back(grant);
      p.grants_unsorted = true;
      unsorted_.push_back(*subject);
    }
  } else {
    p.grants.push_back(grant);
  }
  MutableScope(*scope).bindings.push_back({spec.id, spec.not_before, spec.expires_at, *subject, *role_id});
  MutableRole(*role_id).binding_count++;
  return Status::Ok();
}

Status Mutation::RemoveBinding(std::string_view subject, BindingId id) {
  auto pid = next_.FindPrincipal(subject);
  auto missing = Status::NotFound(Quote(subject) + " has no binding " + std::to_string(id));
  if (!pid) return missing;
  const auto& grants = next_.principals_[pid->value]->grants;
  auto it = std::find_if(grants.begin(), grants.end(), [&](const Grant& g) { return g.id == id; });
  if (it == grants.end()) return missing;
  Grant g = *it;
  auto& mutable_grants = MutablePrincipal(*pid).grants;
  mutable_grants.erase(std::find_if(mutable_grants.begin(), mutable_grants.end(),
                                    [&](const Grant& x) { return x.id == id; }));
  auto& bindings = MutableScope(g.scope).bindings;
  auto bit = std::find_if(bindings.begin(), bindings.end(),
                          [&](const ScopeBinding& b) { return b.id == id && b.subject == *pid; });
  if (bit != bindings.end()) {
    *bit = bindings.back();
    bindings.pop_back();
  }
  MutableRole(g.role).binding_count--;
  return Status::Ok();
}

std::shared_ptr<const Snapshot> Mutation::Finish() {
  for (PrincipalId id : unsorted_) {
    PrincipalNode& p = MutablePrincipal(id);
    if (!p.grants_unsorted) continue;
    std::sort(p.grants.begin(), p.grants.end(), GrantLess);
    p.grants_unsorted = false;
  }
  unsorted_.clear();
  return std::shared_ptr<const Snapshot>(new Snapshot(std::move(next_)));
}

}  // namespace scaigrid::iam
