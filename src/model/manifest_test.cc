// Every kind of bad manifest is rejected with FILE:LINE and the offending value.
#include "scaigrid/iam/manifest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "scaigrid/iam/registry.h"

namespace scaigrid::iam {
namespace {

using ::testing::HasSubstr;

// Parses and compiles `yaml` as file "bad.yaml"; returns every problem, one per line.
std::string Problems(const std::string& yaml, std::vector<std::string> others = {}) {
  std::vector<Manifest> set;
  for (size_t i = 0; i < others.size(); ++i) {
    auto m = ParseManifest(others[i], "other" + std::to_string(i) + ".yaml");
    EXPECT_TRUE(m) << m.error().ToString();
    set.push_back(*m);
  }
  auto m = ParseManifest(yaml, "bad.yaml");
  if (!m) return m.error().ToString();
  set.push_back(*m);
  auto r = Registry::Build(std::move(set));
  return r ? std::string("ok") : r.error().ToString();
}

const char* kGood = R"(module: demo
title: Demo
permissions:
  - key: demo:read
    description: Read.
  - key: demo:write
    description: Write.
  - key: demo:admin:platform
    description: Platform.
    level: platform
implies:
  demo:write: [demo:read]
defaults:
  tenant_viewer: [demo:read]
roles:
  - name: editor
    scope: project
    permissions: [demo:write]
constraints:
  - name: split
    keys: [demo:read, demo:write]
    mode: warn
)";

TEST(ManifestTest, GoodManifestCompiles) {
  EXPECT_EQ(Problems(kGood), "ok");
  auto m = ParseManifest(kGood, "good.yaml");
  ASSERT_TRUE(m);
  auto r = Registry::Build({*m});
  ASSERT_TRUE(r);
  auto read = (*r)->FindKey("demo:read");
  auto write = (*r)->FindKey("demo:write");
  ASSERT_TRUE(read && write);
  EXPECT_TRUE((*r)->Closure(*write).Test(*read));
  EXPECT_FALSE((*r)->Closure(*read).Test(*write));
  EXPECT_TRUE((*r)->tenant_viewer_defaults().Test(*read));
  ASSERT_NE((*r)->FindModuleRole("demo.editor"), nullptr);
  EXPECT_EQ((*r)->FindModuleRole("demo.editor")->keys.Count(), 2u);
}

TEST(ManifestTest, MalformedKeyNamesFileLineAndValue) {
  std::string p = Problems(R"(module: demo
title: Demo
permissions:
  - key: demo:read
    description: Read.
  - key: demo:Bad-Key
    description: Bad.
)");
  EXPECT_THAT(p, HasSubstr("bad.yaml:6:"));
  EXPECT_THAT(p, HasSubstr("'demo:Bad-Key'"));
}

TEST(ManifestTest, DuplicateKeyNamesFileLineAndValue) {
  std::string p = Problems(R"(module: demo
title: Demo
permissions:
  - key: demo:read
    description: Read.
  - key: demo:read
    description: Again.
)");
  EXPECT_THAT(p, HasSubstr("bad.yaml:6: duplicate permission key 'demo:read'"));
}

// Found by fuzz/request_fuzzer: a description with a byte that is not UTF-8 was registered,
// and the change could then not be written as JSON (API, change log, audit log).
TEST(ManifestTest, TextThatIsNotUtf8IsRefused) {
  std::string p = Problems("module: demo\ntitle: Demo\npermissions:\n  - key: demo:read\n"
                           "    description: \"tr\xb5" "e\"\n");
  EXPECT_THAT(p, HasSubstr("bad.yaml:5: not valid UTF-8"));
  for (const char* bad : {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"}) {
    EXPECT_THAT(Problems(std::string("module: demo\ntitle: \"") + bad + "\"\n"), HasSubstr("not valid UTF-8")) << bad;
  }
  // Valid multi-byte text is fine.
  auto m = ParseManifest("module: demo\ntitle: \"D\xc3\xa9mo \xe2\x80\x94 \xf0\x9f\x94\x92\"\npermissions:\n"
                         "  - key: demo:read\n    description: Read.\n",
                         "ok.yaml");
  ASSERT_TRUE(m.has_value()) << m.error().ToString();
  EXPECT_EQ(m->title, "D\xc3\xa9mo \xe2\x80\x94 \xf0\x9f\x94\x92");
}

TEST(ManifestTest, UnknownKeyInDefaults) {
  std::string p = Problems(R"(module: demo
title: Demo
permissions:
  - key: demo:read
    description: Read.
defaults:
  tenant_viewer:
    - demo:read
    - demo:nope
)");
  EXPECT_THAT(p, HasSubstr("bad.yaml:9: unknown key 'demo:nope' in defaults.tenant_viewer"));
}

TEST(ManifestTest, UnknownKeyInRoles) {
  std::string p = Problems(R"(module: demo
title: Demo
permissions:
  - key: demo:read
    description: Read.
roles:
  - name: r
    scope: project
    permissions: [demo:read,
      demo:missing]
)");
  EXPECT_THAT(p, HasSubstr("bad.yaml:10: unknown key 'demo:missing' in role permissions"));
}

TEST(ManifestTest, UnknownKeyInImplies) {
  std::string p = Problems(R"(module: demo
title: Demo
permissions:
  - key: demo:read
    description: Read.
implies:
  demo:read: [demo:ghost]
)");
  EXPECT_THAT(p, HasSubstr("bad.yaml:7: unknown key 'demo:ghost' in implies"));
  std::string q = Problems(R"(module: demo
title: Demo
permissions:
  - key: demo:read
    description: Read.
implies:
  demo:ghost: [demo:read]
)");
  EXPECT_THAT(q, HasSubstr("bad.yaml:7: unknown key 'demo:ghost' in implies"));
}

TEST(ManifestTest, UnknownKeyInConstraints) {
  std::string p = Problems(R"(module: demo
title: Demo
permissions:
  - key: demo:read
    description: Read.
constraints:
  - name: split
    keys: [demo:read, demo:absent]
)");
  EXPECT_THAT(p, HasSubstr("bad.yaml:8: unknown key 'demo:absent' in constraint"));
}

TEST(ManifestTest, CapabilityNeedsAPermissionKeyOfTheModule) {
  const std::string head = R"(module: demo
title: Demo
permissions:
  - key: demo:read
    description: Read.
  - key: demo:mint
    description: Mint.
capabilities:
  - name: view
    resource: doc
    issue: demo:mint
    revoke: demo:mint
    max_ttl: 60
)";
  EXPECT_THAT(Problems(head), HasSubstr("bad.yaml:9: missing required field 'permission'"));
  EXPECT_THAT(Problems(head + "    permission: demo:absent\n"),
              HasSubstr("bad.yaml:14: unknown key 'demo:absent' in capability permission"));
  EXPECT_EQ(Problems(head + "    permission: demo:read\n"), "ok");
}

TEST(ManifestTest, CapabilityCannotCarryAnOwnerOnlyKey) {
  EXPECT_THAT(Problems(R"(module: demo
title: Demo
permissions:
  - key: demo:open
    description: Open your own box.
    owner_only: true
    override: demo:open_any
  - key: demo:open_any
    description: Open any box.
  - key: demo:mint
    description: Mint.
capabilities:
  - name: open
    resource: box
    issue: demo:mint
    revoke: demo:mint
    permission: demo:open
    max_ttl: 60
)"),
              HasSubstr("bad.yaml:17: capability 'open' carries owner-only key 'demo:open'"));
}

TEST(ManifestTest, ImplicationCycleListsTheCycle) {
  std::string p = Problems(R"(module: demo
title: Demo
permissions:
  - key: demo:a
    description: A.
  - key: demo:b
    description: B.
  - key: demo:c
    description: C.
implies:
  demo:a: [demo:b]
  demo:b: [demo:c]
  demo:c: [demo:a]
)");
  EXPECT_THAT(p, HasSubstr("bad.yaml:13: implication cycle: demo:a => demo:b => demo:c => demo:a"));
}

TEST(ManifestTest, PlatformKeyInTenantDefault) {
  std::string p = Problems(R"(module: demo
title: Demo
permissions:
  - key: demo:admin:platform
    description: Platform.
    level: platform
defaults:
  tenant_user: [demo:admin:platform]
)");
  EXPECT_THAT(p, HasSubstr("bad.yaml:8: platform-level key 'demo:admin:platform' cannot be a default"));
}

TEST(ManifestTest, PlatformKeyInProjectRole) {
  std::string p = Problems(R"(module: demo
title: Demo
permissions:
  - key: demo:admin:platform
    description: Platform.
    level: platform
roles:
  - name: r
    scope: project
    permissions: [demo:admin:platform]
)");
  EXPECT_THAT(p, HasSubstr("bad.yaml:10: platform-level key 'demo:admin:platform' in role 'r'"));
}

TEST(ManifestTest, UnknownFieldAndMissingFieldsAreNamed) {
  std::string p = Problems(R"(module: demo
title: Demo
permisions: []
)");
  EXPECT_THAT(p, HasSubstr("bad.yaml:3: unknown field 'permisions' in manifest"));
  EXPECT_THAT(p, HasSubstr("'permissions' must be a non-empty list"));
}

TEST(ManifestTest, OwnerOnlyNeedsOverride) {
  std::string p = Problems(R"(module: demo
title: Demo
permissions:
  - key: demo:run
    description: Run.
    owner_only: true
)");
  EXPECT_THAT(p, HasSubstr("bad.yaml:4: owner_only key 'demo:run' needs an 'override' key"));
}

TEST(ManifestTest, KeyOutsideNamespace) {
  std::string p = Problems(R"(module: demo
title: Demo
permissions:
  - key: other:read
    description: Read.
)");
  EXPECT_THAT(p, HasSubstr("bad.yaml:4: key 'other:read' is outside the module's namespaces"));
}

TEST(ManifestTest, NamespaceClashBetweenModules) {
  std::string p = Problems(R"(module: second
title: Second
namespaces: [demo]
permissions:
  - key: demo:other
    description: Other.
)",
                           {kGood});
  EXPECT_THAT(p, HasSubstr("bad.yaml:5: namespace 'demo' already belongs to module 'demo'"));
}

TEST(ManifestTest, InvalidYamlReportsLine) {
  std::string p = Problems("module: demo\ntitle: [unclosed\n");
  EXPECT_THAT(p, HasSubstr("bad.yaml:"));
  EXPECT_THAT(p, HasSubstr("invalid YAML"));
}

TEST(ManifestTest, ReportsEveryProblemNotJustTheFirst) {
  std::string p = Problems(R"(module: demo
title: Demo
permissions:
  - key: demo:read
    description: Read.
defaults:
  tenant_viewer: [demo:x, demo:y]
)");
  EXPECT_THAT(p, HasSubstr("'demo:x'"));
  EXPECT_THAT(p, HasSubstr("'demo:y'"));
}

TEST(ManifestTest, RebuildKeepsKeyIds) {
  auto m1 = ParseManifest(kGood, "a.yaml");
  ASSERT_TRUE(m1);
  auto r1 = Registry::Build({*m1});
  ASSERT_TRUE(r1);
  auto extra = ParseManifest("module: zeta\ntitle: Z\npermissions:\n  - key: zeta:x\n    description: X.\n", "z.yaml");
  ASSERT_TRUE(extra);
  auto r2 = Registry::Build({*extra, *m1}, r1->get());
  ASSERT_TRUE(r2);
  EXPECT_EQ((*r1)->FindKey("demo:write"), (*r2)->FindKey("demo:write"));
  EXPECT_EQ(*(*r2)->FindKey("zeta:x"), (*r1)->key_count());
}

}  // namespace
}  // namespace scaigrid::iam

namespace scaigrid::iam {
namespace {

TEST(ManifestTest, PlatformOverrideIsRejected) {
  std::string p = Problems(R"(module: demo
title: Demo
permissions:
  - key: demo:run
    description: Run.
    owner_only: true
    override: demo:admin:platform
  - key: demo:admin:platform
    description: P.
    level: platform
)");
  EXPECT_THAT(p, HasSubstr("bad.yaml:7: override 'demo:admin:platform' is platform-level"));
}

TEST(ManifestTest, ModulesOnlyDeclareWhatTheirOwnKeysImply) {
  std::string p = Problems(R"(module: second
title: Second
permissions:
  - key: second:x
    description: X.
implies:
  demo:read: [second:x]
)",
                           {kGood});
  EXPECT_THAT(p, HasSubstr("bad.yaml:7: implies of 'demo:read': a module may only declare what its own keys imply"));
}

TEST(ManifestTest, SelfImplicationIsACycle) {
  std::string p = Problems(R"(module: demo
title: Demo
permissions:
  - key: demo:a
    description: A.
implies:
  demo:a: [demo:a]
)");
  EXPECT_THAT(p, HasSubstr("bad.yaml:7: implication cycle: demo:a => demo:a"));
}

}  // namespace
}  // namespace scaigrid::iam
