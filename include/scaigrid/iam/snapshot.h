// Snapshot: one immutable version of the whole policy state, and every query on it.
//
// A Snapshot holds the registry (modules and keys), the scope tree, principals with their
// group memberships, roles (built-in, module and custom) and bindings. It answers:
//   Check               may subject S use key K at scope X?  (the hot path)
//   Explain             the reason chain behind a decision
//   EffectivePermissions every key a principal holds at a scope, each with its grants
//   WhoCan              every principal holding K at X, paginated
//   FindConflicts / MissingKeys   separation-of-duties and escalation checks for changes
// Semantics are those of SPEC §2 and docs/engine.md; a deny is a Decision, not an error.
//
// Snapshots are made by Mutation (mutation.h) and published by Engine (engine.h).
//
// Thread-safety: immutable; every method is const and may be called from any number of
// threads at once. Check does no allocation, takes no lock and does no I/O.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "scaigrid/iam/detail/cow.h"
#include "scaigrid/iam/detail/nodes.h"
#include "scaigrid/iam/ids.h"
#include "scaigrid/iam/registry.h"

namespace scaigrid::iam {

// One binding that grants a key: which binding, role and scope, and the group it came
// through (invalid when the binding's subject is the principal itself).
struct GrantReason {
  BindingId binding = 0;
  RoleId role;
  ScopeId scope;
  PrincipalId via_group;
};

enum class DecisionCode : std::uint8_t {
  kAllowed,
  kNoGrant,                   // no active binding grants the key here
  kPlatformKeyBelowPlatform,  // platform-level keys are only held at the platform scope
  kOutsideRestrictionKeys,    // the credential is restricted to other keys
  kOutsideRestrictionScope,   // the credential is restricted to another scope
  kNotOwner,                  // owner-only key, resource owned by someone else, no override
};
std::string_view DecisionCodeName(DecisionCode code);

struct Decision {
  bool allowed = false;
  DecisionCode code = DecisionCode::kNoGrant;
  // The grant that decided: valid when allowed, and for kNotOwner (the grant of the key
  // itself). `by_override` is set when an owner-only key was allowed through its override.
  GrantReason grant;
  bool by_override = false;
};

// A credential's restriction (API keys): the holder keeps only the intersection of its
// grants with `keys` (when limit_keys) and acts only at `scope` and below (when valid).
// Build it with Snapshot::MakeRestriction.
struct Restriction {
  bool limit_keys = false;
  KeySet keys;  // closed under implication
  ScopeId scope;
  ScopeKind scope_kind = ScopeKind::kPlatform;
};

// A check with everything resolved to handles: the hot path.
struct CheckRequest {
  PrincipalId subject;  // invalid: a principal the snapshot does not know (holds nothing)
  ScopeId scope;        // must be valid for this snapshot
  KeyId key;            // must be a registered key
  const Restriction* restriction = nullptr;
  // Owner-only keys: when `has_resource`, allowed only if `resource_owner` is the subject
  // or the subject holds the key's override. Without a resource the key alone decides.
  bool has_resource = false;
  PrincipalId resource_owner;
};

// The same check named by strings, as users write them.
struct CheckInput {
  std::string_view subject;  // "user:alice"
  std::string_view scope;    // "tenant:acme"
  std::string_view key;      // "scaibot:bots:read"
  const Restriction* restriction = nullptr;
  bool has_resource = false;
  std::string_view resource_owner;  // principal string; empty = unknown owner
};

// A decision spelled out for people (and for the audit log).
struct Explanation {
  bool allowed = false;
  DecisionCode code = DecisionCode::kNoGrant;
  bool by_override = false;  // an owner-only key allowed through its override
  std::string summary;       // one sentence
  struct Grant {
    BindingId binding = 0;
    std::string role;  // role ref
    RoleKind role_kind = RoleKind::kBuiltIn;
    std::string scope;      // where the binding is
    std::string via_group;  // empty when direct
    bool catch_all = false;  // super_admin / partner_admin / tenant_admin
    // Implication path from a key the role names to the asked key, both included;
    // empty when the role names the key itself (or is a catch-all).
    std::vector<std::string> implied_from;
    Time expires_at = kTimeMax;
  };
  std::optional<Grant> grant;
};

struct EffectivePermission {
  KeyId key = kNoKey;
  std::vector<GrantReason> reasons;  // every active grant of it
};

struct WhoCanEntry {
  PrincipalId principal;  // a user or a service account (group bindings are expanded)
  std::vector<GrantReason> reasons;
};

struct WhoCanPage {
  std::vector<WhoCanEntry> entries;  // ordered by principal name
  std::string next_cursor;           // empty on the last page
};

struct Conflict {
  const Constraint* constraint = nullptr;  // points into the snapshot's registry
  PrincipalId principal;
  ScopeId scope;
};

// A binding as stored in the snapshot.
struct BindingView {
  BindingId id = 0;
  PrincipalId subject;
  RoleId role;
  ScopeId scope;
  Time not_before = kTimeMin;
  Time expires_at = kTimeMax;
};

class Snapshot {
 public:
  // A snapshot with only the platform scope and the built-in roles, at revision 0.
  static std::shared_ptr<const Snapshot> Empty(std::shared_ptr<const Registry> registry);

  std::uint64_t revision() const { return revision_; }
  const Registry& registry() const { return *registry_; }
  const std::shared_ptr<const Registry>& registry_ptr() const { return registry_; }

  // ---- Resolving names to handles (and back). Unknown names give nullopt.
  std::optional<ScopeId> FindScope(std::string_view scope) const;
  std::optional<PrincipalId> FindPrincipal(std::string_view principal) const;
  std::optional<RoleId> FindRole(std::string_view ref) const;
  std::optional<KeyId> FindKey(std::string_view key) const { return registry_->FindKey(key); }
  const std::string& ScopeName(ScopeId id) const { return scopes_[id.value]->name; }
  ScopeKind ScopeKindOf(ScopeId id) const { return scopes_[id.value]->kind; }
  ScopeId ScopeParent(ScopeId id) const { return scopes_[id.value]->parent; }
  const std::string& PrincipalName(PrincipalId id) const { return principals_[id.value]->name; }
  PrincipalKind PrincipalKindOf(PrincipalId id) const { return principals_[id.value]->kind; }
  const detail::RoleNode& role(RoleId id) const { return *roles_[id.value]; }
  size_t scope_count() const { return scopes_.size(); }
  size_t principal_count() const { return principals_.size(); }
  size_t role_count() const { return roles_.size(); }

  // Compiles a restriction: `keys` are keys or wildcards (empty = no key limit), `scope`
  // empty for no scope limit. Errors: kInvalidArgument (bad or unknown key or scope).
  Result<Restriction> MakeRestriction(std::span<const std::string> keys,
                                      std::string_view scope) const;

  // ---- Decisions.
  // The hot path: no allocation, no lock, no I/O. Preconditions: request.scope valid,
  // request.key registered (checked by the string form below).
  Decision Check(const CheckRequest& request, Time now) const noexcept;

  // Resolves strings then checks. Errors: kInvalidArgument for a malformed subject, scope
  // or owner, or an unknown key ("unknown permission key …"); kNotFound for an unknown scope.
  // An unknown but well-formed subject is not an error: it holds nothing.
  Result<Decision> Check(const CheckInput& input, Time now) const;

  // Resolves the strings of `input` to handles (errors as for Check above), e.g. to call
  // Explain after a check made from strings.
  Result<CheckRequest> Resolve(const CheckInput& input) const;

  // Spells out `decision` (as returned by Check for `request`). `subject_name` names the
  // subject in the summary (as asked, so that a principal this snapshot does not know reads
  // exactly like one it knows); empty: the snapshot's name for it, or "the subject".
  Explanation Explain(const CheckRequest& request, const Decision& decision, Time now,
                      std::string_view subject_name = {}) const;

  // Every key `principal` holds at `scope` with every active grant of it, ordered by key
  // name. Platform-level keys appear only at the platform scope. Restriction applies.
  std::vector<EffectivePermission> EffectivePermissions(PrincipalId principal, ScopeId scope,
                                                        Time now,
                                                        const Restriction* restriction = nullptr) const;
  // The same as a set, without reasons.
  KeySet EffectiveKeys(PrincipalId principal, ScopeId scope, Time now,
                       const Restriction* restriction = nullptr) const;

  // Users and service accounts holding `key` at `scope`, ordered by name, starting after
  // `cursor` (a principal name from a previous page, or empty), at most `limit` (≥ 1).
  WhoCanPage WhoCan(KeyId key, ScopeId scope, Time now, std::string_view cursor,
                    size_t limit) const;

  // Separation-of-duties conflicts of `principal` (for a group: of the group and of each of
  // its members): scopes where it would hold both keys of a constraint through bindings
  // that have not expired (bindings that start later count: they will apply). Grants of the
  // catch-all roles (super_admin, partner_admin, tenant_admin) do not count: they hold every
  // key by definition.
  std::vector<Conflict> FindConflicts(PrincipalId principal, Time now) const;

  // The keys of `wanted` that `actor` does not hold at `scope` (empty: it may hand them out).
  KeySet MissingKeys(PrincipalId actor, ScopeId scope, const KeySet& wanted, Time now,
                     const Restriction* restriction = nullptr) const;

  // ---- Listing.
  std::vector<BindingView> BindingsOf(PrincipalId principal) const;
  std::vector<BindingView> BindingsAt(ScopeId scope) const;
  std::vector<PrincipalId> MembersOf(PrincipalId group) const;
  std::vector<PrincipalId> GroupsOf(PrincipalId principal) const;
  // Subjects of every binding of `role` (scans all bindings: for rare admin operations).
  std::vector<PrincipalId> SubjectsBoundTo(RoleId role) const;
  // Roles that may be bound at `scope`: built-in and module roles of its kind, custom roles
  // defined at it or above.
  std::vector<RoleId> RolesUsableAt(ScopeId scope) const;

 private:
  friend class Mutation;
  Snapshot() = default;

  // Finds an active grant of `key` at a scope with path `path` for `subject` or its groups.
  bool FindGrant(PrincipalId subject, const detail::ScopeNode& scope, KeyId key, Time now,
                 bool ignore_window, GrantReason* out) const noexcept;
  bool MatchGrants(const detail::PrincipalNode& p, const detail::ScopeNode& scope, KeyId key,
                   Time now, bool ignore_window, GrantReason* out) const noexcept;
  // Calls fn(const Grant&, PrincipalId via_group) for every grant of `principal` (and its
  // groups) covering `scope` that is active at `now`.
  template <typename Fn>
  void ForEachApplicableGrant(PrincipalId principal, const detail::ScopeNode& scope, Time now,
                              Fn&& fn) const;
  std::vector<std::string> DeclaredKeys(const detail::RoleNode& role) const;

  std::uint64_t revision_ = 0;
  std::shared_ptr<const Registry> registry_;
  detail::CowVector<std::shared_ptr<detail::ScopeNode>> scopes_;
  detail::CowStringMap<std::uint32_t> scope_index_;
  detail::CowVector<std::shared_ptr<detail::PrincipalNode>> principals_;
  detail::CowStringMap<std::uint32_t> principal_index_;
  detail::CowVector<std::shared_ptr<detail::RoleNode>> roles_;
  detail::CowStringMap<std::uint32_t> role_index_;
};

// The built-in roles, always present with these ids.
inline constexpr RoleId kSuperAdmin{0};
inline constexpr RoleId kPartnerAdmin{1};
inline constexpr RoleId kTenantAdmin{2};
inline constexpr RoleId kTenantUser{3};
inline constexpr RoleId kTenantViewer{4};
inline constexpr int kBuiltInRoleCount = 5;

}  // namespace scaigrid::iam
