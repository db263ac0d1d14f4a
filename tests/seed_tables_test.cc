// The requirement documents' tables (shared seeds 000-004), checked through the public
// engine API against the shipped manifests in manifests/. The expected sets below are
// copied from the seeds, not from the manifests, so a manifest that drifts fails here.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "scaigrid/iam/engine.h"
#include "scaigrid/iam/mutation.h"

namespace scaigrid::iam {
namespace {

using Keys = std::set<std::string>;

const Keys kScaiEcho = {"scaiecho:transcribe", "scaiecho:diarize", "scaiecho:enroll", "scaiecho:admin"};
const Keys kScaiBot = {"scaibot:bots:read",          "scaibot:bots:create",
                       "scaibot:bots:update",        "scaibot:bots:delete",
                       "scaibot:knowledge:manage",   "scaibot:conversations:read",
                       "scaibot:conversations:manage", "scaibot:escalations:manage",
                       "scaibot:embed:issue",        "scaibot:embed:revoke",
                       // not a seed key: the action an embed token carries (docs/decisions.md)
                       "scaibot:chat"};
const Keys kScaiSkills = {"scaiskills:view", "scaiskills:publish", "scaiskills:bind",
                          "scaiskills:grant", "scaiskills:manage"};
// Seed 003's sixteen keys plus scaibunker:read, the listing scope the seed gives
// tenant_viewer (docs/decisions.md).
const Keys kScaiBunker = {"scaibunker:create",
                          "scaibunker:create:session",
                          "scaibunker:create:persistent",
                          "scaibunker:execute",
                          "scaibunker:shell",
                          "scaibunker:files",
                          "scaibunker:root",
                          "scaibunker:network:registry",
                          "scaibunker:network:allowlisted",
                          "scaibunker:network:unrestricted",
                          "scaibunker:network:transit",
                          "scaibunker:l2_transparency",
                          "scaibunker:images:manage",
                          "scaibunker:admin",
                          "scaibunker:admin:tenant",
                          "scaibunker:admin:platform",
                          "scaibunker:read"};

Keys Without(Keys k, const std::string& drop) {
  k.erase(drop);
  return k;
}

struct ModuleTable {
  std::string module;
  Keys keys;
  Keys tenant_admin;
  Keys tenant_viewer;
};

const std::vector<ModuleTable>& Tables() {
  static const std::vector<ModuleTable> tables = {
      {"scaiecho", kScaiEcho, kScaiEcho, {"scaiecho:transcribe"}},
      {"scaibot", kScaiBot, kScaiBot, {"scaibot:bots:read", "scaibot:conversations:read"}},
      {"scaiskills", kScaiSkills, kScaiSkills, {"scaiskills:view"}},
      {"scaibunker", kScaiBunker, Without(kScaiBunker, "scaibunker:admin:platform"), {"scaibunker:read"}},
  };
  return tables;
}

class SeedTablesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto manifests = LoadManifestDir(std::string(SCAIGRID_SOURCE_DIR) + "/manifests");
    ASSERT_TRUE(manifests) << manifests.error().ToString();
    auto registry = Registry::Build(std::move(*manifests));
    ASSERT_TRUE(registry) << registry.error().ToString();
    Mutation m(*Snapshot::Empty(*registry));
    auto ok = [](Status s) { ASSERT_TRUE(s.ok()) << s.ToString(); };
    ok(m.AddScope("partner:p1", "platform"));
    ok(m.AddScope("partner:p2", "platform"));
    ok(m.AddScope("tenant:t1", "partner:p1"));
    ok(m.AddScope("tenant:t2", "partner:p1"));
    ok(m.AddScope("tenant:other", "partner:p2"));
    ok(m.AddScope("tenant:solo", "platform"));
    ok(m.AddScope("project:a", "tenant:t1"));
    ok(m.AddScope("project:b", "tenant:t1"));
    BindingId id = 1;
    ok(m.AddBinding({id++, "user:super", "super_admin", "platform"}));
    ok(m.AddBinding({id++, "user:partner", "partner_admin", "partner:p1"}));
    ok(m.AddBinding({id++, "user:admin", "tenant_admin", "tenant:t1"}));
    ok(m.AddBinding({id++, "user:user", "tenant_user", "tenant:t1"}));
    ok(m.AddBinding({id++, "user:viewer", "tenant_viewer", "tenant:t1"}));
    ok(m.AddBinding({id++, "user:owner", "tiers.owner", "project:a"}));
    ok(m.AddBinding({id++, "user:padmin", "tiers.admin", "project:a"}));
    ok(m.AddBinding({id++, "user:member", "tiers.member", "project:a"}));
    ok(m.AddBinding({id++, "user:mixed", "tiers.admin", "project:a"}));
    ok(m.AddBinding({id++, "user:mixed", "tiers.member", "project:b"}));
    snapshot_ = m.Finish();
  }
  static void TearDownTestSuite() { snapshot_.reset(); }

  // The keys of `module` that `subject` holds at `scope` (namespace prefix match).
  static Keys Holds(const std::string& subject, const std::string& scope, std::set<std::string> namespaces) {
    const Snapshot& s = *snapshot_;
    Keys out;
    auto p = s.FindPrincipal(subject);
    auto sc = s.FindScope(scope);
    EXPECT_TRUE(p && sc) << subject << " " << scope;
    if (!p || !sc) return out;
    for (const auto& e : s.EffectivePermissions(*p, *sc, 0)) {
      const std::string& key = s.registry().key(e.key).key;
      if (namespaces.contains(std::string(KeyNamespace(key)))) out.insert(key);
    }
    // The hot path must agree with the effective set for every key of these namespaces.
    for (KeyId k = 0; k < s.registry().key_count(); ++k) {
      const std::string& key = s.registry().key(k).key;
      if (!namespaces.contains(std::string(KeyNamespace(key)))) continue;
      bool allowed = s.Check(CheckRequest{*p, *sc, k}, 0).allowed;
      EXPECT_EQ(allowed, out.contains(key)) << subject << " " << key << " at " << scope;
    }
    return out;
  }

  static std::shared_ptr<const Snapshot> snapshot_;
};
std::shared_ptr<const Snapshot> SeedTablesTest::snapshot_;

TEST_F(SeedTablesTest, EveryModuleHasExactlyTheSeedKeys) {
  for (const auto& t : Tables()) {
    Keys registered;
    const Registry& reg = snapshot_->registry();
    for (KeyId k = 0; k < reg.key_count(); ++k)
      if (reg.key(k).module == t.module) registered.insert(reg.key(k).key);
    EXPECT_EQ(registered, t.keys) << t.module;
  }
}

TEST_F(SeedTablesTest, SuperAdminHoldsEverythingEverywhere) {
  for (const auto& t : Tables()) {
    EXPECT_EQ(Holds("user:super", "platform", {t.module}), t.keys) << t.module;
    EXPECT_EQ(Holds("user:super", "tenant:other", {t.module}), t.tenant_admin)
        << t.module << ": below the platform only platform-level keys are out";
  }
}

TEST_F(SeedTablesTest, PartnerAdminCoversItsTenantsOnly) {
  for (const auto& t : Tables()) {
    EXPECT_EQ(Holds("user:partner", "tenant:t1", {t.module}), t.tenant_admin) << t.module;
    EXPECT_EQ(Holds("user:partner", "tenant:t2", {t.module}), t.tenant_admin) << t.module;
    EXPECT_EQ(Holds("user:partner", "project:b", {t.module}), t.tenant_admin) << t.module;
    EXPECT_EQ(Holds("user:partner", "tenant:other", {t.module}), Keys{}) << t.module;
    EXPECT_EQ(Holds("user:partner", "tenant:solo", {t.module}), Keys{}) << t.module;
  }
}

TEST_F(SeedTablesTest, TenantAdminHoldsAllButPlatformKeys) {
  for (const auto& t : Tables()) {
    EXPECT_EQ(Holds("user:admin", "tenant:t1", {t.module}), t.tenant_admin) << t.module;
    EXPECT_EQ(Holds("user:admin", "tenant:t2", {t.module}), Keys{}) << t.module;
  }
  EXPECT_FALSE(Holds("user:admin", "tenant:t1", {"scaibunker"}).contains("scaibunker:admin:platform"));
}

TEST_F(SeedTablesTest, TenantUserHoldsNothing) {
  for (const auto& t : Tables()) EXPECT_EQ(Holds("user:user", "tenant:t1", {t.module}), Keys{}) << t.module;
}

TEST_F(SeedTablesTest, TenantViewerHoldsExactlyTheListedKeys) {
  for (const auto& t : Tables()) {
    EXPECT_EQ(Holds("user:viewer", "tenant:t1", {t.module}), t.tenant_viewer) << t.module;
    EXPECT_EQ(Holds("user:viewer", "project:a", {t.module}), t.tenant_viewer) << t.module;
  }
  EXPECT_FALSE(Holds("user:viewer", "tenant:t1", {"scaibunker"}).contains("scaibunker:create"))
      << "listing scope without create";
}

TEST_F(SeedTablesTest, SeedFlagsAreDeclared) {
  const Registry& reg = snapshot_->registry();
  EXPECT_TRUE(reg.key(*reg.FindKey("scaibunker:admin:platform")).platform_level);
  EXPECT_TRUE(reg.key(*reg.FindKey("scaibunker:l2_transparency")).audit_always);
  EXPECT_TRUE(reg.key(*reg.FindKey("scaiecho:enroll")).sensitive);
  const KeyInfo& execute = reg.key(*reg.FindKey("scaibunker:execute"));
  EXPECT_TRUE(execute.owner_only);
  EXPECT_EQ(reg.key(execute.override_key).key, "scaibunker:admin");
  ASSERT_EQ(reg.constraints().size(), 1u);
  EXPECT_EQ(reg.key(reg.constraints()[0].first).key, "scaiskills:bind");
  EXPECT_EQ(reg.key(reg.constraints()[0].second).key, "scaiskills:grant");
  const Manifest* bot = reg.FindModule("scaibot");
  ASSERT_NE(bot, nullptr);
  ASSERT_EQ(bot->capabilities.size(), 1u);
  EXPECT_EQ(bot->capabilities[0].name.value, "chat");
  EXPECT_EQ(bot->capabilities[0].resource, "bot");
  EXPECT_EQ(bot->capabilities[0].issue_key.value, "scaibot:embed:issue");
  EXPECT_EQ(bot->capabilities[0].revoke_key.value, "scaibot:embed:revoke");
}

// ---- Seed 004: account and project tiers.

const std::set<std::string> kTierNamespaces = {"project", "keys", "members", "admins", "owners", "usage", "billing"};

std::vector<std::string> Seven(const std::string& who) {
  return {who + ":read", who + ":read:invites", who + ":read:scopes", who + ":write",
          who + ":write:invites", who + ":write:scopes", who + ":write:kick"};
}

Keys OwnerKeys() {
  Keys k = {"project:read", "project:write", "project:write:settings", "project:write:destroy",
            "keys:read", "keys:write", "usage:read", "usage:write", "billing:read", "billing:write"};
  for (const char* who : {"members", "admins", "owners"})
    for (const auto& key : Seven(who)) k.insert(key);
  return k;
}

Keys AdminKeys() {
  Keys k = {"project:read", "project:write", "keys:read", "keys:write", "owners:read",
            "owners:read:invites", "owners:read:scopes", "usage:read", "usage:write", "billing:read"};
  for (const char* who : {"members", "admins"})
    for (const auto& key : Seven(who)) k.insert(key);
  return k;
}

const Keys kMemberKeys = {"project:read", "project:write", "keys:read", "keys:write", "usage:read", "usage:write"};

TEST_F(SeedTablesTest, ProjectRolesHoldExactlyTheSeedSets) {
  Keys owner = Holds("user:owner", "project:a", kTierNamespaces);
  Keys admin = Holds("user:padmin", "project:a", kTierNamespaces);
  Keys member = Holds("user:member", "project:a", kTierNamespaces);
  EXPECT_EQ(owner.size(), 31u);
  EXPECT_EQ(admin.size(), 24u);
  EXPECT_EQ(member.size(), 6u);
  EXPECT_EQ(owner, OwnerKeys());
  EXPECT_EQ(admin, AdminKeys());
  EXPECT_EQ(member, kMemberKeys);
  EXPECT_EQ(Holds("user:owner", "project:b", kTierNamespaces), Keys{}) << "project roles stay in their project";
  EXPECT_EQ(Holds("user:owner", "tenant:t1", kTierNamespaces), Keys{});
}

TEST_F(SeedTablesTest, AdminOnOneProjectMemberOnAnotherKicksOnTheFirstOnly) {
  const Snapshot& s = *snapshot_;
  auto kick = [&](const char* project) {
    auto d = s.Check(CheckInput{"user:mixed", project, "members:write:kick"}, 0);
    EXPECT_TRUE(d) << d.error().ToString();
    return d && d->allowed;
  };
  EXPECT_TRUE(kick("project:a"));
  EXPECT_FALSE(kick("project:b"));
}

TEST_F(SeedTablesTest, AccountImplications) {
  const Registry& reg = snapshot_->registry();
  auto closure = [&](const char* key) {
    Keys out;
    reg.Closure(*reg.FindKey(key)).ForEach([&](KeyId k) { out.insert(reg.key(k).key); });
    return out;
  };
  EXPECT_EQ(closure("project:write"), (Keys{"project:write", "project:read"}));
  Keys account;
  for (KeyId k = 0; k < reg.key_count(); ++k)
    if (KeyNamespace(reg.key(k).key) == "account") account.insert(reg.key(k).key);
  EXPECT_GE(account.size(), 2u);
  EXPECT_EQ(closure("account:write"), account) << "account:write implies every other account key";
}

}  // namespace
}  // namespace scaigrid::iam
