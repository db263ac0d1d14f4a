// The Store conformance suite: every backend runs these tests through a factory that opens
// (or reopens) the backend's store kept in a directory. A backend is added by one more entry
// in the INSTANTIATE_TEST_SUITE_P at the end. SQLite-only tests are in sqlite_store_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "postgres_test_db.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "store/store_test_util.h"
#include "temp_dir.h"

namespace scaigrid::iam::store {

// Equality (through store_test_util.h's operator== over Tie) and printing for audit events.
inline auto Tie(const AuditEvent& e) {
  return std::tie(e.seq, e.id, e.time_us, e.module, e.action, e.decision, e.actor_user_id,
                  e.actor_type, e.credential_id, e.tenant, e.resource_id, e.request_id, e.source_ip,
                  e.details, e.prev_hash, e.hash);
}
inline void PrintTo(const AuditEvent& e, std::ostream* os) {
  *os << "{seq " << e.seq << ", time_us " << e.time_us << ", module " << e.module << ", action "
      << e.action << ", decision " << e.decision << ", actor " << e.actor_user_id << ", tenant "
      << e.tenant << ", resource " << e.resource_id << "}";
}

namespace {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// Opens (or reopens) the store kept in `dir`; null on failure, after reporting it.
using StoreFactory = std::function<std::unique_ptr<Store>(const std::string& dir)>;

struct Backend {
  std::string name;
  StoreFactory open;

  friend void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }
};

std::unique_ptr<Store> OpenSqlite(const std::string& dir) {
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(dir + "/iam.db");
  EXPECT_THAT(store, IsOk());
  return store ? *std::move(store) : nullptr;
}

// A 64-hex-digit string derived from `n` (the store keeps hashes as given).
std::string Hex64(std::uint64_t n) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(n));
  return std::string(buf) + std::string(buf) + std::string(buf) + std::string(buf);
}

// An event with every field set; `seq` 1 has an empty prev_hash like the real chain's first.
AuditEvent SampleAuditEvent(std::uint64_t seq, std::int64_t time_us = 0) {
  char id[32];
  std::snprintf(id, sizeof id, "evt_%016llu", static_cast<unsigned long long>(seq));
  return AuditEvent{.seq = seq,
                    .id = id,
                    .time_us = time_us != 0
                                   ? time_us
                                   : 1'700'000'000'000'000 + 1000 * static_cast<std::int64_t>(seq),
                    .module = "scaiskills",
                    .action = "scaiskills:grant",
                    .decision = "allowed",
                    .actor_user_id = "user:alice",
                    .actor_type = "user",
                    .credential_id = "key_3f9a",
                    .tenant = "tenant:acme",
                    .resource_id = "skill-" + std::to_string(seq),
                    .request_id = "req-" + std::to_string(seq),
                    .source_ip = "203.0.113.7",
                    .details = R"({"reason":["ünïcødé ✓","quote \" and \\ backslash"]})",
                    .prev_hash = seq == 1 ? "" : Hex64(seq - 1),
                    .hash = Hex64(seq)};
}

std::vector<AuditEvent> SampleAuditEvents(std::uint64_t first, std::uint64_t count) {
  std::vector<AuditEvent> events;
  for (std::uint64_t seq = first; seq < first + count; ++seq) {
    events.push_back(SampleAuditEvent(seq));
  }
  return events;
}

// Every event ScanAudit(from_seq) passes to its callback.
std::vector<AuditEvent> ScanAll(Store& store, std::uint64_t from_seq = 0) {
  std::vector<AuditEvent> seen;
  EXPECT_THAT(store.ScanAudit(from_seq,
                              [&seen](const AuditEvent& e) {
                                seen.push_back(e);
                                return true;
                              }),
              IsOk());
  return seen;
}

std::vector<std::uint64_t> Seqs(const std::vector<AuditEvent>& events) {
  std::vector<std::uint64_t> seqs;
  for (const AuditEvent& e : events) seqs.push_back(e.seq);
  return seqs;
}

// The reference for QueryAudit: exact filters, since inclusive, until exclusive.
bool Matches(const AuditEvent& e, const AuditQuery& q) {
  const auto is = [](const std::optional<std::string>& filter, const std::string& value) {
    return !filter || *filter == value;
  };
  return is(q.module, e.module) && is(q.actor, e.actor_user_id) && is(q.action, e.action) &&
         is(q.resource, e.resource_id) && is(q.tenant, e.tenant) && is(q.decision, e.decision) &&
         (!q.since_us || e.time_us >= *q.since_us) && (!q.until_us || e.time_us < *q.until_us);
}

std::string Describe(const AuditQuery& q) {
  std::string out;
  const auto add = [&out](const char* name, const std::optional<std::string>& v) {
    if (v) out += std::string(name) + "=\"" + *v + "\" ";
  };
  add("module", q.module);
  add("actor", q.actor);
  add("action", q.action);
  add("resource", q.resource);
  add("tenant", q.tenant);
  add("decision", q.decision);
  if (q.since_us) out += "since=" + std::to_string(*q.since_us) + " ";
  if (q.until_us) out += "until=" + std::to_string(*q.until_us) + " ";
  if (q.after_seq) out += "after=" + std::to_string(*q.after_seq) + " ";
  out += q.descending ? "desc " : "asc ";
  out += "limit=" + std::to_string(q.limit);
  return out;
}

class StoreConformanceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty()) << "mkdtemp failed: " << errno;
    store_ = GetParam().open(dir_.path());
    ASSERT_NE(store_, nullptr);
  }

  void Reopen() {
    store_.reset();
    store_ = GetParam().open(dir_.path());
    ASSERT_NE(store_, nullptr);
  }

  // Applies a change of `ops`, expecting success; returns the new revision (0 on failure).
  std::uint64_t MustApply(std::vector<Op> ops) {
    Result<std::uint64_t> revision =
        store_->Apply(Change{.ops = std::move(ops), .actor = "user:root", .request_id = "r"});
    EXPECT_THAT(revision, IsOk());
    return revision.value_or(0);
  }

  State MustLoad() {
    Result<State> state = store_->Load();
    EXPECT_THAT(state, IsOk());
    return state.value_or(State{});
  }

  void Append(const std::vector<AuditEvent>& events) {
    ASSERT_THAT(store_->AppendAudit(events), IsOk());
  }

  // Walks the pages of `query` from its cursor on (every page, or the first `max_pages`) and
  // checks each against `expected` (the whole answer, in order): full pages while `more`, then
  // a last page without it.
  void ExpectPages(AuditQuery query, const std::vector<const AuditEvent*>& expected,
                   std::size_t max_pages = std::numeric_limits<std::size_t>::max()) {
    SCOPED_TRACE(Describe(query));
    std::size_t at = 0;
    for (std::size_t pages = 0;; ++pages) {
      if (pages == max_pages) return;
      ASSERT_LE(pages, expected.size() / query.limit + 1) << "too many pages";
      Result<AuditPage> page = store_->QueryAudit(query);
      ASSERT_THAT(page, IsOk());
      const std::size_t remaining = expected.size() - at;
      ASSERT_EQ(page->events.size(), std::min(remaining, query.limit)) << "page " << pages;
      ASSERT_EQ(page->more, remaining > query.limit) << "page " << pages;
      for (const AuditEvent& e : page->events) {
        ASSERT_EQ(e, *expected[at]) << "event " << at;
        ++at;
      }
      if (!page->more) break;
      query.after_seq = page->events.back().seq;
    }
    EXPECT_EQ(at, expected.size());
  }
  void ExpectPages(AuditQuery query, const std::vector<AuditEvent>& expected) {
    std::vector<const AuditEvent*> pointers;
    for (const AuditEvent& e : expected) pointers.push_back(&e);
    ExpectPages(std::move(query), pointers);
  }

  // The events of `all` that `query` matches (its cursor included), in the query's order.
  static std::vector<const AuditEvent*> Reference(const std::vector<AuditEvent>& all,
                                                  const AuditQuery& query) {
    std::vector<const AuditEvent*> expected;
    for (const AuditEvent& e : all) {
      const bool after_cursor = !query.after_seq || (query.descending ? e.seq < *query.after_seq
                                                                      : e.seq > *query.after_seq);
      if (after_cursor && Matches(e, query)) expected.push_back(&e);
    }
    if (query.descending) std::reverse(expected.begin(), expected.end());
    return expected;
  }

  void ExpectMatchesReference(const std::vector<AuditEvent>& all, const AuditQuery& query) {
    ExpectPages(query, Reference(all, query));
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

// ---- Round trips

TEST_P(StoreConformanceTest, EmptyStoreLoadsEmptyAtRevisionZero) {
  EXPECT_THAT(store_->Revision(), ::testing::Optional(0u));
  const State state = MustLoad();
  EXPECT_EQ(state.revision, 0u);
  EXPECT_THAT(state.modules, IsEmpty());
  EXPECT_THAT(state.scopes, IsEmpty());
  EXPECT_THAT(state.principals, IsEmpty());
  EXPECT_THAT(state.members, IsEmpty());
  EXPECT_THAT(state.custom_roles, IsEmpty());
  EXPECT_THAT(state.bindings, IsEmpty());
  EXPECT_THAT(state.api_keys, IsEmpty());
  EXPECT_THAT(state.signing_keys, IsEmpty());
  EXPECT_THAT(state.capability_tokens, IsEmpty());
  EXPECT_THAT(state.resource_revocations, IsEmpty());
}

TEST_P(StoreConformanceTest, EveryPutRoundTripsThroughLoad) {
  const ModuleRow module{
      .module = "llm", .version = 3, .source = "module: llm\n", .registered_at = 11};
  const ScopeRow scope{
      .scope = "tenant:acme", .parent = "platform", .name = "Acme", .created_at = 12};
  const PrincipalRow principal{
      .principal = "group:eng", .tenant = "tenant:acme", .name = "Engineering", .created_at = 13};
  const MemberRow member{.group = "group:eng", .member = "user:alice"};
  const CustomRoleRow role{.id = "role_1",
                           .scope = "tenant:acme",
                           .name = "Reader",
                           .description = "reads",
                           .permissions = {"llm:chat", "iam:*"},
                           .version = 4,
                           .created_at = 14,
                           .updated_at = 15};
  BindingRow binding = SampleBinding(std::numeric_limits<BindingId>::max());
  binding.not_before = kTimeMin;
  binding.expires_at = kTimeMax;
  const ApiKeyRow key{.id = "key_1",
                      .owner = "service_account:ci",
                      .name = "ci",
                      .secret_hash = "h",
                      .permissions = {"llm:chat"},
                      .scope = "tenant:acme",
                      .expires_at = kTimeMax,
                      .created_at = 16,
                      .revoked_at = 0,
                      .created_by = "user:root"};
  const ApiKeyRow bare_key{.id = "key_2", .owner = "user:bob", .expires_at = kTimeMin};
  EXPECT_EQ(
      MustApply({PutModule{module}, PutScope{scope}, PutPrincipal{principal}, AddMember{member},
                 PutCustomRole{role}, PutBinding{binding}, PutApiKey{key}, PutApiKey{bare_key}}),
      1u);

  const State state = MustLoad();
  EXPECT_EQ(state.revision, 1u);
  EXPECT_THAT(state.modules, ElementsAre(module));
  EXPECT_THAT(state.scopes, ElementsAre(scope));
  EXPECT_THAT(state.principals, ElementsAre(principal));
  EXPECT_THAT(state.members, ElementsAre(member));
  EXPECT_THAT(state.custom_roles, ElementsAre(role));
  EXPECT_THAT(state.bindings, ElementsAre(binding));
  EXPECT_THAT(state.api_keys, ElementsAre(key, bare_key));
}

TEST_P(StoreConformanceTest, EveryDeleteRemovesItsRow) {
  MustApply({PutScope{{.scope = "tenant:a", .parent = "platform"}},
             PutScope{{.scope = "tenant:b", .parent = "platform"}},
             PutPrincipal{{.principal = "group:g"}}, AddMember{{"group:g", "user:a"}},
             AddMember{{"group:g", "user:b"}}, PutCustomRole{{.id = "r1"}},
             PutCustomRole{{.id = "r2"}}, PutBinding{SampleBinding(1)},
             PutBinding{SampleBinding(2)}, PutApiKey{{.id = "k1"}}});
  MustApply({DeleteScope{"tenant:a"}, RemoveMember{{"group:g", "user:a"}}, DeleteCustomRole{"r1"},
             DeleteBinding{1}, RevokeApiKey{.id = "k1", .revoked_at = 99}});

  const State state = MustLoad();
  ASSERT_EQ(state.scopes.size(), 1u);
  EXPECT_EQ(state.scopes[0].scope, "tenant:b");
  EXPECT_THAT(state.members, ElementsAre(MemberRow{"group:g", "user:b"}));
  ASSERT_EQ(state.custom_roles.size(), 1u);
  EXPECT_EQ(state.custom_roles[0].id, "r2");
  EXPECT_THAT(state.bindings, ElementsAre(SampleBinding(2)));
  ASSERT_EQ(state.api_keys.size(), 1u);
  EXPECT_EQ(state.api_keys[0].revoked_at, 99);
}

TEST_P(StoreConformanceTest, PutModuleReplacesByModuleInPlace) {
  MustApply({PutModule{{.module = "a", .version = 1, .source = "v1"}},
             PutModule{{.module = "b", .version = 1}}});
  MustApply({PutModule{{.module = "a", .version = 2, .source = "v2", .registered_at = 5}}});
  const State state = MustLoad();
  EXPECT_THAT(
      state.modules,
      ElementsAre(ModuleRow{.module = "a", .version = 2, .source = "v2", .registered_at = 5},
                  ModuleRow{.module = "b", .version = 1}));
}

TEST_P(StoreConformanceTest, PutCustomRoleReplacesAndKeepsTheGivenVersion) {
  MustApply({PutCustomRole{{.id = "r", .name = "old", .permissions = {"a:b"}, .version = 1}},
             PutCustomRole{{.id = "other"}}});
  const CustomRoleRow edited{.id = "r",
                             .scope = "tenant:x",
                             .name = "new",
                             .description = "d",
                             .permissions = {"c:*", "d:e"},
                             .version = 7,
                             .created_at = 1,
                             .updated_at = 2};
  MustApply({PutCustomRole{edited}});
  const State state = MustLoad();
  ASSERT_EQ(state.custom_roles.size(), 2u);
  EXPECT_EQ(state.custom_roles[0], edited);  // replaced in place; the version is the row's
  EXPECT_EQ(state.custom_roles[1].id, "other");
}

TEST_P(StoreConformanceTest, RowsLoadInInsertionOrder) {
  MustApply({PutBinding{SampleBinding(30)}, PutBinding{SampleBinding(10)}});
  MustApply({PutBinding{SampleBinding(20)}, PutPrincipal{{.principal = "service_account:z"}},
             PutPrincipal{{.principal = "group:a"}}});
  const State state = MustLoad();
  ASSERT_EQ(state.bindings.size(), 3u);
  EXPECT_EQ(state.bindings[0].id, 30u);
  EXPECT_EQ(state.bindings[1].id, 10u);
  EXPECT_EQ(state.bindings[2].id, 20u);
  ASSERT_EQ(state.principals.size(), 2u);
  EXPECT_EQ(state.principals[0].principal, "service_account:z");
}

TEST_P(StoreConformanceTest, ScopesLoadParentsFirst) {
  MustApply({PutScope{{.scope = "project:p1", .parent = "tenant:t1"}},
             PutScope{{.scope = "tenant:t2", .parent = "platform"}}});
  MustApply({PutScope{{.scope = "tenant:t1", .parent = "partner:x"}},
             PutScope{{.scope = "project:p2", .parent = "tenant:t2"}}});
  MustApply({PutScope{{.scope = "partner:x", .parent = "platform"}}});
  const State state = MustLoad();
  std::vector<std::string> order;
  for (const ScopeRow& s : state.scopes) order.push_back(s.scope);
  EXPECT_THAT(order, UnorderedElementsAre("partner:x", "tenant:t1", "tenant:t2", "project:p1",
                                          "project:p2"));
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::string& parent = state.scopes[i].parent;
    const auto at = std::find(order.begin(), order.end(), parent);
    if (at != order.end()) {
      EXPECT_LT(at - order.begin(), static_cast<std::ptrdiff_t>(i))
          << parent << " must come before " << order[i];
    }
  }
}

// ---- Revisions and atomicity

TEST_P(StoreConformanceTest, RevisionStartsAtZeroAndCountsChanges) {
  EXPECT_THAT(store_->Revision(), ::testing::Optional(0u));
  for (std::uint64_t i = 1; i <= 5; ++i) {
    EXPECT_EQ(MustApply({PutBinding{SampleBinding(i)}}), i);
    EXPECT_THAT(store_->Revision(), ::testing::Optional(i));
  }
  EXPECT_EQ(MustLoad().revision, 5u);
}

TEST_P(StoreConformanceTest, FailingOpAppliesNothing) {
  MustApply({PutBinding{SampleBinding(1)}});
  const Change change{.ops = {PutScope{{.scope = "tenant:new", .parent = "platform"}},
                              PutBinding{SampleBinding(2)}, PutBinding{SampleBinding(1)},
                              PutBinding{SampleBinding(3)}}};
  EXPECT_THAT(store_->Apply(change),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr("binding 1 already exists")));
  EXPECT_THAT(store_->Revision(), ::testing::Optional(1u));
  const State state = MustLoad();
  EXPECT_EQ(state.revision, 1u);
  EXPECT_THAT(state.scopes, IsEmpty());
  EXPECT_THAT(state.bindings, ElementsAre(SampleBinding(1)));
  Result<std::vector<std::pair<std::uint64_t, Change>>> log = store_->ChangesSince(0, 10);
  ASSERT_THAT(log, IsOk());
  EXPECT_EQ(log->size(), 1u);
  EXPECT_EQ(MustApply({PutBinding{SampleBinding(2)}}), 2u);  // the store still works
}

TEST_P(StoreConformanceTest, EmptyChangeIsInvalid) {
  EXPECT_THAT(store_->Apply(Change{.actor = "user:root"}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("no operations")));
  EXPECT_THAT(store_->Revision(), ::testing::Optional(0u));
}

// ---- Documented errors

TEST_P(StoreConformanceTest, DuplicatesAreAlreadyExists) {
  MustApply({PutScope{{.scope = "tenant:acme", .parent = "platform"}},
             PutPrincipal{{.principal = "group:eng"}}, AddMember{{"group:eng", "user:alice"}},
             PutBinding{SampleBinding(42)}, PutApiKey{{.id = "key_1"}}});
  const auto kExists = StatusCode::kAlreadyExists;
  EXPECT_THAT(store_->Apply({.ops = {PutScope{{.scope = "tenant:acme"}}}}),
              StatusIs(kExists, HasSubstr("scope tenant:acme already exists")));
  EXPECT_THAT(store_->Apply({.ops = {PutPrincipal{{.principal = "group:eng"}}}}),
              StatusIs(kExists, HasSubstr("principal group:eng already exists")));
  EXPECT_THAT(store_->Apply({.ops = {AddMember{{"group:eng", "user:alice"}}}}),
              StatusIs(kExists, HasSubstr("member user:alice of group:eng already exists")));
  EXPECT_THAT(store_->Apply({.ops = {PutBinding{SampleBinding(42, "user:other")}}}),
              StatusIs(kExists, HasSubstr("binding 42 already exists")));
  EXPECT_THAT(store_->Apply({.ops = {PutApiKey{{.id = "key_1"}}}}),
              StatusIs(kExists, HasSubstr("api key key_1 already exists")));
  // Within one change too.
  EXPECT_THAT(store_->Apply({.ops = {PutBinding{SampleBinding(7)}, PutBinding{SampleBinding(7)}}}),
              StatusIs(kExists, HasSubstr("binding 7 already exists")));
  EXPECT_THAT(store_->Revision(), ::testing::Optional(1u));
}

TEST_P(StoreConformanceTest, MissingRowsAreNotFound) {
  const auto kNotFound = StatusCode::kNotFound;
  EXPECT_THAT(store_->Apply({.ops = {DeleteScope{"tenant:none"}}}),
              StatusIs(kNotFound, HasSubstr("scope tenant:none not found")));
  EXPECT_THAT(store_->Apply({.ops = {RemoveMember{{"group:g", "user:a"}}}}),
              StatusIs(kNotFound, HasSubstr("member user:a of group:g not found")));
  EXPECT_THAT(store_->Apply({.ops = {DeleteCustomRole{"role_9"}}}),
              StatusIs(kNotFound, HasSubstr("custom role role_9 not found")));
  EXPECT_THAT(store_->Apply({.ops = {DeleteBinding{42}}}),
              StatusIs(kNotFound, HasSubstr("binding 42 not found")));
  EXPECT_THAT(store_->Apply({.ops = {RevokeApiKey{.id = "key_9", .revoked_at = 1}}}),
              StatusIs(kNotFound, HasSubstr("api key key_9 not found")));
  // Deleted in the same change counts as absent.
  EXPECT_THAT(
      store_->Apply({.ops = {PutBinding{SampleBinding(5)}, DeleteBinding{5}, DeleteBinding{5}}}),
      StatusIs(kNotFound, HasSubstr("binding 5 not found")));
  EXPECT_THAT(store_->Revision(), ::testing::Optional(0u));
}

TEST_P(StoreConformanceTest, CapabilityTokenRowsRoundTripAndUpdate) {
  const SigningKeyRow key{.kid = "capk_1", .public_key = "cHVi", .secret_key = "c2Vj", .created_at = 5};
  const SigningKeyRow key2{.kid = "capk_2", .public_key = "cHViMg", .secret_key = "c2VjMg", .created_at = 6};
  const CapabilityTokenRow token{.id = "cap_1",
                                 .capability = "scaibot:chat",
                                 .resource = "bot:b-42",
                                 .scope = "tenant:acme",
                                 .visitor = "visitor:v-7",
                                 .issued_by = "user:alice",
                                 .issued_at = 100,
                                 .expires_at = 200,
                                 .revision = 1,
                                 .credential = "key_alice"};
  const CapabilityTokenRow bare{.id = "cap_2", .capability = "scaibot:chat", .resource = "bot:b-43"};
  const ResourceRevocationRow revocation{.capability = "scaibot:chat",
                                         .resource = "bot:b-42",
                                         .scope = "tenant:acme",
                                         .revoked_at = 150,
                                         .revoked_by = "user:bob",
                                         .revision = 1};
  EXPECT_EQ(MustApply({PutSigningKey{key}, PutSigningKey{key2}, PutCapabilityToken{token},
                       PutCapabilityToken{bare}, PutResourceRevocation{revocation}}),
            1u);
  State state = MustLoad();
  EXPECT_THAT(state.signing_keys, ElementsAre(key, key2));
  EXPECT_THAT(state.capability_tokens, ElementsAre(token, bare));
  EXPECT_THAT(state.resource_revocations, ElementsAre(revocation));

  // Retiring a key replaces it in place; revoking a token sets its time; a newer resource
  // revocation replaces the older one for the same (capability, resource, scope), and one at
  // another scope is another row.
  SigningKeyRow retired = key;
  retired.retired_at = 300;
  ResourceRevocationRow later = revocation;
  later.revoked_at = 400;
  later.revoked_by = "user:carol";
  later.revision = 2;
  const ResourceRevocationRow other{.capability = "scaibot:chat", .resource = "bot:b-44", .revoked_at = 1};
  ResourceRevocationRow elsewhere = revocation;
  elsewhere.scope = "tenant:umbrella";
  EXPECT_EQ(MustApply({PutSigningKey{retired}, RevokeCapabilityToken{.id = "cap_2", .revoked_at = 350},
                       PutResourceRevocation{later}, PutResourceRevocation{other},
                       PutResourceRevocation{elsewhere}}),
            2u);
  state = MustLoad();
  EXPECT_THAT(state.signing_keys, ElementsAre(retired, key2));
  CapabilityTokenRow revoked = bare;
  revoked.revoked_at = 350;
  EXPECT_THAT(state.capability_tokens, ElementsAre(token, revoked));
  EXPECT_THAT(state.resource_revocations, ElementsAre(later, other, elsewhere));

  EXPECT_THAT(store_->Apply({.ops = {PutCapabilityToken{{.id = "cap_1"}}}}),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr("capability token cap_1 already exists")));
  EXPECT_THAT(store_->Apply({.ops = {RevokeCapabilityToken{.id = "cap_9", .revoked_at = 1}}}),
              StatusIs(StatusCode::kNotFound, HasSubstr("capability token cap_9 not found")));
  EXPECT_THAT(store_->Revision(), ::testing::Optional(2u));
}

TEST_P(StoreConformanceTest, DeletePrincipalCascadesToMembershipsAndBindings) {
  MustApply({PutPrincipal{{.principal = "group:eng"}}, PutPrincipal{{.principal = "group:ops"}},
             PutPrincipal{{.principal = "service_account:ci"}},
             AddMember{{"group:eng", "user:alice"}}, AddMember{{"group:eng", "service_account:ci"}},
             AddMember{{"group:ops", "service_account:ci"}}, AddMember{{"group:ops", "user:bob"}},
             PutBinding{SampleBinding(1, "group:eng")},
             PutBinding{SampleBinding(2, "service_account:ci")},
             PutBinding{SampleBinding(3, "group:ops")}});
  MustApply({DeletePrincipal{"group:eng"}});
  MustApply({DeletePrincipal{"service_account:ci"}});
  const State state = MustLoad();
  ASSERT_EQ(state.principals.size(), 1u);
  EXPECT_EQ(state.principals[0].principal, "group:ops");
  EXPECT_THAT(state.members, ElementsAre(MemberRow{"group:ops", "user:bob"}));
  EXPECT_THAT(state.bindings, ElementsAre(SampleBinding(3, "group:ops")));
}

TEST_P(StoreConformanceTest, DeletePrincipalOfAUserRemovesItsMembershipsAndBindings) {
  MustApply({AddMember{{"group:eng", "user:alice"}}, PutBinding{SampleBinding(1, "user:alice")},
             PutBinding{SampleBinding(2, "user:bob")}});
  EXPECT_EQ(MustApply({DeletePrincipal{"user:alice"}}), 2u);  // users have no row: not kNotFound
  const State state = MustLoad();
  EXPECT_THAT(state.members, IsEmpty());
  EXPECT_THAT(state.bindings, ElementsAre(SampleBinding(2, "user:bob")));
}

// ---- Durability and the change log

TEST_P(StoreConformanceTest, StateSurvivesReopening) {
  const Change everything = SampleChangeWithEveryOp();
  Change puts{.actor = "user:root"};
  for (const Op& op : everything.ops) {
    if (std::holds_alternative<PutModule>(op) || std::holds_alternative<PutScope>(op) ||
        std::holds_alternative<PutPrincipal>(op) || std::holds_alternative<AddMember>(op) ||
        std::holds_alternative<PutCustomRole>(op) || std::holds_alternative<PutBinding>(op) ||
        std::holds_alternative<PutApiKey>(op)) {
      puts.ops.push_back(op);
    }
  }
  ASSERT_THAT(store_->Apply(puts), IsOk());
  MustApply({PutBinding{SampleBinding(1)}});
  const State before = MustLoad();
  Reopen();
  const State after = MustLoad();
  EXPECT_EQ(after.revision, 2u);
  EXPECT_EQ(after.modules, before.modules);
  EXPECT_EQ(after.scopes, before.scopes);
  EXPECT_EQ(after.principals, before.principals);
  EXPECT_EQ(after.members, before.members);
  EXPECT_EQ(after.custom_roles, before.custom_roles);
  EXPECT_EQ(after.bindings, before.bindings);
  EXPECT_EQ(after.api_keys, before.api_keys);
  EXPECT_EQ(after.bindings.size(), 2u);
  EXPECT_EQ(MustApply({DeleteBinding{1}}), 3u);
}

TEST_P(StoreConformanceTest, ChangesSinceReturnsTheLogInOrder) {
  std::vector<Change> applied;
  for (std::uint64_t i = 1; i <= 5; ++i) {
    applied.push_back(Change{.ops = {PutBinding{SampleBinding(i)}},
                             .actor = "user:" + std::to_string(i),
                             .request_id = "req-" + std::to_string(i),
                             .at = static_cast<Time>(1000 + i)});
    ASSERT_THAT(store_->Apply(applied.back()), ::testing::Optional(i));
  }
  // Ops that fail are not logged.
  ASSERT_THAT(store_->Apply({.ops = {DeleteBinding{99}}}), StatusIs(StatusCode::kNotFound, _));

  Result<std::vector<std::pair<std::uint64_t, Change>>> all = store_->ChangesSince(0, 100);
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ((*all)[i].first, i + 1);
    EXPECT_EQ((*all)[i].second, applied[i]);
  }
  Result<std::vector<std::pair<std::uint64_t, Change>>> tail = store_->ChangesSince(3, 100);
  ASSERT_THAT(tail, IsOk());
  ASSERT_EQ(tail->size(), 2u);
  EXPECT_EQ((*tail)[0].first, 4u);
  EXPECT_EQ((*tail)[0].second, applied[3]);
  EXPECT_EQ((*tail)[1].first, 5u);

  Result<std::vector<std::pair<std::uint64_t, Change>>> limited = store_->ChangesSince(1, 2);
  ASSERT_THAT(limited, IsOk());
  ASSERT_EQ(limited->size(), 2u);
  EXPECT_EQ((*limited)[0].first, 2u);
  EXPECT_EQ((*limited)[1].first, 3u);

  EXPECT_THAT(store_->ChangesSince(5, 100), ::testing::Optional(IsEmpty()));
  EXPECT_THAT(store_->ChangesSince(0, 0), ::testing::Optional(IsEmpty()));
  EXPECT_THAT(store_->ChangesSince(std::numeric_limits<std::uint64_t>::max(), 10),
              ::testing::Optional(IsEmpty()));
  EXPECT_THAT(store_->ChangesSince(0, std::numeric_limits<std::size_t>::max()),
              ::testing::Optional(::testing::SizeIs(5)));
}

TEST_P(StoreConformanceTest, ChangesSinceKeepsEveryOpExactly) {
  // Apply the whole sample in pieces that succeed: the rows it deletes must exist first.
  const Change setup{.ops = {PutScope{{.scope = "project:old"}},
                             PutPrincipal{{.principal = "service_account:gone"}},
                             AddMember{{"group:eng", "user:bob"}}, PutCustomRole{{.id = "role_0"}},
                             PutBinding{SampleBinding(7)}, PutApiKey{{.id = "key_old"}},
                             PutCapabilityToken{{.id = "cap_0"}}}};
  ASSERT_THAT(store_->Apply(setup), IsOk());
  const Change sample = SampleChangeWithEveryOp();
  ASSERT_THAT(store_->Apply(sample), ::testing::Optional(2u));
  Result<std::vector<std::pair<std::uint64_t, Change>>> log = store_->ChangesSince(0, 10);
  ASSERT_THAT(log, IsOk());
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0].second, setup);
  EXPECT_EQ((*log)[1].second, sample);
  Reopen();
  log = store_->ChangesSince(1, 10);
  ASSERT_THAT(log, IsOk());
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ((*log)[0].second, sample);
}

// ---- Audit log

TEST_P(StoreConformanceTest, AuditEmptyLogHasNoEvents) {
  EXPECT_THAT(store_->LastAuditEvent(), ::testing::Optional(std::optional<AuditEvent>()));
  Result<AuditPage> page = store_->QueryAudit({});
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(page->events, IsEmpty());
  EXPECT_FALSE(page->more);
  EXPECT_THAT(ScanAll(*store_), IsEmpty());
  EXPECT_THAT(store_->AppendAudit({}), IsOk());  // an empty batch appends nothing
  EXPECT_THAT(store_->LastAuditEvent(), ::testing::Optional(std::optional<AuditEvent>()));
}

TEST_P(StoreConformanceTest, AuditAppendedEventsRoundTripAndTheLastIsTheHighestSeq) {
  const std::vector<AuditEvent> first = SampleAuditEvents(1, 3);
  Append(first);
  EXPECT_THAT(store_->LastAuditEvent(), ::testing::Optional(std::optional(first[2])));
  AuditEvent bare{.seq = 4, .time_us = first[2].time_us};  // empty strings stay empty
  Append({bare});
  EXPECT_THAT(store_->LastAuditEvent(), ::testing::Optional(std::optional(bare)));
  Append(SampleAuditEvents(5, 1));
  EXPECT_THAT(store_->LastAuditEvent(), ::testing::Optional(std::optional(SampleAuditEvent(5))));
  EXPECT_THAT(ScanAll(*store_),
              ElementsAre(first[0], first[1], first[2], bare, SampleAuditEvent(5)));
}

TEST_P(StoreConformanceTest, AuditAppendRequiresConsecutiveSeqsAndAppendsNothingOtherwise) {
  const auto kPrecondition = StatusCode::kFailedPrecondition;
  EXPECT_THAT(store_->AppendAudit(SampleAuditEvents(2, 2)),
              StatusIs(kPrecondition, HasSubstr("expected seq 1, got 2")));
  EXPECT_THAT(store_->AppendAudit({SampleAuditEvent(0)}), StatusIs(kPrecondition, _));
  Append(SampleAuditEvents(1, 3));

  // A gap after the stored events, an overlap with them, and a gap or a repeat inside a batch.
  EXPECT_THAT(store_->AppendAudit(SampleAuditEvents(5, 2)),
              StatusIs(kPrecondition, HasSubstr("expected seq 4, got 5")));
  EXPECT_THAT(store_->AppendAudit(SampleAuditEvents(3, 2)),
              StatusIs(kPrecondition, HasSubstr("expected seq 4, got 3")));
  EXPECT_THAT(store_->AppendAudit(SampleAuditEvents(1, 5)),
              StatusIs(kPrecondition, HasSubstr("expected seq 4, got 1")));
  EXPECT_THAT(store_->AppendAudit({SampleAuditEvent(4), SampleAuditEvent(6)}),
              StatusIs(kPrecondition, HasSubstr("seq 6 follows seq 4")));
  EXPECT_THAT(store_->AppendAudit({SampleAuditEvent(4), SampleAuditEvent(5), SampleAuditEvent(5)}),
              StatusIs(kPrecondition, HasSubstr("seq 5 follows seq 5")));
  EXPECT_THAT(store_->AppendAudit({SampleAuditEvent(4), SampleAuditEvent(3)}),
              StatusIs(kPrecondition, HasSubstr("seq 3 follows seq 4")));

  EXPECT_THAT(store_->LastAuditEvent(), ::testing::Optional(std::optional(SampleAuditEvent(3))));
  EXPECT_THAT(Seqs(ScanAll(*store_)), ElementsAre(1, 2, 3));
  Append(SampleAuditEvents(4, 2));  // the store goes on
  EXPECT_THAT(Seqs(ScanAll(*store_)), ElementsAre(1, 2, 3, 4, 5));
}

// QueryAudit turns since / until into seq bounds, so times may not go backwards.
TEST_P(StoreConformanceTest, AuditAppendRequiresTimesThatDoNotDecrease) {
  Append({SampleAuditEvent(1, 100), SampleAuditEvent(2, 200)});
  EXPECT_THAT(store_->AppendAudit({SampleAuditEvent(3, 199)}),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("must not decrease")));
  EXPECT_THAT(store_->AppendAudit({SampleAuditEvent(3, 300), SampleAuditEvent(4, 250)}),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("must not decrease")));
  EXPECT_THAT(Seqs(ScanAll(*store_)), ElementsAre(1, 2));
  Append({SampleAuditEvent(3, 200), SampleAuditEvent(4, 200)});  // equal times are fine
  EXPECT_THAT(Seqs(ScanAll(*store_)), ElementsAre(1, 2, 3, 4));
}

TEST_P(StoreConformanceTest, AuditQueryLimitMustBeOneToAThousand) {
  Append(SampleAuditEvents(1, 3));
  for (std::size_t limit :
       {std::size_t{0}, std::size_t{1001}, std::numeric_limits<std::size_t>::max()}) {
    EXPECT_THAT(store_->QueryAudit({.limit = limit}),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("limit")))
        << limit;
  }
  EXPECT_THAT(store_->QueryAudit({.limit = 1}),
              ::testing::Optional(::testing::Field(&AuditPage::events, ::testing::SizeIs(1))));
  EXPECT_THAT(store_->QueryAudit({.limit = 1000}),
              ::testing::Optional(::testing::Field(&AuditPage::events, ::testing::SizeIs(3))));
}

TEST_P(StoreConformanceTest, AuditMoreSaysWhetherAnotherPageFollows) {
  Append(SampleAuditEvents(1, 10));
  const auto page = [this](AuditQuery q) {
    Result<AuditPage> p = store_->QueryAudit(q);
    EXPECT_THAT(p, IsOk());
    return p ? std::pair(Seqs(p->events), p->more) : std::pair(std::vector<std::uint64_t>{}, false);
  };
  EXPECT_EQ(page({.limit = 10}).second, false);
  EXPECT_EQ(page({.limit = 11}).second, false);
  EXPECT_EQ(page({.limit = 9}),
            std::pair(std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}, true));
  EXPECT_EQ(page({.after_seq = 5, .limit = 5}),
            std::pair(std::vector<std::uint64_t>{6, 7, 8, 9, 10}, false));
  EXPECT_EQ(page({.after_seq = 5, .limit = 4}),
            std::pair(std::vector<std::uint64_t>{6, 7, 8, 9}, true));
  EXPECT_EQ(page({.descending = true, .limit = 3}),
            std::pair(std::vector<std::uint64_t>{10, 9, 8}, true));
  EXPECT_EQ(page({.after_seq = 4, .descending = true, .limit = 3}),
            std::pair(std::vector<std::uint64_t>{3, 2, 1}, false));
  EXPECT_EQ(page({.after_seq = 10, .limit = 3}), std::pair(std::vector<std::uint64_t>{}, false));
  EXPECT_EQ(page({.after_seq = 1, .descending = true, .limit = 3}),
            std::pair(std::vector<std::uint64_t>{}, false));
  const std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(page({.after_seq = kMax, .limit = 3}), std::pair(std::vector<std::uint64_t>{}, false));
  EXPECT_EQ(page({.after_seq = kMax, .descending = true, .limit = 2}),
            std::pair(std::vector<std::uint64_t>{10, 9}, true));
  EXPECT_EQ(page({.after_seq = 0, .limit = 2}), std::pair(std::vector<std::uint64_t>{1, 2}, true));
}

TEST_P(StoreConformanceTest, AuditSinceIsInclusiveAndUntilExclusive) {
  Append({SampleAuditEvent(1, 100), SampleAuditEvent(2, 200), SampleAuditEvent(3, 200),
          SampleAuditEvent(4, 300), SampleAuditEvent(5, 400)});
  const auto seqs = [this](AuditQuery q) {
    Result<AuditPage> p = store_->QueryAudit(q);
    EXPECT_THAT(p, IsOk());
    return p ? Seqs(p->events) : std::vector<std::uint64_t>{};
  };
  EXPECT_THAT(seqs({.since_us = 200}), ElementsAre(2, 3, 4, 5));
  EXPECT_THAT(seqs({.since_us = 201}), ElementsAre(4, 5));
  EXPECT_THAT(seqs({.until_us = 300}), ElementsAre(1, 2, 3));
  EXPECT_THAT(seqs({.until_us = 301}), ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(seqs({.since_us = 200, .until_us = 300}), ElementsAre(2, 3));
  EXPECT_THAT(seqs({.since_us = 200, .until_us = 300, .descending = true}), ElementsAre(3, 2));
  EXPECT_THAT(seqs({.since_us = 200, .until_us = 200}), IsEmpty());
  EXPECT_THAT(seqs({.since_us = 300, .until_us = 200}), IsEmpty());
  EXPECT_THAT(seqs({.since_us = 401}), IsEmpty());
  EXPECT_THAT(seqs({.until_us = 100}), IsEmpty());
  EXPECT_THAT(seqs({.since_us = std::numeric_limits<std::int64_t>::min(),
                    .until_us = std::numeric_limits<std::int64_t>::max()}),
              ElementsAre(1, 2, 3, 4, 5));
}

// 100,000 random events (fixed seed) over several modules, tenants, actors, actions and
// resources, each pool with the empty value (platform events have tenant "", changes no
// decision), appended in batches of random sizes from 1 to 9,000 with a reopen half-way: a
// backend that indexes the log in blocks (SqliteStore: segments of 4,096 seqs) closes blocks
// inside batches, at their ends and two in one batch. Then every filter alone, the tenant-admin
// and first-page shapes, and random combinations (filter subsets with empty and absent values,
// since / until, both orders, random page sizes, a cursor mid-way): each page is exactly the
// reference-filtered events. Every page of the fixed shapes and of one random query in eight is
// followed to the end; the others check their first two pages.
TEST_P(StoreConformanceTest, AuditQueriesReturnExactlyTheReferenceFilteredEvents) {
  std::mt19937_64 rng(20260501);
  const auto pick = [&rng](const std::vector<std::string>& pool) {
    return pool[rng() % pool.size()];
  };
  const auto numbered = [](std::string first, const std::string& prefix, int count) {
    std::vector<std::string> pool = {std::move(first)};
    for (int i = 0; i < count; ++i) pool.push_back(prefix + std::to_string(i));
    return pool;
  };
  const std::vector<std::string> modules = {"iam", "scaiskills", "llm", "speech", "billing", ""};
  const std::vector<std::string> actions = {"iam:bindings.create", "scaiskills:grant",  "llm:chat",
                                            "speech:erase",        "module.registered", ""};
  const std::vector<std::string> decisions = {"allowed", "denied", ""};
  const std::vector<std::string> actors = numbered("", "user:u", 49);  // and "system"
  const std::vector<std::string> tenants = numbered("", "tenant:t", 30);
  const std::vector<std::string> resources = numbered("", "res-", 1000);  // ~100 events each

  constexpr std::uint64_t kEvents = 100'000;
  std::vector<AuditEvent> all;
  all.reserve(kEvents);
  std::int64_t time = 1'700'000'000'000'000;
  for (std::uint64_t seq = 1; seq <= kEvents; ++seq) {
    time += static_cast<std::int64_t>(rng() % 4) * 1'000'000;  // equal times happen
    AuditEvent e = SampleAuditEvent(seq, time);
    e.module = pick(modules);
    e.action = pick(actions);
    e.decision = pick(decisions);
    e.actor_user_id = rng() % 50 == 0 ? "system" : pick(actors);
    e.tenant = pick(tenants);
    e.resource_id = pick(resources);
    all.push_back(std::move(e));
  }
  bool reopened = false;
  for (std::size_t at = 0; at < all.size();) {
    const std::size_t size = rng() % 4 == 0 ? 1 + rng() % 10 : 1 + rng() % 9000;
    const std::size_t end = std::min(all.size(), at + size);
    Append(std::vector<AuditEvent>(all.begin() + static_cast<std::ptrdiff_t>(at),
                                   all.begin() + static_cast<std::ptrdiff_t>(end)));
    at = end;
    if (!reopened && at >= kEvents / 2) {
      Reopen();
      reopened = true;
    }
  }
  const std::int64_t first_time = all.front().time_us;
  const std::int64_t last_time = all.back().time_us;
  const auto some_time = [&]() -> std::int64_t {
    switch (rng() % 4) {
      case 0:  // an event's time exactly: inclusive / exclusive bounds matter
        return all[rng() % all.size()].time_us;
      case 1:
        return all[rng() % all.size()].time_us + 1;
      case 2:  // outside the log
        return rng() % 2 == 0 ? first_time - 1 : last_time + 1;
      default:
        return first_time + static_cast<std::int64_t>(
                                rng() % static_cast<std::uint64_t>(last_time - first_time + 1));
    }
  };

  // Every filter alone, each order, every page.
  const std::vector<AuditQuery> alone = {
      {.module = "scaiskills"},
      {.module = ""},
      {.actor = "user:u3"},
      {.actor = "system"},
      {.action = "llm:chat"},
      {.resource = "res-7"},
      {.resource = ""},
      {.tenant = "tenant:t2"},
      {.tenant = ""},  // exact match on empty: platform-wide events
      {.decision = "denied"},
      {.decision = ""},
      {.module = "absent"},
      {.since_us = all[25'000].time_us},
      {.until_us = all[12'000].time_us},
      {},
  };
  for (AuditQuery q : alone) {
    for (bool descending : {false, true}) {
      q.descending = descending;
      q.limit = 997;
      ExpectMatchesReference(all, q);
      if (HasFatalFailure()) return;
    }
  }
  // The tenant-admin shape and the first-page benchmark shape, every page size.
  for (std::size_t limit : {std::size_t{1}, std::size_t{7}, std::size_t{100}, std::size_t{1000}}) {
    ExpectMatchesReference(all, {.module = "iam", .tenant = "tenant:t1", .limit = limit});
    ExpectMatchesReference(
        all,
        {.module = "llm", .since_us = all[97'000].time_us, .descending = true, .limit = limit});
    ExpectMatchesReference(all, {.actor = "user:u9", .resource = "res-17", .limit = limit});
    if (HasFatalFailure()) return;
  }
  // Random combinations.
  for (int i = 0; i < 600; ++i) {
    AuditQuery q;
    const auto maybe = [&rng](const std::vector<std::string>& pool,
                              std::optional<std::string>& filter) {
      if (rng() % 3 != 0) return;
      switch (rng() % 10) {
        case 0:
          filter = "no-such-value";
          break;
        case 1:
          filter = "";
          break;
        default:
          filter = pool[rng() % pool.size()];
      }
    };
    maybe(modules, q.module);
    maybe(actors, q.actor);
    maybe(actions, q.action);
    maybe(resources, q.resource);
    maybe(tenants, q.tenant);
    maybe(decisions, q.decision);
    if (rng() % 2 == 0) q.since_us = some_time();
    if (rng() % 2 == 0) q.until_us = some_time();
    q.descending = rng() % 2 == 0;
    const std::size_t limits[] = {1, 2, 3, 10, 50, 100, 200, 1000};
    q.limit = rng() % 3 == 0 ? 1 + rng() % 1000 : limits[rng() % 8];
    if (rng() % 4 == 0) q.after_seq = rng() % (kEvents + 2);  // start mid-way, or outside
    const std::vector<const AuditEvent*> expected = Reference(all, q);
    if (i % 8 == 0) {
      if (expected.size() / q.limit > 50) q.limit = 1000;  // keep the walk short
      ExpectPages(q, expected);
    } else {
      ExpectPages(q, expected, /*max_pages=*/2);
    }
    if (HasFatalFailure()) return;
  }
}

TEST_P(StoreConformanceTest, AuditScanGoesInSeqOrderFromFromSeqAndStopsWhenAsked) {
  constexpr std::uint64_t kEvents = 25'000;  // more than one page of any reasonable size
  for (std::uint64_t first = 1; first <= kEvents; first += 5000) {
    Append(SampleAuditEvents(first, 5000));
  }
  std::uint64_t expected = 1;
  std::uint64_t count = 0;
  ASSERT_THAT(store_->ScanAudit(0,
                                [&](const AuditEvent& e) {
                                  EXPECT_EQ(e.seq, expected++);
                                  ++count;
                                  return true;
                                }),
              IsOk());
  EXPECT_EQ(count, kEvents);
  EXPECT_EQ(ScanAll(*store_, 1).size(), kEvents);
  EXPECT_EQ(ScanAll(*store_, 12'345).front(), SampleAuditEvent(12'345));
  EXPECT_EQ(ScanAll(*store_, 12'345).size(), kEvents - 12'344);
  EXPECT_THAT(Seqs(ScanAll(*store_, kEvents)), ElementsAre(kEvents));
  EXPECT_THAT(ScanAll(*store_, kEvents + 1), IsEmpty());
  EXPECT_THAT(ScanAll(*store_, std::numeric_limits<std::uint64_t>::max()), IsEmpty());

  for (std::uint64_t stop_after : {1u, 10'000u, 10'001u}) {
    std::uint64_t calls = 0;
    ASSERT_THAT(store_->ScanAudit(1, [&](const AuditEvent&) { return ++calls < stop_after; }),
                IsOk());
    EXPECT_EQ(calls, stop_after);
  }
}

TEST_P(StoreConformanceTest, AuditEventsSurviveReopening) {
  std::vector<AuditEvent> events = SampleAuditEvents(1, 50);
  Append(events);
  Reopen();
  EXPECT_THAT(store_->LastAuditEvent(), ::testing::Optional(std::optional(events.back())));
  EXPECT_EQ(ScanAll(*store_), events);
  ExpectPages({.module = "scaiskills", .since_us = events[10].time_us, .limit = 15},
              std::vector<AuditEvent>(events.begin() + 10, events.end()));
  EXPECT_THAT(store_->AppendAudit(SampleAuditEvents(50, 2)),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("expected seq 51")));
  Append(SampleAuditEvents(51, 2));
  Reopen();
  EXPECT_THAT(store_->LastAuditEvent(), ::testing::Optional(std::optional(SampleAuditEvent(52))));
}

// The audit log and the policy state are independent: neither moves the other's counters.
TEST_P(StoreConformanceTest, AuditLogAndChangesAreIndependent) {
  Append(SampleAuditEvents(1, 3));
  EXPECT_THAT(store_->Revision(), ::testing::Optional(0u));
  EXPECT_EQ(MustApply({PutBinding{SampleBinding(1)}}), 1u);
  EXPECT_THAT(Seqs(ScanAll(*store_)), ElementsAre(1, 2, 3));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformanceTest,
                         ::testing::Values(Backend{"Sqlite", OpenSqlite},
                                           Backend{"Postgres", OpenPostgresForDir}),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace scaigrid::iam::store
