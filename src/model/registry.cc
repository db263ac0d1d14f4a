#include "scaigrid/iam/registry.h"

#include <algorithm>
#include <functional>
#include <map>

namespace scaigrid::iam {
namespace {

std::string Quote(std::string_view v) { return "'" + std::string(v) + "'"; }

std::string At(const Manifest& m, int line, const std::string& message) {
  return m.file + ":" + std::to_string(line) + ": " + message;
}

}  // namespace

std::optional<KeyId> Registry::FindKey(std::string_view key) const {
  auto it = key_index_.find(key);
  if (it == key_index_.end() || keys_[it->second].removed) return std::nullopt;
  return it->second;
}

const Manifest* Registry::FindModule(std::string_view module) const {
  for (const auto& m : manifests_)
    if (m.module == module) return &m;
  return nullptr;
}

const ModuleRole* Registry::FindModuleRole(std::string_view ref) const {
  for (const auto& r : module_roles_)
    if (r.ref == ref) return &r;
  return nullptr;
}

Result<KeySet> Registry::ResolvePatterns(std::span<const std::string> patterns,
                                         bool allow_platform_keys) const {
  KeySet out;
  std::vector<std::string> problems;
  for (const std::string& p : patterns) {
    if (Status s = ValidatePattern(p); !s.ok()) {
      problems.push_back(s.message());
      continue;
    }
    if (!IsWildcard(p)) {
      auto id = FindKey(p);
      if (!id) {
        problems.push_back("unknown permission key " + Quote(p));
      } else if (keys_[*id].platform_level && !allow_platform_keys) {
        problems.push_back("platform-level key " + Quote(p) + " cannot be held below the platform");
      } else {
        out |= closure_[*id];
      }
      continue;
    }
    bool matched = false;
    for (KeyId id = 0; id < keys_.size(); ++id) {
      const KeyInfo& k = keys_[id];
      if (k.removed || !PatternMatches(p, k.key)) continue;
      if (k.platform_level && !allow_platform_keys) continue;
      out |= closure_[id];
      matched = true;
    }
    if (!matched) problems.push_back("wildcard " + Quote(p) + " matches no registered key");
  }
  if (!allow_platform_keys) out.Subtract(platform_keys_);
  if (!problems.empty()) {
    std::string message = "invalid permissions: " + std::to_string(problems.size()) + " problem(s)";
    return Err(Status::InvalidArgument(std::move(message), std::move(problems)));
  }
  return out;
}

Result<std::shared_ptr<const Registry>> Registry::Build(std::vector<Manifest> manifests,
                                                        const Registry* previous) {
  std::shared_ptr<Registry> r(new Registry());
  std::vector<std::string> errors;

  // Modules and namespaces are owned by exactly one manifest.
  std::map<std::string, const Manifest*> modules, namespaces;
  for (const Manifest& m : manifests) {
    if (!modules.emplace(m.module, &m).second) {
      errors.push_back(At(m, 1, "module " + Quote(m.module) + " is already defined in " +
                                    modules[m.module]->file));
    }
    for (const std::string& ns : m.namespaces) {
      auto [it, inserted] = namespaces.emplace(ns, &m);
      if (!inserted && it->second != &m) {
        int line = m.permissions.empty() ? 1 : m.permissions.front().key.line;
        errors.push_back(At(m, line, "namespace " + Quote(ns) + " already belongs to module " +
                                         Quote(it->second->module)));
      }
    }
  }

  // Intern keys, keeping the ids of `previous`.
  if (previous != nullptr) {
    r->keys_ = previous->keys_;
    for (KeyInfo& k : r->keys_) {
      k.removed = true;
      r->key_index_.emplace(k.key, static_cast<KeyId>(&k - r->keys_.data()));
    }
  }
  for (const Manifest& m : manifests) {
    for (const PermissionSpec& p : m.permissions) {
      auto [it, inserted] = r->key_index_.emplace(p.key.value, static_cast<KeyId>(r->keys_.size()));
      if (inserted) {
        r->keys_.push_back({});
      } else if (!r->keys_[it->second].removed) {
        errors.push_back(At(m, p.key.line, "duplicate permission key " + Quote(p.key.value)));
        continue;
      }
      KeyInfo& k = r->keys_[it->second];
      k = KeyInfo{p.key.value, p.description, m.module, p.platform_level, p.audit_always,
                  p.sensitive, p.owner_only, kNoKey, false};
    }
  }
  const size_t n = r->keys_.size();
  r->direct_.assign(n, {});
  r->closure_.assign(n, {});

  // Resolves a manifest list entry (key or wildcard) to ids; reports unknown entries.
  auto expand = [&](const Manifest& m, const Located& entry, const char* where) {
    std::vector<KeyId> ids;
    if (!IsWildcard(entry.value)) {
      auto it = r->key_index_.find(entry.value);
      if (it == r->key_index_.end() || r->keys_[it->second].removed) {
        errors.push_back(At(m, entry.line, std::string("unknown key ") + Quote(entry.value) + " in " + where));
      } else {
        ids.push_back(it->second);
      }
      return ids;
    }
    for (KeyId id = 0; id < n; ++id)
      if (!r->keys_[id].removed && PatternMatches(entry.value, r->keys_[id].key)) ids.push_back(id);
    if (ids.empty()) {
      errors.push_back(At(m, entry.line, std::string("wildcard ") + Quote(entry.value) + " in " + where + " matches no key"));
    }
    return ids;
  };

  for (const Manifest& m : manifests) {
    for (const PermissionSpec& p : m.permissions) {
      if (!p.owner_only) continue;
      auto ids = expand(m, p.override_key, "override");
      if (!ids.empty() && r->keys_[ids[0]].platform_level) {
        errors.push_back(At(m, p.override_key.line, "override " + Quote(p.override_key.value) +
                                                        " is platform-level; an override must be holdable where the key is"));
        ids.clear();
      }
      auto it = r->key_index_.find(p.key.value);
      if (!ids.empty() && it != r->key_index_.end()) r->keys_[it->second].override_key = ids[0];
    }
  }

  // Implications: expand, then reject cycles naming the whole cycle.
  std::vector<std::vector<int>> edge_line(n);
  std::vector<const Manifest*> edge_manifest(n, nullptr);
  for (const Manifest& m : manifests) {
    for (const ImplicationSpec& imp : m.implies) {
      auto from = expand(m, imp.from, "implies");
      if (from.empty()) continue;
      KeyId f = from[0];
      if (r->keys_[f].module != m.module) {
        errors.push_back(At(m, imp.from.line, "implies of " + Quote(imp.from.value) + ": a module may only declare what its own keys imply"));
        continue;
      }
      for (const Located& to : imp.to) {
        if (to.value == imp.from.value) {
          errors.push_back(At(m, to.line, "implication cycle: " + imp.from.value + " => " + to.value));
          continue;
        }
        for (KeyId t : expand(m, to, "implies")) {
          if (t == f) continue;  // a wildcard never makes a key imply itself
          if (std::find(r->direct_[f].begin(), r->direct_[f].end(), t) == r->direct_[f].end()) {
            r->direct_[f].push_back(t);
            edge_line[f].push_back(to.line);
            edge_manifest[f] = &m;
          }
        }
      }
    }
  }
  std::vector<int> state(n, 0);  // 0 new, 1 on stack, 2 done
  std::vector<KeyId> stack;
  bool cycle_found = false;
  std::function<void(KeyId)> visit = [&](KeyId k) {
    state[k] = 1;
    stack.push_back(k);
    for (size_t i = 0; i < r->direct_[k].size() && !cycle_found; ++i) {
      KeyId t = r->direct_[k][i];
      if (state[t] == 1) {
        std::string path;
        auto start = std::find(stack.begin(), stack.end(), t);
        for (auto it = start; it != stack.end(); ++it) path += r->keys_[*it].key + " => ";
        path += r->keys_[t].key;
        errors.push_back(At(*edge_manifest[k], edge_line[k][i], "implication cycle: " + path));
        cycle_found = true;
      } else if (state[t] == 0) {
        visit(t);
      }
    }
    stack.pop_back();
    state[k] = 2;
  };
  for (KeyId k = 0; k < n && !cycle_found; ++k)
    if (state[k] == 0) visit(k);

  if (!cycle_found) {
    std::vector<bool> done(n, false);
    std::function<void(KeyId)> close = [&](KeyId k) {
      if (done[k]) return;
      r->closure_[k].Set(k);
      for (KeyId t : r->direct_[k]) {
        close(t);
        r->closure_[k] |= r->closure_[t];
      }
      done[k] = true;
    };
    for (KeyId k = 0; k < n; ++k)
      if (!r->keys_[k].removed) close(k);
  }

  for (KeyId k = 0; k < n; ++k) {
    const KeyInfo& info = r->keys_[k];
    if (info.removed) continue;
    r->all_keys_.Set(k);
    (info.platform_level ? r->platform_keys_ : r->non_platform_keys_).Set(k);
    if (info.audit_always) r->audit_always_.Set(k);
  }

  for (const Manifest& m : manifests) {
    auto defaults = [&](const std::vector<Located>& entries, KeySet& into, const char* role) {
      for (const Located& e : entries) {
        for (KeyId id : expand(m, e, role)) {
          if (r->keys_[id].platform_level) {
            errors.push_back(At(m, e.line, "platform-level key " + Quote(e.value) + " cannot be a default of " + role + " (it is bound at a tenant)"));
          } else {
            into |= r->closure_[id];
          }
        }
      }
    };
    defaults(m.tenant_user_defaults, r->tenant_user_, "defaults.tenant_user");
    defaults(m.tenant_viewer_defaults, r->tenant_viewer_, "defaults.tenant_viewer");
    // Bound at tenants: never platform-level keys, even through an implication.
    r->tenant_user_.Subtract(r->platform_keys_);
    r->tenant_viewer_.Subtract(r->platform_keys_);

    for (const ModuleRoleSpec& spec : m.roles) {
      ModuleRole role{m.module + "." + spec.name.value, m.module, spec.name.value, spec.scope,
                      spec.description, {}, {}};
      for (const Located& e : spec.permissions) {
        role.permissions.push_back(e.value);
        for (KeyId id : expand(m, e, "role permissions")) {
          if (r->keys_[id].platform_level && spec.scope != ScopeKind::kPlatform) {
            if (!IsWildcard(e.value)) {
              errors.push_back(At(m, e.line, "platform-level key " + Quote(e.value) + " in role " + Quote(spec.name.value) + " bound at " + std::string(ScopeKindName(spec.scope))));
            }
            continue;
          }
          role.keys |= r->closure_[id];
        }
      }
      if (spec.scope != ScopeKind::kPlatform) role.keys.Subtract(r->platform_keys_);
      r->module_roles_.push_back(std::move(role));
    }

    for (const ConstraintSpec& spec : m.constraints) {
      if (spec.keys.size() != 2) continue;
      auto a = expand(m, spec.keys[0], "constraint");
      auto b = expand(m, spec.keys[1], "constraint");
      if (a.empty() || b.empty()) continue;
      r->constraints_.push_back({m.module, spec.name.value, a[0], b[0], spec.mode, spec.description});
    }
    for (const CapabilitySpec& c : m.capabilities) {
      (void)expand(m, c.issue_key, "capability issue key");
      (void)expand(m, c.revoke_key, "capability revoke key");
      for (KeyId id : expand(m, c.permission, "capability permission")) {
        // A token carries no resource owner: an owner-only key would let its minter hand out
        // someone else's resource.
        if (r->keys_[id].owner_only) {
          errors.push_back(At(m, c.permission.line, "capability " + Quote(c.name.value) + " carries owner-only key " +
                                                      Quote(c.permission.value) + "; a capability token cannot hold an owner-only key"));
        }
      }
    }
    for (const RouteSpec& route : m.routes) (void)expand(m, route.permission, "route");
  }

  if (!errors.empty()) {
    std::string message = "invalid manifests: " + std::to_string(errors.size()) + " problem(s)";
    return Err(Status::InvalidArgument(std::move(message), std::move(errors)));
  }
  r->manifests_ = std::move(manifests);
  return std::shared_ptr<const Registry>(std::move(r));
}

}  // namespace scaigrid::iam
