// The PostgreSQL schema as an ordered list of migrations, and the code that applies them.
//
// Migration i (0-based) takes a database from schema version i to i + 1. Open applies every
// pending one in a single transaction that first takes a transaction-level advisory lock
// (kPostgresMigrationLock), together with their rows in schema_migrations(version,
// applied_at): PostgreSQL's DDL is transactional, so a crash leaves the database at the old
// version, and several nodes starting at once migrate it once (the others wait on the lock,
// then find the schema current). A shipped migration is never edited: changes are new
// migrations appended to the list (docs/storage.md, "PostgreSQL"). The PostgreSQL versions
// are their own sequence, independent of SQLite's.
//
// Thread-safety: ApplyPostgresMigrations uses the connection; its caller serializes access.
#pragma once

#include <cstdint>
#include <span>

#include "scaigrid/iam/status.h"
#include "store/postgres/pg_conn.h"

namespace scaigrid::iam::store {

// Advisory lock keys (pg_advisory_xact_lock; they are per database). Stable: every node of
// every version must use the same ones.
inline constexpr std::int64_t kPostgresMigrationLock = 0x5343'4149'4d00'0001;  // "SCAIM" 1
inline constexpr std::int64_t kPostgresAuditAppendLock = 0x5343'4149'4d00'0002;

struct PostgresMigration {
  const char* sql;  // one or more statements, constant text
};

// The migrations, in order. The schema version this binary writes is their count.
std::span<const PostgresMigration> PostgresMigrations();

// Brings the schema of the connected database up to PostgresMigrations().size().
// Errors: kFailedPrecondition when the database's version is newer than this binary knows
// (naming both); the connection's errors (kUnavailable, kInternal) otherwise.
[[nodiscard]] Status ApplyPostgresMigrations(PgConn& conn);

}  // namespace scaigrid::iam::store
