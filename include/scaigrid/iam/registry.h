// Registry: every registered module's keys, compiled for fast use by the engine.
//
// Keys are interned to dense KeyIds. Ids are stable for the life of a process: a registry
// built with `previous` keeps every id `previous` had (a key a new manifest version drops
// keeps its id as a removed tombstone), so KeySets built against an older registry stay
// meaningful. Each key's implication closure is precomputed.
//
// Thread-safety: immutable after Build; share it as std::shared_ptr<const Registry>.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "scaigrid/iam/key_set.h"
#include "scaigrid/iam/manifest.h"

namespace scaigrid::iam {

struct KeyInfo {
  std::string key;
  std::string description;
  std::string module;
  bool platform_level = false;
  bool audit_always = false;
  bool sensitive = false;
  bool owner_only = false;
  KeyId override_key = kNoKey;  // set iff owner_only
  bool removed = false;         // tombstone of a key a later manifest version dropped
};

struct ModuleRole {
  std::string ref;  // "<module>.<name>", how bindings name it
  std::string module;
  std::string name;
  ScopeKind scope = ScopeKind::kProject;  // bound at this kind of scope only
  std::string description;
  std::vector<std::string> permissions;  // as written (keys or wildcards)
  KeySet keys;                           // resolved and closed under implication
};

struct Constraint {
  std::string module;
  std::string name;
  KeyId first = kNoKey;
  KeyId second = kNoKey;
  ConstraintMode mode = ConstraintMode::kEnforce;
  std::string description;
};

class Registry {
 public:
  // Compiles a set of manifests (one per module). Ids of `previous`, if given, are kept.
  // Errors: kInvalidArgument with one detail "FILE:LINE: message 'value'" per problem
  // (unknown keys, cycles, namespace clashes, platform keys where they cannot be held, …).
  static Result<std::shared_ptr<const Registry>> Build(std::vector<Manifest> manifests,
                                                       const Registry* previous = nullptr);

  // Number of key ids, removed tombstones included (ids are 0 … key_count()-1).
  size_t key_count() const { return keys_.size(); }
  std::optional<KeyId> FindKey(std::string_view key) const;
  const KeyInfo& key(KeyId id) const { return keys_[id]; }
  // The key itself and everything it implies, transitively.
  const KeySet& Closure(KeyId id) const { return closure_[id]; }
  // The keys `id` implies directly (wildcards expanded).
  const std::vector<KeyId>& DirectImplications(KeyId id) const { return direct_[id]; }

  // Resolves keys and wildcards to a set closed under implication. Platform-level keys
  // named explicitly are an error unless `allow_platform_keys`; wildcards then skip them.
  // Errors: kInvalidArgument listing every malformed, unknown or platform entry and every
  // wildcard that matches nothing.
  Result<KeySet> ResolvePatterns(std::span<const std::string> patterns,
                                 bool allow_platform_keys) const;

  const KeySet& all_keys() const { return all_keys_; }
  const KeySet& platform_keys() const { return platform_keys_; }
  const KeySet& non_platform_keys() const { return non_platform_keys_; }
  const KeySet& tenant_user_defaults() const { return tenant_user_; }
  const KeySet& tenant_viewer_defaults() const { return tenant_viewer_; }
  const KeySet& audit_always_keys() const { return audit_always_; }

  const std::vector<Manifest>& manifests() const { return manifests_; }
  const Manifest* FindModule(std::string_view module) const;
  const std::vector<ModuleRole>& module_roles() const { return module_roles_; }
  const ModuleRole* FindModuleRole(std::string_view ref) const;
  const std::vector<Constraint>& constraints() const { return constraints_; }

 private:
  Registry() = default;

  std::vector<Manifest> manifests_;
  std::vector<KeyInfo> keys_;
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, KeyId, KeyHash, std::equal_to<>> key_index_;
  std::vector<std::vector<KeyId>> direct_;
  std::vector<KeySet> closure_;
  KeySet all_keys_, platform_keys_, non_platform_keys_, tenant_user_, tenant_viewer_,
      audit_always_;
  std::vector<ModuleRole> module_roles_;
  std::vector<Constraint> constraints_;
};

}  // namespace scaigrid::iam
