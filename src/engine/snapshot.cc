#include "scaigrid/iam/snapshot.h"

#include <algorithm>
#include <atomic>
#include <map>

#include "scaigrid/iam/mutation.h"
#include "scaigrid/iam/time_format.h"

namespace scaigrid::iam {

namespace detail {
std::uint64_t NewEpoch() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace detail

namespace {

using detail::Grant;
using detail::PrincipalNode;
using detail::RoleNode;
using detail::ScopeNode;

// Principals with more grants than this are searched by scope instead of scanned.
constexpr size_t kLinearScanMax = 24;

inline bool Covers(const ScopeNode& s, ScopeId g) {
  return g == s.path[0] || g == s.path[1] || g == s.path[2] || g == s.path[3];
}

std::string Quote(std::string_view v) { return "'" + std::string(v.substr(0, 200)) + "'"; }

}  // namespace

std::string_view DecisionCodeName(DecisionCode code) {
  switch (code) {
    case DecisionCode::kAllowed: return "allowed";
    case DecisionCode::kNoGrant: return "no_grant";
    case DecisionCode::kPlatformKeyBelowPlatform: return "platform_key_below_platform";
    case DecisionCode::kOutsideRestrictionKeys: return "outside_credential_keys";
    case DecisionCode::kOutsideRestrictionScope: return "outside_credential_scope";
    case DecisionCode::kNotOwner: return "not_owner";
  }
  return "unknown";
}

std::shared_ptr<const Snapshot> Snapshot::Empty(std::shared_ptr<const Registry> registry) {
  Snapshot base;
  base.registry_ = registry;
  std::uint64_t epoch = detail::NewEpoch();
  auto platform = std::make_shared<ScopeNode>();
  platform->epoch = epoch;
  platform->kind = ScopeKind::kPlatform;
  platform->name = "platform";
  platform->path[0] = ScopeId(0);
  base.scopes_.PushBack(std::move(platform), epoch);
  base.scope_index_.Put("platform", 0, epoch);
  struct BuiltIn {
    const char* ref;
    const char* name;
    ScopeKind kind;
  };
  static constexpr BuiltIn kBuiltIns[] = {
      {"super_admin", "Super admin", ScopeKind::kPlatform},
      {"partner_admin", "Partner admin", ScopeKind::kPartner},
      {"tenant_admin", "Tenant admin", ScopeKind::kTenant},
      {"tenant_user", "Tenant user", ScopeKind::kTenant},
      {"tenant_viewer", "Tenant viewer", ScopeKind::kTenant},
  };
  for (const BuiltIn& b : kBuiltIns) {
    auto role = std::make_shared<RoleNode>();
    role->epoch = epoch;
    role->kind = RoleKind::kBuiltIn;
    role->ref = b.ref;
    role->name = b.name;
    role->bind_kind = b.kind;
    base.role_index_.Put(b.ref, static_cast<std::uint32_t>(base.roles_.size()), epoch);
    base.roles_.PushBack(std::move(role), epoch);
  }
  Mutation m(base);
  // Resolving against the registry cannot fail here: no custom roles, nothing bound.
  Status s = m.SetRegistry(std::move(registry));
  (void)s;
  m.set_revision(0);
  return m.Finish();
}

std::optional<ScopeId> Snapshot::FindScope(std::string_view scope) const {
  const std::uint32_t* id = scope_index_.Find(scope);
  if (id == nullptr) return std::nullopt;
  return ScopeId(*id);
}

std::optional<PrincipalId> Snapshot::FindPrincipal(std::string_view principal) const {
  const std::uint32_t* id = principal_index_.Find(principal);
  if (id == nullptr) return std::nullopt;
  return PrincipalId(*id);
}

std::optional<RoleId> Snapshot::FindRole(std::string_view ref) const {
  const std::uint32_t* id = role_index_.Find(ref);
  if (id == nullptr || roles_[*id]->removed) return std::nullopt;
  return RoleId(*id);
}

Result<Restriction> Snapshot::MakeRestriction(std::span<const std::string> keys,
                                              std::string_view scope) const {
  Restriction r;
  if (!keys.empty()) {
    auto set = registry_->ResolvePatterns(keys, /*allow_platform_keys=*/true);
    if (!set) return Err(set.error());
    r.limit_keys = true;
    r.keys = std::move(*set);
  }
  if (!scope.empty()) {
    auto ref = ScopeRef::Parse(scope);
    if (!ref) return Err(ref.error());
    auto id = FindScope(scope);
    if (!id) return Err(Status::NotFound("no scope " + Quote(scope)));
    r.scope = *id;
    r.scope_kind = ref->kind;
  }
  return r;
}

// ---- The hot path.

bool Snapshot::MatchGrants(const PrincipalNode& p, const ScopeNode& scope, KeyId key, Time now,
                           bool ignore_window, GrantReason* out) const noexcept {
  auto grants_key = [&](const Grant& g) {
    return (ignore_window || (g.not_before <= now && now < g.expires_at)) &&
           roles_[g.role.value]->keys.Test(key);
  };
  const std::vector<Grant>& grants = p.grants;
  if (grants.size() <= kLinearScanMax) {
    for (const Grant& g : grants) {
      if (Covers(scope, g.scope) && grants_key(g)) {
        *out = {g.id, g.role, g.scope, PrincipalId()};
        return true;
      }
    }
    return false;
  }
  for (ScopeId s : scope.path) {
    if (!s.valid()) continue;
    auto it = std::lower_bound(grants.begin(), grants.end(), s,
                               [](const Grant& g, ScopeId v) { return g.scope < v; });
    for (; it != grants.end() && it->scope == s; ++it) {
      if (grants_key(*it)) {
        *out = {it->id, it->role, it->scope, PrincipalId()};
        return true;
      }
    }
  }
  return false;
}

bool Snapshot::FindGrant(PrincipalId subject, const ScopeNode& scope, KeyId key, Time now,
                         bool ignore_window, GrantReason* out) const noexcept {
  if (!subject.valid() || subject.value >= principals_.size()) return false;
  const PrincipalNode& p = *principals_[subject.value];
  if (MatchGrants(p, scope, key, now, ignore_window, out)) return true;
  for (PrincipalId g : p.groups) {
    if (MatchGrants(*principals_[g.value], scope, key, now, ignore_window, out)) {
      out->via_group = g;
      return true;
    }
  }
  return false;
}

Decision Snapshot::Check(const CheckRequest& q, Time now) const noexcept {
  Decision d;
  const ScopeNode& scope = *scopes_[q.scope.value];
  const KeyInfo& info = registry_->key(q.key);
  if (info.platform_level && scope.kind != ScopeKind::kPlatform) {
    d.code = DecisionCode::kPlatformKeyBelowPlatform;
    return d;
  }
  const Restriction* r = q.restriction;
  if (r != nullptr) {
    if (r->limit_keys && !r->keys.Test(q.key)) {
      d.code = DecisionCode::kOutsideRestrictionKeys;
      return d;
    }
    if (r->scope.valid() && scope.path[static_cast<int>(r->scope_kind)] != r->scope) {
      d.code = DecisionCode::kOutsideRestrictionScope;
      return d;
    }
  }
  if (!FindGrant(q.subject, scope, q.key, now, false, &d.grant)) {
    d.code = DecisionCode::kNoGrant;
    return d;
  }
  if (info.owner_only && q.has_resource && !(q.resource_owner.valid() && q.resource_owner == q.subject)) {
    KeyId o = info.override_key;
    GrantReason via_override;
    if (o != kNoKey && (r == nullptr || !r->limit_keys || r->keys.Test(o)) &&
        FindGrant(q.subject, scope, o, now, false, &via_override)) {
      d.allowed = true;
      d.code = DecisionCode::kAllowed;
      d.grant = via_override;
      d.by_override = true;
      return d;
    }
    d.code = DecisionCode::kNotOwner;
    return d;
  }
  d.allowed = true;
  d.code = DecisionCode::kAllowed;
  return d;
}

Result<Decision> Snapshot::Check(const CheckInput& in, Time now) const {
  auto q = Resolve(in);
  if (!q) return Err(q.error());
  return Check(*q, now);
}

Result<CheckRequest> Snapshot::Resolve(const CheckInput& in) const {
  auto key = registry_->FindKey(in.key);
  if (!key) {
    if (Status s = ValidateKey(in.key); !s.ok()) return Err(s);
    return Err(Status::InvalidArgument("unknown permission key " + Quote(in.key)).WithReason("unknown_permission"));
  }
  auto scope = FindScope(in.scope);
  if (!scope) {
    auto ref = ScopeRef::Parse(in.scope);
    if (!ref) return Err(ref.error());
    return Err(Status::NotFound("no scope " + Quote(in.scope)));
  }
  CheckRequest q{.scope = *scope, .key = *key, .restriction = in.restriction};
  if (auto p = FindPrincipal(in.subject)) {
    q.subject = *p;
  } else if (auto ref = PrincipalRef::Parse(in.subject); !ref) {
    return Err(ref.error());
  }
  q.has_resource = in.has_resource;
  if (in.has_resource && !in.resource_owner.empty()) {
    if (auto p = FindPrincipal(in.resource_owner)) {
      q.resource_owner = *p;
    } else if (auto ref = PrincipalRef::Parse(in.resource_owner); !ref) {
      return Err(ref.error());
    }
  }
  return q;
}

// ---- Explanations.

std::vector<std::string> Snapshot::DeclaredKeys(const RoleNode& role) const {
  std::vector<std::string> out;
  const Registry& reg = *registry_;
  auto add_patterns = [&](const std::vector<std::string>& patterns) {
    for (KeyId id = 0; id < reg.key_count(); ++id) {
      if (reg.key(id).removed) continue;
      for (const auto& p : patterns)
        if (PatternMatches(p, reg.key(id).key)) {
          out.push_back(reg.key(id).key);
          break;
        }
    }
  };
  if (role.kind == RoleKind::kBuiltIn) {
    std::vector<std::string> defaults;
    for (const Manifest& m : reg.manifests()) {
      const auto& list = role.ref == "tenant_user" ? m.tenant_user_defaults : m.tenant_viewer_defaults;
      for (const Located& l : list) defaults.push_back(l.value);
    }
    add_patterns(defaults);
  } else {
    add_patterns(role.patterns);
  }
  return out;
}

Explanation Snapshot::Explain(const CheckRequest& q, const Decision& d, Time now,
                              std::string_view subject_name) const {
  Explanation e;
  e.allowed = d.allowed;
  e.code = d.code;
  e.by_override = d.by_override;
  const Registry& reg = *registry_;
  const std::string& key = reg.key(q.key).key;
  const std::string& scope = ScopeName(q.scope);
  std::string subject = !subject_name.empty()  ? std::string(subject_name)
                        : q.subject.valid()     ? PrincipalName(q.subject)
                                                : std::string("the subject");
  bool has_grant = d.allowed || d.code == DecisionCode::kNotOwner;
  if (has_grant) {
    const GrantReason& g = d.grant;
    const RoleNode& role = *roles_[g.role.value];
    Explanation::Grant eg;
    eg.binding = g.binding;
    eg.role = role.ref;
    eg.role_kind = role.kind;
    eg.scope = ScopeName(g.scope);
    if (g.via_group.valid()) eg.via_group = PrincipalName(g.via_group);
    eg.catch_all = role.kind == RoleKind::kBuiltIn && (g.role == kSuperAdmin || g.role == kPartnerAdmin ||
                                                      g.role == kTenantAdmin);
    KeyId asked = d.by_override ? reg.key(q.key).override_key : q.key;
    if (!eg.catch_all) {
      // Shortest implication path from a declared key to the asked key.
      std::vector<std::string> declared = DeclaredKeys(role);
      std::vector<KeyId> prev(reg.key_count(), kNoKey);
      std::vector<bool> seen(reg.key_count(), false);
      std::vector<KeyId> queue;
      for (const auto& k : declared)
        if (auto id = reg.FindKey(k)) {
          seen[*id] = true;
          queue.push_back(*id);
        }
      for (size_t i = 0; i < queue.size() && !seen[asked]; ++i) {
        for (KeyId t : reg.DirectImplications(queue[i]))
          if (!seen[t]) {
            seen[t] = true;
            prev[t] = queue[i];
            queue.push_back(t);
          }
      }
      if (seen[asked] && prev[asked] != kNoKey) {
        for (KeyId k = asked; k != kNoKey; k = prev[k]) eg.implied_from.insert(eg.implied_from.begin(), reg.key(k).key);
      }
    }
    const PrincipalNode& holder = *principals_[(g.via_group.valid() ? g.via_group : q.subject).value];
    for (const Grant& gr : holder.grants)
      if (gr.id == g.binding) eg.expires_at = gr.expires_at;
    std::string how = "binding " + std::to_string(g.binding) + " gives " +
                      (g.via_group.valid() ? "group " + eg.via_group + " (of which " + subject + " is a member)" : subject) +
                      " role " + role.ref + " at " + eg.scope;
    if (!eg.implied_from.empty()) how += ", and " + eg.implied_from.front() + " implies " + reg.key(asked).key;
    if (d.allowed && d.by_override) {
      e.summary = "allowed: " + subject + " does not own the resource but holds the override " + reg.key(asked).key + ": " + how;
    } else if (d.allowed) {
      e.summary = "allowed: " + how;
    } else {
      e.summary = "denied: " + key + " is owner-only, the resource is not owned by " + subject +
                  ", and " + subject + " lacks the override " +
                  (reg.key(q.key).override_key != kNoKey ? reg.key(reg.key(q.key).override_key).key : std::string("(none)"));
    }
    e.grant = std::move(eg);
    return e;
  }
  switch (d.code) {
    case DecisionCode::kPlatformKeyBelowPlatform:
      e.summary = "denied: " + key + " is a platform-level key, held and checked only at platform, not at " + scope;
      break;
    case DecisionCode::kOutsideRestrictionKeys:
      e.summary = "denied: the credential is restricted to keys that do not include " + key;
      break;
    case DecisionCode::kOutsideRestrictionScope:
      e.summary = "denied: the credential is restricted to " + ScopeName(q.restriction->scope) + " and below, which does not include " + scope;
      break;
    default: {
      e.summary = "denied: no active binding gives " + subject + " " + key + " at " + scope + " or above";
      GrantReason inactive;
      const ScopeNode& s = *scopes_[q.scope.value];
      if (FindGrant(q.subject, s, q.key, now, /*ignore_window=*/true, &inactive)) {
        const PrincipalNode& holder = *principals_[(inactive.via_group.valid() ? inactive.via_group : q.subject).value];
        for (const Grant& g : holder.grants) {
          if (g.id != inactive.binding) continue;
          e.summary += " (binding " + std::to_string(g.id) + " would, but it " +
                       (now < g.not_before ? "starts at " + FormatTime(g.not_before)
                                           : "expired at " + FormatTime(g.expires_at)) + ")";
        }
      }
      break;
    }
  }
  return e;
}

// ---- Effective permissions, who-can, conflicts.

template <typename Fn>
void Snapshot::ForEachApplicableGrant(PrincipalId principal, const ScopeNode& scope, Time now,
                                      Fn&& fn) const {
  if (!principal.valid() || principal.value >= principals_.size()) return;
  const PrincipalNode& p = *principals_[principal.value];
  auto visit = [&](const PrincipalNode& holder, PrincipalId via) {
    for (const Grant& g : holder.grants)
      if (Covers(scope, g.scope) && g.not_before <= now && now < g.expires_at) fn(g, via);
  };
  visit(p, PrincipalId());
  for (PrincipalId g : p.groups) visit(*principals_[g.value], g);
}

KeySet Snapshot::EffectiveKeys(PrincipalId principal, ScopeId scope, Time now,
                               const Restriction* r) const {
  const ScopeNode& s = *scopes_[scope.value];
  KeySet out;
  if (r != nullptr && r->scope.valid() && s.path[static_cast<int>(r->scope_kind)] != r->scope) return out;
  ForEachApplicableGrant(principal, s, now, [&](const Grant& g, PrincipalId) { out |= roles_[g.role.value]->keys; });
  if (s.kind != ScopeKind::kPlatform) out.Subtract(registry_->platform_keys());
  if (r != nullptr && r->limit_keys) out &= r->keys;
  return out;
}

std::vector<EffectivePermission> Snapshot::EffectivePermissions(PrincipalId principal, ScopeId scope,
                                                                Time now, const Restriction* r) const {
  KeySet allowed = EffectiveKeys(principal, scope, now, r);
  std::map<std::string_view, EffectivePermission> by_name;
  const ScopeNode& s = *scopes_[scope.value];
  ForEachApplicableGrant(principal, s, now, [&](const Grant& g, PrincipalId via) {
    roles_[g.role.value]->keys.ForEach([&](KeyId k) {
      if (!allowed.Test(k)) return;
      auto& entry = by_name[registry_->key(k).key];
      entry.key = k;
      entry.reasons.push_back({g.id, g.role, g.scope, via});
    });
  });
  std::vector<EffectivePermission> out;
  out.reserve(by_name.size());
  for (auto& [name, perm] : by_name) out.push_back(std::move(perm));
  return out;
}

WhoCanPage Snapshot::WhoCan(KeyId key, ScopeId scope, Time now, std::string_view cursor,
                            size_t limit) const {
  WhoCanPage page;
  const ScopeNode& s = *scopes_[scope.value];
  if (registry_->key(key).platform_level && s.kind != ScopeKind::kPlatform) return page;
  std::map<std::string_view, WhoCanEntry> found;
  auto add = [&](PrincipalId p, const GrantReason& why) {
    const std::string& name = principals_[p.value]->name;
    if (!cursor.empty() && name <= cursor) return;
    auto& e = found[name];
    e.principal = p;
    e.reasons.push_back(why);
  };
  for (ScopeId a : s.path) {
    if (!a.valid()) continue;
    for (const auto& b : scopes_[a.value]->bindings) {
      if (!(b.not_before <= now && now < b.expires_at) || !roles_[b.role.value]->keys.Test(key)) continue;
      const PrincipalNode& subject = *principals_[b.subject.value];
      if (subject.kind == PrincipalKind::kGroup) {
        for (PrincipalId m : subject.members) add(m, {b.id, b.role, a, b.subject});
      } else {
        add(b.subject, {b.id, b.role, a, PrincipalId()});
      }
    }
  }
  limit = std::max<size_t>(limit, 1);
  for (auto& [name, entry] : found) {
    if (page.entries.size() == limit) {
      page.next_cursor = std::string(PrincipalName(page.entries.back().principal));
      break;
    }
    page.entries.push_back(std::move(entry));
  }
  return page;
}

std::vector<Conflict> Snapshot::FindConflicts(PrincipalId principal, Time now) const {
  std::vector<Conflict> out;
  if (!principal.valid() || registry_->constraints().empty()) return out;
  std::vector<PrincipalId> subjects = {principal};
  const PrincipalNode& p = *principals_[principal.value];
  if (p.kind == PrincipalKind::kGroup) subjects.insert(subjects.end(), p.members.begin(), p.members.end());
  for (PrincipalId who : subjects) {
    const PrincipalNode& node = *principals_[who.value];
    // The largest sets are held at the scopes where bindings sit; check exactly those.
    std::vector<ScopeId> scopes;
    // The catch-all admin roles hold every key by definition (the seeds give tenant_admin both
    // keys of every constraint): constraints govern what other roles combine.
    auto counts = [&](const Grant& g) {
      return now < g.expires_at && g.role != kSuperAdmin && g.role != kPartnerAdmin && g.role != kTenantAdmin;
    };
    auto collect = [&](const PrincipalNode& holder) {
      for (const Grant& g : holder.grants)
        if (counts(g)) scopes.push_back(g.scope);
    };
    collect(node);
    for (PrincipalId g : node.groups) collect(*principals_[g.value]);
    std::sort(scopes.begin(), scopes.end());
    scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
    for (ScopeId sid : scopes) {
      const ScopeNode& s = *scopes_[sid.value];
      KeySet held;
      auto add = [&](const PrincipalNode& holder) {
        for (const Grant& g : holder.grants)
          if (Covers(s, g.scope) && counts(g)) held |= roles_[g.role.value]->keys;
      };
      add(node);
      for (PrincipalId g : node.groups) add(*principals_[g.value]);
      if (s.kind != ScopeKind::kPlatform) held.Subtract(registry_->platform_keys());
      for (const Constraint& c : registry_->constraints())
        if (held.Test(c.first) && held.Test(c.second)) out.push_back({&c, who, sid});
    }
  }
  return out;
}

KeySet Snapshot::MissingKeys(PrincipalId actor, ScopeId scope, const KeySet& wanted, Time now,
                             const Restriction* r) const {
  KeySet missing = wanted;
  missing.Subtract(EffectiveKeys(actor, scope, now, r));
  return missing;
}

// ---- Listing.

std::vector<BindingView> Snapshot::BindingsOf(PrincipalId principal) const {
  std::vector<BindingView> out;
  for (const Grant& g : principals_[principal.value]->grants)
    out.push_back({g.id, principal, g.role, g.scope, g.not_before, g.expires_at});
  return out;
}

std::vector<BindingView> Snapshot::BindingsAt(ScopeId scope) const {
  std::vector<BindingView> out;
  for (const auto& b : scopes_[scope.value]->bindings)
    out.push_back({b.id, b.subject, b.role, scope, b.not_before, b.expires_at});
  std::sort(out.begin(), out.end(), [](const BindingView& a, const BindingView& b) { return a.id < b.id; });
  return out;
}

std::vector<PrincipalId> Snapshot::MembersOf(PrincipalId group) const { return principals_[group.value]->members; }
std::vector<PrincipalId> Snapshot::GroupsOf(PrincipalId principal) const { return principals_[principal.value]->groups; }

std::vector<PrincipalId> Snapshot::SubjectsBoundTo(RoleId role) const {
  std::vector<PrincipalId> out;
  if (roles_[role.value]->binding_count == 0) return out;
  for (size_t i = 0; i < scopes_.size(); ++i)
    for (const auto& b : scopes_[i]->bindings)
      if (b.role == role) out.push_back(b.subject);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<RoleId> Snapshot::RolesUsableAt(ScopeId scope) const {
  std::vector<RoleId> out;
  const ScopeNode& s = *scopes_[scope.value];
  for (std::uint32_t i = 0; i < roles_.size(); ++i) {
    const RoleNode& r = *roles_[i];
    if (r.removed) continue;
    bool usable = r.kind == RoleKind::kCustom ? Covers(s, r.defined_at) : r.bind_kind == s.kind;
    if (usable) out.push_back(RoleId(i));
  }
  return out;
}

}  // namespace scaigrid::iam
