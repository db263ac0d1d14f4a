// The Store conformance suite: every backend runs these tests through a factory that opens
// (or reopens) the backend's store kept in a directory. A backend is added by one more entry
// in the INSTANTIATE_TEST_SUITE_P at the end. SQLite-only tests are in sqlite_store_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "store/store_test_util.h"
#include "temp_dir.h"

namespace scaigrid::iam::store {
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
                             PutBinding{SampleBinding(7)}, PutApiKey{{.id = "key_old"}}}};
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

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformanceTest,
                         ::testing::Values(Backend{"Sqlite", OpenSqlite}),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace scaigrid::iam::store
