#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "store/change_codec.h"
#include "store/backend_rules.h"
#include "store/sqlite/sqlite_audit_postings.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/sqlite_migrations.h"

// Assigns the value of Result `expr` to `lhs`, or returns its error from the enclosing
// function (which returns a Result).
#define SQLITE_STORE_ASSIGN_OR_RETURN(lhs, expr)                       \
  auto SCAIGRID_CONCAT(result_, __LINE__) = (expr);                    \
  if (!SCAIGRID_CONCAT(result_, __LINE__)) {                           \
    return Err(std::move(SCAIGRID_CONCAT(result_, __LINE__)).error()); \
  }                                                                    \
  lhs = *std::move(SCAIGRID_CONCAT(result_, __LINE__))

namespace scaigrid::iam::store {
namespace {

// ---- SQL. Values are always bound parameters.

constexpr std::string_view kSelectRevision = "SELECT COALESCE(MAX(revision), 0) FROM changes";
constexpr std::string_view kInsertChange =
    "INSERT INTO changes (revision, at, actor, request_id, body) VALUES (?, ?, ?, ?, ?)";
constexpr std::string_view kSelectChanges =
    "SELECT revision, body FROM changes WHERE revision > ? ORDER BY revision LIMIT ?";

constexpr std::string_view kUpsertModule =
    "INSERT INTO modules (module, version, source, registered_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (module) DO UPDATE SET version = excluded.version, source = excluded.source, "
    "registered_at = excluded.registered_at";
constexpr std::string_view kSelectModules =
    "SELECT module, version, source, registered_at FROM modules ORDER BY seq";

constexpr std::string_view kScopeExists = "SELECT 1 FROM scopes WHERE scope = ?";
constexpr std::string_view kInsertScope =
    "INSERT INTO scopes (scope, parent, name, created_at) VALUES (?, ?, ?, ?)";
constexpr std::string_view kDeleteScope = "DELETE FROM scopes WHERE scope = ?";
constexpr std::string_view kSelectScopes =
    "SELECT scope, parent, name, created_at FROM scopes ORDER BY seq";

constexpr std::string_view kPrincipalExists = "SELECT 1 FROM principals WHERE principal = ?";
constexpr std::string_view kInsertPrincipal =
    "INSERT INTO principals (principal, tenant, name, created_at) VALUES (?, ?, ?, ?)";
constexpr std::string_view kDeletePrincipal = "DELETE FROM principals WHERE principal = ?";
constexpr std::string_view kDeleteMembershipsOf =
    "DELETE FROM members WHERE group_name = ?1 OR member = ?1";
constexpr std::string_view kDeleteBindingsOf = "DELETE FROM bindings WHERE subject = ?";
constexpr std::string_view kSelectPrincipals =
    "SELECT principal, tenant, name, created_at FROM principals ORDER BY seq";

constexpr std::string_view kMemberExists =
    "SELECT 1 FROM members WHERE group_name = ? AND member = ?";
constexpr std::string_view kInsertMember = "INSERT INTO members (group_name, member) VALUES (?, ?)";
constexpr std::string_view kDeleteMember =
    "DELETE FROM members WHERE group_name = ? AND member = ?";
constexpr std::string_view kSelectMembers = "SELECT group_name, member FROM members ORDER BY seq";

constexpr std::string_view kUpsertCustomRole =
    "INSERT INTO custom_roles (id, scope, name, description, permissions, version, created_at, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET scope = excluded.scope, name = excluded.name, "
    "description = excluded.description, permissions = excluded.permissions, "
    "version = excluded.version, created_at = excluded.created_at, "
    "updated_at = excluded.updated_at";
constexpr std::string_view kDeleteCustomRole = "DELETE FROM custom_roles WHERE id = ?";
constexpr std::string_view kSelectCustomRoles =
    "SELECT id, scope, name, description, permissions, version, created_at, updated_at "
    "FROM custom_roles ORDER BY seq";

constexpr std::string_view kBindingExists = "SELECT 1 FROM bindings WHERE id = ?";
constexpr std::string_view kInsertBinding =
    "INSERT INTO bindings (id, subject, role, scope, not_before, expires_at, justification, "
    "created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr std::string_view kDeleteBinding = "DELETE FROM bindings WHERE id = ?";
constexpr std::string_view kSelectBindings =
    "SELECT id, subject, role, scope, not_before, expires_at, justification, created_by, "
    "created_at FROM bindings ORDER BY seq";

constexpr std::string_view kApiKeyExists = "SELECT 1 FROM api_keys WHERE id = ?";
constexpr std::string_view kInsertApiKey =
    "INSERT INTO api_keys (id, owner, name, secret_hash, permissions, scope, expires_at, "
    "created_at, revoked_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr std::string_view kRevokeApiKey = "UPDATE api_keys SET revoked_at = ? WHERE id = ?";
constexpr std::string_view kSelectApiKeys =
    "SELECT id, owner, name, secret_hash, permissions, scope, expires_at, created_at, "
    "revoked_at, created_by FROM api_keys ORDER BY seq";

constexpr std::string_view kUpsertSigningKey =
    "INSERT INTO signing_keys (kid, public_key, secret_key, created_at, retired_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kid) DO UPDATE SET public_key = excluded.public_key, "
    "secret_key = excluded.secret_key, created_at = excluded.created_at, "
    "retired_at = excluded.retired_at";
constexpr std::string_view kSelectSigningKeys =
    "SELECT kid, public_key, secret_key, created_at, retired_at FROM signing_keys ORDER BY seq";
constexpr std::string_view kCapabilityTokenExists = "SELECT 1 FROM capability_tokens WHERE id = ?";
constexpr std::string_view kInsertCapabilityToken =
    "INSERT INTO capability_tokens (id, capability, resource, scope, visitor, issued_by, "
    "issued_at, expires_at, revoked_at, revision, credential) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr std::string_view kRevokeCapabilityToken =
    "UPDATE capability_tokens SET revoked_at = ? WHERE id = ?";
constexpr std::string_view kSelectCapabilityTokens =
    "SELECT id, capability, resource, scope, visitor, issued_by, issued_at, expires_at, "
    "revoked_at, revision, credential FROM capability_tokens ORDER BY seq";
constexpr std::string_view kUpsertResourceRevocation =
    "INSERT INTO resource_revocations (capability, resource, scope, revoked_at, revoked_by, revision) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (capability, resource, scope) DO UPDATE SET "
    "revoked_at = excluded.revoked_at, revoked_by = excluded.revoked_by, revision = excluded.revision";
constexpr std::string_view kSelectResourceRevocations =
    "SELECT capability, resource, scope, revoked_at, revoked_by, revision FROM resource_revocations "
    "ORDER BY seq";

// The audit_events columns, in AuditEvent order (ReadAuditEvent and BindAuditEvent follow it).
#define SQLITE_STORE_AUDIT_COLUMNS                                                         \
  "seq, id, time_us, module, action, decision, actor_user_id, actor_type, credential_id, " \
  "tenant, resource_id, request_id, source_ip, details, prev_hash, hash"

// AppendAudit inserts kAuditEventsPerInsert events per statement execution (InsertRows in
// sqlite_db.h): each lands at the right edge of the table and of audit_events_by_time where
// the previous one left the cursors, and the statement's fixed cost is paid once per chunk.
constexpr std::string_view kInsertAuditEvents =
    "INSERT INTO audit_events (" SQLITE_STORE_AUDIT_COLUMNS ") VALUES ";
constexpr std::string_view kAuditEventValues = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr std::size_t kAuditEventsPerInsert = 128;
constexpr std::string_view kSelectLastAuditEvent =
    "SELECT " SQLITE_STORE_AUDIT_COLUMNS " FROM audit_events ORDER BY seq DESC LIMIT 1";
constexpr std::string_view kSelectLastAuditSeqAndTime =
    "SELECT seq, time_us FROM audit_events ORDER BY seq DESC LIMIT 1";
constexpr std::string_view kScanAuditEvents = "SELECT " SQLITE_STORE_AUDIT_COLUMNS
                                              " FROM audit_events WHERE seq >= ? ORDER BY seq "
                                              "LIMIT ?";
// 0 when the log is empty. One descent of the table (SQLite's max() optimization).
constexpr std::string_view kSelectLastAuditSeq = "SELECT COALESCE(MAX(seq), 0) FROM audit_events";
// The first seq whose time is at or after a time: since seq order is time order (AppendAudit
// enforces it), "time_us >= t" is "seq >= this seq". A covering search of audit_events_by_time.
constexpr std::string_view kFirstSeqAtOrAfter =
    "SELECT seq FROM audit_events WHERE time_us >= ? ORDER BY time_us, seq LIMIT 1";

// The audit_events columns of SQLITE_STORE_AUDIT_COLUMNS, of the alias e (the postings probe
// joins audit_postings p, which has a seq too).
#define SQLITE_STORE_AUDIT_COLUMNS_OF_E                                                     \
  "e.seq, e.id, e.time_us, e.module, e.action, e.decision, e.actor_user_id, e.actor_type, " \
  "e.credential_id, e.tenant, e.resource_id, e.request_id, e.source_ip, e.details, "        \
  "e.prev_hash, e.hash"

// QueryAudit bounds.
constexpr std::size_t kMaxAuditPageSize = 1000;
// ScanAudit reads this many events per statement, then calls back without the lock held.
constexpr std::size_t kAuditScanPageSize = 10'000;

std::int64_t ClampToInt64(std::uint64_t value) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(std::min(value, kMax));
}

// ---- Statement helpers.

// Runs `sql` with `values` bound in order; returns the number of rows it changed.
template <typename... Values>
Result<int> Execute(SqliteDb& db, std::string_view sql, const Values&... values) {
  Result<SqliteStatement> stmt = db.Prepare(sql);
  if (!stmt) return Err(std::move(stmt).error());
  (stmt->Bind(values), ...);
  Status ran = stmt->Run();
  if (!ran.ok()) return Err(std::move(ran));
  return db.Changes();
}

// True when `sql` with `values` bound returns a row.
template <typename... Values>
Result<bool> Exists(SqliteDb& db, std::string_view sql, const Values&... values) {
  Result<SqliteStatement> stmt = db.Prepare(sql);
  if (!stmt) return Err(std::move(stmt).error());
  (stmt->Bind(values), ...);
  return stmt->Step();
}

// kAlreadyExists "<what> already exists" when `exists`, else runs the insert.
template <typename... Values>
Status InsertNew(SqliteDb& db, const Result<bool>& exists, const std::string& what,
                 std::string_view insert, const Values&... values) {
  if (!exists) return exists.error();
  if (*exists) return Status::AlreadyExists(what + " already exists");
  Result<int> inserted = Execute(db, insert, values...);
  return inserted ? Status::Ok() : inserted.error();
}

// kNotFound "<what> not found" when the statement changed no row.
Status ChangedOne(const Result<int>& changed, const std::string& what) {
  if (!changed) return changed.error();
  if (*changed == 0) return Status::NotFound(what + " not found");
  return Status::Ok();
}

Result<std::uint64_t> ReadRevision(SqliteDb& db) {
  Result<SqliteStatement> stmt = db.Prepare(kSelectRevision);
  if (!stmt) return Err(std::move(stmt).error());
  Result<bool> row = stmt->Step();
  if (!row) return Err(std::move(row).error());
  return *row ? stmt->UInt64(0) : 0;
}

// ---- Ops to SQL. Each returns the op's documented error, or the connection's.

class OpWriter {
 public:
  explicit OpWriter(SqliteDb& db) : db_(db) {}

  Status operator()(const PutModule& op) {
    const ModuleRow& r = op.row;
    Result<int> done = Execute(db_, kUpsertModule, r.module, r.version, r.source, r.registered_at);
    return done ? Status::Ok() : done.error();
  }
  Status operator()(const PutScope& op) {
    const ScopeRow& r = op.row;
    return InsertNew(db_, Exists(db_, kScopeExists, r.scope), "scope " + r.scope, kInsertScope,
                     r.scope, r.parent, r.name, r.created_at);
  }
  Status operator()(const DeleteScope& op) {
    return ChangedOne(Execute(db_, kDeleteScope, op.scope), "scope " + op.scope);
  }
  Status operator()(const PutPrincipal& op) {
    const PrincipalRow& r = op.row;
    return InsertNew(db_, Exists(db_, kPrincipalExists, r.principal), "principal " + r.principal,
                     kInsertPrincipal, r.principal, r.tenant, r.name, r.created_at);
  }
  // Not kNotFound when there is no row: users have memberships and bindings but no row.
  Status operator()(const DeletePrincipal& op) {
    for (std::string_view sql : {kDeletePrincipal, kDeleteMembershipsOf, kDeleteBindingsOf}) {
      Result<int> done = Execute(db_, sql, op.principal);
      if (!done) return done.error();
    }
    return Status::Ok();
  }
  Status operator()(const AddMember& op) {
    const MemberRow& r = op.row;
    return InsertNew(db_, Exists(db_, kMemberExists, r.group, r.member), MemberName(r),
                     kInsertMember, r.group, r.member);
  }
  Status operator()(const RemoveMember& op) {
    return ChangedOne(Execute(db_, kDeleteMember, op.row.group, op.row.member), MemberName(op.row));
  }
  Status operator()(const PutCustomRole& op) {
    const CustomRoleRow& r = op.row;
    Result<int> done =
        Execute(db_, kUpsertCustomRole, r.id, r.scope, r.name, r.description,
                EncodeStringList(r.permissions), r.version, r.created_at, r.updated_at);
    return done ? Status::Ok() : done.error();
  }
  Status operator()(const DeleteCustomRole& op) {
    return ChangedOne(Execute(db_, kDeleteCustomRole, op.id), "custom role " + op.id);
  }
  Status operator()(const PutBinding& op) {
    const BindingRow& r = op.row;
    return InsertNew(db_, Exists(db_, kBindingExists, r.id), "binding " + std::to_string(r.id),
                     kInsertBinding, r.id, r.subject, r.role, r.scope, r.not_before, r.expires_at,
                     r.justification, r.created_by, r.created_at);
  }
  Status operator()(const DeleteBinding& op) {
    return ChangedOne(Execute(db_, kDeleteBinding, op.id), "binding " + std::to_string(op.id));
  }
  Status operator()(const PutApiKey& op) {
    const ApiKeyRow& r = op.row;
    return InsertNew(db_, Exists(db_, kApiKeyExists, r.id), "api key " + r.id, kInsertApiKey, r.id,
                     r.owner, r.name, r.secret_hash, EncodeStringList(r.permissions), r.scope,
                     r.expires_at, r.created_at, r.revoked_at, r.created_by);
  }
  Status operator()(const RevokeApiKey& op) {
    return ChangedOne(Execute(db_, kRevokeApiKey, op.revoked_at, op.id), "api key " + op.id);
  }
  Status operator()(const PutSigningKey& op) {
    const SigningKeyRow& r = op.row;
    Result<int> done =
        Execute(db_, kUpsertSigningKey, r.kid, r.public_key, r.secret_key, r.created_at, r.retired_at);
    return done ? Status::Ok() : done.error();
  }
  Status operator()(const PutCapabilityToken& op) {
    const CapabilityTokenRow& r = op.row;
    return InsertNew(db_, Exists(db_, kCapabilityTokenExists, r.id), "capability token " + r.id,
                     kInsertCapabilityToken, r.id, r.capability, r.resource, r.scope, r.visitor,
                     r.issued_by, r.issued_at, r.expires_at, r.revoked_at,
                     static_cast<std::int64_t>(r.revision), r.credential);
  }
  Status operator()(const RevokeCapabilityToken& op) {
    return ChangedOne(Execute(db_, kRevokeCapabilityToken, op.revoked_at, op.id),
                      "capability token " + op.id);
  }
  Status operator()(const PutResourceRevocation& op) {
    const ResourceRevocationRow& r = op.row;
    Result<int> done =
        Execute(db_, kUpsertResourceRevocation, r.capability, r.resource, r.scope, r.revoked_at,
                r.revoked_by, static_cast<std::int64_t>(r.revision));
    return done ? Status::Ok() : done.error();
  }

 private:
  static std::string MemberName(const MemberRow& r) {
    return "member " + r.member + " of " + r.group;
  }

  SqliteDb& db_;
};

// ---- Rows from SQL.

// Reads every row `sql` returns, each with `read`.
template <typename Row>
Result<std::vector<Row>> ReadAll(SqliteDb& db, std::string_view sql,
                                 Result<Row> (*read)(const SqliteStatement&)) {
  Result<SqliteStatement> stmt = db.Prepare(sql);
  if (!stmt) return Err(std::move(stmt).error());
  std::vector<Row> rows;
  for (;;) {
    Result<bool> more = stmt->Step();
    if (!more) return Err(std::move(more).error());
    if (!*more) return rows;
    Result<Row> row = read(*stmt);
    if (!row) return Err(std::move(row).error());
    rows.push_back(*std::move(row));
  }
}

Result<std::vector<std::string>> ReadPermissions(const SqliteStatement& s, int column,
                                                 const std::string& owner) {
  Result<std::vector<std::string>> list = DecodeStringList(s.Text(column));
  if (!list) {
    return Err(Status::Internal(owner + ": permissions column is not a json array of strings"));
  }
  return list;
}

Result<ModuleRow> ReadModule(const SqliteStatement& s) {
  const std::int64_t version = s.Int64(1);
  if (version < std::numeric_limits<int>::min() || version > std::numeric_limits<int>::max()) {
    return Err(Status::Internal("module " + s.Text(0) + ": version out of range"));
  }
  return ModuleRow{.module = s.Text(0),
                   .version = static_cast<int>(version),
                   .source = s.Text(2),
                   .registered_at = s.Int64(3)};
}

Result<ScopeRow> ReadScope(const SqliteStatement& s) {
  return ScopeRow{
      .scope = s.Text(0), .parent = s.Text(1), .name = s.Text(2), .created_at = s.Int64(3)};
}

Result<PrincipalRow> ReadPrincipal(const SqliteStatement& s) {
  return PrincipalRow{
      .principal = s.Text(0), .tenant = s.Text(1), .name = s.Text(2), .created_at = s.Int64(3)};
}

Result<MemberRow> ReadMember(const SqliteStatement& s) {
  return MemberRow{.group = s.Text(0), .member = s.Text(1)};
}

Result<CustomRoleRow> ReadCustomRole(const SqliteStatement& s) {
  CustomRoleRow r{.id = s.Text(0),
                  .scope = s.Text(1),
                  .name = s.Text(2),
                  .description = s.Text(3),
                  .version = s.UInt64(5),
                  .created_at = s.Int64(6),
                  .updated_at = s.Int64(7)};
  SQLITE_STORE_ASSIGN_OR_RETURN(r.permissions, ReadPermissions(s, 4, "custom role " + r.id));
  return r;
}

Result<BindingRow> ReadBinding(const SqliteStatement& s) {
  return BindingRow{.id = s.UInt64(0),
                    .subject = s.Text(1),
                    .role = s.Text(2),
                    .scope = s.Text(3),
                    .not_before = s.Int64(4),
                    .expires_at = s.Int64(5),
                    .justification = s.Text(6),
                    .created_by = s.Text(7),
                    .created_at = s.Int64(8)};
}

Result<ApiKeyRow> ReadApiKey(const SqliteStatement& s) {
  ApiKeyRow r{.id = s.Text(0),
              .owner = s.Text(1),
              .name = s.Text(2),
              .secret_hash = s.Text(3),
              .scope = s.Text(5),
              .expires_at = s.Int64(6),
              .created_at = s.Int64(7),
              .revoked_at = s.Int64(8),
              .created_by = s.Text(9)};
  SQLITE_STORE_ASSIGN_OR_RETURN(r.permissions, ReadPermissions(s, 4, "api key " + r.id));
  return r;
}

Result<SigningKeyRow> ReadSigningKey(const SqliteStatement& s) {
  return SigningKeyRow{.kid = s.Text(0),
                       .public_key = s.Text(1),
                       .secret_key = s.Text(2),
                       .created_at = s.Int64(3),
                       .retired_at = s.Int64(4)};
}

Result<CapabilityTokenRow> ReadCapabilityToken(const SqliteStatement& s) {
  return CapabilityTokenRow{.id = s.Text(0),
                            .capability = s.Text(1),
                            .resource = s.Text(2),
                            .scope = s.Text(3),
                            .visitor = s.Text(4),
                            .issued_by = s.Text(5),
                            .issued_at = s.Int64(6),
                            .expires_at = s.Int64(7),
                            .revoked_at = s.Int64(8),
                            .revision = s.UInt64(9),
                            .credential = s.Text(10)};
}

Result<ResourceRevocationRow> ReadResourceRevocation(const SqliteStatement& s) {
  return ResourceRevocationRow{.capability = s.Text(0),
                               .resource = s.Text(1),
                               .scope = s.Text(2),
                               .revoked_at = s.Int64(3),
                               .revoked_by = s.Text(4),
                               .revision = s.UInt64(5)};
}

Result<AuditEvent> ReadAuditEvent(const SqliteStatement& s) {
  return AuditEvent{.seq = s.UInt64(0),
                    .id = s.Text(1),
                    .time_us = s.Int64(2),
                    .module = s.Text(3),
                    .action = s.Text(4),
                    .decision = s.Text(5),
                    .actor_user_id = s.Text(6),
                    .actor_type = s.Text(7),
                    .credential_id = s.Text(8),
                    .tenant = s.Text(9),
                    .resource_id = s.Text(10),
                    .request_id = s.Text(11),
                    .source_ip = s.Text(12),
                    .details = s.Text(13),
                    .prev_hash = s.Text(14),
                    .hash = s.Text(15)};
}

// Binds the texts without copying them: `e` must outlive the statement's execution.
void BindAuditEvent(SqliteStatement& s, const AuditEvent& e) {
  s.Bind(e.seq)
      .BindStatic(e.id)
      .Bind(e.time_us)
      .BindStatic(e.module)
      .BindStatic(e.action)
      .BindStatic(e.decision)
      .BindStatic(e.actor_user_id)
      .BindStatic(e.actor_type)
      .BindStatic(e.credential_id)
      .BindStatic(e.tenant)
      .BindStatic(e.resource_id)
      .BindStatic(e.request_id)
      .BindStatic(e.source_ip)
      .BindStatic(e.details)
      .BindStatic(e.prev_hash)
      .BindStatic(e.hash);
}


// ---- Audit postings and queries.

// The query filters, most to least selective as audit data usually is: the first present one
// with a posting tag and a non-empty value drives a filtered query (an empty value has no
// postings; decision, with three values, has none at all).
struct AuditFilter {
  std::optional<std::string> AuditQuery::*value;
  std::string_view column;
  char tag;  // 0: not posted
};
constexpr AuditFilter kAuditFilters[] = {
    {&AuditQuery::resource, "resource_id", kAuditResourceTag},
    {&AuditQuery::actor, "actor_user_id", kAuditActorTag},
    {&AuditQuery::tenant, "tenant", kAuditTenantTag},
    {&AuditQuery::action, "action", kAuditActionTag},
    {&AuditQuery::module, "module", kAuditModuleTag},
    {&AuditQuery::decision, "decision", 0},
};

// The statements of one QueryAudit, built from constant fragments (values are always bound
// parameters), so the statement cache holds at most one of each per combination of present
// filters and order.
struct AuditQueryPlan {
  // The driving filter's posting key (tag + value); empty when no filter can drive.
  std::string driving_key;
  // With a driving key: the events of one complete segment through its postings,
  //   ?1 segment, ?2 key, ?3 ?4 the seq range, then the residuals, then the limit.
  // Every filter is checked on the row, the driving one too.
  std::string probe_sql;
  // A rowid range with every filter checked on each row: ?1 ?2 the seq range, then the
  // residuals, then the limit. The open segment of a filtered query, or the whole range.
  std::string range_sql;
  // The present filters' values, bound in this order after the fixed parameters.
  std::vector<std::string_view> residuals;
};

AuditQueryPlan PlanAuditQuery(const AuditQuery& q) {
  AuditQueryPlan plan;
  std::string probe_where;
  std::string range_where;
  for (const AuditFilter& filter : kAuditFilters) {
    const std::optional<std::string>& value = q.*filter.value;
    if (!value) continue;
    if (plan.driving_key.empty() && filter.tag != 0 && !value->empty()) {
      plan.driving_key = filter.tag + *value;
    }
    plan.residuals.push_back(*value);
    probe_where += " AND e.";
    probe_where += filter.column;
    probe_where += " = ?";
    range_where += " AND ";
    range_where += filter.column;
    range_where += " = ?";
  }
  const std::string order = q.descending ? " DESC LIMIT ?" : " LIMIT ?";
  plan.range_sql = "SELECT " SQLITE_STORE_AUDIT_COLUMNS
                   " FROM audit_events WHERE seq BETWEEN ? AND ?" +
                   range_where + " ORDER BY seq" + order;
  if (!plan.driving_key.empty()) {
    // CROSS JOIN: SQLite keeps p as the outer loop whatever its estimates.
    plan.probe_sql = "SELECT " SQLITE_STORE_AUDIT_COLUMNS_OF_E
                     " FROM audit_postings AS p CROSS JOIN audit_events AS e ON e.seq = p.seq"
                     " WHERE p.segment = ? AND p.key = ? AND p.seq BETWEEN ? AND ?" +
                     probe_where + " ORDER BY p.seq" + order;
  }
  return plan;
}

// The seq of the first row of `sql` with `values` bound, or nullopt when it returns none.
template <typename... Values>
Result<std::optional<std::uint64_t>> ReadSeq(SqliteDb& db, std::string_view sql,
                                             const Values&... values) {
  Result<SqliteStatement> stmt = db.Prepare(sql);
  if (!stmt) return Err(std::move(stmt).error());
  (stmt->Bind(values), ...);
  Result<bool> row = stmt->Step();
  if (!row) return Err(std::move(row).error());
  if (!*row) return std::optional<std::uint64_t>();
  return std::optional<std::uint64_t>(stmt->UInt64(0));
}

// The seqs a query may return, inclusive, and the last stored seq.
struct AuditSeqRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t stored_last = 0;
};

// The range of `q` in the stored log, nullopt when empty. since / until become seq bounds
// through audit_events_by_time: seq order is time order (AppendAudit enforces it), so the
// events at or after a time are exactly those from the first seq at or after it on. The cursor
// cuts the range at after_seq.
Result<std::optional<AuditSeqRange>> ReadAuditSeqRange(SqliteDb& db, const AuditQuery& q) {
  using Range = std::optional<AuditSeqRange>;
  SQLITE_STORE_ASSIGN_OR_RETURN(const std::optional<std::uint64_t> stored_last,
                                ReadSeq(db, kSelectLastAuditSeq));
  if (!stored_last || *stored_last == 0) return Range();
  AuditSeqRange range{.first = 1, .last = *stored_last, .stored_last = *stored_last};
  if (q.since_us) {
    SQLITE_STORE_ASSIGN_OR_RETURN(const std::optional<std::uint64_t> since,
                                  ReadSeq(db, kFirstSeqAtOrAfter, *q.since_us));
    if (!since) return Range();
    range.first = *since;
  }
  if (q.until_us) {
    SQLITE_STORE_ASSIGN_OR_RETURN(const std::optional<std::uint64_t> until,
                                  ReadSeq(db, kFirstSeqAtOrAfter, *q.until_us));
    if (until) {
      if (*until <= 1) return Range();
      range.last = std::min(range.last, *until - 1);
    }
  }
  if (q.after_seq) {
    const std::uint64_t after = *q.after_seq;
    if (q.descending) {
      if (after <= range.first) return Range();
      range.last = std::min(range.last, after - 1);
    } else {
      if (after >= range.last) return Range();
      range.first = std::max(range.first, after + 1);
    }
  }
  if (range.first > range.last) return Range();
  return Range(range);
}

// Steps `stmt` to the end, appending each row to `events`.
Status ReadAuditRows(SqliteStatement& stmt, std::vector<AuditEvent>& events) {
  for (;;) {
    Result<bool> row = stmt.Step();
    if (!row) return std::move(row).error();
    if (!*row) return Status::Ok();
    Result<AuditEvent> event = ReadAuditEvent(stmt);
    if (!event) return std::move(event).error();
    events.push_back(*std::move(event));
  }
}

// Appends to `events` the events of `range` that `plan` matches, in seq order (or reverse),
// until there are `want` of them.
Status CollectAuditEvents(SqliteDb& db, const AuditQueryPlan& plan, const AuditSeqRange& range,
                          bool descending, std::size_t want, std::vector<AuditEvent>& events) {
  Result<SqliteStatement> scan = db.Prepare(plan.range_sql);
  if (!scan) return std::move(scan).error();
  const auto run = [&](SqliteStatement& stmt, std::uint64_t from, std::uint64_t to) {
    stmt.Bind(from).Bind(to);
    for (std::string_view value : plan.residuals) stmt.Bind(value);
    stmt.Bind(static_cast<std::int64_t>(want - events.size()));
    Status read = ReadAuditRows(stmt, events);
    stmt.Reset();
    return read;
  };
  if (plan.driving_key.empty()) return run(*scan, range.first, range.last);

  // Segment by segment in query order; segments [0, complete) have postings.
  constexpr std::uint64_t kSegment = SqliteStore::kAuditSegment;
  const std::uint64_t complete = range.stored_last / kSegment;
  const std::uint64_t first_segment = (range.first - 1) / kSegment;
  const std::uint64_t last_segment = (range.last - 1) / kSegment;
  Result<SqliteStatement> probe = db.Prepare(plan.probe_sql);
  if (!probe) return std::move(probe).error();
  for (std::uint64_t i = 0; i <= last_segment - first_segment && events.size() < want; ++i) {
    const std::uint64_t segment = descending ? last_segment - i : first_segment + i;
    const std::uint64_t from = std::max(range.first, segment * kSegment + 1);
    const std::uint64_t to = std::min(range.last, segment * kSegment + kSegment);
    if (segment < complete) {
      probe->Bind(segment).Bind(std::string_view(plan.driving_key));
      SCAIGRID_RETURN_IF_ERROR(run(*probe, from, to));
    } else {
      SCAIGRID_RETURN_IF_ERROR(run(*scan, from, to));
    }
  }
  return Status::Ok();
}


// WAL: readers do not block the writer and a commit is one append to the log.
// synchronous=FULL (Sync::kFull, the default): the WAL is fsynced at every commit, so an
// acknowledged change survives power loss, not only a crash of the process. NORMAL
// (Sync::kNormal): fsync at checkpoints only; a commit survives kill -9 (it is in the OS's
// page cache) but an OS crash or power loss may lose the last commits.
// cache_size 64 MiB (default 2 MiB) and wal_autocheckpoint 32768 pages (128 MiB, default
// 1000): the audit indexes on high-cardinality columns (actor, resource) take every append to
// random pages; a larger cache and fewer checkpoints let consecutive commits share those
// pages instead of re-reading them from the WAL and copying each into the file every commit
// (the audit build in bench/audit_query_bench.cc appends about 1.4 times as fast). Durability is
// unchanged: the WAL is still fsynced at every commit.
Status SetPragmas(SqliteDb& db, SqliteStore::Sync sync) {
  {
    Result<SqliteStatement> journal = db.Prepare("PRAGMA journal_mode = WAL");
    if (!journal) return std::move(journal).error();
    Result<bool> row = journal->Step();
    if (!row) return std::move(row).error();
    const std::string mode = *row ? journal->Text(0) : "";
    if (mode != "wal" && db.path() != ":memory:") {
      return Status(
          StatusCode::kUnavailable,
          "sqlite database " + db.path() + ": cannot use wal journal mode (got \"" + mode + "\")");
    }
  }
  SCAIGRID_RETURN_IF_ERROR(db.Exec(sync == SqliteStore::Sync::kNormal
                                       ? "PRAGMA synchronous = NORMAL"
                                       : "PRAGMA synchronous = FULL"));
  SCAIGRID_RETURN_IF_ERROR(db.Exec("PRAGMA cache_size = -65536"));
  SCAIGRID_RETURN_IF_ERROR(db.Exec("PRAGMA wal_autocheckpoint = 32768"));
  return db.Exec("PRAGMA foreign_keys = OFF");
}

}  // namespace

// ---- SqliteStore

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, Sync sync) {
  SQLITE_STORE_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path));
  Status status = SetPragmas(*db, sync);
  if (status.ok()) status = ApplySqliteMigrations(*db);
  if (!status.ok()) return Err(std::move(status));
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(db)));
}

SqliteStore::SqliteStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

SqliteStore::~SqliteStore() = default;

Result<State> SqliteStore::Load() {
  std::lock_guard lock(mu_);
  SqliteDb& db = *db_;
  // One read transaction: every table at the same revision, even with other writers.
  SQLITE_STORE_ASSIGN_OR_RETURN(SqliteTransaction tx,
                                SqliteTransaction::Begin(db, SqliteTransaction::Mode::kDeferred));
  State state;
  SQLITE_STORE_ASSIGN_OR_RETURN(state.revision, ReadRevision(db));
  SQLITE_STORE_ASSIGN_OR_RETURN(state.modules, ReadAll(db, kSelectModules, ReadModule));
  SQLITE_STORE_ASSIGN_OR_RETURN(std::vector<ScopeRow> scopes,
                                ReadAll(db, kSelectScopes, ReadScope));
  SQLITE_STORE_ASSIGN_OR_RETURN(state.principals, ReadAll(db, kSelectPrincipals, ReadPrincipal));
  SQLITE_STORE_ASSIGN_OR_RETURN(state.members, ReadAll(db, kSelectMembers, ReadMember));
  SQLITE_STORE_ASSIGN_OR_RETURN(state.custom_roles,
                                ReadAll(db, kSelectCustomRoles, ReadCustomRole));
  SQLITE_STORE_ASSIGN_OR_RETURN(state.bindings, ReadAll(db, kSelectBindings, ReadBinding));
  SQLITE_STORE_ASSIGN_OR_RETURN(state.api_keys, ReadAll(db, kSelectApiKeys, ReadApiKey));
  SQLITE_STORE_ASSIGN_OR_RETURN(state.signing_keys, ReadAll(db, kSelectSigningKeys, ReadSigningKey));
  SQLITE_STORE_ASSIGN_OR_RETURN(state.capability_tokens,
                                ReadAll(db, kSelectCapabilityTokens, ReadCapabilityToken));
  SQLITE_STORE_ASSIGN_OR_RETURN(state.resource_revocations,
                                ReadAll(db, kSelectResourceRevocations, ReadResourceRevocation));
  Status committed = tx.Commit();
  if (!committed.ok()) return Err(std::move(committed));
  state.scopes = ParentsFirst(std::move(scopes));
  return state;
}

Result<std::uint64_t> SqliteStore::Apply(const Change& change) {
  if (change.ops.empty()) return Err(Status::InvalidArgument("change has no operations"));
  const std::string body = EncodeChange(change);
  std::lock_guard lock(mu_);
  SqliteDb& db = *db_;
  // Takes the write lock up front; every error below returns before Commit, and the
  // transaction's destructor rolls everything back.
  SQLITE_STORE_ASSIGN_OR_RETURN(SqliteTransaction tx,
                                SqliteTransaction::Begin(db, SqliteTransaction::Mode::kImmediate));
  SQLITE_STORE_ASSIGN_OR_RETURN(const std::uint64_t previous, ReadRevision(db));
  if (change.base_revision && *change.base_revision != previous) {
    return Err(Status::FailedPrecondition("change built on revision " + std::to_string(*change.base_revision) +
                                          ", but the store is at revision " + std::to_string(previous))
                   .WithReason("revision_conflict"));
  }
  OpWriter writer(db);
  for (const Op& op : change.ops) {
    Status applied = std::visit(writer, op);
    if (!applied.ok()) return Err(std::move(applied));
  }
  const std::uint64_t revision = previous + 1;
  Result<int> logged =
      Execute(db, kInsertChange, revision, change.at, change.actor, change.request_id, body);
  if (!logged) return Err(std::move(logged).error());
  Status committed = tx.Commit();
  if (!committed.ok()) return Err(std::move(committed));
  return revision;
}

Result<std::uint64_t> SqliteStore::Revision() {
  std::lock_guard lock(mu_);
  return ReadRevision(*db_);
}

Result<std::vector<std::pair<std::uint64_t, Change>>> SqliteStore::ChangesSince(std::uint64_t after,
                                                                                std::size_t limit) {
  std::vector<std::pair<std::uint64_t, Change>> changes;
  if (limit == 0 || after >= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return changes;
  }
  std::lock_guard lock(mu_);
  Result<SqliteStatement> stmt = db_->Prepare(kSelectChanges);
  if (!stmt) return Err(std::move(stmt).error());
  stmt->Bind(after).Bind(ClampToInt64(limit));
  for (;;) {
    Result<bool> more = stmt->Step();
    if (!more) return Err(std::move(more).error());
    if (!*more) return changes;
    const std::uint64_t revision = stmt->UInt64(0);
    Result<Change> change = DecodeChange(stmt->Text(1));
    if (!change) {
      return Err(Status::Internal("change " + std::to_string(revision) +
                                  " in the log does not decode: " + change.error().message()));
    }
    changes.emplace_back(revision, *std::move(change));
  }
}

// ---- Audit

Status SqliteStore::AppendAudit(const std::vector<AuditEvent>& events) {
  if (events.empty()) return Status::Ok();
  SCAIGRID_RETURN_IF_ERROR(CheckAuditBatch(events));
  std::lock_guard lock(mu_);
  SqliteDb& db = *db_;
  // The write lock first, so the last seq read below cannot change before the commit.
  Result<SqliteTransaction> tx = SqliteTransaction::Begin(db, SqliteTransaction::Mode::kImmediate);
  if (!tx) return std::move(tx).error();
  std::uint64_t last_seq = 0;
  std::int64_t last_time = std::numeric_limits<std::int64_t>::min();
  {
    Result<SqliteStatement> last = db.Prepare(kSelectLastAuditSeqAndTime);
    if (!last) return std::move(last).error();
    Result<bool> row = last->Step();
    if (!row) return std::move(row).error();
    if (*row) {
      last_seq = last->UInt64(0);
      last_time = last->Int64(1);
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
  SCAIGRID_RETURN_IF_ERROR(InsertRows(
      db, kInsertAuditEvents, kAuditEventValues, kAuditEventsPerInsert, events.size(),
      [](SqliteStatement&) {},
      [&events](SqliteStatement& stmt, std::size_t i) { BindAuditEvent(stmt, events[i]); }));
  // The segments this batch completes get their postings in the same transaction.
  for (std::uint64_t segment = last_seq / kAuditSegment;
       segment < events.back().seq / kAuditSegment; ++segment) {
    SCAIGRID_RETURN_IF_ERROR(WriteAuditPostings(db, segment));
  }
  return tx->Commit();
}

Result<std::optional<AuditEvent>> SqliteStore::LastAuditEvent() {
  std::lock_guard lock(mu_);
  Result<SqliteStatement> stmt = db_->Prepare(kSelectLastAuditEvent);
  if (!stmt) return Err(std::move(stmt).error());
  Result<bool> row = stmt->Step();
  if (!row) return Err(std::move(row).error());
  if (!*row) return std::optional<AuditEvent>();
  SQLITE_STORE_ASSIGN_OR_RETURN(AuditEvent event, ReadAuditEvent(*stmt));
  return std::optional<AuditEvent>(std::move(event));
}

Result<AuditPage> SqliteStore::QueryAudit(const AuditQuery& query) {
  if (query.limit < 1 || query.limit > kMaxAuditPageSize) {
    return Err(Status::InvalidArgument("audit query limit must be between 1 and " +
                                       std::to_string(kMaxAuditPageSize) + ", got " +
                                       std::to_string(query.limit)));
  }
  const AuditQueryPlan plan = PlanAuditQuery(query);
  AuditPage page;
  std::lock_guard lock(mu_);
  SqliteDb& db = *db_;
  // One read transaction: the bounds and every segment from one snapshot of the log.
  SQLITE_STORE_ASSIGN_OR_RETURN(SqliteTransaction tx,
                                SqliteTransaction::Begin(db, SqliteTransaction::Mode::kDeferred));
  SQLITE_STORE_ASSIGN_OR_RETURN(const std::optional<AuditSeqRange> range,
                                ReadAuditSeqRange(db, query));
  if (range) {
    // limit + 1: the extra event says that another page follows.
    Status collected =
        CollectAuditEvents(db, plan, *range, query.descending, query.limit + 1, page.events);
    if (!collected.ok()) return Err(std::move(collected));
  }
  Status committed = tx.Commit();
  if (!committed.ok()) return Err(std::move(committed));
  if (page.events.size() > query.limit) {
    page.events.pop_back();
    page.more = true;
  }
  return page;
}

std::vector<std::string> SqliteStore::AuditQuerySql(const AuditQuery& query) {
  AuditQueryPlan plan = PlanAuditQuery(query);
  std::vector<std::string> sql = {std::string(kSelectLastAuditSeq)};
  if (query.since_us || query.until_us) sql.emplace_back(kFirstSeqAtOrAfter);
  if (!plan.probe_sql.empty()) sql.push_back(std::move(plan.probe_sql));
  sql.push_back(std::move(plan.range_sql));
  return sql;
}

Status SqliteStore::ScanAudit(std::uint64_t from_seq,
                              const std::function<bool(const AuditEvent&)>& fn) {
  constexpr auto kMaxSeq = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::vector<AuditEvent> page;
  page.reserve(kAuditScanPageSize);
  for (std::uint64_t next = from_seq; next <= kMaxSeq;) {
    page.clear();
    {
      // One page under the lock; `fn` runs without it, so it may call the store.
      std::lock_guard lock(mu_);
      Result<SqliteStatement> stmt = db_->Prepare(kScanAuditEvents);
      if (!stmt) return std::move(stmt).error();
      stmt->Bind(next).Bind(static_cast<std::int64_t>(kAuditScanPageSize));
      for (;;) {
        Result<bool> row = stmt->Step();
        if (!row) return std::move(row).error();
        if (!*row) break;
        Result<AuditEvent> event = ReadAuditEvent(*stmt);
        if (!event) return std::move(event).error();
        page.push_back(*std::move(event));
      }
    }
    for (const AuditEvent& event : page) {
      if (!fn(event)) return Status::Ok();
    }
    if (page.size() < kAuditScanPageSize) return Status::Ok();
    next = page.back().seq + 1;
  }
  return Status::Ok();
}

}  // namespace scaigrid::iam::store

#undef SQLITE_STORE_ASSIGN_OR_RETURN
#undef SQLITE_STORE_AUDIT_COLUMNS
#undef SQLITE_STORE_AUDIT_COLUMNS_OF_E
