#include "store/postgres/postgres_store.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "store/change_codec.h"
#include "store/backend_rules.h"
#include "store/postgres/pg_conn.h"
#include "store/postgres/postgres_migrations.h"

// Assigns the value of Result `expr` to `lhs`, or returns its error from the enclosing
// function (which returns a Result).
#define POSTGRES_STORE_ASSIGN_OR_RETURN(lhs, expr)                     \
  auto SCAIGRID_CONCAT(result_, __LINE__) = (expr);                    \
  if (!SCAIGRID_CONCAT(result_, __LINE__)) {                           \
    return Err(std::move(SCAIGRID_CONCAT(result_, __LINE__)).error()); \
  }                                                                    \
  lhs = *std::move(SCAIGRID_CONCAT(result_, __LINE__))

namespace scaigrid::iam::store {
namespace {

constexpr auto kMaxInt64 = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

// ---- SQL. Values are always bound parameters ($n), never part of the text.

constexpr const char* kBumpRevision =
    "UPDATE store_revision SET revision = revision + 1 RETURNING revision";
constexpr const char* kSelectRevision = "SELECT revision FROM store_revision";
constexpr const char* kInsertChange =
    "INSERT INTO changes (revision, change, actor, request_id, at) VALUES ($1, $2, $3, $4, $5)";
constexpr const char* kNotify = "SELECT pg_notify($1, $2)";
constexpr const char* kSelectChanges =
    "SELECT revision, change FROM changes WHERE revision > $1 ORDER BY revision LIMIT $2";

constexpr const char* kUpsertModule =
    "INSERT INTO modules (module, version, source, registered_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (module) DO UPDATE SET version = excluded.version, source = excluded.source, "
    "registered_at = excluded.registered_at";
constexpr const char* kSelectModules =
    "SELECT module, version, source, registered_at FROM modules ORDER BY seq";

// Inserts that must not replace: ON CONFLICT DO NOTHING, and no row inserted means it exists.
constexpr const char* kInsertScope =
    "INSERT INTO scopes (scope, parent, name, created_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (scope) DO NOTHING";
constexpr const char* kDeleteScope = "DELETE FROM scopes WHERE scope = $1";
constexpr const char* kSelectScopes =
    "SELECT scope, parent, name, created_at FROM scopes ORDER BY seq";

constexpr const char* kInsertPrincipal =
    "INSERT INTO principals (principal, tenant, name, created_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (principal) DO NOTHING";
// The principal's row, its memberships (as group or as member) and its bindings, in one
// statement (data-modifying CTEs all run, whatever the outer statement reads).
constexpr const char* kDeletePrincipal =
    "WITH p AS (DELETE FROM principals WHERE principal = $1), "
    "m AS (DELETE FROM members WHERE group_name = $1 OR member = $1) "
    "DELETE FROM bindings WHERE subject = $1";
constexpr const char* kSelectPrincipals =
    "SELECT principal, tenant, name, created_at FROM principals ORDER BY seq";

constexpr const char* kInsertMember =
    "INSERT INTO members (group_name, member) VALUES ($1, $2) "
    "ON CONFLICT (group_name, member) DO NOTHING";
constexpr const char* kDeleteMember = "DELETE FROM members WHERE group_name = $1 AND member = $2";
constexpr const char* kSelectMembers = "SELECT group_name, member FROM members ORDER BY seq";

constexpr const char* kUpsertCustomRole =
    "INSERT INTO custom_roles (id, scope, name, description, permissions, version, created_at, "
    "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
    "ON CONFLICT (id) DO UPDATE SET scope = excluded.scope, name = excluded.name, "
    "description = excluded.description, permissions = excluded.permissions, "
    "version = excluded.version, created_at = excluded.created_at, "
    "updated_at = excluded.updated_at";
constexpr const char* kDeleteCustomRole = "DELETE FROM custom_roles WHERE id = $1";
constexpr const char* kSelectCustomRoles =
    "SELECT id, scope, name, description, permissions, version, created_at, updated_at "
    "FROM custom_roles ORDER BY seq";

constexpr const char* kInsertBinding =
    "INSERT INTO bindings (id, subject, role, scope, not_before, expires_at, justification, "
    "created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
    "ON CONFLICT (id) DO NOTHING";
constexpr const char* kDeleteBinding = "DELETE FROM bindings WHERE id = $1";
constexpr const char* kSelectBindings =
    "SELECT id, subject, role, scope, not_before, expires_at, justification, created_by, "
    "created_at FROM bindings ORDER BY seq";

constexpr const char* kInsertApiKey =
    "INSERT INTO api_keys (id, owner, name, secret_hash, permissions, scope, expires_at, "
    "created_at, revoked_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
    "ON CONFLICT (id) DO NOTHING";
constexpr const char* kRevokeApiKey = "UPDATE api_keys SET revoked_at = $1 WHERE id = $2";
constexpr const char* kSelectApiKeys =
    "SELECT id, owner, name, secret_hash, permissions, scope, expires_at, created_at, "
    "revoked_at, created_by FROM api_keys ORDER BY seq";

constexpr const char* kUpsertSigningKey =
    "INSERT INTO signing_keys (kid, public_key, secret_key, created_at, retired_at) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kid) DO UPDATE SET "
    "public_key = excluded.public_key, secret_key = excluded.secret_key, "
    "created_at = excluded.created_at, retired_at = excluded.retired_at";
constexpr const char* kSelectSigningKeys =
    "SELECT kid, public_key, secret_key, created_at, retired_at FROM signing_keys ORDER BY seq";
constexpr const char* kInsertCapabilityToken =
    "INSERT INTO capability_tokens (id, capability, resource, scope, visitor, issued_by, "
    "issued_at, expires_at, revoked_at, revision, credential) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING";
constexpr const char* kRevokeCapabilityToken =
    "UPDATE capability_tokens SET revoked_at = $1 WHERE id = $2";
constexpr const char* kSelectCapabilityTokens =
    "SELECT id, capability, resource, scope, visitor, issued_by, issued_at, expires_at, "
    "revoked_at, revision, credential FROM capability_tokens ORDER BY seq";
constexpr const char* kUpsertResourceRevocation =
    "INSERT INTO resource_revocations (capability, resource, scope, revoked_at, revoked_by, "
    "revision) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (capability, resource, scope) DO "
    "UPDATE SET revoked_at = excluded.revoked_at, revoked_by = excluded.revoked_by, "
    "revision = excluded.revision";
constexpr const char* kSelectResourceRevocations =
    "SELECT capability, resource, scope, revoked_at, revoked_by, revision "
    "FROM resource_revocations ORDER BY seq";

// The audit_events columns, in AuditEvent order (ReadAuditEvent and AppendAudit's COPY follow it).
#define POSTGRES_STORE_AUDIT_COLUMNS                                                       \
  "seq, id, time_us, module, action, decision, actor_user_id, actor_type, credential_id, " \
  "tenant, resource_id, request_id, source_ip, details, prev_hash, hash"
constexpr std::size_t kAuditColumns = 16;

constexpr const char* kCopyAuditEvents =
    "COPY audit_events (" POSTGRES_STORE_AUDIT_COLUMNS ") FROM STDIN (FORMAT binary)";
constexpr const char* kLockAuditAppend = "SELECT pg_advisory_xact_lock($1)";
constexpr const char* kSelectLastAuditSeqAndTime =
    "SELECT seq, time_us FROM audit_events ORDER BY seq DESC LIMIT 1";
constexpr const char* kSelectLastAuditEvent =
    "SELECT " POSTGRES_STORE_AUDIT_COLUMNS " FROM audit_events ORDER BY seq DESC LIMIT 1";
constexpr const char* kScanAuditEvents = "SELECT " POSTGRES_STORE_AUDIT_COLUMNS
                                         " FROM audit_events WHERE seq >= $1 ORDER BY seq "
                                         "LIMIT $2";

constexpr std::size_t kMaxAuditPageSize = 1000;
constexpr std::size_t kAuditScanPageSize = 10'000;

std::int64_t ClampToInt64(std::uint64_t value) {
  return static_cast<std::int64_t>(std::min(value, kMaxInt64));
}

// ---- Statement helpers.

// Runs `sql` with `values` bound in order as $1, $2, …
template <typename... Values>
Result<PgResult> Run(PgConn& conn, const std::string& sql, const Values&... values) {
  PgParams params;
  params.Reserve(sizeof...(values));
  (params.Add(values), ...);
  return conn.Exec(sql, params);
}

Status Done(const Result<PgResult>& result) { return result ? Status::Ok() : result.error(); }

// kAlreadyExists "<what> already exists" when the ON CONFLICT DO NOTHING insert added no row.
Status InsertedOne(const Result<PgResult>& result, const std::string& what) {
  if (!result) return result.error();
  if (result->affected() == 0) return Status::AlreadyExists(what + " already exists");
  return Status::Ok();
}

// kNotFound "<what> not found" when the statement changed no row.
Status ChangedOne(const Result<PgResult>& result, const std::string& what) {
  if (!result) return result.error();
  if (result->affected() == 0) return Status::NotFound(what + " not found");
  return Status::Ok();
}

// Re-establishes `conn` when libpq has seen it fail (the previous call returned kUnavailable).
// Before a statement on an idle connection: reconnects one that failed, or that the server
// closed while it was idle (so the first statement after a database restart succeeds).
Status Ready(PgConn& conn) { return conn.Alive() ? Status::Ok() : conn.Reconnect(); }

Result<std::uint64_t> ReadRevision(PgConn& conn) {
  POSTGRES_STORE_ASSIGN_OR_RETURN(const PgResult result, conn.Exec(kSelectRevision));
  if (result.rows() != 1) {
    return Err(Status::Internal(conn.target() + ": store_revision must have one row, has " +
                                std::to_string(result.rows())));
  }
  return result.UInt64(0, 0);
}

// ---- Ops to SQL. Each returns the op's documented error, or the connection's.

class OpWriter {
 public:
  explicit OpWriter(PgConn& conn) : conn_(conn) {}

  Status operator()(const PutModule& op) {
    const ModuleRow& r = op.row;
    return Done(Run(conn_, kUpsertModule, r.module, r.version, r.source, r.registered_at));
  }
  Status operator()(const PutScope& op) {
    const ScopeRow& r = op.row;
    return InsertedOne(Run(conn_, kInsertScope, r.scope, r.parent, r.name, r.created_at),
                       "scope " + r.scope);
  }
  Status operator()(const DeleteScope& op) {
    return ChangedOne(Run(conn_, kDeleteScope, op.scope), "scope " + op.scope);
  }
  Status operator()(const PutPrincipal& op) {
    const PrincipalRow& r = op.row;
    return InsertedOne(Run(conn_, kInsertPrincipal, r.principal, r.tenant, r.name, r.created_at),
                       "principal " + r.principal);
  }
  // Not kNotFound when there is no row: users have memberships and bindings but no row.
  Status operator()(const DeletePrincipal& op) {
    return Done(Run(conn_, kDeletePrincipal, op.principal));
  }
  Status operator()(const AddMember& op) {
    return InsertedOne(Run(conn_, kInsertMember, op.row.group, op.row.member), MemberName(op.row));
  }
  Status operator()(const RemoveMember& op) {
    return ChangedOne(Run(conn_, kDeleteMember, op.row.group, op.row.member), MemberName(op.row));
  }
  Status operator()(const PutCustomRole& op) {
    const CustomRoleRow& r = op.row;
    return Done(Run(conn_, kUpsertCustomRole, r.id, r.scope, r.name, r.description,
                    EncodeStringList(r.permissions), r.version, r.created_at, r.updated_at));
  }
  Status operator()(const DeleteCustomRole& op) {
    return ChangedOne(Run(conn_, kDeleteCustomRole, op.id), "custom role " + op.id);
  }
  Status operator()(const PutBinding& op) {
    const BindingRow& r = op.row;
    return InsertedOne(Run(conn_, kInsertBinding, r.id, r.subject, r.role, r.scope, r.not_before,
                           r.expires_at, r.justification, r.created_by, r.created_at),
                       "binding " + std::to_string(r.id));
  }
  Status operator()(const DeleteBinding& op) {
    return ChangedOne(Run(conn_, kDeleteBinding, op.id), "binding " + std::to_string(op.id));
  }
  Status operator()(const PutApiKey& op) {
    const ApiKeyRow& r = op.row;
    return InsertedOne(Run(conn_, kInsertApiKey, r.id, r.owner, r.name, r.secret_hash,
                           EncodeStringList(r.permissions), r.scope, r.expires_at, r.created_at,
                           r.revoked_at, r.created_by),
                       "api key " + r.id);
  }
  Status operator()(const RevokeApiKey& op) {
    return ChangedOne(Run(conn_, kRevokeApiKey, op.revoked_at, op.id), "api key " + op.id);
  }
  Status operator()(const PutSigningKey& op) {
    const SigningKeyRow& r = op.row;
    return Done(Run(conn_, kUpsertSigningKey, r.kid, r.public_key, r.secret_key, r.created_at,
                    r.retired_at));
  }
  Status operator()(const PutCapabilityToken& op) {
    const CapabilityTokenRow& r = op.row;
    return InsertedOne(Run(conn_, kInsertCapabilityToken, r.id, r.capability, r.resource, r.scope,
                           r.visitor, r.issued_by, r.issued_at, r.expires_at, r.revoked_at,
                           r.revision, r.credential),
                       "capability token " + r.id);
  }
  Status operator()(const RevokeCapabilityToken& op) {
    return ChangedOne(Run(conn_, kRevokeCapabilityToken, op.revoked_at, op.id),
                      "capability token " + op.id);
  }
  Status operator()(const PutResourceRevocation& op) {
    const ResourceRevocationRow& r = op.row;
    return Done(Run(conn_, kUpsertResourceRevocation, r.capability, r.resource, r.scope,
                    r.revoked_at, r.revoked_by, r.revision));
  }

 private:
  static std::string MemberName(const MemberRow& r) {
    return "member " + r.member + " of " + r.group;
  }

  PgConn& conn_;
};

// ---- Rows from SQL.

// Reads every row `sql` returns, each with `read`.
template <typename Row>
Result<std::vector<Row>> ReadAll(PgConn& conn, const char* sql,
                                 Result<Row> (*read)(const PgResult&, int)) {
  POSTGRES_STORE_ASSIGN_OR_RETURN(const PgResult result, conn.Exec(sql));
  std::vector<Row> rows;
  rows.reserve(static_cast<std::size_t>(result.rows()));
  for (int i = 0; i < result.rows(); ++i) {
    Result<Row> row = read(result, i);
    if (!row) return Err(std::move(row).error());
    rows.push_back(*std::move(row));
  }
  return rows;
}

Result<std::vector<std::string>> ReadPermissions(const PgResult& r, int row, int col,
                                                 const std::string& owner) {
  Result<std::vector<std::string>> list = DecodeStringList(r.View(row, col));
  if (!list) {
    return Err(Status::Internal(owner + ": permissions column is not a json array of strings"));
  }
  return list;
}

Result<ModuleRow> ReadModule(const PgResult& r, int i) {
  const std::int64_t version = r.Int64(i, 1);
  if (version < std::numeric_limits<int>::min() || version > std::numeric_limits<int>::max()) {
    return Err(Status::Internal("module " + r.Bytes(i, 0) + ": version out of range"));
  }
  return ModuleRow{.module = r.Bytes(i, 0),
                   .version = static_cast<int>(version),
                   .source = r.Bytes(i, 2),
                   .registered_at = r.Int64(i, 3)};
}

Result<ScopeRow> ReadScope(const PgResult& r, int i) {
  return ScopeRow{.scope = r.Bytes(i, 0),
                  .parent = r.Bytes(i, 1),
                  .name = r.Bytes(i, 2),
                  .created_at = r.Int64(i, 3)};
}

Result<PrincipalRow> ReadPrincipal(const PgResult& r, int i) {
  return PrincipalRow{.principal = r.Bytes(i, 0),
                      .tenant = r.Bytes(i, 1),
                      .name = r.Bytes(i, 2),
                      .created_at = r.Int64(i, 3)};
}

Result<MemberRow> ReadMember(const PgResult& r, int i) {
  return MemberRow{.group = r.Bytes(i, 0), .member = r.Bytes(i, 1)};
}

Result<CustomRoleRow> ReadCustomRole(const PgResult& r, int i) {
  CustomRoleRow row{.id = r.Bytes(i, 0),
                    .scope = r.Bytes(i, 1),
                    .name = r.Bytes(i, 2),
                    .description = r.Bytes(i, 3),
                    .version = r.UInt64(i, 5),
                    .created_at = r.Int64(i, 6),
                    .updated_at = r.Int64(i, 7)};
  POSTGRES_STORE_ASSIGN_OR_RETURN(row.permissions,
                                  ReadPermissions(r, i, 4, "custom role " + row.id));
  return row;
}

Result<BindingRow> ReadBinding(const PgResult& r, int i) {
  return BindingRow{.id = r.UInt64(i, 0),
                    .subject = r.Bytes(i, 1),
                    .role = r.Bytes(i, 2),
                    .scope = r.Bytes(i, 3),
                    .not_before = r.Int64(i, 4),
                    .expires_at = r.Int64(i, 5),
                    .justification = r.Bytes(i, 6),
                    .created_by = r.Bytes(i, 7),
                    .created_at = r.Int64(i, 8)};
}

Result<ApiKeyRow> ReadApiKey(const PgResult& r, int i) {
  ApiKeyRow row{.id = r.Bytes(i, 0),
                .owner = r.Bytes(i, 1),
                .name = r.Bytes(i, 2),
                .secret_hash = r.Bytes(i, 3),
                .scope = r.Bytes(i, 5),
                .expires_at = r.Int64(i, 6),
                .created_at = r.Int64(i, 7),
                .revoked_at = r.Int64(i, 8),
                .created_by = r.Bytes(i, 9)};
  POSTGRES_STORE_ASSIGN_OR_RETURN(row.permissions, ReadPermissions(r, i, 4, "api key " + row.id));
  return row;
}

Result<SigningKeyRow> ReadSigningKey(const PgResult& r, int i) {
  return SigningKeyRow{.kid = r.Bytes(i, 0),
                       .public_key = r.Bytes(i, 1),
                       .secret_key = r.Bytes(i, 2),
                       .created_at = r.Int64(i, 3),
                       .retired_at = r.Int64(i, 4)};
}

Result<CapabilityTokenRow> ReadCapabilityToken(const PgResult& r, int i) {
  return CapabilityTokenRow{.id = r.Bytes(i, 0),
                            .capability = r.Bytes(i, 1),
                            .resource = r.Bytes(i, 2),
                            .scope = r.Bytes(i, 3),
                            .visitor = r.Bytes(i, 4),
                            .issued_by = r.Bytes(i, 5),
                            .issued_at = r.Int64(i, 6),
                            .expires_at = r.Int64(i, 7),
                            .revoked_at = r.Int64(i, 8),
                            .revision = r.UInt64(i, 9),
                            .credential = r.Bytes(i, 10)};
}

Result<ResourceRevocationRow> ReadResourceRevocation(const PgResult& r, int i) {
  return ResourceRevocationRow{.capability = r.Bytes(i, 0),
                               .resource = r.Bytes(i, 1),
                               .scope = r.Bytes(i, 2),
                               .revoked_at = r.Int64(i, 3),
                               .revoked_by = r.Bytes(i, 4),
                               .revision = r.UInt64(i, 5)};
}

Result<AuditEvent> ReadAuditEvent(const PgResult& r, int i) {
  return AuditEvent{.seq = r.UInt64(i, 0),
                    .id = r.Bytes(i, 1),
                    .time_us = r.Int64(i, 2),
                    .module = r.Bytes(i, 3),
                    .action = r.Bytes(i, 4),
                    .decision = r.Bytes(i, 5),
                    .actor_user_id = r.Bytes(i, 6),
                    .actor_type = r.Bytes(i, 7),
                    .credential_id = r.Bytes(i, 8),
                    .tenant = r.Bytes(i, 9),
                    .resource_id = r.Bytes(i, 10),
                    .request_id = r.Bytes(i, 11),
                    .source_ip = r.Bytes(i, 12),
                    .details = r.Bytes(i, 13),
                    .prev_hash = r.Bytes(i, 14),
                    .hash = r.Bytes(i, 15)};
}

// Adds the texts without copying them: `e` must outlive the statement's execution.

// Appends the events of `result` to `events`.
Status ReadAuditRows(const PgResult& result, std::vector<AuditEvent>& events) {
  for (int i = 0; i < result.rows(); ++i) {
    Result<AuditEvent> event = ReadAuditEvent(result, i);
    if (!event) return std::move(event).error();
    events.push_back(*std::move(event));
  }
  return Status::Ok();
}


// The query filters and their columns, in the order their parameters are bound.
struct AuditFilter {
  std::optional<std::string> AuditQuery::*value;
  const char* column;
};
constexpr AuditFilter kAuditFilters[] = {
    {&AuditQuery::module, "module"},         {&AuditQuery::tenant, "tenant"},
    {&AuditQuery::actor, "actor_user_id"},   {&AuditQuery::action, "action"},
    {&AuditQuery::resource, "resource_id"},  {&AuditQuery::decision, "decision"},
};


// The connections of a store, each named in pg_stat_activity after its role.
Result<std::unique_ptr<PgConn>> Connect(const std::string& url, const char* role,
                                        const char* session_sql = nullptr) {
  return PgConn::Connect(url, std::string("scaigrid-iam ") + role, session_sql);
}

// Every statement on the audit connection reads in seq (or time) order through an index —
// the primary key, a (column, seq) index or (time_us, seq) — and stops after at most 1,001
// rows (10,000 for a scan page). A sort is never the better plan, but with missing or stale
// statistics (a young table, a large batch just appended; autovacuum analyzes later) the
// planner underestimates a seq range and picks a bitmap scan of the whole range plus a top-N
// sort: about 30 times slower on 100,000 events. So the audit session disables sorts.
constexpr const char* kAuditSession = "SET enable_sort = off";

// LISTEN takes an identifier, not a parameter: the channel is constant text.
static_assert(std::string_view(PostgresStore::kChangesChannel) == "scaigrid_changes");
Status Listen(PgConn& conn) { return conn.ExecScript("LISTEN scaigrid_changes"); }

}  // namespace

// ---- PostgresStore

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const std::string& url) {
  POSTGRES_STORE_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> state, Connect(url, "state"));
  Status migrated = ApplyPostgresMigrations(*state);
  if (!migrated.ok()) return Err(std::move(migrated));
  POSTGRES_STORE_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> audit,
                                  Connect(url, "audit", kAuditSession));
  return std::unique_ptr<PostgresStore>(
      new PostgresStore(url, std::move(state), std::move(audit)));
}

PostgresStore::PostgresStore(std::string url, std::unique_ptr<PgConn> state,
                             std::unique_ptr<PgConn> audit)
    : url_(std::move(url)), state_(std::move(state)), audit_(std::move(audit)) {}

PostgresStore::~PostgresStore() = default;

Result<State> PostgresStore::Load() {
  std::lock_guard lock(state_mu_);
  PgConn& conn = *state_;
  SCAIGRID_RETURN_IF_ERROR(Ready(conn));
  // One snapshot: every table at the same revision, whatever other nodes commit meanwhile.
  POSTGRES_STORE_ASSIGN_OR_RETURN(
      PgTransaction tx,
      PgTransaction::Begin(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"));
  State state;
  POSTGRES_STORE_ASSIGN_OR_RETURN(state.revision, ReadRevision(conn));
  POSTGRES_STORE_ASSIGN_OR_RETURN(state.modules, ReadAll(conn, kSelectModules, ReadModule));
  POSTGRES_STORE_ASSIGN_OR_RETURN(std::vector<ScopeRow> scopes,
                                  ReadAll(conn, kSelectScopes, ReadScope));
  POSTGRES_STORE_ASSIGN_OR_RETURN(state.principals,
                                  ReadAll(conn, kSelectPrincipals, ReadPrincipal));
  POSTGRES_STORE_ASSIGN_OR_RETURN(state.members, ReadAll(conn, kSelectMembers, ReadMember));
  POSTGRES_STORE_ASSIGN_OR_RETURN(state.custom_roles,
                                  ReadAll(conn, kSelectCustomRoles, ReadCustomRole));
  POSTGRES_STORE_ASSIGN_OR_RETURN(state.bindings, ReadAll(conn, kSelectBindings, ReadBinding));
  POSTGRES_STORE_ASSIGN_OR_RETURN(state.api_keys, ReadAll(conn, kSelectApiKeys, ReadApiKey));
  POSTGRES_STORE_ASSIGN_OR_RETURN(state.signing_keys,
                                  ReadAll(conn, kSelectSigningKeys, ReadSigningKey));
  POSTGRES_STORE_ASSIGN_OR_RETURN(state.capability_tokens,
                                  ReadAll(conn, kSelectCapabilityTokens, ReadCapabilityToken));
  POSTGRES_STORE_ASSIGN_OR_RETURN(
      state.resource_revocations,
      ReadAll(conn, kSelectResourceRevocations, ReadResourceRevocation));
  Status committed = tx.Commit();
  if (!committed.ok()) return Err(std::move(committed));
  state.scopes = ParentsFirst(std::move(scopes));
  return state;
}

Result<std::uint64_t> PostgresStore::Apply(const Change& change) {
  if (change.ops.empty()) return Err(Status::InvalidArgument("change has no operations"));
  const std::string body = EncodeChange(change);
  std::lock_guard lock(state_mu_);
  PgConn& conn = *state_;
  SCAIGRID_RETURN_IF_ERROR(Ready(conn));
  // Every error below returns before Commit; the transaction's destructor rolls back.
  POSTGRES_STORE_ASSIGN_OR_RETURN(PgTransaction tx, PgTransaction::Begin(conn));
  // First the row lock on store_revision: a writer on another node waits here until this
  // transaction ends, then bumps the committed value. So writers take turns, every statement
  // below sees every change committed before, and revisions have no gaps (a rollback undoes
  // the bump).
  POSTGRES_STORE_ASSIGN_OR_RETURN(const PgResult bumped, conn.Exec(kBumpRevision));
  if (bumped.rows() != 1) {
    return Err(Status::Internal(conn.target() + ": store_revision must have one row"));
  }
  const std::uint64_t revision = bumped.UInt64(0, 0);
  const std::uint64_t previous = revision - 1;
  if (change.base_revision && *change.base_revision != previous) {
    return Err(Status::FailedPrecondition("change built on revision " +
                                          std::to_string(*change.base_revision) +
                                          ", but the store is at revision " +
                                          std::to_string(previous))
                   .WithReason("revision_conflict"));
  }
  OpWriter writer(conn);
  for (const Op& op : change.ops) {
    Status applied = std::visit(writer, op);
    if (!applied.ok()) return Err(std::move(applied));
  }
  SCAIGRID_RETURN_IF_ERROR(
      Done(Run(conn, kInsertChange, revision, body, change.actor, change.request_id, change.at)));
  // Delivered to every listener when (and only if) the transaction commits.
  {
    const std::string payload = std::to_string(revision);
    PgParams params;
    params.AddText(kChangesChannel).AddText(payload);
    SCAIGRID_RETURN_IF_ERROR(Done(conn.Exec(kNotify, params)));
  }
  Status committed = tx.Commit();
  if (!committed.ok()) return Err(std::move(committed));
  return revision;
}

Result<std::uint64_t> PostgresStore::Revision() {
  std::lock_guard lock(state_mu_);
  SCAIGRID_RETURN_IF_ERROR(Ready(*state_));
  return ReadRevision(*state_);
}

Result<std::vector<std::pair<std::uint64_t, Change>>> PostgresStore::ChangesSince(
    std::uint64_t after, std::size_t limit) {
  std::vector<std::pair<std::uint64_t, Change>> changes;
  if (limit == 0 || after >= kMaxInt64) return changes;
  std::lock_guard lock(state_mu_);
  SCAIGRID_RETURN_IF_ERROR(Ready(*state_));
  POSTGRES_STORE_ASSIGN_OR_RETURN(
      const PgResult result,
      Run(*state_, kSelectChanges, static_cast<std::int64_t>(after), ClampToInt64(limit)));
  changes.reserve(static_cast<std::size_t>(result.rows()));
  for (int i = 0; i < result.rows(); ++i) {
    const std::uint64_t revision = result.UInt64(i, 0);
    Result<Change> change = DecodeChange(result.View(i, 1));
    if (!change) {
      return Err(Status::Internal("change " + std::to_string(revision) +
                                  " in the log does not decode: " + change.error().message()));
    }
    changes.emplace_back(revision, *std::move(change));
  }
  return changes;
}

// ---- Audit

Status PostgresStore::AppendAudit(const std::vector<AuditEvent>& events) {
  if (events.empty()) return Status::Ok();
  SCAIGRID_RETURN_IF_ERROR(CheckAuditBatch(events));
  std::lock_guard lock(audit_mu_);
  PgConn& conn = *audit_;
  SCAIGRID_RETURN_IF_ERROR(Ready(conn));
  Result<PgTransaction> tx = PgTransaction::Begin(conn);
  if (!tx) return std::move(tx).error();
  // Appenders on every node take turns: the last seq read below cannot change before the
  // commit (the lock is released with the transaction).
  SCAIGRID_RETURN_IF_ERROR(Done(Run(conn, kLockAuditAppend, kPostgresAuditAppendLock)));
  std::uint64_t last_seq = 0;
  std::int64_t last_time = std::numeric_limits<std::int64_t>::min();
  {
    Result<PgResult> last = conn.Exec(kSelectLastAuditSeqAndTime);
    if (!last) return std::move(last).error();
    if (last->rows() == 1) {
      last_seq = last->UInt64(0, 0);
      last_time = last->Int64(0, 1);
    }
  }
  const AuditEvent& first = events.front();
  if (first.seq != last_seq + 1) {
    return Status::FailedPrecondition(
        "audit events must follow the last stored seq " + std::to_string(last_seq) +
        ": expected seq " + std::to_string(last_seq + 1) + ", got " + std::to_string(first.seq));
  }
  if (first.time_us < last_time) {
    return Status::FailedPrecondition("audit event times must not decrease: seq " +
                                      std::to_string(first.seq) + " has time_us " +
                                      std::to_string(first.time_us) + ", before the stored seq " +
                                      std::to_string(last_seq) + "'s " + std::to_string(last_time));
  }
  // One COPY for the whole batch (binary: no parsing of values on either side).
  PgBinaryCopy copy;
  for (const AuditEvent& e : events) {
    copy.BeginRow(static_cast<int>(kAuditColumns));
    copy.Add(e.seq);
    for (const std::string* f : {&e.id}) copy.Add(*f);
    copy.Add(e.time_us);
    for (const std::string* f : {&e.module, &e.action, &e.decision, &e.actor_user_id, &e.actor_type,
                                 &e.credential_id, &e.tenant, &e.resource_id, &e.request_id, &e.source_ip,
                                 &e.details, &e.prev_hash, &e.hash}) {
      copy.Add(*f);
    }
  }
  SCAIGRID_RETURN_IF_ERROR(conn.CopyIn(kCopyAuditEvents, copy.Finish()));
  return tx->Commit();
}

Result<std::optional<AuditEvent>> PostgresStore::LastAuditEvent() {
  std::lock_guard lock(audit_mu_);
  SCAIGRID_RETURN_IF_ERROR(Ready(*audit_));
  POSTGRES_STORE_ASSIGN_OR_RETURN(const PgResult result, audit_->Exec(kSelectLastAuditEvent));
  if (result.rows() == 0) return std::optional<AuditEvent>();
  POSTGRES_STORE_ASSIGN_OR_RETURN(AuditEvent event, ReadAuditEvent(result, 0));
  return std::optional<AuditEvent>(std::move(event));
}

Result<AuditPage> PostgresStore::QueryAudit(const AuditQuery& query) {
  if (query.limit < 1 || query.limit > kMaxAuditPageSize) {
    return Err(Status::InvalidArgument("audit query limit must be between 1 and " +
                                       std::to_string(kMaxAuditPageSize) + ", got " +
                                       std::to_string(query.limit)));
  }
  AuditPage page;
  // The cursor as a seq range [low, high].
  std::int64_t low = 1;
  std::int64_t high = std::numeric_limits<std::int64_t>::max();
  if (query.after_seq) {
    const std::uint64_t after = *query.after_seq;
    if (query.descending) {
      if (after <= 1) return page;
      high = ClampToInt64(after - 1);
    } else {
      if (after >= kMaxInt64) return page;
      low = static_cast<std::int64_t>(after + 1);
    }
  }
  // One statement built from constant fragments (one text per combination of present filters
  // and order; values are parameters). since / until become seq bounds: since seq order is
  // time order (AppendAudit enforces it), "time_us >= t" is "seq >= the first seq at or after
  // t", one descent of audit_events_by_time (no such seq for `since`: nothing matches; none
  // for `until`: no upper bound). The planner evaluates them once, before the scan.
  PgParams params;
  params.Add(low).Add(high);
  std::string sql = "SELECT " POSTGRES_STORE_AUDIT_COLUMNS
                    " FROM audit_events WHERE seq BETWEEN $1 AND $2";
  int next = 3;
  if (query.since_us) {
    sql += " AND seq >= (SELECT seq FROM audit_events WHERE time_us >= $" +
           std::to_string(next++) + " ORDER BY time_us, seq LIMIT 1)";
    params.Add(*query.since_us);
  }
  if (query.until_us) {
    sql += " AND seq <= COALESCE((SELECT seq FROM audit_events WHERE time_us >= $" +
           std::to_string(next++) + " ORDER BY time_us, seq LIMIT 1) - 1, " +
           std::to_string(std::numeric_limits<std::int64_t>::max()) + ")";
    params.Add(*query.until_us);
  }
  for (const AuditFilter& filter : kAuditFilters) {
    const std::optional<std::string>& value = query.*filter.value;
    if (!value) continue;
    sql += std::string(" AND ") + filter.column + " = $" + std::to_string(next++);
    params.Add(*value);
  }
  sql += query.descending ? " ORDER BY seq DESC LIMIT $" : " ORDER BY seq LIMIT $";
  sql += std::to_string(next++);
  // limit + 1: the extra event says that another page follows.
  params.Add(static_cast<std::int64_t>(query.limit + 1));

  std::lock_guard lock(audit_mu_);
  SCAIGRID_RETURN_IF_ERROR(Ready(*audit_));
  POSTGRES_STORE_ASSIGN_OR_RETURN(const PgResult result, audit_->Exec(sql, params));
  Status read = ReadAuditRows(result, page.events);
  if (!read.ok()) return Err(std::move(read));
  if (page.events.size() > query.limit) {
    page.events.pop_back();
    page.more = true;
  }
  return page;
}

Status PostgresStore::ScanAudit(std::uint64_t from_seq,
                                const std::function<bool(const AuditEvent&)>& fn) {
  std::vector<AuditEvent> page;
  page.reserve(kAuditScanPageSize);
  for (std::uint64_t next = from_seq; next <= kMaxInt64;) {
    page.clear();
    {
      // One page under the lock; `fn` runs without it, so it may call the store.
      std::lock_guard lock(audit_mu_);
      SCAIGRID_RETURN_IF_ERROR(Ready(*audit_));
      Result<PgResult> result = Run(*audit_, kScanAuditEvents, static_cast<std::int64_t>(next),
                                    static_cast<std::int64_t>(kAuditScanPageSize));
      if (!result) return std::move(result).error();
      SCAIGRID_RETURN_IF_ERROR(ReadAuditRows(*result, page));
    }
    for (const AuditEvent& event : page) {
      if (!fn(event)) return Status::Ok();
    }
    if (page.size() < kAuditScanPageSize) return Status::Ok();
    next = page.back().seq + 1;
  }
  return Status::Ok();
}

// ---- Following changes

Result<bool> PostgresStore::WaitForChange(std::chrono::milliseconds timeout) {
  std::lock_guard lock(listen_mu_);
  if (listen_ == nullptr) {
    // Only a store that follows listens: a listener that never reads would hold back
    // PostgreSQL's notification queue.
    POSTGRES_STORE_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, Connect(url_, "listen"));
    SCAIGRID_RETURN_IF_ERROR(Listen(*conn));
    listen_ = std::move(conn);
    return true;  // changes committed before now were not watched: the caller must look
  }
  PgConn& conn = *listen_;
  if (listen_lost_ || !conn.ok()) {
    SCAIGRID_RETURN_IF_ERROR(conn.Reconnect());
    SCAIGRID_RETURN_IF_ERROR(Listen(conn));
    listen_lost_ = false;
    return true;  // notifications sent while disconnected are gone: the caller must look
  }
  const auto lost = [&](std::string_view what) {
    listen_lost_ = true;
    return Err(conn.ConnectionError(what));
  };
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (PQconsumeInput(conn.raw()) == 0 || !conn.ok()) {
      return lost("lost the connection listening for changes");
    }
    bool notified = false;
    while (PGnotify* notify = PQnotifies(conn.raw())) {
      notified = true;
      PQfreemem(notify);
    }
    if (notified) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    const int socket = PQsocket(conn.raw());
    if (socket < 0) return lost("no socket listening for changes");
    const auto remaining =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    pollfd fd{.fd = socket, .events = POLLIN, .revents = 0};
    const int ready = poll(&fd, 1,
                           static_cast<int>(std::min<std::int64_t>(
                               remaining, std::numeric_limits<int>::max())));
    if (ready < 0 && errno != EINTR) {
      return Err(Status(StatusCode::kUnavailable,
                        conn.target() + ": poll failed: " + std::strerror(errno)));
    }
    // Readable (or interrupted, or timed out): the loop consumes what came and checks.
  }
}

}  // namespace scaigrid::iam::store

#undef POSTGRES_STORE_ASSIGN_OR_RETURN
#undef POSTGRES_STORE_AUDIT_COLUMNS
