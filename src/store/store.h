// Store: where the policy state lives durably. One interface, one implementation per
// database (SqliteStore now, PostgresStore later); only the server's main picks one.
//
// The state is a set of rows (modules, scopes, principals, memberships, custom roles,
// bindings, API keys). A Change is an ordered list of operations applied in one transaction;
// each applied change gets the next revision and is also kept, serialized, in a change log
// (ChangesSince), so other nodes can follow. Every backend passes the conformance suite in
// tests/store/store_conformance_test.cc.
//
// Thread-safety: implementations are safe to call from several threads; Apply calls are
// serialized by the implementation.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "scaigrid/iam/ids.h"
#include "scaigrid/iam/status.h"
#include "store/audit_types.h"

namespace scaigrid::iam::store {

struct ModuleRow {
  std::string module;
  int version = 1;
  std::string source;  // the manifest text as registered (YAML)
  Time registered_at = 0;
};

struct ScopeRow {
  std::string scope;   // "tenant:acme"
  std::string parent;  // "platform", "partner:p1", "tenant:acme"
  std::string name;    // display name, may be empty
  Time created_at = 0;
};

// Service accounts and groups (users are not stored: they come from the identity provider).
struct PrincipalRow {
  std::string principal;  // "service_account:ci", "group:eng"
  std::string tenant;     // owning tenant scope, "tenant:acme"
  std::string name;
  Time created_at = 0;
};

struct MemberRow {
  std::string group;   // "group:eng"
  std::string member;  // "user:alice" or "service_account:ci"
};

struct CustomRoleRow {
  std::string id;
  std::string scope;  // where it is defined
  std::string name;
  std::string description;
  std::vector<std::string> permissions;  // keys or wildcards, as written
  std::uint64_t version = 1;             // bumped on every edit (the etag)
  Time created_at = 0;
  Time updated_at = 0;
};

struct BindingRow {
  BindingId id = 0;
  std::string subject;
  std::string role;
  std::string scope;
  Time not_before = kTimeMin;
  Time expires_at = kTimeMax;
  std::string justification;
  std::string created_by;
  Time created_at = 0;
};

struct ApiKeyRow {
  std::string id;           // public id, e.g. "key_3f9a…"
  std::string owner;        // "user:…" or "service_account:…"
  std::string name;
  std::string secret_hash;  // hash of the secret; the secret itself is never stored
  std::vector<std::string> permissions;  // restriction (empty: none)
  std::string scope;                     // restriction (empty: none)
  Time expires_at = kTimeMax;
  Time created_at = 0;
  Time revoked_at = 0;  // 0: not revoked
  std::string created_by;
};

// Capability tokens (docs/capability-tokens.md). A signing key signs tokens; its secret half is
// stored so that every node signs with the same key (protect the data like key material).
struct SigningKeyRow {
  std::string kid;         // "capk_…"
  std::string public_key;  // base64url of the 32-byte Ed25519 public key
  std::string secret_key;  // base64url of the 64-byte Ed25519 secret key
  Time created_at = 0;
  Time retired_at = 0;  // 0: may sign new tokens; else only verifies tokens signed before
};

// A minted token (the token text itself is not stored: it is shown once, like an API key).
struct CapabilityTokenRow {
  std::string id;          // "cap_…", the token's jti
  std::string capability;  // "<module>:<name>", e.g. "scaibot:chat"
  std::string resource;    // "bot:b-42"
  std::string scope;       // where it was minted, e.g. "tenant:acme"
  std::string visitor;     // optional visitor identity ("" when none)
  std::string issued_by;   // principal
  Time issued_at = 0;
  Time expires_at = 0;
  Time revoked_at = 0;  // 0: not revoked
  std::uint64_t revision = 0;  // the revision of the change that minted it
  std::string credential;      // the issuer's credential that minted it (API key id), "" if none
};

// Every token of (capability, resource) minted at `scope` or below by a change older than
// `revision` (the revocation's own) is revoked. Keyed by (capability, resource, scope).
struct ResourceRevocationRow {
  std::string capability;
  std::string resource;
  std::string scope;
  Time revoked_at = 0;
  std::string revoked_by;
  std::uint64_t revision = 0;  // the revision of the change that revoked
};

struct State {
  std::uint64_t revision = 0;
  std::vector<ModuleRow> modules;
  std::vector<ScopeRow> scopes;  // parents before children
  std::vector<PrincipalRow> principals;
  std::vector<MemberRow> members;
  std::vector<CustomRoleRow> custom_roles;
  std::vector<BindingRow> bindings;
  std::vector<ApiKeyRow> api_keys;
  std::vector<SigningKeyRow> signing_keys;                // in insertion order
  std::vector<CapabilityTokenRow> capability_tokens;      // in insertion order
  std::vector<ResourceRevocationRow> resource_revocations;
};

// ---- Operations. Each names what it does to the rows; the service validates first.
struct PutModule { ModuleRow row; };                  // insert or replace by module
struct PutScope { ScopeRow row; };                    // insert; kAlreadyExists if present
struct DeleteScope { std::string scope; };            // kNotFound if absent
struct PutPrincipal { PrincipalRow row; };            // insert; kAlreadyExists if present
struct DeletePrincipal { std::string principal; };    // also its memberships and bindings
struct AddMember { MemberRow row; };                  // kAlreadyExists if present
struct RemoveMember { MemberRow row; };               // kNotFound if absent
struct PutCustomRole { CustomRoleRow row; };          // insert or replace by id
struct DeleteCustomRole { std::string id; };          // kNotFound if absent
struct PutBinding { BindingRow row; };                // insert; kAlreadyExists if the id exists
struct DeleteBinding { BindingId id = 0; };           // kNotFound if absent
struct PutApiKey { ApiKeyRow row; };                  // insert; kAlreadyExists if the id exists
struct RevokeApiKey { std::string id; Time revoked_at = 0; };  // kNotFound if absent
struct PutSigningKey { SigningKeyRow row; };          // insert or replace by kid (retiring)
struct PutCapabilityToken { CapabilityTokenRow row; };  // insert; kAlreadyExists if the id exists
struct RevokeCapabilityToken { std::string id; Time revoked_at = 0; };  // kNotFound if absent
struct PutResourceRevocation { ResourceRevocationRow row; };  // insert or replace by (capability, resource)

using Op = std::variant<PutModule, PutScope, DeleteScope, PutPrincipal, DeletePrincipal, AddMember,
                        RemoveMember, PutCustomRole, DeleteCustomRole, PutBinding, DeleteBinding,
                        PutApiKey, RevokeApiKey, PutSigningKey, PutCapabilityToken,
                        RevokeCapabilityToken, PutResourceRevocation>;

struct Change {
  std::vector<Op> ops;
  std::string actor;       // who asked, for the log
  std::string request_id;  // which request, for the log
  Time at = 0;
  // When set, the revision the change was built on: Apply refuses it (kFailedPrecondition,
  // reason "revision_conflict", nothing applied) when the store has moved past it — another
  // node committed first. Not logged.
  std::optional<std::uint64_t> base_revision;
};

class Store {
 public:
  virtual ~Store() = default;

  // The whole state at the latest revision.
  // Errors: kUnavailable (database unreachable), kInternal (corrupt or unexpected data).
  virtual Result<State> Load() = 0;

  // Applies every op of `change` in order, in one transaction, and returns the new
  // revision (the previous + 1). Durable once it returns: survives kill -9.
  // Errors (nothing is applied): those named on each op (kAlreadyExists, kNotFound),
  // kFailedPrecondition with reason "revision_conflict" (change.base_revision is not the
  // latest revision), kInvalidArgument (an empty change), kUnavailable, kInternal.
  virtual Result<std::uint64_t> Apply(const Change& change) = 0;

  // The latest revision.
  virtual Result<std::uint64_t> Revision() = 0;

  // Applied changes with revision > `after`, in revision order, at most `limit`.
  virtual Result<std::vector<std::pair<std::uint64_t, Change>>> ChangesSince(std::uint64_t after,
                                                                             size_t limit) = 0;

  // Blocks until another connection may have applied a change, or `timeout` passes; true when
  // woken by a change. A follower calls ChangesSince after it either way, so a backend without
  // notifications just sleeps (this default). Errors: kUnavailable (connection lost).
  virtual Result<bool> WaitForChange(std::chrono::milliseconds timeout) {
    std::this_thread::sleep_for(timeout);
    return false;
  }

  // ---- Audit log: append-only. No method updates or deletes an event.

  // Appends `events` (consecutive seqs following the last stored one) in one transaction;
  // durable once it returns. Errors: kFailedPrecondition (seq gap or overlap),
  // kUnavailable, kInternal; nothing is appended then.
  virtual Status AppendAudit(const std::vector<AuditEvent>& events) = 0;

  // The event with the highest seq, or nullopt when the log is empty.
  virtual Result<std::optional<AuditEvent>> LastAuditEvent() = 0;

  // Events matching every given filter, in seq order (or reverse), after the cursor, at
  // most `limit`. Errors: kInvalidArgument (limit out of range), kUnavailable, kInternal.
  virtual Result<AuditPage> QueryAudit(const AuditQuery& query) = 0;

  // Calls `fn` for every event in seq order, from `from_seq` on, until it returns false.
  virtual Status ScanAudit(std::uint64_t from_seq, const std::function<bool(const AuditEvent&)>& fn) = 0;
};

}  // namespace scaigrid::iam::store
