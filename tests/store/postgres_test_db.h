// Test support for the PostgreSQL tests (and the benches that run on the same throwaway
// cluster): where the cluster is, and a database per test.
//
// ctest starts the cluster (test postgres_cluster_start, a FIXTURES_SETUP that every Postgres
// test requires; scripts/pg_cluster.sh) and writes its URL to a file; the tests read it from
// the file named by $SCAIGRID_PG_URL_FILE (set by ctest; by default the build tree's pg/url,
// so a test binary run by hand finds a cluster started with `scripts/pg_cluster.sh start
// BUILD/pg 0`). $SCAIGRID_PG_URL, when set, names a server directly. There is no skipping: no
// URL is an error that says how to start the cluster.
//
// Every test process gets its own databases (gtest_discover_tests runs each test in its own
// process, in parallel): created fresh, dropped first when a stale one has the same name.
//
// Thread-safety: the functions may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include "scaigrid/iam/status.h"
#include "store/store.h"

namespace scaigrid::iam::store {

// The cluster's URL (a postgresql:// URI of its maintenance database, "postgres").
// Errors: kUnavailable saying how to start the cluster.
[[nodiscard]] Result<std::string> PostgresServerUrl();

// The URL of database `name` on the cluster (`name`: [a-z0-9_], at most 63 characters).
[[nodiscard]] Result<std::string> PostgresDatabaseUrl(const std::string& name);

// Drops database `name` when it exists (disconnecting its sessions) and creates it empty;
// returns its URL. Errors: kInvalidArgument (a bad name), the connection's.
[[nodiscard]] Result<std::string> FreshPostgresDatabase(const std::string& name);

// The database of the test directory `dir`, for the conformance suite's factory, which is
// called again for the same directory to reopen the store: the first call for `dir` creates a
// fresh database named from a hash of `dir` and records its name in `dir`; later calls return
// the same database.
[[nodiscard]] Result<std::string> PostgresDatabaseForDir(const std::string& dir);

// The conformance suite's factory: a PostgresStore on PostgresDatabaseForDir(dir); null on
// failure, after reporting it as a test failure.
std::unique_ptr<Store> OpenPostgresForDir(const std::string& dir);

// A database name for the running gtest test: "scaigrid_t_" + a hash of its full name.
std::string PostgresNameForCurrentTest();

}  // namespace scaigrid::iam::store
