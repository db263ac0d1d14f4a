#include "store/postgres/postgres_migrations.h"

#include <array>
#include <cstdint>
#include <string>
#include <utility>

namespace scaigrid::iam::store {
namespace {

// The policy state and the change log. Every row table has `seq`, an identity column: Load
// returns rows in seq order, which is insertion order (writers are serialized by the
// store_revision row lock, so seqs are handed out in commit order); upserts keep a row's seq.
// Every string is bytea: the Store keeps strings byte for byte (NUL and invalid UTF-8
// included, as SQLite's TEXT and the change codec do), which PostgreSQL's text refuses.
// Times are Unix seconds (bigint); a uint64 (binding id, custom role version, token
// revision) is stored as the bigint with the same bits; permission lists are JSON arrays of
// strings (EncodeStringList). store_revision is the one-row counter Apply locks and bumps.
constexpr const char* kMigration1 = R"sql(
CREATE TABLE modules (
  seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  module        bytea  NOT NULL UNIQUE,
  version       bigint NOT NULL,
  source        bytea  NOT NULL,
  registered_at bigint NOT NULL
);
CREATE TABLE scopes (
  seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  scope      bytea  NOT NULL UNIQUE,
  parent     bytea  NOT NULL,
  name       bytea  NOT NULL,
  created_at bigint NOT NULL
);
CREATE TABLE principals (
  seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  principal  bytea  NOT NULL UNIQUE,
  tenant     bytea  NOT NULL,
  name       bytea  NOT NULL,
  created_at bigint NOT NULL
);
CREATE TABLE members (
  seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  group_name bytea  NOT NULL,
  member     bytea  NOT NULL,
  UNIQUE (group_name, member)
);
CREATE INDEX members_by_member ON members (member);
CREATE TABLE custom_roles (
  seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id          bytea  NOT NULL UNIQUE,
  scope       bytea  NOT NULL,
  name        bytea  NOT NULL,
  description bytea  NOT NULL,
  permissions bytea  NOT NULL,
  version     bigint NOT NULL,
  created_at  bigint NOT NULL,
  updated_at  bigint NOT NULL
);
CREATE TABLE bindings (
  seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id            bigint NOT NULL UNIQUE,
  subject       bytea  NOT NULL,
  role          bytea  NOT NULL,
  scope         bytea  NOT NULL,
  not_before    bigint NOT NULL,
  expires_at    bigint NOT NULL,
  justification bytea  NOT NULL,
  created_by    bytea  NOT NULL,
  created_at    bigint NOT NULL
);
CREATE INDEX bindings_by_subject ON bindings (subject);
CREATE TABLE api_keys (
  seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id          bytea  NOT NULL UNIQUE,
  owner       bytea  NOT NULL,
  name        bytea  NOT NULL,
  secret_hash bytea  NOT NULL,
  permissions bytea  NOT NULL,
  scope       bytea  NOT NULL,
  expires_at  bigint NOT NULL,
  created_at  bigint NOT NULL,
  revoked_at  bigint NOT NULL,
  created_by  bytea  NOT NULL
);
CREATE TABLE signing_keys (
  seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kid        bytea  NOT NULL UNIQUE,
  public_key bytea  NOT NULL,
  secret_key bytea  NOT NULL,
  created_at bigint NOT NULL,
  retired_at bigint NOT NULL
);
CREATE TABLE capability_tokens (
  seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id         bytea  NOT NULL UNIQUE,
  capability bytea  NOT NULL,
  resource   bytea  NOT NULL,
  scope      bytea  NOT NULL,
  visitor    bytea  NOT NULL,
  issued_by  bytea  NOT NULL,
  issued_at  bigint NOT NULL,
  expires_at bigint NOT NULL,
  revoked_at bigint NOT NULL,
  revision   bigint NOT NULL,
  credential bytea  NOT NULL
);
CREATE TABLE resource_revocations (
  seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  capability bytea  NOT NULL,
  resource   bytea  NOT NULL,
  scope      bytea  NOT NULL,
  revoked_at bigint NOT NULL,
  revoked_by bytea  NOT NULL,
  revision   bigint NOT NULL,
  UNIQUE (capability, resource, scope)
);
CREATE TABLE changes (
  revision   bigint PRIMARY KEY,
  change     bytea  NOT NULL,
  actor      bytea  NOT NULL,
  request_id bytea  NOT NULL,
  at         bigint NOT NULL
);
CREATE TABLE store_revision (
  id       boolean PRIMARY KEY DEFAULT true CHECK (id),
  revision bigint  NOT NULL
);
INSERT INTO store_revision (id, revision) VALUES (true, 0);
)sql";

// The audit log: one column per AuditEvent field, seq assigned by the audit writer
// (consecutive, times non-decreasing in seq, so seq order is time order). One (column, seq)
// index per posted query filter, serving "filter = ? AND seq range ORDER BY seq [DESC]
// LIMIT n" as one index range scan; (time_us, seq) turns since / until into seq bounds.
// decision (three values) has none: it is checked on the row. The trigger refuses UPDATE
// (upserts included), DELETE and TRUNCATE on any connection; the hash chain is what proves
// the log intact against someone who drops it.
constexpr const char* kMigration2 = R"sql(
CREATE TABLE audit_events (
  seq           bigint PRIMARY KEY,
  id            bytea  NOT NULL,
  time_us       bigint NOT NULL,
  module        bytea  NOT NULL,
  action        bytea  NOT NULL,
  decision      bytea  NOT NULL,
  actor_user_id bytea  NOT NULL,
  actor_type    bytea  NOT NULL,
  credential_id bytea  NOT NULL,
  tenant        bytea  NOT NULL,
  resource_id   bytea  NOT NULL,
  request_id    bytea  NOT NULL,
  source_ip     bytea  NOT NULL,
  details       bytea  NOT NULL,
  prev_hash     bytea  NOT NULL,
  hash          bytea  NOT NULL
);
CREATE INDEX audit_events_by_time     ON audit_events (time_us, seq);
CREATE INDEX audit_events_by_module   ON audit_events (module, seq);
CREATE INDEX audit_events_by_tenant   ON audit_events (tenant, seq);
CREATE INDEX audit_events_by_actor    ON audit_events (actor_user_id, seq);
CREATE INDEX audit_events_by_action   ON audit_events (action, seq);
CREATE INDEX audit_events_by_resource ON audit_events (resource_id, seq);
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit events are append-only';
END
$$;
CREATE TRIGGER audit_events_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
)sql";

constexpr std::array<PostgresMigration, 2> kMigrations = {{
    {kMigration1},
    {kMigration2},
}};

constexpr const char* kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version bigint PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())";
const std::string kLock = "SELECT pg_advisory_xact_lock($1)";
const std::string kSelectVersion = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
const std::string kInsertVersion = "INSERT INTO schema_migrations (version) VALUES ($1)";

}  // namespace

std::span<const PostgresMigration> PostgresMigrations() { return kMigrations; }

Status ApplyPostgresMigrations(PgConn& conn) {
  Result<PgTransaction> tx = PgTransaction::Begin(conn);
  if (!tx) return std::move(tx).error();
  {
    PgParams key;
    key.Add(kPostgresMigrationLock);
    Result<PgResult> locked = conn.Exec(kLock, key);
    if (!locked) return std::move(locked).error();
  }
  // Under the lock: the table's creation and the version read cannot race another opener.
  SCAIGRID_RETURN_IF_ERROR(conn.ExecScript(kCreateMigrationsTable));
  Result<PgResult> read = conn.Exec(kSelectVersion);
  if (!read) return std::move(read).error();
  const std::int64_t version = read->Int64(0, 0);
  const auto known = static_cast<std::int64_t>(kMigrations.size());
  if (version > known) {
    return Status::FailedPrecondition(conn.target() + " has schema version " +
                                      std::to_string(version) + ", newer than version " +
                                      std::to_string(known) +
                                      " that this binary knows; run a newer scaigrid-iam");
  }
  for (std::int64_t v = version; v < known; ++v) {
    SCAIGRID_RETURN_IF_ERROR(conn.ExecScript(kMigrations[static_cast<std::size_t>(v)].sql));
    PgParams params;
    params.Add(v + 1);
    Result<PgResult> inserted = conn.Exec(kInsertVersion, params);
    if (!inserted) return std::move(inserted).error();
  }
  return tx->Commit();
}

}  // namespace scaigrid::iam::store
