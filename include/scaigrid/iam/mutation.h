// Mutation: builds the next Snapshot from a base one.
//
// Every change is validated against the state so far; a failed call changes nothing and
// the Mutation may go on. Finish() returns the new snapshot, which shares every part the
// changes did not touch with the base (a binding change copies one principal, one scope and
// the few tree nodes above them; editing a role copies that role only, however many
// bindings use it). Many changes in one Mutation (a bulk load) are applied in place.
//
// Thread-safety: one thread at a time per Mutation. The base snapshot stays valid and may
// be read concurrently by anyone.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "scaigrid/iam/snapshot.h"

namespace scaigrid::iam {

struct BindingSpec {
  BindingId id = 0;
  std::string subject;  // principal string
  std::string role;     // role ref: built-in name, "<module>.<role>" or a custom role id
  std::string scope;    // scope string
  Time not_before = kTimeMin;
  Time expires_at = kTimeMax;
};

struct CustomRoleSpec {
  std::string id;  // [A-Za-z0-9_-]{1,128}, no '.', not a built-in role name
  std::string name;
  std::string description;
  std::string scope;  // where it is defined: platform, partner:… or tenant:…
  std::vector<std::string> permissions;  // keys or wildcards
};

class Mutation {
 public:
  explicit Mutation(const Snapshot& base);
  Mutation(const Mutation&) = delete;
  Mutation& operator=(const Mutation&) = delete;

  // Replaces the registry: catch-all roles, module roles and every custom role are
  // resolved again. `registry` must be built from the current one (Registry::Build with
  // `previous`), so key ids stay the same. Errors: kFailedPrecondition when ids would change,
  // when a module role that is bound would disappear or move to another kind of scope, or a
  // custom role would no longer resolve (each listed); nothing changes then.
  Status SetRegistry(std::shared_ptr<const Registry> registry);

  // Adds `scope` under `parent`: a partner or tenant under the platform, a tenant under a
  // partner, a project under a tenant. Errors: kInvalidArgument (malformed, wrong parent
  // kind), kNotFound (parent), kAlreadyExists.
  Status AddScope(std::string_view scope, std::string_view parent);
  // Errors: kNotFound; kFailedPrecondition while it has children, bindings or custom roles.
  Status RemoveScope(std::string_view scope);

  // Principals are created on first use; these make one explicitly (idempotent) or remove
  // one with all its bindings and memberships (kNotFound if unknown).
  Status AddPrincipal(std::string_view principal);
  Status RemovePrincipal(std::string_view principal);

  // Group membership: `group` is group:…, `member` a user or service account.
  // Errors: kInvalidArgument (kinds), kAlreadyExists / kNotFound for the membership.
  Status AddMember(std::string_view group, std::string_view member);
  Status RemoveMember(std::string_view group, std::string_view member);

  // Creates or replaces a custom role. Errors: kInvalidArgument (id, name, and every
  // unknown, malformed, empty-wildcard or platform entry listed), kNotFound (scope),
  // kFailedPrecondition when an existing role would move to another scope.
  Status PutCustomRole(const CustomRoleSpec& spec);
  // Errors: kNotFound; kFailedPrecondition while bindings use it.
  Status RemoveCustomRole(std::string_view id);

  // Errors: kInvalidArgument (malformed subject or scope, expires_at <= not_before, a
  // built-in or module role at the wrong kind of scope, a custom role outside the scope
  // it was defined at), kNotFound (scope or role), kAlreadyExists (the subject already has
  // a binding with this id). Ids must be unique in the whole lineage (the store assigns
  // them); the engine keeps no global id index, so it detects reuse within a subject only.
  Status AddBinding(const BindingSpec& spec);
  // Errors: kNotFound when `subject` has no binding `id`.
  Status RemoveBinding(std::string_view subject, BindingId id);

  // The new snapshot's revision (default: base revision + 1).
  void set_revision(std::uint64_t revision) { next_.revision_ = revision; }

  // The registry as of the changes made so far.
  const Registry& registry() const { return next_.registry(); }

  // The new snapshot. The Mutation must not be used afterwards.
  std::shared_ptr<const Snapshot> Finish();

 private:
  Result<PrincipalId> Intern(std::string_view principal);
  detail::PrincipalNode& MutablePrincipal(PrincipalId id);
  detail::ScopeNode& MutableScope(ScopeId id);
  detail::RoleNode& MutableRole(RoleId id);
  Status ResolveRoleKeys(const Registry& registry, detail::RoleNode& role) const;
  void DropGrants(PrincipalId id);

  Snapshot next_;
  std::uint64_t epoch_;
  std::vector<PrincipalId> unsorted_;
};

}  // namespace scaigrid::iam
