// The nodes a Snapshot is made of. Internal: not part of the API.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "scaigrid/iam/ids.h"
#include "scaigrid/iam/key_set.h"
#include "scaigrid/iam/names.h"

namespace scaigrid::iam::detail {

// A binding as its subject sees it. Sorted by (scope, id) in PrincipalNode::grants.
struct Grant {
  BindingId id;
  Time not_before;
  Time expires_at;
  ScopeId scope;
  RoleId role;
};

// A binding as its scope sees it (unordered).
struct ScopeBinding {
  BindingId id;
  Time not_before;
  Time expires_at;
  PrincipalId subject;
  RoleId role;
};

struct ScopeNode {
  std::uint64_t epoch = 0;
  ScopeKind kind = ScopeKind::kPlatform;
  bool removed = false;
  std::string name;  // "tenant:acme"
  // path[k] is the ancestor (or self) of kind k; invalid where there is none (a tenant
  // without partner). A grant at scope g covers this scope iff g is one of path[].
  std::array<ScopeId, kScopeKinds> path;
  ScopeId parent;
  std::uint32_t children = 0;
  std::uint32_t custom_roles = 0;  // custom roles defined here
  std::vector<ScopeBinding> bindings;
};

struct PrincipalNode {
  std::uint64_t epoch = 0;
  PrincipalKind kind = PrincipalKind::kUser;
  bool removed = false;
  bool grants_unsorted = false;  // set during a Mutation, cleared by Finish
  std::string name;  // "user:alice"
  std::vector<PrincipalId> groups;   // users and service accounts: groups they belong to
  std::vector<PrincipalId> members;  // groups: their members
  std::vector<Grant> grants;
};

struct RoleNode {
  std::uint64_t epoch = 0;
  RoleKind kind = RoleKind::kBuiltIn;
  bool removed = false;
  std::string ref;  // how bindings name it: "tenant_admin", "tiers.owner", "cr_123"
  std::string name;
  std::string description;
  ScopeKind bind_kind = ScopeKind::kPlatform;  // built-in and module roles: bound at this kind
  ScopeId defined_at;                          // custom roles: bound here and below
  std::vector<std::string> patterns;           // as written (module and custom roles)
  KeySet keys;                                 // resolved, closed under implication
  std::uint64_t binding_count = 0;
};

}  // namespace scaigrid::iam::detail
