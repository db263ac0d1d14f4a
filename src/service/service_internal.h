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
// Escalation prevention (role_ops.cc): OK when the caller holds every key of `keys` at
// `scope` or holds iam:roles:escalate there; kPermissionDenied listing the rest otherwise.
Status CheckEscalationForService(const Snapshot& s, const Caller& c, const KeySet& keys,
                                 std::string_view scope, Time now);
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
