// IamService: every operation users call, with the rules of SPEC §2 — the permission gate
// on the service's own `iam:*` keys, escalation prevention, tenant isolation, separation of
// duties, justification for sensitive keys — over an Engine and a Store. Transport-free:
// requests and responses are JSON values; the HTTP layer and the CLI both call it.
//
// Reads take the current ServiceState (snapshot + directory of row metadata) without
// locking. Changes are serialized: validated on a Mutation, checked, persisted in the store
// in one transaction, then published. A change that fails at any step changes nothing.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "scaigrid/iam/engine.h"
#include "audit/writer.h"
#include "auth/capability_token.h"
#include "auth/jwt.h"
#include "service/directory.h"
#include "store/store.h"

namespace scaigrid::iam::service {

namespace json = boost::json;

// Who is calling, as established by a credential.
struct Caller {
  std::string principal;      // "user:alice", "service_account:ci"
  std::string credential_id;  // API key id
  std::vector<std::string> restrict_keys;  // credential restriction (empty: none)
  std::string restrict_scope;              // credential restriction (empty: none)
  std::string request_id;  // for the audit log
  std::string source_ip;   // for the audit log
  // Set when the credential is a capability token (verified signature): such a caller may
  // only ask POST /v1/iam/check about its one action; it holds no other right.
  std::shared_ptr<const auth::CapabilityClaims> capability;
  // When the credential itself expires (API keys); kTimeMax for none. A key it makes expires
  // no later.
  Time expires_at = kTimeMax;
};

struct ServiceOptions {
  std::string manifests_dir = "manifests";  // registered when the store has no modules yet
  // How long a check with `min_revision` waits for this node to reach it before 503.
  std::chrono::milliseconds min_revision_wait{1000};
  // The audit log (docs/audit.md). Changes and `audit: always` keys always wait for their
  // event to be durable; audited checks do when wait_for_audited_checks.
  audit::AuditWriter::Options audit;
  bool wait_for_audited_checks = true;
  // Identity-provider tokens (docs/identity-tokens.md): when set, a bearer that is not an API
  // key is verified as a JWT access token and its `sub` becomes user:<sub>.
  std::optional<auth::JwtVerifier> jwt;
  std::chrono::milliseconds audit_wait{5000};  // then 503: fail closed
  // Several nodes on one store: how long the follower waits for a change notification before
  // it looks at the change log anyway (also the longest a poll-only store lags). 0: no follower.
  std::chrono::milliseconds follow_interval{250};
};

// Audit events a request submitted that must be durable before it is answered, when the
// caller chose not to block on them (the HTTP API: a waiting request holds no thread). The
// caller must not answer before WhenAuditDurable reports OK; on an error it answers with
// that error instead (503: fail closed). Empty when nothing needs waiting for.
struct PendingAudit {
  std::optional<audit::AuditWriter::Ticket> last;  // the last event's ticket (seqs are in order)
  void Add(audit::AuditWriter::Ticket t) {
    if (!last || t.number > last->number) last = t;
  }
};

// An audit event as the API shows it (docs/audit.md).
json::object AuditEventToJson(const store::AuditEvent& e);

// What readers see, published as one unit.
struct ServiceState {
  std::shared_ptr<const Snapshot> snapshot;
  Directory directory;
};

class IamService {
 public:
  // Loads the store (registering the shipped manifests on first start) and builds the first
  // snapshot. Errors: those of the store and of the manifests.
  static Result<std::unique_ptr<IamService>> Open(std::unique_ptr<store::Store> store,
                                                  ServiceOptions options, const Clock& clock);

  std::shared_ptr<const ServiceState> state() const { return state_.load(std::memory_order_acquire); }
  std::uint64_t revision() const { return state()->snapshot->revision(); }

  // Applies the changes other nodes committed since this node's revision, in revision order,
  // and publishes the result; returns the revision reached. Errors: the store's (kUnavailable
  // when it cannot be reached: the node keeps answering from the state it has).
  Result<std::uint64_t> CatchUp();

  // How many times CatchUp could not replay a logged change and reloaded the whole state
  // instead (a disagreement between the log and this node; 0 in a healthy service).
  std::uint64_t replay_reloads() const { return replay_reloads_.load(std::memory_order_relaxed); }

  // OK while this node can reach its store; otherwise the follower's last error (kUnavailable):
  // the node still answers checks from the state it has (its revision), but is not ready.
  Status Health() const;

  // Waits until the published revision is at least `revision`, for at most the configured
  // min_revision_wait. Returns the state then current (which may still be older).
  std::shared_ptr<const ServiceState> WaitForRevision(std::uint64_t revision) const;

  // A bearer secret to a caller: an API key, or an identity-provider token when configured.
  // kUnauthenticated when missing, unknown, expired or revoked (API keys; reason
  // "unauthenticated") or not a valid token (reason "invalid_token", message says why).
  Result<Caller> Authenticate(std::string_view bearer) const;

  // Creates an API key for `user` bound to super_admin at the platform, once: kAlreadyExists
  // when any super_admin binding exists. Returns {"id","key","owner"}.
  Result<json::object> Bootstrap(std::string_view user);

  // ---- Scopes: kind is partner, tenant or project. Body {id, name?, partner?} / {id, tenant, name?}.
  Result<json::object> CreateScope(const Caller& c, ScopeKind kind, const json::value& body);
  Result<json::object> ListScopes(const Caller& c, ScopeKind kind);
  Result<json::object> GetScope(const Caller& c, ScopeKind kind, std::string_view id);
  Result<json::object> DeleteScope(const Caller& c, ScopeKind kind, std::string_view id);

  // ---- Modules.
  Result<json::object> ListModules(const Caller& c);
  Result<json::object> GetModule(const Caller& c, std::string_view module);
  Result<json::object> PutModule(const Caller& c, std::string_view module, std::string_view manifest);

  // ---- Roles.
  Result<json::object> ListRoles(const Caller& c, std::string_view scope);
  Result<json::object> CreateCustomRole(const Caller& c, const json::value& body);
  Result<json::object> GetCustomRole(const Caller& c, std::string_view id);
  // `if_match`: the etag the caller last saw (empty: none given). kFailedPrecondition
  // (reason stale_etag) when it is not the current one.
  Result<json::object> PatchCustomRole(const Caller& c, std::string_view id, const json::value& body,
                                       std::string_view if_match);
  Result<json::object> DeleteCustomRole(const Caller& c, std::string_view id);

  // ---- Groups and service accounts (owned by a tenant).
  Result<json::object> CreateGroup(const Caller& c, const json::value& body);
  Result<json::object> AddMember(const Caller& c, std::string_view group_id, std::string_view member);
  Result<json::object> RemoveMember(const Caller& c, std::string_view group_id, std::string_view member);
  Result<json::object> CreateServiceAccount(const Caller& c, const json::value& body);
  // Groups and service accounts alike (kind): read one (with members / groups), list a
  // tenant's (`tenant` id, default: the credential's scope), delete one with its bindings
  // and memberships (a service account's API keys are revoked with it).
  Result<json::object> GetOwned(const Caller& c, PrincipalKind kind, std::string_view id);
  Result<json::object> ListOwned(const Caller& c, PrincipalKind kind, std::string_view tenant);
  Result<json::object> DeleteOwned(const Caller& c, PrincipalKind kind, std::string_view id);

  // ---- Bindings.
  Result<json::object> CreateBinding(const Caller& c, const json::value& body);
  Result<json::object> ListBindings(const Caller& c, std::string_view scope, std::string_view subject);
  Result<json::object> DeleteBinding(const Caller& c, std::string_view id);

  // ---- API keys.
  Result<json::object> CreateApiKey(const Caller& c, const json::value& body);
  Result<json::object> RevokeApiKey(const Caller& c, std::string_view id);
  // The keys of `owner` (default: the caller), without secrets or hashes.
  Result<json::object> ListApiKeys(const Caller& c, std::string_view owner);

  // ---- Capability tokens (docs/capability-tokens.md). The public signing keys as a JWKS
  // ({"keys": [JWK…]}): every key that signs new tokens, and retired keys while tokens they
  // signed may still be alive. Public: no credential needed.
  json::object CapabilityKeys() const;
  // Body {capability, resource, scope?, visitor?, ttl_seconds?}: mints a token (an audited
  // change) and returns it once with its claims. The caller needs the capability's issue key
  // and its permission at the scope.
  Result<json::object> MintCapabilityToken(const Caller& c, const json::value& body);
  // Revokes one token (its capability's revoke key at the token's scope); idempotent.
  Result<json::object> RevokeCapabilityToken(const Caller& c, std::string_view id);
  // Body {capability, resource, scope?}: revokes every token of the resource minted at the
  // scope or below before now (the revoke key at the scope).
  Result<json::object> RevokeCapabilityResource(const Caller& c, const json::value& body);
  // One minted token, without its text (iam:capability_tokens:read at its scope).
  Result<json::object> GetCapabilityToken(const Caller& c, std::string_view id);
  // Unexpired tokens (revoked ones included) minted at `scope` (default: the credential's) or
  // below, optionally of one resource, by id; `cursor` is the last id of the previous page.
  Result<json::object> ListCapabilityTokens(const Caller& c, std::string_view scope, std::string_view resource,
                                            std::string_view cursor, std::string_view limit);
  // Retires every signing key that signs new tokens and creates a new one (iam:signing_keys:manage
  // at the platform). Tokens signed by a retired key stay valid until they expire.
  Result<json::object> RotateSigningKey(const Caller& c);

  // ---- Audit log. Append a module's own event (iam:audit:write); query events.
  // With `pending`, the event is submitted and its ticket added there instead of waiting.
  Result<json::object> AppendAuditEvent(const Caller& c, const json::value& body,
                                        PendingAudit* pending = nullptr);
  // `params`: filters module, since, until, actor, action, resource, tenant, decision;
  // cursor, order (asc|desc), limit (1..1000). Unknown parameters are errors.
  Result<json::object> QueryAuditEvents(const Caller& c,
                                        const std::vector<std::pair<std::string, std::string>>& params);
  audit::AuditWriter::Counters audit_counters() const { return audit_->counters(); }
  // Calls `done` once the pending events are durable (OK) or cannot be acknowledged (the
  // writer's error); at once when there are none. See AuditWriter::WhenSettled: `done` may run
  // on the audit writer's thread, so it must be short, and it may run after this service
  // began shutting down, so it must not use the service.
  void WhenAuditDurable(const PendingAudit& pending, audit::AuditWriter::Done done) const;

  ~IamService();

  // ---- Decisions. `body` is one check or {"checks": […]}. With `pending`, the events of
  // audited checks that must be durable are submitted and their tickets added there instead
  // of blocking this thread until they commit.
  Result<json::object> Check(const Caller& c, const json::value& body,
                             PendingAudit* pending = nullptr);
  Result<json::object> PrincipalPermissions(const Caller& c, std::string_view principal,
                                            std::string_view scope);
  Result<json::object> WhoCan(const Caller& c, std::string_view permission, std::string_view scope,
                              std::string_view cursor, std::string_view limit);
  Result<json::object> MyPermissions(const Caller& c, std::string_view scope);

 public:
  struct Txn;  // a change being built (service_internal.h)

 private:
  Result<json::object> CreateOwned(const Caller& c, PrincipalKind kind, const json::value& body);
  // One check (never a batch) on `st`, or on the current state when null.
  Result<json::object> CheckOne(const Caller& c, const json::value& body,
                                std::shared_ptr<const ServiceState> st, PendingAudit* pending);
  // Submits an event that must be durable before the answer: waits for it, or adds its
  // ticket to `pending` when given.
  Status SubmitDurable(store::AuditEvent event, PendingAudit* pending);
  IamService(std::unique_ptr<store::Store> store, ServiceOptions options, const Clock& clock);
  Status LoadFromStore();
  Result<std::uint64_t> CatchUpLocked();  // CatchUp with write_mu_ held
  // Runs `build` on a transaction of the current state; persists and publishes it.
  Result<std::uint64_t> Commit(const Caller& c, const std::function<Status(Txn&)>& build);
  Result<std::uint64_t> CommitOnce(const Caller& c, const std::function<Status(Txn&)>& build);
  void Publish(std::shared_ptr<const ServiceState> next);

  // Audit events for every op of an applied change (Commit); waits for their durability.
  Status AuditChange(const Caller& c, const ServiceState& before, const ServiceState& after,
                     const store::Change& change, std::uint64_t revision);
  // At start: logs the events of changes the change log holds and the audit log does not (the
  // first start's module registration; a change committed just before a crash).
  Status ReconcileChangeEvents();
  // At start: creates the capability-token signing key when no key may sign.
  Status EnsureSigningKey();
  // A capability-token bearer to a caller: kUnauthenticated (invalid_token) when it is not a
  // well-formed token signed by a known key. Whether it is still alive is the check's answer.
  Result<Caller> AuthenticateCapability(std::string_view token) const;
  // The check of `permission` at `scope` on `resource` (empty: none given; scope empty: the
  // token's) by a capability-token caller, on `st`. Fills the decision's fields of `out`.
  struct TokenDecision {
    bool allowed = false;
    std::string code, summary, scope;
  };
  TokenDecision DecideWithToken(const ServiceState& st, const auth::CapabilityClaims& token,
                                std::string_view permission, std::string_view scope,
                                const std::optional<std::string>& resource, Time now) const;

  std::unique_ptr<store::Store> store_;
  ServiceOptions options_;
  mutable auth::VerifiedTokenCache verified_tokens_;
  std::unique_ptr<audit::AuditWriter> audit_;
  const Clock& clock_;
  std::mutex write_mu_;
  std::atomic<std::shared_ptr<const ServiceState>> state_;
  mutable std::mutex publish_mu_;  // only for WaitForRevision
  mutable std::condition_variable published_;

  // The follower: applies other nodes' changes as the store announces them (follow.cc).
  void Follow(std::stop_token stop);
  std::atomic<std::uint64_t> replay_reloads_{0};
  mutable std::mutex health_mu_;
  Status health_;
  std::jthread follower_;  // last member: stopped and joined first
};

}  // namespace scaigrid::iam::service
