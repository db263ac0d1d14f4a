// SqliteStore-only tests: opening errors, migrations, the stored form of columns, concurrent
// writers, and durability under kill -9. The behaviour every backend shares is in
// store_conformance_test.cc.
#include "store/sqlite/sqlite_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "store/sqlite/sqlite_migrations.h"
#include "store/store_test_util.h"
#include "temp_dir.h"

namespace scaigrid::iam::store {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Runs `sql` on the file through a separate raw connection; returns the first column of each
// row as text.
std::vector<std::string> RawQuery(const std::string& path, const std::string& sql) {
  std::vector<std::string> rows;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << path;
    sqlite3_close_v2(db);
    return rows;
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sqlite3_errmsg(db);
  } else {
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      rows.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "");
    }
    if (rc != SQLITE_DONE) ADD_FAILURE() << sqlite3_errmsg(db);
  }
  sqlite3_finalize(stmt);
  sqlite3_close_v2(db);
  return rows;
}

// Runs `sql` (one or more statements) on the file through a separate raw connection, as an
// operator with the sqlite3 shell would; returns the error message, empty on success.
std::string RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string error;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    error = "cannot open " + path;
  } else {
    char* message = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      error = message != nullptr ? message : "error";
    }
    sqlite3_free(message);
  }
  sqlite3_close_v2(db);
  return error;
}

// The EXPLAIN QUERY PLAN detail lines of `sql`, one per line.
std::string PlanOf(const std::string& path, const std::string& sql) {
  std::string plan;
  sqlite3* db = nullptr;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &stmt, nullptr) !=
          SQLITE_OK) {
    ADD_FAILURE() << sqlite3_errmsg(db) << " in " << sql;
  } else {
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
      plan += "\n";
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close_v2(db);
  return plan;
}

AuditEvent Event(std::uint64_t seq) {
  return AuditEvent{.seq = seq,
                    .id = "evt_" + std::to_string(seq),
                    .time_us = static_cast<std::int64_t>(1000 * seq),
                    .module = "iam",
                    .action = "iam:bindings.create",
                    .decision = "allowed",
                    .actor_user_id = "user:alice",
                    .actor_type = "user",
                    .tenant = "tenant:acme",
                    .resource_id = "binding-" + std::to_string(seq),
                    .details = "{}",
                    .prev_hash = seq == 1 ? "" : "p" + std::to_string(seq - 1),
                    .hash = "h" + std::to_string(seq)};
}

std::vector<AuditEvent> Events(std::uint64_t first, std::uint64_t count) {
  std::vector<AuditEvent> events;
  for (std::uint64_t seq = first; seq < first + count; ++seq) events.push_back(Event(seq));
  return events;
}

// Reads exactly one uint64 (a revision, a seq) from `fd`, waiting at most 60 s. False on end of
// file or timeout.
bool ReadAck(int fd, std::uint64_t& revision) {
  char* out = reinterpret_cast<char*>(&revision);
  std::size_t have = 0;
  while (have < sizeof revision) {
    pollfd waiting{.fd = fd, .events = POLLIN, .revents = 0};
    if (poll(&waiting, 1, 60'000) <= 0) return false;
    const ssize_t n = read(fd, out + have, sizeof revision - have);
    if (n <= 0) return false;
    have += static_cast<std::size_t>(n);
  }
  return true;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }

  std::unique_ptr<SqliteStore> MustOpen() {
    Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path_);
    EXPECT_THAT(store, IsOk());
    return store ? *std::move(store) : nullptr;
  }

  TempDir dir_;
  const std::string path_ = dir_.path() + "/iam.db";
};

TEST_F(SqliteStoreTest, OpenCreatesTheFile) {
  ASSERT_NE(MustOpen(), nullptr);
  EXPECT_TRUE(std::filesystem::exists(path_));
}

TEST_F(SqliteStoreTest, OpenInAMissingDirectoryIsUnavailableNamingThePath) {
  const std::string path = dir_.path() + "/missing/iam.db";
  EXPECT_THAT(
      SqliteStore::Open(path),
      StatusIs(StatusCode::kUnavailable, AllOf(HasSubstr(path), HasSubstr("does not exist"))));
}

TEST_F(SqliteStoreTest, OpenOnAFileThatIsNotADatabaseFailsNamingThePath) {
  std::ofstream(path_) << "this is not a database, just some text long enough to have a header";
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path_);
  ASSERT_FALSE(store.has_value());
  EXPECT_THAT(store.error().message(), HasSubstr(path_));
}

TEST_F(SqliteStoreTest, UsesWalAndRecordsMigrationsOnce) {
  ASSERT_NE(MustOpen(), nullptr);
  ASSERT_NE(MustOpen(), nullptr);  // opening again applies nothing more
  EXPECT_THAT(RawQuery(path_, "PRAGMA journal_mode"), ElementsAre("wal"));
  std::vector<std::string> versions;
  for (std::size_t v = 1; v <= SqliteMigrations().size(); ++v) {
    versions.push_back(std::to_string(v));
  }
  EXPECT_THAT(RawQuery(path_, "SELECT version FROM schema_migrations ORDER BY version"),
              ::testing::ElementsAreArray(versions));
  EXPECT_THAT(RawQuery(path_, "SELECT count(*) FROM schema_migrations WHERE applied_at > 0"),
              ElementsAre(std::to_string(SqliteMigrations().size())));
}

TEST_F(SqliteStoreTest, NewerSchemaIsFailedPreconditionNamingBothVersions) {
  ASSERT_NE(MustOpen(), nullptr);
  RawQuery(path_, "INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)");
  const std::string known = std::to_string(SqliteMigrations().size());
  EXPECT_THAT(SqliteStore::Open(path_),
              StatusIs(StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(path_), HasSubstr("schema version 99"),
                             HasSubstr("version " + known))));
}

TEST_F(SqliteStoreTest, StoresPermissionsAsJsonArraysAndChangesAsCodecJson) {
  std::unique_ptr<SqliteStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  const Change change{
      .ops = {PutCustomRole{{.id = "r", .permissions = {"a:b", "c:*"}}}, PutApiKey{{.id = "k"}}},
      .actor = "user:root",
      .request_id = "req-9",
      .at = 77};
  ASSERT_THAT(store->Apply(change), IsOk());
  EXPECT_THAT(RawQuery(path_, "SELECT permissions FROM custom_roles"),
              ElementsAre(R"(["a:b","c:*"])"));
  EXPECT_THAT(RawQuery(path_, "SELECT permissions FROM api_keys"), ElementsAre("[]"));
  EXPECT_THAT(RawQuery(path_, "SELECT body FROM changes WHERE revision = 1"),
              ElementsAre(EncodeChange(change)));
  EXPECT_THAT(RawQuery(path_, "SELECT at || ' ' || actor || ' ' || request_id FROM changes"),
              ElementsAre("77 user:root req-9"));
}

std::vector<std::string> ScopeNames(const State& state) {
  std::vector<std::string> names;
  for (const ScopeRow& scope : state.scopes) names.push_back(scope.scope);
  return names;
}

TEST_F(SqliteStoreTest, ScopesLoadByDepthThenInsertionOrder) {
  std::unique_ptr<SqliteStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->Apply({.ops = {PutScope{{.scope = "project:p1", .parent = "tenant:t1"}},
                                    PutScope{{.scope = "tenant:t2", .parent = "platform"}}}}),
              IsOk());
  ASSERT_THAT(store->Apply({.ops = {PutScope{{.scope = "tenant:t1", .parent = "partner:x"}},
                                    PutScope{{.scope = "project:p2", .parent = "tenant:t2"}}}}),
              IsOk());
  ASSERT_THAT(store->Apply({.ops = {PutScope{{.scope = "partner:x", .parent = "platform"}}}}),
              IsOk());
  Result<State> state = store->Load();
  ASSERT_THAT(state, IsOk());
  EXPECT_THAT(ScopeNames(*state),
              ElementsAre("tenant:t2", "partner:x", "tenant:t1", "project:p2", "project:p1"));
}

TEST_F(SqliteStoreTest, ScopeCycleStillLoadsEveryScope) {
  std::unique_ptr<SqliteStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->Apply({.ops = {PutScope{{.scope = "tenant:a", .parent = "tenant:b"}},
                                    PutScope{{.scope = "tenant:b", .parent = "tenant:a"}},
                                    PutScope{{.scope = "project:c", .parent = "tenant:a"}}}}),
              IsOk());
  Result<State> state = store->Load();
  ASSERT_THAT(state, IsOk());
  EXPECT_THAT(ScopeNames(*state), ElementsAre("tenant:b", "tenant:a", "project:c"));
}

TEST_F(SqliteStoreTest, ConcurrentAppliesGetDistinctDenseRevisions) {
  std::unique_ptr<SqliteStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::vector<std::vector<std::uint64_t>> revisions(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, &revisions, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const BindingId id = static_cast<BindingId>(t * kPerThread + i + 1);
        Result<std::uint64_t> revision = store->Apply({.ops = {PutBinding{SampleBinding(id)}}});
        if (revision) revisions[t].push_back(*revision);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<std::uint64_t> all;
  for (const auto& some : revisions) all.insert(all.end(), some.begin(), some.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), std::size_t{kThreads * kPerThread});
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i + 1);
  Result<State> state = store->Load();
  ASSERT_THAT(state, IsOk());
  EXPECT_EQ(state->bindings.size(), all.size());
}

TEST_F(SqliteStoreTest, TwoConnectionsOnOneFileTakeTurns) {
  std::unique_ptr<SqliteStore> a = MustOpen();
  std::unique_ptr<SqliteStore> b = MustOpen();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  for (std::uint64_t i = 1; i <= 10; ++i) {
    SqliteStore& store = i % 2 == 1 ? *a : *b;
    EXPECT_THAT(store.Apply({.ops = {PutBinding{SampleBinding(i)}}}), ::testing::Optional(i));
  }
  EXPECT_THAT(b->ChangesSince(0, 100), ::testing::Optional(::testing::SizeIs(10)));
  EXPECT_THAT(a->Apply({.ops = {PutBinding{SampleBinding(2)}}}),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr("binding 2 already exists")));
}

// ---- Audit events

TEST_F(SqliteStoreTest, AuditUpdateAndDeleteAreRefusedByTriggers) {
  std::unique_ptr<SqliteStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->AppendAudit(Events(1, 3)), IsOk());
  EXPECT_THAT(RawExec(path_, "UPDATE audit_events SET details = '{\"x\":1}' WHERE seq = 2"),
              HasSubstr("audit events are append-only"));
  EXPECT_THAT(RawExec(path_, "DELETE FROM audit_events WHERE seq = 3"),
              HasSubstr("audit events are append-only"));
  EXPECT_THAT(RawExec(path_, "DELETE FROM audit_events"),
              HasSubstr("audit events are append-only"));
  // An upsert is an update. (INSERT OR REPLACE is not caught: docs/storage.md.)
  EXPECT_THAT(RawExec(path_,
                      "INSERT INTO audit_events SELECT * FROM audit_events WHERE seq = 1 "
                      "ON CONFLICT (seq) DO UPDATE SET hash = 'x'"),
              HasSubstr("audit events are append-only"));
  Result<AuditPage> page = store->QueryAudit({});
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->events.size(), 3u);
  EXPECT_EQ(page->events[1].details, "{}");
  EXPECT_EQ(page->events[0].hash, "h1");
}

// The triggers stop accidents, not a deliberate operator: dropping one (as the tamper test
// does with the sqlite3 shell) allows the edit, and the store does not recreate it. The hash
// chain is what detects the edit.
TEST_F(SqliteStoreTest, AuditTriggersCanBeDroppedDeliberately) {
  std::unique_ptr<SqliteStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->AppendAudit(Events(1, 3)), IsOk());
  EXPECT_EQ(RawExec(path_,
                    "DROP TRIGGER audit_events_no_update; "
                    "UPDATE audit_events SET decision = 'denied' WHERE seq = 2"),
            "");
  store.reset();
  store = MustOpen();
  ASSERT_NE(store, nullptr);
  Result<AuditPage> page = store->QueryAudit({.decision = "denied"});
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->events.size(), 1u);
  EXPECT_EQ(page->events[0].seq, 2u);
  EXPECT_THAT(RawQuery(path_,
                       "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                       "ORDER BY name"),
              ElementsAre("audit_events_no_delete"));
  EXPECT_THAT(RawExec(path_, "DELETE FROM audit_events WHERE seq = 3"),
              HasSubstr("audit events are append-only"));
}

// The plans docs/storage.md shows. Every statement a query runs is a search, never a SCAN of
// a table and never a sort: the last seq (one descent of the table), since / until (one
// descent of audit_events_by_time), the probe of a complete segment (its postings of the
// driving key, then each event by rowid) and the rowid range (the open segment of a filtered
// query, or the whole range of an unfiltered one). The six per-column indexes are gone.
TEST_F(SqliteStoreTest, AuditQueriesSearchAnIndexInSeqOrder) {
  std::unique_ptr<SqliteStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->AppendAudit(Events(1, 3 * SqliteStore::kAuditSegment + 10)), IsOk());
  const auto plan = [this](const std::string& sql) { return PlanOf(path_, sql); };
  const std::string kLast = "SEARCH audit_events\n";
  const std::string kByTime =
      "SEARCH audit_events USING COVERING INDEX audit_events_by_time (time_us>?)\n";
  const std::string kProbe =
      "SEARCH p USING PRIMARY KEY (segment=? AND key=? AND seq>? AND seq<?)\n"
      "SEARCH e USING INTEGER PRIMARY KEY (rowid=?)\n";
  const std::string kRange =
      "SEARCH audit_events USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)\n";
  const std::vector<AuditQuery> driven = {
      {.module = "m", .since_us = 1},
      {.module = "m", .since_us = 1, .descending = true},
      {.module = "m", .since_us = 1, .after_seq = 5},
      {.module = "m", .tenant = "t"},
      {.module = "m", .tenant = "t", .since_us = 1, .until_us = 2},
      {.module = "m", .actor = "a", .decision = "denied"},
      {.action = "x", .decision = "denied"},
      {.actor = "a", .resource = "r", .tenant = "t", .descending = true},
      {.module = "m", .actor = "", .action = "", .resource = "", .tenant = ""},
  };
  const std::vector<AuditQuery> scanned = {
      {},
      {.since_us = 1},
      {.since_us = 1, .until_us = 2, .descending = true},
      {.decision = "denied", .after_seq = 9, .descending = true},
      {.tenant = ""},  // an empty value has no postings
      {.module = "", .actor = "", .action = "", .resource = "", .tenant = "", .decision = ""},
  };
  for (bool is_driven : {true, false}) {
    for (const AuditQuery& query : is_driven ? driven : scanned) {
      const std::vector<std::string> sql = SqliteStore::AuditQuerySql(query);
      const bool timed = query.since_us || query.until_us;
      ASSERT_EQ(sql.size(), 2u + (timed ? 1u : 0u) + (is_driven ? 1u : 0u));
      std::size_t at = 0;
      EXPECT_EQ(plan(sql[at++]), kLast);
      if (timed) {
        EXPECT_EQ(plan(sql[at++]), kByTime);
      }
      if (is_driven) {
        EXPECT_EQ(plan(sql[at++]), kProbe) << sql[at - 1];
      }
      EXPECT_EQ(plan(sql[at++]), kRange) << sql[at - 1];
      for (const std::string& statement : sql) {
        const std::string p = plan(statement);
        EXPECT_THAT(p, ::testing::Not(HasSubstr("SCAN"))) << statement;
        EXPECT_THAT(p, ::testing::Not(HasSubstr("TEMP B-TREE"))) << statement;  // no sort
      }
    }
  }
  EXPECT_THAT(RawQuery(path_,
                       "SELECT name FROM sqlite_master WHERE type = 'index' AND "
                       "tbl_name = 'audit_events' ORDER BY name"),
              ElementsAre("audit_events_by_time"));
  EXPECT_THAT(RawQuery(path_, "SELECT name FROM pragma_index_info('audit_events_by_time')"),
              ElementsAre("time_us"));
}

// ---- Audit postings

// The posting keys docs/storage.md documents: tag + value, for each non-empty field.
constexpr std::pair<char, std::string AuditEvent::*> kPostedFields[] = {
    {'m', &AuditEvent::module}, {'t', &AuditEvent::tenant},      {'a', &AuditEvent::actor_user_id},
    {'x', &AuditEvent::action}, {'r', &AuditEvent::resource_id},
};

// The audit_postings rows `events` (the whole log, seq 1 on) must have, as
// "segment|key|seq", sorted: every event of a complete segment, nothing of the open one.
std::vector<std::string> ExpectedPostings(const std::vector<AuditEvent>& events) {
  constexpr std::uint64_t kSegment = SqliteStore::kAuditSegment;
  const std::uint64_t complete_through = events.size() / kSegment * kSegment;
  std::vector<std::string> rows;
  for (const AuditEvent& e : events) {
    if (e.seq > complete_through) break;
    for (const auto& [tag, field] : kPostedFields) {
      const std::string& value = e.*field;
      if (value.empty()) continue;
      rows.push_back(std::to_string((e.seq - 1) / kSegment) + "|" + tag + value + "|" +
                     std::to_string(e.seq));
    }
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

std::vector<std::string> StoredPostings(const std::string& path) {
  std::vector<std::string> rows =
      RawQuery(path, "SELECT segment || '|' || key || '|' || seq FROM audit_postings");
  std::sort(rows.begin(), rows.end());
  return rows;
}

// Every event ScanAudit passes, from seq 1.
std::vector<AuditEvent> StoredEvents(SqliteStore& store) {
  std::vector<AuditEvent> events;
  EXPECT_THAT(store.ScanAudit(1,
                              [&events](const AuditEvent& e) {
                                events.push_back(e);
                                return true;
                              }),
              IsOk());
  return events;
}

// An event whose posted fields vary with its seq, each sometimes empty.
AuditEvent VariedEvent(std::uint64_t seq) {
  AuditEvent e = Event(seq);
  const std::uint64_t h = seq * 0x9e3779b97f4a7c15ULL;
  e.module = seq % 11 == 0 ? "" : "mod-" + std::to_string((h >> 40) % 5);
  e.tenant = seq % 3 == 0 ? "" : "tenant:t" + std::to_string((h >> 20) % 17);
  e.actor_user_id = seq % 13 == 0 ? "" : "user:u" + std::to_string((h >> 30) % 101);
  e.action = seq % 17 == 0 ? "" : "act-" + std::to_string((h >> 50) % 9);
  e.resource_id = seq % 5 == 0 ? "" : "res-" + std::to_string((h >> 10) % 997);
  e.decision = seq % 7 == 0 ? "" : seq % 2 == 0 ? "allowed" : "denied";
  return e;
}

std::vector<AuditEvent> VariedEvents(std::uint64_t first, std::uint64_t count) {
  std::vector<AuditEvent> events;
  for (std::uint64_t seq = first; seq < first + count; ++seq) events.push_back(VariedEvent(seq));
  return events;
}

// Compares a few queries of each shape with a reference filter over `all` (the whole log).
void ExpectQueriesMatchReference(SqliteStore& store, const std::vector<AuditEvent>& all) {
  const auto matches = [](const AuditEvent& e, const AuditQuery& q) {
    const auto is = [](const std::optional<std::string>& f, const std::string& v) {
      return !f || *f == v;
    };
    return is(q.module, e.module) && is(q.actor, e.actor_user_id) && is(q.action, e.action) &&
           is(q.resource, e.resource_id) && is(q.tenant, e.tenant) && is(q.decision, e.decision) &&
           (!q.after_seq || (q.descending ? e.seq < *q.after_seq : e.seq > *q.after_seq));
  };
  const std::uint64_t last = all.empty() ? 0 : all.back().seq;
  const std::vector<AuditQuery> queries = {
      {.module = "mod-1", .limit = 1000},
      {.module = "mod-2", .decision = "denied", .descending = true, .limit = 1000},
      {.actor = "user:u7", .limit = 3},
      {.resource = "res-5", .tenant = "", .descending = true, .limit = 1000},
      {.action = "act-3", .after_seq = last > 5000 ? last - 5000 : 1, .limit = 1000},
      {.tenant = "tenant:t4", .after_seq = last / 2 + 1, .descending = true, .limit = 1000},
      {.module = "", .limit = 1000},
  };
  for (const AuditQuery& q : queries) {
    std::vector<std::uint64_t> expected;
    for (const AuditEvent& e : all) {
      if (matches(e, q)) expected.push_back(e.seq);
    }
    if (q.descending) std::reverse(expected.begin(), expected.end());
    Result<AuditPage> page = store.QueryAudit(q);
    ASSERT_THAT(page, IsOk());
    std::vector<std::uint64_t> got;
    for (const AuditEvent& e : page->events) got.push_back(e.seq);
    const std::size_t n = std::min(expected.size(), q.limit);
    EXPECT_EQ(got, std::vector<std::uint64_t>(expected.begin(),
                                              expected.begin() + static_cast<std::ptrdiff_t>(n)))
        << "module " << q.module.value_or("-") << " after " << q.after_seq.value_or(0);
    EXPECT_EQ(page->more, expected.size() > q.limit);
  }
}

// Postings are written for a segment in the append that completes it, whatever the batch
// boundaries: one ending exactly at a segment's end, one crossing it, one completing two
// segments; the open segment has none. Queries stay exact at every step.
TEST_F(SqliteStoreTest, AuditPostingsExistExactlyForCompleteSegments) {
  constexpr std::uint64_t kSegment = SqliteStore::kAuditSegment;
  std::unique_ptr<SqliteStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  std::vector<AuditEvent> all;
  std::uint64_t next = 1;
  for (const std::uint64_t batch :
       {std::uint64_t{1}, kSegment - 2, std::uint64_t{1}, std::uint64_t{100}, 2 * kSegment + 5,
        std::uint64_t{3}, kSegment - 108, std::uint64_t{1}}) {
    const std::vector<AuditEvent> events = VariedEvents(next, batch);
    ASSERT_THAT(store->AppendAudit(events), IsOk());
    all.insert(all.end(), events.begin(), events.end());
    next += batch;
    SCOPED_TRACE("after seq " + std::to_string(next - 1));
    const std::vector<std::string> expected = ExpectedPostings(all);
    EXPECT_THAT(RawQuery(path_, "SELECT count(*) FROM audit_postings"),
                ElementsAre(std::to_string(expected.size())));
    EXPECT_THAT(RawQuery(path_, "SELECT count(DISTINCT segment) FROM audit_postings"),
                ElementsAre(std::to_string(all.size() / kSegment)));
    EXPECT_TRUE(StoredPostings(path_) == expected);
    ExpectQueriesMatchReference(*store, all);
  }
  // Segment 0 closed by a batch of one, segments 1 and 2 by one batch, segment 3 exactly at
  // the end of a batch; the last event opens segment 4.
  EXPECT_EQ(all.size(), 4 * kSegment + 1);
  EXPECT_THAT(RawQuery(path_, "SELECT DISTINCT segment FROM audit_postings ORDER BY segment"),
              ElementsAre("0", "1", "2", "3"));
}

// "Complete" and "has postings" change in one transaction: an append that fails while writing
// postings leaves neither its events nor any posting; one killed at any moment (kill -9) leaves
// the postings of exactly the complete segments after reopening.
TEST_F(SqliteStoreTest, AuditPostingsStayConsistentAfterAFailedAppendAndAKill9) {
  constexpr std::uint64_t kSegment = SqliteStore::kAuditSegment;
  {
    std::unique_ptr<SqliteStore> store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_THAT(store->AppendAudit(VariedEvents(1, kSegment - 10)), IsOk());
    // The 4,000th posting insert fails, after the segment's events were inserted.
    ASSERT_EQ(RawExec(path_,
                      "CREATE TRIGGER fail_postings BEFORE INSERT ON audit_postings "
                      "WHEN NEW.seq = 4000 BEGIN SELECT RAISE(ABORT, 'injected'); END"),
              "");
    EXPECT_THAT(store->AppendAudit(VariedEvents(kSegment - 9, 20)),
                StatusIs(StatusCode::kInternal, HasSubstr("injected")));
    EXPECT_THAT(store->LastAuditEvent(), ::testing::Optional(::testing::Optional(
                                             ::testing::Field(&AuditEvent::seq, kSegment - 10))));
    EXPECT_THAT(RawQuery(path_, "SELECT count(*) FROM audit_postings"), ElementsAre("0"));
    ASSERT_EQ(RawExec(path_, "DROP TRIGGER fail_postings"), "");
    ASSERT_THAT(store->AppendAudit(VariedEvents(kSegment - 9, 20)), IsOk());
    EXPECT_TRUE(StoredPostings(path_) == ExpectedPostings(StoredEvents(*store)));
  }

  // A child appends batches of 1 to 2,999 events and acknowledges each last seq on a pipe; the
  // parent kills it once it has acknowledged four more segments.
  const std::uint64_t start = kSegment + 11;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    close(fds[0]);
    Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path_);
    if (!store) _exit(2);
    std::uint64_t next = start;
    for (std::uint64_t i = 1;; ++i) {
      const std::uint64_t count = 1 + (i * 7919) % 2999;
      if (!(*store)->AppendAudit(VariedEvents(next, count)).ok()) _exit(3);
      next += count;
      const std::uint64_t ack = next - 1;
      if (write(fds[1], &ack, sizeof ack) != static_cast<ssize_t>(sizeof ack)) _exit(4);
    }
  }
  close(fds[1]);
  std::uint64_t acked = 0;
  for (std::uint64_t seq = 0; acked < start + 4 * kSegment && ReadAck(fds[0], seq);) acked = seq;
  kill(child, SIGKILL);
  int wait_status = 0;
  ASSERT_EQ(waitpid(child, &wait_status, 0), child);
  close(fds[0]);
  ASSERT_GE(acked, start + 4 * kSegment);

  std::unique_ptr<SqliteStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  std::vector<AuditEvent> all = StoredEvents(*store);
  ASSERT_GE(all.size(), acked);
  EXPECT_TRUE(StoredPostings(path_) == ExpectedPostings(all));
  ExpectQueriesMatchReference(*store, all);
  // The store goes on: completing the open segment writes its postings.
  const std::uint64_t last = all.back().seq;
  const std::vector<AuditEvent> more = VariedEvents(last + 1, kSegment - last % kSegment + 1);
  ASSERT_THAT(store->AppendAudit(more), IsOk());
  all.insert(all.end(), more.begin(), more.end());
  EXPECT_TRUE(StoredPostings(path_) == ExpectedPostings(all));
  ExpectQueriesMatchReference(*store, all);
}

// A file written by the previous release (schema version 3: the six per-column indexes, no
// postings) is migrated at Open: the indexes are dropped and every complete segment gets the
// postings the appender would have written; the open segment gets them when completed.
TEST_F(SqliteStoreTest, AuditMigrationBackfillsThePostingsOfAVersion3Log) {
  constexpr std::uint64_t kSegment = SqliteStore::kAuditSegment;
  for (const std::uint64_t count :
       {std::uint64_t{0}, kSegment - 1, kSegment, 2 * kSegment + 1500}) {
    SCOPED_TRACE(count);
    const std::string path = dir_.path() + "/v3-" + std::to_string(count) + ".db";
    {
      Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
      ASSERT_THAT(store, IsOk());
      if (count > 0) {
        ASSERT_THAT((*store)->AppendAudit(VariedEvents(1, count)), IsOk());
      }
    }
    // Back to schema version 3, with the indexes of migrations 2 and 3.
    ASSERT_EQ(RawExec(path,
                      "DROP TABLE audit_postings;"
                      "CREATE INDEX audit_events_by_module ON audit_events (module, seq);"
                      "CREATE INDEX audit_events_by_tenant ON audit_events "
                      "  (tenant, seq, module, action, decision);"
                      "CREATE INDEX audit_events_by_actor ON audit_events (actor_user_id, seq);"
                      "CREATE INDEX audit_events_by_action ON audit_events (action, seq);"
                      "CREATE INDEX audit_events_by_resource ON audit_events (resource_id, seq);"
                      "CREATE INDEX audit_events_by_decision ON audit_events (decision, seq);"
                      "DROP TABLE signing_keys; DROP TABLE capability_tokens; "
                      "DROP TABLE resource_revocations; "
                      "DELETE FROM schema_migrations WHERE version >= 4"),
              "");
    ASSERT_THAT(RawQuery(path, "SELECT MAX(version) FROM schema_migrations"), ElementsAre("3"));

    Result<std::unique_ptr<SqliteStore>> opened = SqliteStore::Open(path);
    ASSERT_THAT(opened, IsOk());
    SqliteStore& store = **opened;
    EXPECT_THAT(RawQuery(path, "SELECT MAX(version) FROM schema_migrations"),
                ElementsAre(std::to_string(SqliteMigrations().size())));
    EXPECT_THAT(RawQuery(path,
                         "SELECT name FROM sqlite_master WHERE type = 'index' AND "
                         "tbl_name = 'audit_events'"),
                ElementsAre("audit_events_by_time"));
    std::vector<AuditEvent> all = StoredEvents(store);
    ASSERT_EQ(all.size(), count);
    const std::vector<std::string> expected = ExpectedPostings(all);
    EXPECT_EQ(expected.empty(), count < kSegment);
    EXPECT_TRUE(StoredPostings(path) == expected);
    ExpectQueriesMatchReference(store, all);
    // Appending completes the open segment and writes its postings.
    const std::vector<AuditEvent> more = VariedEvents(count + 1, kSegment + 7);
    ASSERT_THAT(store.AppendAudit(more), IsOk());
    all.insert(all.end(), more.begin(), more.end());
    EXPECT_TRUE(StoredPostings(path) == ExpectedPostings(all));
    ExpectQueriesMatchReference(store, all);
  }
}

TEST_F(SqliteStoreTest, AuditMigrationUpgradesAVersion1Database) {
  {
    std::unique_ptr<SqliteStore> store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_THAT(store->Apply({.ops = {PutBinding{SampleBinding(1)}}}), IsOk());
  }
  // Back to schema version 1: what a file written by the previous release looks like.
  ASSERT_EQ(RawExec(path_,
                    "DROP TABLE audit_events; DROP TABLE audit_postings; "
                    "DROP TABLE signing_keys; DROP TABLE capability_tokens; "
                    "DROP TABLE resource_revocations; "
                    "DELETE FROM schema_migrations WHERE "
                    "version >= 2"),
            "");
  std::unique_ptr<SqliteStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(RawQuery(path_, "SELECT MAX(version) FROM schema_migrations"),
              ElementsAre(std::to_string(SqliteMigrations().size())));
  Result<State> state = store->Load();
  ASSERT_THAT(state, IsOk());
  EXPECT_THAT(state->bindings, ElementsAre(SampleBinding(1)));
  EXPECT_THAT(store->AppendAudit(Events(1, 2)), IsOk());
  EXPECT_THAT(store->LastAuditEvent(),
              ::testing::Optional(::testing::Optional(::testing::Field(&AuditEvent::seq, 2u))));
}

// ScanAudit reads a page under the lock and calls back without it: the callback may use the
// store, across page boundaries.
TEST_F(SqliteStoreTest, AuditScanCallbackMayCallTheStore) {
  std::unique_ptr<SqliteStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->AppendAudit(Events(1, 20'500)), IsOk());
  std::uint64_t seen = 0;
  ASSERT_THAT(store->ScanAudit(1,
                               [&](const AuditEvent& e) {
                                 ++seen;
                                 if (e.seq % 10'000 == 0 || e.seq == 20'500) {
                                   EXPECT_THAT(store->LastAuditEvent(), IsOk());
                                   EXPECT_THAT(store->QueryAudit({.module = "iam", .limit = 1}),
                                               IsOk());
                                 }
                                 return true;
                               }),
              IsOk());
  EXPECT_EQ(seen, 20'500u);
}

TEST_F(SqliteStoreTest, AuditAppendsFromTwoConnectionsContinueOneChain) {
  std::unique_ptr<SqliteStore> a = MustOpen();
  std::unique_ptr<SqliteStore> b = MustOpen();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_THAT(a->AppendAudit(Events(1, 10)), IsOk());
  ASSERT_THAT(b->AppendAudit(Events(11, 10)), IsOk());
  EXPECT_THAT(a->AppendAudit(Events(11, 1)),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("expected seq 21, got 11")));
  EXPECT_THAT(a->LastAuditEvent(),
              ::testing::Optional(::testing::Optional(::testing::Field(&AuditEvent::seq, 20u))));
}

// Threads racing to append the next seq: each seq is taken once, the chain stays dense.
TEST_F(SqliteStoreTest, AuditConcurrentAppendsKeepSeqsDense) {
  std::unique_ptr<SqliteStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  std::vector<int> appended(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, &appended, t] {
      while (appended[t] < kPerThread) {
        Result<std::optional<AuditEvent>> last = store->LastAuditEvent();
        if (!last) return;
        const std::uint64_t next = *last ? (*last)->seq + 1 : 1;
        const Status status = store->AppendAudit(Events(next, 2));
        if (status.ok()) {
          ++appended[t];
        } else if (status.code() != StatusCode::kFailedPrecondition) {
          return;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(appended[t], kPerThread);
  std::uint64_t expected = 1;
  ASSERT_THAT(store->ScanAudit(0,
                               [&expected](const AuditEvent& e) {
                                 EXPECT_EQ(e.seq, expected++);
                                 return true;
                               }),
              IsOk());
  EXPECT_EQ(expected, std::uint64_t{kThreads * kPerThread * 2 + 1});
}

// A child process applies one binding per change and acknowledges each returned revision on
// a pipe; the parent SIGKILLs it mid-stream. Every acknowledged change must be there after.
TEST_F(SqliteStoreTest, AcknowledgedChangesSurviveKill9) {
  constexpr std::uint64_t kAcksBeforeKill = 200;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    close(fds[0]);
    Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path_);
    if (!store) _exit(2);
    for (BindingId id = 1;; ++id) {
      Result<std::uint64_t> revision =
          (*store)->Apply({.ops = {PutBinding{SampleBinding(id)}}, .actor = "user:child", .at = 1});
      if (!revision) _exit(3);
      const std::uint64_t ack = *revision;
      if (write(fds[1], &ack, sizeof ack) != static_cast<ssize_t>(sizeof ack)) _exit(4);
    }
  }
  close(fds[1]);
  std::uint64_t last_ack = 0;
  std::uint64_t acks = 0;
  for (std::uint64_t revision = 0; acks < kAcksBeforeKill && ReadAck(fds[0], revision);) {
    EXPECT_EQ(revision, last_ack + 1);
    last_ack = revision;
    ++acks;
  }
  kill(child, SIGKILL);
  int wait_status = 0;
  ASSERT_EQ(waitpid(child, &wait_status, 0), child);
  close(fds[0]);
  ASSERT_EQ(acks, kAcksBeforeKill) << "the child stopped early, exit status "
                                   << (WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1);
  EXPECT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL);

  std::unique_ptr<SqliteStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  Result<State> state = store->Load();
  ASSERT_THAT(state, IsOk());
  EXPECT_GE(state->revision, last_ack);
  std::set<BindingId> ids;
  for (const BindingRow& binding : state->bindings) ids.insert(binding.id);
  for (BindingId id = 1; id <= last_ack; ++id) {
    EXPECT_TRUE(ids.contains(id)) << "acknowledged binding " << id << " lost";
  }
  // Nothing half-applied: one binding and one log entry per revision, and the store goes on.
  EXPECT_EQ(state->bindings.size(), state->revision);
  EXPECT_THAT(store->ChangesSince(0, std::numeric_limits<std::size_t>::max()),
              ::testing::Optional(::testing::SizeIs(state->revision)));
  EXPECT_THAT(store->Apply({.ops = {DeleteBinding{1}}}), ::testing::Optional(state->revision + 1));
}

}  // namespace
}  // namespace scaigrid::iam::store
