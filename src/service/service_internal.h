// Helpers shared by the operation files of IamService. Internal to src/service.
#pragma once

#include <boost/json.hpp>

#include "scaigrid/iam/mutation.h"
#include "service/json_args.h"
#include "service/service.h"

namespace scaigrid::iam::service {

// A change being built: the engine mutation, the directory copy, the store ops.
struct IamService::Txn {
  Txn(const ServiceState& b, Time t) : base(b), mutation(*b.snapshot), directory(b.directory), now(t) {}
  const ServiceState& base;
  Mutation mutation;
  Directory directory;
  store::Change change;
  Time now;
  std::uint64_t epoch = detail::NewEpoch();
  std::vector<std::string> sod_subjects;  // principals to check for separation-of-duties conflicts
  json::object result;                    // response body (revision added by Commit)
};

std::string Quote(std::string_view v);

// The caller's credential restriction compiled against `snapshot` (nullopt: none).
Result<std::optional<Restriction>> CallerRestriction(const Snapshot& snapshot, const Caller& c);

// OK when the caller holds `key` at `scope`; kPermissionDenied naming both otherwise.
Status Require(const Snapshot& snapshot, const Caller& c, std::string_view key, std::string_view scope, Time now);
bool Holds(const Snapshot& snapshot, const Caller& c, std::string_view key, std::string_view scope, Time now);

// kNotFound in the form every hidden or missing object gets, so that objects of other
// tenants cannot be told apart from missing ones.
Status Hidden(std::string_view what, std::string_view id);

json::array KeysToJson(const Snapshot& snapshot, const KeySet& keys);
json::object BindingToJson(const store::BindingRow& row);
json::object CustomRoleToJson(const Snapshot& snapshot, const store::CustomRoleRow& row);
json::value TimeToJson(Time t);

}  // namespace scaigrid::iam::service

namespace scaigrid::iam::service {
// ---- The grant rule (grant_rule.cc; docs/engine.md, "The grant rule"). Every change that can
// leave a principal or a credential holding keys describes what it grants as GrantAt values
// and passes them to CheckGrants; nothing else decides escalation.

// `keys` would be held at `scope` (and so, by inheritance, below it) after the change.
struct GrantAt {
  KeySet keys;
  ScopeId scope;
};

// OK when, for every grant, the actor (its credential's restriction applied) holds each key at
// that scope or holds iam:roles:escalate there. kPermissionDenied (reason escalation) naming
// the first scope's missing keys otherwise (details: the keys).
Status CheckGrants(const Snapshot& s, const Caller& actor, std::span<const GrantAt> grants, Time now);
inline Status CheckGrant(const Snapshot& s, const Caller& actor, KeySet keys, ScopeId scope, Time now) {
  GrantAt g{std::move(keys), scope};
  return CheckGrants(s, actor, std::span<const GrantAt>(&g, 1), now);
}

// What a new member of `group` receives: the keys of each of its bindings that has not expired.
std::vector<GrantAt> GrantsThroughGroup(const Snapshot& s, PrincipalId group, Time now);

// What the bearer of a credential of `owner` (nullopt: an owner with no binding) restricted by
// `r` holds or will hold: at the top of its reach and at each of the owner's binding scopes
// below it, through every binding that has not expired (those that start later included).
std::vector<GrantAt> GrantsOfCredential(const Snapshot& s, std::optional<PrincipalId> owner, const Restriction& r,
                                        Time now);

// A credential never creates one broader than itself: OK when the caller's credential is
// unrestricted, or `wanted` reaches only scopes and keys within its restriction;
// kPermissionDenied (reason escalation) otherwise.
Status CheckNotBroader(const Snapshot& s, const Caller& c, const Restriction& wanted);
// Its scope half alone: true when the caller has no scope restriction or `wanted` reaches
// only its scope and below.
bool ScopeNotBroader(const Snapshot& s, const Caller& c, const Restriction& wanted);

// True when `principal` has bindings (direct or through groups, not expired) and the caller
// holds iam:api_keys:manage at the scope of every one of them: the principal lives wholly
// within the caller's reach.
bool WithinKeyManagersReach(const Snapshot& s, const Caller& c, std::optional<PrincipalId> principal, Time now);

// True when `scope` is `top` or below it.
bool AtOrBelow(const Snapshot& s, ScopeId scope, ScopeId top);

// Whether the caller can see a scope: it exists, lies within, above or below the credential's
// scope restriction (if any), and the caller has a binding (direct or through a group, not
// expired) at it, above it or below it — or, for a service account, it lies in the account's
// tenant. (A key's scope restriction alone shows nothing: anyone may restrict a key of its own
// to `platform`.) A scope the caller cannot see answers exactly like a missing one (Hidden),
// and no event of the caller's lands in its tenant's log.
bool CanSeeScope(const ServiceState& st, const Caller& c, ScopeId scope, Time now);
bool CanSeeScope(const ServiceState& st, const Caller& c, std::string_view scope, Time now);
}  // namespace scaigrid::iam::service

namespace scaigrid::iam::service {
// audit_ops.cc: the tenant ("tenant:…") a scope lies in, or "" above tenants.
std::string TenantOf(const Snapshot& s, std::string_view scope);
// A new audit event with the caller's identity, request id, source and the current time.
store::AuditEvent NewEvent(const Caller& c);
// capability_ops.cc: whom a capability token's decisions name: its visitor, or
// "capability_token:<id>".
std::string CapabilitySubject(const auth::CapabilityClaims& token);
}  // namespace scaigrid::iam::service
