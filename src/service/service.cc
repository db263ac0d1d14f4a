#include "service/service.h"

#include <spdlog/spdlog.h>

#include "auth/api_key.h"
#include "scaigrid/iam/time_format.h"
#include "service/service_internal.h"
#include "store/change_codec.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace scaigrid::iam::service {

std::string Quote(std::string_view v) { return "'" + std::string(v.substr(0, 200)) + "'"; }

Status Hidden(std::string_view what, std::string_view id) {
  return Status::NotFound("no " + std::string(what) + " " + Quote(id));
}

json::value TimeToJson(Time t) {
  if (t == kTimeMin || t == kTimeMax) return nullptr;
  return json::value(FormatTime(t));
}

json::array KeysToJson(const Snapshot& snapshot, const KeySet& keys) {
  json::array out;
  keys.ForEach([&](KeyId k) { out.emplace_back(snapshot.registry().key(k).key); });
  return out;
}

json::object BindingToJson(const store::BindingRow& row) {
  json::object o;
  o["id"] = std::to_string(row.id);
  o["subject"] = row.subject;
  o["role"] = row.role;
  o["scope"] = row.scope;
  o["not_before"] = TimeToJson(row.not_before);
  o["expires_at"] = TimeToJson(row.expires_at);
  if (!row.justification.empty()) o["justification"] = row.justification;
  o["created_by"] = row.created_by;
  o["created_at"] = TimeToJson(row.created_at);
  return o;
}

json::object CustomRoleToJson(const Snapshot& snapshot, const store::CustomRoleRow& row) {
  json::object o;
  o["id"] = row.id;
  o["name"] = row.name;
  o["description"] = row.description;
  o["scope"] = row.scope;
  json::array perms;
  for (const auto& p : row.permissions) perms.emplace_back(p);
  o["module_permissions"] = std::move(perms);
  if (auto id = snapshot.FindRole(row.id)) o["resolved_permissions"] = KeysToJson(snapshot, snapshot.role(*id).keys);
  o["etag"] = "\"" + std::to_string(row.version) + "\"";
  o["created_at"] = TimeToJson(row.created_at);
  o["updated_at"] = TimeToJson(row.updated_at);
  return o;
}

Result<std::optional<Restriction>> CallerRestriction(const Snapshot& snapshot, const Caller& c) {
  if (c.restrict_keys.empty() && c.restrict_scope.empty()) return std::optional<Restriction>();
  auto r = snapshot.MakeRestriction(c.restrict_keys, c.restrict_scope);
  if (!r) return Err(r.error());
  return std::optional<Restriction>(std::move(*r));
}

bool Holds(const Snapshot& snapshot, const Caller& c, std::string_view key, std::string_view scope, Time now) {
  if (c.capability) return false;  // a capability token holds its one action, asked by a check, nothing else
  auto r = CallerRestriction(snapshot, c);
  if (!r) return false;
  auto d = snapshot.Check(CheckInput{c.principal, scope, key, *r ? &**r : nullptr}, now);
  return d && d->allowed;
}

Status Require(const Snapshot& snapshot, const Caller& c, std::string_view key, std::string_view scope, Time now) {
  if (Holds(snapshot, c, key, scope, now)) return Status::Ok();
  return Status(StatusCode::kPermissionDenied,
                "missing permission " + Quote(key) + " at " + Quote(scope))
      .WithReason("permission_denied");
}

IamService::IamService(std::unique_ptr<store::Store> store, ServiceOptions options, const Clock& clock)
    : store_(std::move(store)), options_(std::move(options)), clock_(clock) {}

Result<std::unique_ptr<IamService>> IamService::Open(std::unique_ptr<store::Store> store,
                                                      ServiceOptions options, const Clock& clock) {
  SCAIGRID_RETURN_IF_ERROR(auth::InitCrypto());
  std::unique_ptr<IamService> s(new IamService(std::move(store), std::move(options), clock));
  if (Status st = s->LoadFromStore(); !st.ok()) return Err(st);
  s->audit_ = std::make_unique<audit::AuditWriter>(*s->store_, s->options_.audit);
  if (Status st = s->audit_->Start(); !st.ok()) return Err(st);
  if (Status st = s->ReconcileChangeEvents(); !st.ok()) return Err(st);
  if (Status st = s->EnsureSigningKey(); !st.ok()) return Err(st);
  if (s->options_.follow_interval.count() > 0) {
    s->follower_ = std::jthread([svc = s.get()](std::stop_token stop) { svc->Follow(std::move(stop)); });
  }
  return s;
}

IamService::~IamService() {
  if (follower_.joinable()) {
    follower_.request_stop();
    follower_.join();
  }
  if (audit_) audit_->Stop();
}

Status IamService::LoadFromStore() {
  auto loaded = store_->Load();
  if (!loaded) return loaded.error();
  store::State st = std::move(*loaded);
  if (st.modules.empty()) {  // first start: register the shipped manifests
    auto manifests = LoadManifestDir(options_.manifests_dir);
    if (!manifests) return manifests.error();
    store::Change change{.actor = "system", .request_id = "first-start", .at = clock_.Now()};
    for (const Manifest& m : *manifests) {
      std::ifstream in(m.file, std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      change.ops.push_back(store::PutModule{{m.module, m.version, text.str(), clock_.Now()}});
    }
    if (change.ops.empty()) return Status::NotFound("no manifests in '" + options_.manifests_dir + "'");
    change.base_revision = 0;  // several nodes may start on an empty database at once
    auto rev = store_->Apply(change);
    if (!rev && rev.error().reason() != "revision_conflict") return rev.error();
    return LoadFromStore();  // registered, by this node or by another
  }
  std::vector<Manifest> manifests;
  for (const auto& m : st.modules) {
    auto parsed = ParseManifest(m.source, "module " + m.module);
    if (!parsed) return parsed.error();
    manifests.push_back(std::move(*parsed));
  }
  auto registry = Registry::Build(std::move(manifests));
  if (!registry) return registry.error();

  auto next = std::make_shared<ServiceState>();
  std::uint64_t epoch = detail::NewEpoch();
  Directory& dir = next->directory;
  Mutation m(*Snapshot::Empty(*registry));
  auto check = [](Status s, std::string_view what) {
    return s.ok() ? s : Status::Internal("stored " + std::string(what) + " does not load: " + s.message());
  };
  for (const auto& row : st.modules) dir.modules.Put(row.module, row, epoch);
  for (const auto& row : st.scopes) {
    SCAIGRID_RETURN_IF_ERROR(check(m.AddScope(row.scope, row.parent), "scope " + row.scope));
    dir.scopes.Put(row.scope, row, epoch);
  }
  for (const auto& row : st.principals) {
    SCAIGRID_RETURN_IF_ERROR(check(m.AddPrincipal(row.principal), "principal " + row.principal));
    dir.principals.Put(row.principal, row, epoch);
  }
  for (const auto& row : st.members) SCAIGRID_RETURN_IF_ERROR(check(m.AddMember(row.group, row.member), "membership"));
  for (const auto& row : st.custom_roles) {
    SCAIGRID_RETURN_IF_ERROR(check(m.PutCustomRole({row.id, row.name, row.description, row.scope, row.permissions}), "custom role " + row.id));
    dir.roles.Put(row.id, row, epoch);
  }
  for (const auto& row : st.bindings) {
    SCAIGRID_RETURN_IF_ERROR(check(m.AddBinding({row.id, row.subject, row.role, row.scope, row.not_before, row.expires_at}), "binding"));
    dir.bindings.Put(std::to_string(row.id), row, epoch);
  }
  dir.signing_keys = st.signing_keys;
  const Time now = clock_.Now();
  for (const auto& row : st.capability_tokens) {
    if (row.expires_at > now) dir.capability_tokens.Put(row.id, row, epoch);  // dead ones need no memory
  }
  for (const auto& row : st.resource_revocations) {
    dir.PutResourceRevocation(row, epoch);
  }
  for (const auto& row : st.api_keys) {
    dir.api_keys.Put(row.id, row, epoch);
    dir.api_key_by_hash.Put(row.secret_hash, row.id, epoch);
  }
  m.set_revision(st.revision);
  next->snapshot = m.Finish();
  Publish(std::move(next));
  return Status::Ok();
}

void IamService::Publish(std::shared_ptr<const ServiceState> next) {
  {
    std::lock_guard lock(publish_mu_);
    state_.store(std::move(next), std::memory_order_release);
  }
  published_.notify_all();
}

std::shared_ptr<const ServiceState> IamService::WaitForRevision(std::uint64_t revision) const {
  std::unique_lock lock(publish_mu_);
  published_.wait_for(lock, options_.min_revision_wait, [&] { return state()->snapshot->revision() >= revision; });
  return state();
}

Result<Caller> IamService::Authenticate(std::string_view bearer) const {
  auto unauthenticated = [](std::string m) {
    return Err(Status(StatusCode::kUnauthenticated, std::move(m)).WithReason("unauthenticated"));
  };
  if (bearer.empty()) return unauthenticated("missing credential: send 'Authorization: Bearer <api key>'");
  if (auth::LooksLikeCapabilityToken(bearer)) return AuthenticateCapability(bearer);
  if (!auth::LooksLikeApiKey(bearer)) {
    // Not an API key: an identity provider's access token (a JWT has two dots), if any is trusted.
    if (!options_.jwt) return unauthenticated("malformed API key");
    if (std::count(bearer.begin(), bearer.end(), '.') != 2) {
      return unauthenticated("malformed credential: neither an API key (sgk_…) nor an identity-provider token (JWT)");
    }
    auto token = options_.jwt->Verify(bearer, clock_.Now());
    if (!token) return Err(token.error());
    Caller c{token->principal};
    // For the audit log: which token, as far as it names itself.
    const auto* jti = token->claims.if_contains("jti");
    c.credential_id = "jwt:" + token->issuer + (jti && jti->is_string() ? "#" + std::string(std::string_view(jti->get_string()).substr(0, 128)) : "");
    return c;
  }
  auto st = state();
  const std::string* id = st->directory.api_key_by_hash.Find(auth::HashSecret(bearer));
  if (id == nullptr) return unauthenticated("unknown API key");
  const store::ApiKeyRow* row = st->directory.api_keys.Find(*id);
  if (row == nullptr) return unauthenticated("unknown API key");
  if (row->revoked_at != 0) return unauthenticated("API key " + row->id + " was revoked");
  if (clock_.Now() >= row->expires_at) return unauthenticated("API key " + row->id + " expired at " + FormatTime(row->expires_at));
  Caller c{row->owner, row->id, row->permissions, row->scope};
  c.expires_at = row->expires_at;
  return c;
}

Result<std::uint64_t> IamService::Commit(const Caller& c, const std::function<Status(Txn&)>& build) {
  std::lock_guard lock(write_mu_);
  // Built on the newest state the store has, so that a change another node just made (a scope,
  // a binding) is seen by this one's checks: one indexed read of the change log.
  if (auto caught_up = CatchUpLocked(); !caught_up) return Err(caught_up.error());
  // Another node may still commit between this catch-up and the store write: the store then
  // refuses the change (revision_conflict), and it is built again on the caught-up state.
  constexpr int kAttempts = 5;
  for (int attempt = 1;; ++attempt) {
    auto revision = CommitOnce(c, build);
    if (revision || revision.error().reason() != "revision_conflict" || attempt == kAttempts) return revision;
    if (auto caught_up = CatchUpLocked(); !caught_up) return Err(caught_up.error());
  }
}

Result<std::uint64_t> IamService::CommitOnce(const Caller& c, const std::function<Status(Txn&)>& build) {
  std::shared_ptr<const ServiceState> base = state();
  Txn t(*base, clock_.Now());
  SCAIGRID_RETURN_IF_ERROR(build(t));
  if (t.change.ops.empty()) return base->snapshot->revision();
  t.mutation.set_revision(base->snapshot->revision() + 1);
  auto next = std::make_shared<ServiceState>();
  next->snapshot = t.mutation.Finish();
  // Separation of duties, on the state as it would be.
  for (const std::string& subject : t.sod_subjects) {
    auto p = next->snapshot->FindPrincipal(subject);
    if (!p) continue;
    for (const Conflict& conflict : next->snapshot->FindConflicts(*p, t.now)) {
      if (conflict.constraint->mode != ConstraintMode::kEnforce) continue;
      const Registry& reg = next->snapshot->registry();
      return Err(Status::FailedPrecondition(
                     "separation of duties (" + conflict.constraint->module + ":" + conflict.constraint->name +
                     "): " + next->snapshot->PrincipalName(conflict.principal) + " would hold both " +
                     reg.key(conflict.constraint->first).key + " and " + reg.key(conflict.constraint->second).key +
                     " at " + next->snapshot->ScopeName(conflict.scope))
                     .WithReason("separation_of_duties"));
    }
  }
  t.change.actor = c.principal;
  t.change.request_id = c.request_id;
  t.change.at = t.now;
  t.change.base_revision = base->snapshot->revision();
  auto revision = store_->Apply(t.change);
  if (!revision && revision.error().code() == StatusCode::kUnavailable) {
    // The connection failed, perhaps during the commit: did the change land? It did when the
    // change log holds it at the next revision (same ops, actor, request id and time).
    auto landed = store_->ChangesSince(base->snapshot->revision(), 1);
    if (landed && landed->size() == 1 && landed->front().first == base->snapshot->revision() + 1 &&
        store::EncodeChange(landed->front().second) == store::EncodeChange(t.change)) {
      spdlog::warn("revision {}: the store reported {}, but the change was committed", landed->front().first,
                   revision.error().message());
      revision = landed->front().first;
    }
  }
  if (!revision) return Err(revision.error());
  if (*revision != next->snapshot->revision()) {
    return Err(Status::Internal("the store applied revision " + std::to_string(*revision) + " for a change built on " +
                                std::to_string(base->snapshot->revision())));
  }
  next->directory = std::move(t.directory);
  Publish(next);
  // The change is applied; it is acknowledged only once its audit events are durable.
  if (audit_) SCAIGRID_RETURN_IF_ERROR(AuditChange(c, *base, *next, t.change, *revision));
  return *revision;
}

Result<json::object> IamService::Bootstrap(std::string_view user) {
  auto ref = PrincipalRef::Parse(user);
  if (!ref || ref->kind != PrincipalKind::kUser) return Err(Status::InvalidArgument("bootstrap needs a user:<sub> principal, not " + Quote(user)));
  auth::NewApiKey key = auth::GenerateApiKey();
  Caller system{"system"};
  json::object out;
  auto rev = Commit(system, [&](Txn& t) -> Status {
    const Snapshot& s = *t.base.snapshot;
    for (const BindingView& b : s.BindingsAt(*s.FindScope("platform")))
      if (b.role == kSuperAdmin) return Status::AlreadyExists("already bootstrapped: a super_admin binding exists");
    BindingId id = std::stoull(auth::RandomHex(7), nullptr, 16);
    store::BindingRow binding{id, std::string(user), "super_admin", "platform", kTimeMin, kTimeMax, "bootstrap", "system", t.now};
    SCAIGRID_RETURN_IF_ERROR(t.mutation.AddBinding({id, binding.subject, binding.role, binding.scope}));
    store::ApiKeyRow row{key.id, std::string(user), "bootstrap", key.hash, {}, "", kTimeMax, t.now, 0, "system"};
    t.change.ops.push_back(store::PutBinding{binding});
    t.change.ops.push_back(store::PutApiKey{row});
    t.directory.bindings.Put(std::to_string(id), binding, t.epoch);
    t.directory.api_keys.Put(row.id, row, t.epoch);
    t.directory.api_key_by_hash.Put(row.secret_hash, row.id, t.epoch);
    return Status::Ok();
  });
  if (!rev) return Err(rev.error());
  out["id"] = key.id;
  out["key"] = key.secret;
  out["owner"] = std::string(user);
  out["revision"] = *rev;
  return out;
}

}  // namespace scaigrid::iam::service
