// Engine semantics on a small hand-written registry.
#include "scaigrid/iam/snapshot.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "scaigrid/iam/engine.h"
#include "scaigrid/iam/mutation.h"

namespace scaigrid::iam {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kManifest[] = R"(module: box
title: Box
permissions:
  - key: box:read
    description: Read.
  - key: box:write
    description: Write.
  - key: box:run
    description: Run in boxes you own.
    owner_only: true
    override: box:admin
  - key: box:admin
    description: All boxes.
  - key: box:admin:platform
    description: Platform.
    level: platform
  - key: box:bind
    description: Bind.
  - key: box:grant
    description: Grant.
implies:
  box:write: [box:read]
defaults:
  tenant_viewer: [box:read]
roles:
  - name: runner
    scope: project
    permissions: [box:run]
constraints:
  - name: split
    keys: [box:bind, box:grant]
)";

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = ParseManifest(kManifest, "box.yaml");
    ASSERT_TRUE(m) << m.error().ToString();
    auto reg = Registry::Build({*m});
    ASSERT_TRUE(reg) << reg.error().ToString();
    engine_ = std::make_unique<Engine>(Snapshot::Empty(*reg));
    Apply([](Mutation& m) -> Status {
      SCAIGRID_RETURN_IF_ERROR(m.AddScope("partner:p", "platform"));
      SCAIGRID_RETURN_IF_ERROR(m.AddScope("tenant:a", "partner:p"));
      SCAIGRID_RETURN_IF_ERROR(m.AddScope("tenant:b", "platform"));
      SCAIGRID_RETURN_IF_ERROR(m.AddScope("project:a1", "tenant:a"));
      return m.AddScope("project:a2", "tenant:a");
    });
  }

  void Apply(const std::function<Status(Mutation&)>& f) {
    auto r = engine_->Apply(f);
    ASSERT_TRUE(r) << r.error().ToString();
  }
  Status TryApply(const std::function<Status(Mutation&)>& f) {
    auto r = engine_->Apply(f);
    return r ? Status::Ok() : r.error();
  }
  void Bind(BindingId id, const std::string& subject, const std::string& role, const std::string& scope,
            Time nb = kTimeMin, Time exp = kTimeMax) {
    Apply([&](Mutation& m) { return m.AddBinding({id, subject, role, scope, nb, exp}); });
  }
  bool Allowed(const std::string& subject, const std::string& key, const std::string& scope,
               Time now = 1000, const Restriction* r = nullptr) {
    auto d = engine_->snapshot()->Check(CheckInput{subject, scope, key, r}, now);
    EXPECT_TRUE(d) << d.error().ToString();
    return d && d->allowed;
  }
  std::vector<std::string> Effective(const std::string& subject, const std::string& scope, Time now = 1000) {
    auto s = engine_->snapshot();
    std::vector<std::string> out;
    auto p = s->FindPrincipal(subject);
    if (!p) return out;
    for (const auto& e : s->EffectivePermissions(*p, *s->FindScope(scope), now)) out.push_back(s->registry().key(e.key).key);
    return out;
  }

  std::unique_ptr<Engine> engine_;
};

TEST_F(SnapshotTest, GrantsFlowDownTheTreeOnly) {
  Bind(1, "user:u", "tenant_viewer", "tenant:a");
  EXPECT_TRUE(Allowed("user:u", "box:read", "tenant:a"));
  EXPECT_TRUE(Allowed("user:u", "box:read", "project:a1"));
  EXPECT_FALSE(Allowed("user:u", "box:read", "partner:p"));
  EXPECT_FALSE(Allowed("user:u", "box:read", "tenant:b"));
  EXPECT_FALSE(Allowed("user:u", "box:write", "tenant:a"));
}

TEST_F(SnapshotTest, PartnerAdminCoversItsTenantsOnly) {
  Bind(1, "user:p", "partner_admin", "partner:p");
  EXPECT_TRUE(Allowed("user:p", "box:write", "project:a2"));
  EXPECT_FALSE(Allowed("user:p", "box:write", "tenant:b"));
  EXPECT_FALSE(Allowed("user:p", "box:admin:platform", "partner:p"));
}

TEST_F(SnapshotTest, PlatformKeysOnlyAtPlatform) {
  Bind(1, "user:root", "super_admin", "platform");
  EXPECT_TRUE(Allowed("user:root", "box:admin:platform", "platform"));
  auto s = engine_->snapshot();
  auto d = s->Check(CheckInput{"user:root", "tenant:a", "box:admin:platform"}, 0);
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->allowed);
  EXPECT_EQ(d->code, DecisionCode::kPlatformKeyBelowPlatform);
}

TEST_F(SnapshotTest, UnknownKeyIsAnErrorNotADeny) {
  auto d = engine_->snapshot()->Check(CheckInput{"user:x", "tenant:a", "box:nope"}, 0);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(d.error().message(), HasSubstr("unknown permission key 'box:nope'"));
  auto e = engine_->snapshot()->Check(CheckInput{"user:x", "tenant:zzz", "box:read"}, 0);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), StatusCode::kNotFound);
  auto f = engine_->snapshot()->Check(CheckInput{"bob", "tenant:a", "box:read"}, 0);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code(), StatusCode::kInvalidArgument);
}

TEST_F(SnapshotTest, TimeBoundBindings) {
  Bind(1, "user:t", "tenant_viewer", "tenant:a", 100, 200);
  EXPECT_FALSE(Allowed("user:t", "box:read", "tenant:a", 99));
  EXPECT_TRUE(Allowed("user:t", "box:read", "tenant:a", 100));
  EXPECT_TRUE(Allowed("user:t", "box:read", "tenant:a", 199));
  EXPECT_FALSE(Allowed("user:t", "box:read", "tenant:a", 200));
  auto s = engine_->snapshot();
  auto q = s->Resolve(CheckInput{"user:t", "tenant:a", "box:read"});
  ASSERT_TRUE(q);
  EXPECT_THAT(s->Explain(*q, s->Check(*q, 250), 250).summary,
              HasSubstr("binding 1 would, but it expired at 1970-01-01T00:03:20Z"));
  EXPECT_THAT(s->Explain(*q, s->Check(*q, 50), 50).summary,
              HasSubstr("binding 1 would, but it starts at 1970-01-01T00:01:40Z"));
}

TEST_F(SnapshotTest, GroupsGrantTheirMembers) {
  Apply([](Mutation& m) { return m.AddMember("group:ops", "user:g"); });
  Bind(1, "group:ops", "tenant_admin", "tenant:b");
  EXPECT_TRUE(Allowed("user:g", "box:write", "tenant:b"));
  auto s = engine_->snapshot();
  auto d = s->Check(CheckInput{"user:g", "tenant:b", "box:read"}, 0);
  ASSERT_TRUE(d && d->allowed);
  EXPECT_EQ(s->PrincipalName(d->grant.via_group), "group:ops");
  Apply([](Mutation& m) { return m.RemoveMember("group:ops", "user:g"); });
  EXPECT_FALSE(Allowed("user:g", "box:write", "tenant:b"));
}

TEST_F(SnapshotTest, OwnerOnlyKeysNeedOwnershipOrOverride) {
  Bind(1, "user:o", "box.runner", "project:a1");
  auto s = engine_->snapshot();
  auto own = s->Check(CheckInput{.subject = "user:o", .scope = "project:a1", .key = "box:run",
                                 .has_resource = true, .resource_owner = "user:o"}, 0);
  ASSERT_TRUE(own);
  EXPECT_TRUE(own->allowed);
  auto other = s->Check(CheckInput{.subject = "user:o", .scope = "project:a1", .key = "box:run",
                                   .has_resource = true, .resource_owner = "user:someone"}, 0);
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->allowed);
  EXPECT_EQ(other->code, DecisionCode::kNotOwner);
  Bind(2, "user:o", "tenant_admin", "tenant:a");  // holds box:admin, the override
  s = engine_->snapshot();
  auto over = s->Check(CheckInput{.subject = "user:o", .scope = "project:a1", .key = "box:run",
                                  .has_resource = true, .resource_owner = "user:someone"}, 0);
  ASSERT_TRUE(over);
  EXPECT_TRUE(over->allowed);
  EXPECT_TRUE(over->by_override);
}

TEST_F(SnapshotTest, RestrictionIntersectsGrants) {
  Bind(1, "service_account:ci", "tenant_admin", "tenant:a");
  auto s = engine_->snapshot();
  std::vector<std::string> keys = {"box:write"};
  auto r = s->MakeRestriction(keys, "project:a1");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_TRUE(Allowed("service_account:ci", "box:write", "project:a1", 0, &*r));
  EXPECT_TRUE(Allowed("service_account:ci", "box:read", "project:a1", 0, &*r)) << "implied by box:write";
  EXPECT_FALSE(Allowed("service_account:ci", "box:admin", "project:a1", 0, &*r));
  EXPECT_FALSE(Allowed("service_account:ci", "box:write", "project:a2", 0, &*r));
  EXPECT_FALSE(Allowed("service_account:ci", "box:write", "tenant:a", 0, &*r));
  std::vector<std::string> other = {"box:read"};
  auto r2 = s->MakeRestriction(other, "");
  ASSERT_TRUE(r2);
  EXPECT_FALSE(Allowed("user:nobody", "box:read", "tenant:a", 0, &*r2)) << "a restriction never adds";
}

TEST_F(SnapshotTest, CustomRolesWithWildcardsFollowTheRegistry) {
  Apply([](Mutation& m) { return m.PutCustomRole({"cr1", "Box all", "", "tenant:a", {"box:*"}}); });
  Bind(1, "user:c", "cr1", "project:a1");
  EXPECT_TRUE(Allowed("user:c", "box:grant", "project:a1"));
  EXPECT_FALSE(Allowed("user:c", "box:grant", "tenant:a"));
  // The wildcard skips the platform-level key in a tenant role.
  EXPECT_FALSE(engine_->snapshot()->role(*engine_->snapshot()->FindRole("cr1")).keys.Test(
      *engine_->snapshot()->FindKey("box:admin:platform")));
  // A custom role cannot be bound outside the scope it was defined at.
  Status s = TryApply([](Mutation& m) { return m.AddBinding({2, "user:c", "cr1", "tenant:b"}); });
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  // Editing the role changes what every binding of it grants.
  Apply([](Mutation& m) { return m.PutCustomRole({"cr1", "Box read", "", "tenant:a", {"box:read"}}); });
  EXPECT_FALSE(Allowed("user:c", "box:grant", "project:a1"));
  EXPECT_TRUE(Allowed("user:c", "box:read", "project:a1"));
  // A module registered later is picked up by the wildcard... and by catch-alls.
  auto extra = ParseManifest("module: zz\ntitle: Z\nnamespaces: [zz]\npermissions:\n  - key: zz:x\n    description: X.\n", "zz.yaml");
  ASSERT_TRUE(extra);
  Apply([](Mutation& m) { return m.PutCustomRole({"cr2", "All", "", "tenant:a", {"box:*"}}); });
  Bind(3, "user:admin", "tenant_admin", "tenant:a");
  EXPECT_FALSE(engine_->snapshot()->FindKey("zz:x"));
  auto box = ParseManifest(kManifest, "box.yaml");
  auto reg = Registry::Build({*box, *extra}, &engine_->snapshot()->registry());
  ASSERT_TRUE(reg);
  Apply([&](Mutation& m) { return m.SetRegistry(*reg); });
  EXPECT_TRUE(Allowed("user:admin", "zz:x", "tenant:a"));
}

TEST_F(SnapshotTest, CustomRoleRejectsEveryBadEntry) {
  Status s = TryApply([](Mutation& m) {
    return m.PutCustomRole({"cr", "Bad", "", "tenant:a", {"box:nope", "nada:*", "box:admin:platform", "Bad"}});
  });
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  ASSERT_EQ(s.details().size(), 4u) << s.ToString();
  EXPECT_THAT(s.ToString(), HasSubstr("'box:nope'"));
  EXPECT_THAT(s.ToString(), HasSubstr("'nada:*'"));
  EXPECT_THAT(s.ToString(), HasSubstr("'box:admin:platform'"));
}

TEST_F(SnapshotTest, ModuleRolesBindAtTheirScopeKind) {
  Status s = TryApply([](Mutation& m) { return m.AddBinding({1, "user:x", "box.runner", "tenant:a"}); });
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("project"));
  Status t = TryApply([](Mutation& m) { return m.AddBinding({1, "user:x", "tenant_admin", "project:a1"}); });
  EXPECT_EQ(t.code(), StatusCode::kInvalidArgument);
}

TEST_F(SnapshotTest, WhoCanIsCompleteAndPaginated) {
  Apply([](Mutation& m) -> Status {
    SCAIGRID_RETURN_IF_ERROR(m.AddMember("group:g", "user:m1"));
    return m.AddMember("group:g", "service_account:m2");
  });
  Bind(1, "user:a", "tenant_viewer", "tenant:a");
  Bind(2, "group:g", "tenant_viewer", "tenant:a");
  Bind(3, "user:z", "super_admin", "platform");
  Bind(4, "user:b", "tenant_viewer", "tenant:b");
  auto s = engine_->snapshot();
  KeyId read = *s->FindKey("box:read");
  std::vector<std::string> all;
  std::string cursor;
  do {
    WhoCanPage page = s->WhoCan(read, *s->FindScope("project:a1"), 0, cursor, 2);
    EXPECT_LE(page.entries.size(), 2u);
    for (const auto& e : page.entries) all.push_back(s->PrincipalName(e.principal));
    cursor = page.next_cursor;
  } while (!cursor.empty());
  EXPECT_THAT(all, ElementsAre("service_account:m2", "user:a", "user:m1", "user:z"));
}

TEST_F(SnapshotTest, SeparationOfDutiesConflicts) {
  Apply([](Mutation& m) -> Status {
    SCAIGRID_RETURN_IF_ERROR(m.PutCustomRole({"binder", "B", "", "tenant:a", {"box:bind"}}));
    return m.PutCustomRole({"granter", "G", "", "tenant:a", {"box:grant"}});
  });
  Bind(1, "user:s", "binder", "tenant:a");
  auto s = engine_->snapshot();
  EXPECT_TRUE(s->FindConflicts(*s->FindPrincipal("user:s"), 0).empty());
  Apply([](Mutation& m) { return m.AddMember("group:approvers", "user:s"); });
  Bind(2, "group:approvers", "granter", "project:a1");
  s = engine_->snapshot();
  auto c = s->FindConflicts(*s->FindPrincipal("user:s"), 0);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].constraint->name, "split");
  EXPECT_EQ(s->ScopeName(c[0].scope), "project:a1");
  EXPECT_EQ(s->FindConflicts(*s->FindPrincipal("group:approvers"), 0).size(), 1u) << "members are checked";
  Bind(3, "user:boss", "tenant_admin", "tenant:a");
  s = engine_->snapshot();
  EXPECT_TRUE(s->FindConflicts(*s->FindPrincipal("user:boss"), 0).empty()) << "catch-all roles are exempt";
}

TEST_F(SnapshotTest, EscalationCheckListsMissingKeys) {
  Bind(1, "user:v", "tenant_viewer", "tenant:a");
  auto s = engine_->snapshot();
  const auto& admin = s->role(kTenantAdmin).keys;
  KeySet missing = s->MissingKeys(*s->FindPrincipal("user:v"), *s->FindScope("tenant:a"), admin, 0);
  EXPECT_TRUE(missing.Test(*s->FindKey("box:write")));
  EXPECT_FALSE(missing.Test(*s->FindKey("box:read")));
  KeySet viewer = s->role(kTenantViewer).keys;
  EXPECT_TRUE(s->MissingKeys(*s->FindPrincipal("user:v"), *s->FindScope("tenant:a"), viewer, 0).Empty());
}

TEST_F(SnapshotTest, ExplainNamesBindingRoleScopeGroupAndImplication) {
  Apply([](Mutation& m) -> Status {
    SCAIGRID_RETURN_IF_ERROR(m.PutCustomRole({"writer", "W", "", "tenant:a", {"box:write"}}));
    return m.AddMember("group:eng", "user:e");
  });
  Bind(7, "group:eng", "writer", "tenant:a");
  auto s = engine_->snapshot();
  CheckRequest q{*s->FindPrincipal("user:e"), *s->FindScope("project:a2"), *s->FindKey("box:read")};
  Decision d = s->Check(q, 0);
  ASSERT_TRUE(d.allowed);
  Explanation e = s->Explain(q, d, 0);
  ASSERT_TRUE(e.grant);
  EXPECT_EQ(e.grant->binding, 7u);
  EXPECT_EQ(e.grant->role, "writer");
  EXPECT_EQ(e.grant->scope, "tenant:a");
  EXPECT_EQ(e.grant->via_group, "group:eng");
  EXPECT_THAT(e.grant->implied_from, ElementsAre("box:write", "box:read"));
  EXPECT_THAT(e.summary, HasSubstr("box:write implies box:read"));
}

TEST_F(SnapshotTest, OldSnapshotsNeverChangeAndShareStructure) {
  Bind(1, "user:u", "tenant_viewer", "tenant:a");
  auto before = engine_->snapshot();
  Bind(2, "user:u", "tenant_admin", "tenant:b");
  Apply([](Mutation& m) { return m.RemoveBinding("user:u", 1); });
  auto after = engine_->snapshot();
  CheckInput q{"user:u", "tenant:a", "box:read"};
  EXPECT_TRUE(before->Check(q, 0)->allowed);
  EXPECT_FALSE(after->Check(q, 0)->allowed);
  EXPECT_EQ(after->revision(), before->revision() + 2);
  EXPECT_EQ(&before->role(kSuperAdmin), &after->role(kSuperAdmin)) << "untouched roles are shared";
}

TEST_F(SnapshotTest, InUseObjectsCannotBeRemoved) {
  Apply([](Mutation& m) { return m.PutCustomRole({"r", "R", "", "tenant:a", {"box:read"}}); });
  Bind(1, "user:u", "r", "tenant:a");
  EXPECT_EQ(TryApply([](Mutation& m) { return m.RemoveCustomRole("r"); }).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(TryApply([](Mutation& m) { return m.RemoveScope("tenant:a"); }).code(), StatusCode::kFailedPrecondition);
  Apply([](Mutation& m) { return m.RemoveBinding("user:u", 1); });
  Apply([](Mutation& m) { return m.RemoveCustomRole("r"); });
  Apply([](Mutation& m) -> Status {
    SCAIGRID_RETURN_IF_ERROR(m.RemoveScope("project:a1"));
    return m.RemoveScope("project:a2");
  });
  Apply([](Mutation& m) { return m.RemoveScope("tenant:a"); });
  EXPECT_FALSE(engine_->snapshot()->FindScope("tenant:a"));
}

TEST_F(SnapshotTest, FailedChangePublishesNothing) {
  auto before = engine_->snapshot();
  Status s = TryApply([](Mutation& m) -> Status {
    SCAIGRID_RETURN_IF_ERROR(m.AddBinding({1, "user:u", "tenant_viewer", "tenant:a"}));
    return m.AddBinding({2, "user:u", "no_such_role", "tenant:a"});
  });
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(engine_->snapshot(), before);
}

}  // namespace
}  // namespace scaigrid::iam

namespace scaigrid::iam {
namespace {

// A registry rebuilt from `snapshot`'s with `yaml` as the "box" module.
Result<std::shared_ptr<const Registry>> Rebuild(const Snapshot& snapshot, const std::string& yaml) {
  auto m = ParseManifest(yaml, "box.yaml");
  if (!m) return Err(m.error());
  return Registry::Build({*m}, &snapshot.registry());
}

TEST_F(SnapshotTest, FailedSetRegistryChangesNothing) {
  Apply([](Mutation& m) { return m.PutCustomRole({"cr", "Grant", "", "tenant:a", {"box:grant"}}); });
  std::string next = kManifest;
  // Version 2 drops box:grant (used by cr) and adds a module role.
  next.replace(next.find("  - key: box:grant\n    description: Grant.\n"), 42, "");
  next.replace(next.find("    keys: [box:bind, box:grant]"), 31, "    keys: [box:bind, box:read]");
  next.insert(next.find("constraints:"), "  - name: extra\n    scope: tenant\n    permissions: [box:read]\n");
  auto reg = Rebuild(*engine_->snapshot(), next);
  ASSERT_TRUE(reg) << reg.error().ToString();
  Mutation m(*engine_->snapshot());
  Status s = m.SetRegistry(*reg);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.ToString(), HasSubstr("role 'cr'"));
  EXPECT_EQ(m.AddBinding({1, "user:x", "box.extra", "tenant:a"}).code(), StatusCode::kNotFound)
      << "the failed call must not have added the new module role";
  auto after = m.Finish();
  EXPECT_TRUE(after->FindKey("box:grant"));
}

TEST_F(SnapshotTest, BoundModuleRoleCannotChangeScopeKind) {
  Bind(1, "user:r", "box.runner", "project:a1");
  std::string next = kManifest;
  next.replace(next.find("    scope: project"), 18, "    scope: tenant");
  auto reg = Rebuild(*engine_->snapshot(), next);
  ASSERT_TRUE(reg) << reg.error().ToString();
  Status s = TryApply([&](Mutation& m) { return m.SetRegistry(*reg); });
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.ToString(), HasSubstr("would move from project to tenant"));
  Apply([](Mutation& m) { return m.RemoveBinding("user:r", 1); });
  Apply([&](Mutation& m) { return m.SetRegistry(*reg); });
  EXPECT_TRUE(TryApply([](Mutation& m) { return m.AddBinding({2, "user:r", "box.runner", "tenant:a"}); }).ok());
}

TEST_F(SnapshotTest, RegistryMustKeepKeyIds) {
  auto m = ParseManifest(kManifest, "box.yaml");
  ASSERT_TRUE(m);
  auto other = ParseManifest("module: aaa\ntitle: A\npermissions:\n  - key: aaa:x\n    description: X.\n", "a.yaml");
  ASSERT_TRUE(other);
  auto fresh = Registry::Build({*other, *m});  // not built from the current one: ids shift
  ASSERT_TRUE(fresh);
  Status s = TryApply([&](Mutation& mu) { return mu.SetRegistry(*fresh); });
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
}

TEST_F(SnapshotTest, SameBindingIdOnTwoSubjectsRemovesOnlyTheRightOne) {
  Bind(7, "user:a", "tenant_viewer", "tenant:a");
  Bind(7, "user:b", "tenant_viewer", "tenant:a");
  Apply([](Mutation& m) { return m.RemoveBinding("user:b", 7); });
  auto s = engine_->snapshot();
  WhoCanPage page = s->WhoCan(*s->FindKey("box:read"), *s->FindScope("tenant:a"), 0, "", 10);
  ASSERT_EQ(page.entries.size(), 1u);
  EXPECT_EQ(s->PrincipalName(page.entries[0].principal), "user:a");
}

TEST_F(SnapshotTest, RemovedPrincipalComesBackThroughMembership) {
  Apply([](Mutation& m) { return m.AddPrincipal("service_account:s"); });
  Apply([](Mutation& m) { return m.RemovePrincipal("service_account:s"); });
  Apply([](Mutation& m) { return m.AddMember("group:g", "service_account:s"); });
  EXPECT_TRUE(TryApply([](Mutation& m) { return m.RemovePrincipal("service_account:s"); }).ok());
}

}  // namespace
}  // namespace scaigrid::iam
