// PostgresStore-only tests: opening errors (never leaking the password), several nodes on one
// database (gapless revisions, audit appends taking turns, migrations applied once),
// WaitForChange, reconnecting after a lost connection, the schema version check, the
// append-only triggers and byte-exact strings. The behaviour every backend shares is in
// store_conformance_test.cc. Every test gets a fresh database on the throwaway cluster that
// ctest starts (postgres_test_db.h).
#include "store/postgres/postgres_store.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <future>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "postgres_test_db.h"
#include "store/postgres/pg_conn.h"
#include "store/postgres/postgres_migrations.h"
#include "store/store_test_util.h"

namespace scaigrid::iam {

// gtest printing for WaitForChange's answers (found by ADL through Status).
inline void PrintTo(const Result<bool>& r, std::ostream* os) {
  *os << (r ? (*r ? "true" : "false") : r.error().ToString());
}

}  // namespace scaigrid::iam

namespace scaigrid::iam::store {

// Equality for audit events (store_test_util.h's operator== over Tie).
inline auto Tie(const AuditEvent& e) {
  return std::tie(e.seq, e.id, e.time_us, e.module, e.action, e.decision, e.actor_user_id,
                  e.actor_type, e.credential_id, e.tenant, e.resource_id, e.request_id, e.source_ip,
                  e.details, e.prev_hash, e.hash);
}

namespace {

using ::testing::_;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kPassword = "s3cret-pa55word";

// A loopback port nothing listens on: bound, then released.
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "cannot bind a loopback socket";
  }
  close(fd);
  return ntohs(addr.sin_port);
}

AuditEvent Event(std::uint64_t seq) {
  char id[32];
  std::snprintf(id, sizeof id, "evt_%016llu", static_cast<unsigned long long>(seq));
  return AuditEvent{.seq = seq,
                    .id = id,
                    .time_us = 1'700'000'000'000'000 + static_cast<std::int64_t>(seq),
                    .module = "iam",
                    .action = "iam:bindings.create",
                    .actor_user_id = "user:alice",
                    .actor_type = "user",
                    .tenant = "tenant:acme",
                    .resource_id = "res-" + std::to_string(seq),
                    .details = "{}",
                    .hash = "h" + std::to_string(seq)};
}

std::vector<AuditEvent> Events(std::uint64_t first, std::uint64_t count) {
  std::vector<AuditEvent> events;
  for (std::uint64_t seq = first; seq < first + count; ++seq) events.push_back(Event(seq));
  return events;
}

Change BindingChange(BindingId id) {
  return Change{.ops = {PutBinding{SampleBinding(id)}},
                .actor = "user:" + std::to_string(id),
                .request_id = "req-" + std::to_string(id),
                .at = static_cast<Time>(id)};
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::string> url = FreshPostgresDatabase(PostgresNameForCurrentTest());
    ASSERT_THAT(url, IsOk());
    url_ = *url;
  }

  std::unique_ptr<PostgresStore> MustOpen() {
    Result<std::unique_ptr<PostgresStore>> store = PostgresStore::Open(url_);
    EXPECT_THAT(store, IsOk());
    return store ? *std::move(store) : nullptr;
  }

  // Runs `sql` on the test database through a separate connection, as an operator with psql
  // would (`params` as $1, $2, … bytea / int8).
  Result<PgResult> Raw(const std::string& sql, const PgParams& params) {
    if (raw_ == nullptr) {
      Result<std::unique_ptr<PgConn>> conn = PgConn::Connect(url_, "scaigrid-iam test operator");
      if (!conn) return Err(std::move(conn).error());
      raw_ = *std::move(conn);
    }
    return raw_->Exec(sql, params);
  }
  Result<PgResult> Raw(const std::string& sql) {
    const PgParams none;
    return Raw(sql, none);
  }

  // Terminates the store connections named `application_name` and waits until they are gone;
  // returns how many there were.
  std::int64_t TerminateBackends(const std::string& application_name) {
    PgParams params;
    params.Add(application_name);
    // MATERIALIZED: the victims are chosen before any is terminated (in one WHERE clause the
    // planner may call pg_terminate_backend first, on every session).
    Result<PgResult> done = Raw(
        "WITH victims AS MATERIALIZED (SELECT pid FROM pg_stat_activity "
        "WHERE datname = current_database() AND convert_to(application_name, 'UTF8') = $1) "
        "SELECT count(*) FROM victims WHERE pg_terminate_backend(pid, 10000)",
        params);
    EXPECT_THAT(done, IsOk());
    return done ? done->Int64(0, 0) : -1;
  }

  std::string url_;
  std::unique_ptr<PgConn> raw_;
};

// ---- Opening

// Open must never name the password, whatever failed: an unreachable port, a URL libpq
// cannot parse (either form), a database that does not exist. It names host, port and db.
TEST_F(PostgresStoreTest, OpenFailuresAreUnavailableAndNeverShowThePassword) {
  const std::string port = std::to_string(ClosedPort());
  const auto no_password = Not(HasSubstr(kPassword));

  EXPECT_THAT(PostgresStore::Open("postgresql://scaigrid:" + std::string(kPassword) +
                                  "@127.0.0.1:" + port + "/iamdb"),
              StatusIs(StatusCode::kUnavailable,
                       AllOf(HasSubstr("127.0.0.1:" + port + "/iamdb"), no_password)));
  EXPECT_THAT(PostgresStore::Open("host=127.0.0.1 port=" + port + " dbname=iamdb user=scaigrid "
                                  "password=" + std::string(kPassword)),
              StatusIs(StatusCode::kUnavailable,
                       AllOf(HasSubstr("127.0.0.1:" + port + "/iamdb"), no_password)));
  for (const std::string& bad :
       {"postgresql://scaigrid:" + std::string(kPassword) + "@127.0.0.1:notaport/iamdb",
        "postgresql://scaigrid:" + std::string(kPassword) + "%zz@127.0.0.1:" + port + "/iamdb",
        "postgresql://scaigrid:" + std::string(kPassword) + "@127.0.0.1:" + port +
            "/iamdb?no_such_option=1",
        "host=127.0.0.1 password='" + std::string(kPassword) + " dbname=iamdb"}) {
    EXPECT_THAT(PostgresStore::Open(bad), StatusIs(StatusCode::kUnavailable, no_password)) << bad;
  }

  // A server that is there, but not the database.
  Result<std::string> missing = PostgresDatabaseUrl("scaigrid_no_such_database");
  ASSERT_THAT(missing, IsOk());
  EXPECT_THAT(PostgresStore::Open(*missing),
              StatusIs(StatusCode::kUnavailable, HasSubstr("/scaigrid_no_such_database")));
}

TEST_F(PostgresStoreTest, ConcurrentOpensApplyTheMigrationsOnce) {
  constexpr int kNodes = 6;
  std::latch start(kNodes);
  std::vector<std::future<Result<std::unique_ptr<PostgresStore>>>> opening;
  for (int i = 0; i < kNodes; ++i) {
    opening.push_back(std::async(std::launch::async, [&] {
      start.arrive_and_wait();
      return PostgresStore::Open(url_);
    }));
  }
  std::vector<std::unique_ptr<PostgresStore>> stores;
  for (auto& open : opening) {
    Result<std::unique_ptr<PostgresStore>> store = open.get();
    ASSERT_THAT(store, IsOk());
    stores.push_back(*std::move(store));
  }
  Result<PgResult> versions = Raw("SELECT version FROM schema_migrations ORDER BY version");
  ASSERT_THAT(versions, IsOk());
  ASSERT_EQ(static_cast<std::size_t>(versions->rows()), PostgresMigrations().size());
  for (int i = 0; i < versions->rows(); ++i) EXPECT_EQ(versions->Int64(i, 0), i + 1);
  Result<PgResult> counter = Raw("SELECT count(*) FROM store_revision");
  ASSERT_THAT(counter, IsOk());
  EXPECT_EQ(counter->Int64(0, 0), 1);
  for (auto& store : stores) EXPECT_THAT(store->Revision(), ::testing::Optional(0u));
}

TEST_F(PostgresStoreTest, ANewerSchemaIsRefused) {
  ASSERT_NE(MustOpen(), nullptr);
  const auto known = static_cast<std::int64_t>(PostgresMigrations().size());
  PgParams params;
  params.Add(known + 1);
  ASSERT_THAT(Raw("INSERT INTO schema_migrations (version) VALUES ($1)", params), IsOk());
  EXPECT_THAT(PostgresStore::Open(url_),
              StatusIs(StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("schema version " + std::to_string(known + 1)),
                             HasSubstr("newer than version " + std::to_string(known)))));
}

// ---- Several nodes

TEST_F(PostgresStoreTest, TwoNodesApplyingAtOnceGetGaplessRevisionsInOrder) {
  std::unique_ptr<PostgresStore> a = MustOpen();
  std::unique_ptr<PostgresStore> b = MustOpen();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr BindingId kPerNode = 60;
  std::map<std::uint64_t, Change> applied;  // revision -> change
  std::mutex mu;
  const auto node = [&](PostgresStore& store, BindingId first) {
    for (BindingId id = first; id < first + kPerNode; ++id) {
      const Change change = BindingChange(id);
      Result<std::uint64_t> revision = store.Apply(change);
      ASSERT_THAT(revision, IsOk());
      std::lock_guard lock(mu);
      EXPECT_TRUE(applied.emplace(*revision, change).second) << "revision " << *revision;
    }
  };
  std::thread ta(node, std::ref(*a), BindingId{1000});
  std::thread tb(node, std::ref(*b), BindingId{2000});
  ta.join();
  tb.join();
  ASSERT_EQ(applied.size(), 2 * kPerNode);
  EXPECT_EQ(applied.begin()->first, 1u);
  EXPECT_EQ(applied.rbegin()->first, 2 * kPerNode);  // distinct and 1..N: no gap

  // A failing change on one node takes no revision; the nodes then alternate.
  EXPECT_THAT(b->Apply(BindingChange(1000)), StatusIs(StatusCode::kAlreadyExists, _));
  for (BindingId id = 3000; id < 3006; ++id) {
    PostgresStore& store = id % 2 == 0 ? *a : *b;
    const std::uint64_t expected = 2 * kPerNode + (id - 3000) + 1;
    ASSERT_THAT(store.Apply(BindingChange(id)), ::testing::Optional(expected));
    applied.emplace(expected, BindingChange(id));
  }

  for (PostgresStore* store : {a.get(), b.get()}) {
    Result<std::vector<std::pair<std::uint64_t, Change>>> log = store->ChangesSince(0, 1000);
    ASSERT_THAT(log, IsOk());
    ASSERT_EQ(log->size(), applied.size());
    std::uint64_t expected = 1;
    for (const auto& [revision, change] : *log) {
      EXPECT_EQ(revision, expected++);
      EXPECT_EQ(change, applied[revision]);
    }
    Result<State> state = store->Load();
    ASSERT_THAT(state, IsOk());
    EXPECT_EQ(state->revision, applied.size());
    EXPECT_EQ(state->bindings.size(), applied.size());
  }
}

// A change built on a revision another node has moved past is refused under the lock, so
// of two nodes building on the same revision exactly one commits.
TEST_F(PostgresStoreTest, AChangeBuiltOnAStaleRevisionIsRefusedAcrossNodes) {
  std::unique_ptr<PostgresStore> a = MustOpen();
  std::unique_ptr<PostgresStore> b = MustOpen();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_THAT(a->Apply(BindingChange(1)), ::testing::Optional(1u));
  Change from_a = BindingChange(2);
  from_a.base_revision = 1;
  Change from_b = BindingChange(3);
  from_b.base_revision = 1;
  ASSERT_THAT(a->Apply(from_a), ::testing::Optional(2u));
  Result<std::uint64_t> refused = b->Apply(from_b);
  EXPECT_THAT(refused, StatusIs(StatusCode::kFailedPrecondition,
                                HasSubstr("built on revision 1, but the store is at revision 2")));
  if (!refused) {
    EXPECT_EQ(refused.error().reason(), "revision_conflict");
  }
  from_b.base_revision = 2;
  EXPECT_THAT(b->Apply(from_b), ::testing::Optional(3u));
  Result<State> state = b->Load();
  ASSERT_THAT(state, IsOk());
  EXPECT_EQ(state->bindings.size(), 3u);
}

TEST_F(PostgresStoreTest, TwoNodesAppendingAuditEventsTakeTurns) {
  std::unique_ptr<PostgresStore> a = MustOpen();
  std::unique_ptr<PostgresStore> b = MustOpen();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_THAT(a->AppendAudit(Events(1, 3)), IsOk());
  EXPECT_THAT(b->AppendAudit(Events(1, 2)),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("expected seq 4, got 1")));
  ASSERT_THAT(b->AppendAudit(Events(4, 2)), IsOk());

  // Both race for seqs 6…: exactly one batch is appended, the other appends nothing.
  for (int round = 0; round < 5; ++round) {
    Result<std::optional<AuditEvent>> last = a->LastAuditEvent();
    ASSERT_THAT(last, IsOk());
    ASSERT_TRUE(last->has_value());
    const std::uint64_t next = (*last)->seq + 1;
    std::latch start(2);
    auto race = [&](PostgresStore& store) {
      start.arrive_and_wait();
      return store.AppendAudit(Events(next, 700));
    };
    auto from_a = std::async(std::launch::async, race, std::ref(*a));
    auto from_b = std::async(std::launch::async, race, std::ref(*b));
    const Status sa = from_a.get();
    const Status sb = from_b.get();
    EXPECT_NE(sa.ok(), sb.ok()) << sa.ToString() << " / " << sb.ToString();
    const Status& loser = sa.ok() ? sb : sa;
    EXPECT_EQ(loser.code(), StatusCode::kFailedPrecondition) << loser.ToString();
    EXPECT_THAT(b->LastAuditEvent(),
                ::testing::Optional(::testing::Optional(::testing::Field(
                    &AuditEvent::seq, next + 699))));
  }
}

// ---- Following changes

TEST_F(PostgresStoreTest, WaitForChangeWakesOnAnotherNodesApplyAndTimesOutOtherwise) {
  std::unique_ptr<PostgresStore> follower = MustOpen();
  std::unique_ptr<PostgresStore> writer = MustOpen();
  ASSERT_NE(follower, nullptr);
  ASSERT_NE(writer, nullptr);
  // The first call starts listening and says "look" at once; then nothing happens.
  EXPECT_THAT(follower->WaitForChange(seconds(30)), ::testing::Optional(true));
  EXPECT_THAT(follower->WaitForChange(milliseconds(50)), ::testing::Optional(false));

  // A waiting follower wakes when the other node commits.
  auto waiting = std::async(std::launch::async, [&] { return follower->WaitForChange(seconds(30)); });
  ASSERT_THAT(writer->Apply(BindingChange(1)), ::testing::Optional(1u));
  EXPECT_THAT(waiting.get(), ::testing::Optional(true));
  EXPECT_THAT(follower->WaitForChange(milliseconds(50)), ::testing::Optional(false));

  // Changes committed between two waits are not lost. A wait consumes the notifications
  // received so far; the second may still be on its way (then it wakes the next wait).
  ASSERT_THAT(writer->Apply(BindingChange(2)), IsOk());
  ASSERT_THAT(writer->Apply(BindingChange(3)), IsOk());
  EXPECT_THAT(follower->WaitForChange(seconds(30)), ::testing::Optional(true));
  Result<bool> again = follower->WaitForChange(milliseconds(50));
  ASSERT_THAT(again, IsOk());
  if (*again) {
    EXPECT_THAT(follower->WaitForChange(milliseconds(50)), ::testing::Optional(false));
  }

  // A change that fails notifies nobody; the node's own changes wake it too.
  EXPECT_THAT(writer->Apply(BindingChange(1)), StatusIs(StatusCode::kAlreadyExists, _));
  EXPECT_THAT(follower->WaitForChange(milliseconds(100)), ::testing::Optional(false));
  ASSERT_THAT(follower->Apply(BindingChange(4)), IsOk());
  EXPECT_THAT(follower->WaitForChange(seconds(30)), ::testing::Optional(true));
}

TEST_F(PostgresStoreTest, WaitForChangeReportsALostConnectionThenListensAgain) {
  std::unique_ptr<PostgresStore> follower = MustOpen();
  std::unique_ptr<PostgresStore> writer = MustOpen();
  ASSERT_NE(follower, nullptr);
  ASSERT_NE(writer, nullptr);
  EXPECT_THAT(follower->WaitForChange(seconds(30)), ::testing::Optional(true));  // listens
  // Only the follower listens (the writer never waited).
  ASSERT_EQ(TerminateBackends("scaigrid-iam listen"), 1);
  EXPECT_THAT(follower->WaitForChange(seconds(30)), StatusIs(StatusCode::kUnavailable, _));
  // Reconnected: true at once (changes may have been missed), then it works as before.
  EXPECT_THAT(follower->WaitForChange(seconds(30)), ::testing::Optional(true));
  EXPECT_THAT(follower->WaitForChange(milliseconds(50)), ::testing::Optional(false));
  ASSERT_THAT(writer->Apply(BindingChange(1)), IsOk());
  EXPECT_THAT(follower->WaitForChange(seconds(30)), ::testing::Optional(true));
}

TEST_F(PostgresStoreTest, AStoreReconnectsAfterItsConnectionsAreLost) {
  std::unique_ptr<PostgresStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->Apply(BindingChange(1)), IsOk());
  ASSERT_THAT(store->AppendAudit(Events(1, 2)), IsOk());
  ASSERT_EQ(TerminateBackends("scaigrid-iam state"), 1);
  ASSERT_EQ(TerminateBackends("scaigrid-iam audit"), 1);
  // A connection the server closed while idle is seen before the next statement and
  // reconnected (PgConn::Alive); when the close has not reached us yet, that one call fails
  // with kUnavailable and the next reconnects. Either way nothing is lost.
  if (Result<std::uint64_t> r = store->Revision(); r) {
    EXPECT_EQ(*r, 1u);
  } else {
    EXPECT_EQ(r.error().code(), StatusCode::kUnavailable) << r.error().message();
  }
  EXPECT_THAT(store->Apply(BindingChange(2)), ::testing::Optional(2u));
  if (auto last = store->LastAuditEvent(); last) {
    ASSERT_TRUE(last->has_value());
    EXPECT_EQ((*last)->seq, 2u);
  } else {
    EXPECT_EQ(last.error().code(), StatusCode::kUnavailable) << last.error().message();
  }
  EXPECT_THAT(store->AppendAudit(Events(3, 1)), IsOk());
  Result<State> state = store->Load();
  ASSERT_THAT(state, IsOk());
  EXPECT_EQ(state->bindings.size(), 2u);
}

// ---- Stored form

TEST_F(PostgresStoreTest, AuditEventsAreAppendOnly) {
  std::unique_ptr<PostgresStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->AppendAudit(Events(1, 3)), IsOk());
  const auto refused = StatusIs(StatusCode::kInternal, HasSubstr("audit events are append-only"));
  EXPECT_THAT(Raw("UPDATE audit_events SET module = 'x'::bytea WHERE seq = 2"), refused);
  EXPECT_THAT(Raw("DELETE FROM audit_events WHERE seq = 3"), refused);
  EXPECT_THAT(Raw("TRUNCATE audit_events"), refused);
  EXPECT_THAT(Raw("INSERT INTO audit_events SELECT * FROM audit_events WHERE seq = 1 "
                  "ON CONFLICT (seq) DO UPDATE SET hash = 'x'::bytea"),
              refused);
  EXPECT_THAT(store->LastAuditEvent(), ::testing::Optional(std::optional(Event(3))));
  Result<AuditPage> page = store->QueryAudit({.limit = 10});
  ASSERT_THAT(page, IsOk());
  EXPECT_EQ(page->events.size(), 3u);
  EXPECT_EQ(page->events[1], Event(2));
}

// PostgreSQL's text refuses NUL and invalid UTF-8; the store keeps strings as bytea, so every
// string round-trips byte for byte, as with SQLite, and filters match on the bytes.
TEST_F(PostgresStoreTest, StringsRoundTripByteForByte) {
  std::unique_ptr<PostgresStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  const std::string odd("a\0b\xff\xfe ünï", 11);
  const ScopeRow scope{.scope = "tenant:" + odd, .parent = "platform", .name = odd};
  Change change{.ops = {PutScope{scope}, PutApiKey{{.id = "k", .secret_hash = odd}}},
                .actor = odd,
                .request_id = odd};
  ASSERT_THAT(store->Apply(change), ::testing::Optional(1u));
  Result<State> state = store->Load();
  ASSERT_THAT(state, IsOk());
  EXPECT_THAT(state->scopes, ElementsAre(scope));
  ASSERT_EQ(state->api_keys.size(), 1u);
  EXPECT_EQ(state->api_keys[0].secret_hash, odd);
  Result<std::vector<std::pair<std::uint64_t, Change>>> log = store->ChangesSince(0, 10);
  ASSERT_THAT(log, IsOk());
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ((*log)[0].second, change);

  AuditEvent event = Event(1);
  event.tenant = odd;
  event.details = odd;
  ASSERT_THAT(store->AppendAudit({event, Event(2)}), IsOk());
  Result<AuditPage> page = store->QueryAudit({.tenant = odd, .limit = 10});
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->events.size(), 1u);
  EXPECT_EQ(page->events[0], event);
}

}  // namespace
}  // namespace scaigrid::iam::store
