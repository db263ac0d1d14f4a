// The SQLite schema as an ordered list of migrations, and the code that applies them.
//
// Migration i (0-based) takes a database from schema version i to i + 1: an SQL script, then
// optionally a C++ step for data work SQL does badly (migration 4 backfills audit postings).
// Each runs once, in its own BEGIN IMMEDIATE transaction together with its row in
// schema_migrations(version, applied_at), so a crash leaves the database at a whole version
// and two processes opening a new file at once do not both migrate it. A shipped migration is
// never edited: changes are new migrations appended to the list (docs/storage.md).
//
// Thread-safety: ApplySqliteMigrations uses the connection; its caller serializes access.
#pragma once

#include <span>

#include "scaigrid/iam/status.h"
#include "store/sqlite/sqlite_db.h"

namespace scaigrid::iam::store {

struct SqliteMigration {
  const char* sql;  // one or more statements, run first
  // Runs after `sql` in the same transaction; null when the migration is SQL only.
  Status (*then)(SqliteDb& db) = nullptr;
};

// The migrations, in order. The schema version this binary writes is their count.
std::span<const SqliteMigration> SqliteMigrations();

// Brings the schema of `db` up to SqliteMigrations().size().
// Errors: kFailedPrecondition when the database's version is newer than this binary knows
// (naming both versions); the connection's errors (kUnavailable, kInternal) otherwise.
[[nodiscard]] Status ApplySqliteMigrations(SqliteDb& db);

}  // namespace scaigrid::iam::store
