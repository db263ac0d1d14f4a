// Policy files: a good document builds the expected snapshot; every bad one is rejected
// with FILE:LINE naming the value (all shape problems at once, then the first engine error).
#include "policy/policy_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "scaigrid/iam/manifest.h"
#include "scaigrid/iam/registry.h"
#include "scaigrid/iam/snapshot.h"
#include "scaigrid/iam/time_format.h"

namespace scaigrid::iam {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kManifest[] = R"(module: echo
title: Echo
permissions:
  - key: echo:transcribe
    description: Transcribe.
  - key: echo:diarize
    description: Diarize.
  - key: echo:admin
    description: Admin.
  - key: echo:admin:platform
    description: Platform.
    level: platform
implies:
  echo:diarize: [echo:transcribe]
defaults:
  tenant_viewer: [echo:transcribe]
roles:
  - name: operator
    scope: project
    permissions: [echo:admin]
)";

constexpr char kGood[] = R"(# A good policy.
scopes:
  - {id: "partner:p1"}
  - {id: "tenant:acme", parent: "partner:p1"}
  - {id: "tenant:solo"}
  - {id: "project:web", parent: "tenant:acme"}
groups:
  "group:eng": ["user:alice", "service_account:ci"]
  "group:empty": []
custom_roles:
  - id: transcribers
    name: Transcription users
    scope: "tenant:acme"
    description: Speech to text.
    permissions: [echo:diarize]
bindings:
  - {subject: "group:eng", role: transcribers, scope: "tenant:acme"}
  - {id: 7, subject: "user:bob", role: tenant_admin, scope: "tenant:acme",
     not_before: 2026-01-01, expires_at: "2027-01-01T00:00:00Z"}
  - {subject: "user:carol", role: echo.operator, scope: "project:web"}
  - subject: "user:vera"
    role: tenant_viewer
    scope: "tenant:solo"
)";

class PolicyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = ParseManifest(kManifest, "echo.yaml");
    ASSERT_TRUE(m) << m.error().ToString();
    auto reg = Registry::Build({*m});
    ASSERT_TRUE(reg) << reg.error().ToString();
    empty_ = Snapshot::Empty(*reg);
  }

  // Applies `yaml` as "p.yaml" to a fresh mutation; keeps the snapshot when it applied.
  Status Load(std::string_view yaml) {
    Mutation m(*empty_);
    Status s = ApplyPolicyDocument(yaml, "p.yaml", m);
    if (s.ok()) snapshot_ = m.Finish();
    return s;
  }

  bool Allowed(std::string_view subject, std::string_view key, std::string_view scope, Time now) {
    auto d = snapshot_->Check(CheckInput{subject, scope, key}, now);
    EXPECT_TRUE(d) << d.error().ToString();
    return d && d->allowed;
  }

  std::shared_ptr<const Snapshot> empty_;
  std::shared_ptr<const Snapshot> snapshot_;
};

constexpr Time kMid2026 = 1782864000;  // 2026-07-01

TEST_F(PolicyFileTest, GoodDocumentBuildsTheSnapshot) {
  Status s = Load(kGood);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const Snapshot& snap = *snapshot_;
  ASSERT_TRUE(snap.FindScope("project:web"));
  EXPECT_EQ(snap.ScopeName(snap.ScopeParent(*snap.FindScope("tenant:acme"))), "partner:p1");
  EXPECT_EQ(snap.ScopeName(snap.ScopeParent(*snap.FindScope("tenant:solo"))), "platform");
  EXPECT_TRUE(snap.FindPrincipal("group:empty"));

  // Through the group and the custom role, with the implication, down to the project.
  EXPECT_TRUE(Allowed("user:alice", "echo:transcribe", "project:web", kMid2026));
  EXPECT_TRUE(Allowed("service_account:ci", "echo:diarize", "tenant:acme", kMid2026));
  EXPECT_FALSE(Allowed("user:alice", "echo:admin", "tenant:acme", kMid2026));
  // Default binding ids are positions: the group's binding is 1, carol's 3.
  auto alice = *snap.FindPrincipal("user:alice");
  auto perms = snap.EffectivePermissions(alice, *snap.FindScope("tenant:acme"), kMid2026);
  ASSERT_EQ(perms.size(), 2u);
  EXPECT_EQ(perms[0].reasons[0].binding, 1u);
  EXPECT_EQ(snap.PrincipalName(perms[0].reasons[0].via_group), "group:eng");
  auto carol = snap.BindingsOf(*snap.FindPrincipal("user:carol"));
  ASSERT_EQ(carol.size(), 1u);
  EXPECT_EQ(carol[0].id, 3u);

  // Explicit id and time bounds.
  auto bob = snap.BindingsOf(*snap.FindPrincipal("user:bob"));
  ASSERT_EQ(bob.size(), 1u);
  EXPECT_EQ(bob[0].id, 7u);
  EXPECT_EQ(FormatTime(bob[0].not_before), "2026-01-01T00:00:00Z");
  EXPECT_EQ(FormatTime(bob[0].expires_at), "2027-01-01T00:00:00Z");
  EXPECT_FALSE(Allowed("user:bob", "echo:admin", "tenant:acme", kMid2026 - 365 * 86400));
  EXPECT_TRUE(Allowed("user:bob", "echo:admin", "tenant:acme", kMid2026));
  EXPECT_FALSE(Allowed("user:bob", "echo:admin", "tenant:acme", kMid2026 + 365 * 86400));

  EXPECT_TRUE(Allowed("user:carol", "echo:admin", "project:web", kMid2026));
  EXPECT_TRUE(Allowed("user:vera", "echo:transcribe", "tenant:solo", kMid2026));
  EXPECT_FALSE(Allowed("user:vera", "echo:transcribe", "tenant:acme", kMid2026));
}

TEST_F(PolicyFileTest, EmptyDocumentsAreEmptyPolicies) {
  EXPECT_TRUE(Load("").ok());
  EXPECT_TRUE(Load("# nothing\n").ok());
  EXPECT_TRUE(Load("scopes: []\ngroups: {}\ncustom_roles:\nbindings: []\n").ok());
}

TEST_F(PolicyFileTest, ReportsEveryShapeProblemWithItsLine) {
  Status s = Load(R"(scopes:
  - {id: "tenant:acme", parnet: "platform"}
  - {id: "tenant:"}
  - {id: platform}
  - {id: "tenant:acme"}
groups:
  "group:eng": ["alice", "group:ops"]
  "user:x": []
custom_roles:
  - {id: r1, name: R, scope: "tenant:acme", permissions: [echo:Bad]}
  - {id: r2, scope: "tenant:acme", permissions: []}
bindings:
  - {subject: "user:a", role: tenant_admin, scope: "tenant:acme", expires_at: 2026-02-30}
  - {id: 1, subject: "user:b", role: tenant_admin, scope: "tenant:acme"}
  - {id: x, subject: "user:c", role: tenant_admin, scope: "tenant:acme"}
  - {subject: "user:d", role: tenant_admin}
  - {subject: "user:e", role: tenant_admin, scope: "tenant:acme",
     not_before: 2027-01-01, expires_at: 2026-01-01}
extra: 1
)");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "invalid policy file p.yaml: 16 problem(s)");
  EXPECT_THAT(
      s.details(),
      ElementsAre("p.yaml:19: unknown field 'extra' in policy file (expected scopes, groups, "
                  "custom_roles, bindings)",
                  "p.yaml:2: unknown field 'parnet' in scope (expected id, parent)",
                  HasSubstr("p.yaml:3: invalid scope 'tenant:': expected platform"),
                  "p.yaml:4: the scope 'platform' always exists and cannot be listed",
                  "p.yaml:5: duplicate scope 'tenant:acme' (first listed on line 2)",
                  HasSubstr("p.yaml:7: invalid principal 'alice': expected user:<sub>"),
                  "p.yaml:7: groups cannot contain groups: 'group:ops'",
                  "p.yaml:8: 'user:x' is not a group: expected group:<id>",
                  HasSubstr("p.yaml:10: malformed permission key 'echo:Bad'"),
                  "p.yaml:11: missing required field 'name' in custom role",
                  "p.yaml:11: 'permissions' must be a non-empty list of permission keys or "
                  "wildcards",
                  HasSubstr("p.yaml:13: expires_at: invalid time '2026-02-30': day 30 is out "
                            "of range for 2026-02"),
                  "p.yaml:14: duplicate binding id 1 (already used on line 13)",
                  "p.yaml:15: binding id 'x' must be a positive integer",
                  "p.yaml:16: missing required field 'scope' in binding",
                  "p.yaml:18: expires_at '2026-01-01' must be after not_before '2027-01-01'"));
}

TEST_F(PolicyFileTest, ReportsBadShapesOfSections) {
  Status s = Load("scopes: {id: x}\ngroups: [a]\ncustom_roles: 3\nbindings:\n  - just text\n");
  EXPECT_THAT(s.details(), ElementsAre("p.yaml:1: 'scopes' must be a list",
                                       HasSubstr("p.yaml:2: 'groups' must map each group"),
                                       "p.yaml:3: 'custom_roles' must be a list",
                                       HasSubstr("p.yaml:5: each binding must be a map")));
  Status dup = Load(
      "bindings:\n  - subject: user:a\n    subject: user:b\n    role: r\n    scope: platform\n");
  EXPECT_THAT(dup.details(), ElementsAre("p.yaml:3: duplicate field 'subject' in binding"));
  Status top = Load("- a\n- b\n");
  EXPECT_THAT(top.details(), ElementsAre(HasSubstr("p.yaml:1: a policy file must be a YAML map")));
}

TEST_F(PolicyFileTest, ReportsInvalidYamlWithItsLine) {
  Status s = Load("scopes:\n  - {id: \"tenant:a\"\nbindings: []\n");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  ASSERT_EQ(s.details().size(), 1u);
  EXPECT_THAT(s.details()[0], HasSubstr("invalid YAML"));
  EXPECT_THAT(s.details()[0], testing::StartsWith("p.yaml:3: "));
}

TEST_F(PolicyFileTest, EngineErrorsCarryTheLineOfTheValue) {
  Status parent = Load(R"(scopes:
  - {id: "tenant:acme"}
  - id: "project:web"
    parent: "tenant:nope"
)");
  EXPECT_EQ(parent.code(), StatusCode::kNotFound);
  EXPECT_EQ(parent.message(), "p.yaml:4: no scope 'tenant:nope'");

  Status kind = Load("scopes:\n  - {id: \"project:web\"}\n");
  EXPECT_EQ(kind.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(kind.message(), HasSubstr("p.yaml:2: a project cannot be placed under"));

  Status perms = Load(R"(scopes:
  - {id: "tenant:acme"}
custom_roles:
  - id: r
    name: R
    scope: "tenant:acme"
    permissions:
      - echo:transcribe
      - echo:nope
      - "echo:zzz:*"
      - echo:admin:platform
)");
  EXPECT_EQ(perms.code(), StatusCode::kInvalidArgument);
  // The count in the engine's message is not asserted: Registry::ResolvePatterns moves the
  // problem list before counting it (reported; src/model is not ours to change).
  EXPECT_THAT(perms.message(), testing::StartsWith("p.yaml:4: invalid permissions: "));
  EXPECT_THAT(perms.details(),
              ElementsAre("p.yaml:9: unknown permission key 'echo:nope'",
                          "p.yaml:10: wildcard 'echo:zzz:*' matches no registered key",
                          HasSubstr("p.yaml:11: platform-level key 'echo:admin:platform'")));
}

TEST_F(PolicyFileTest, StopsAtTheFirstEngineError) {
  Status s = Load(R"(scopes:
  - {id: "tenant:acme"}
  - {id: "project:web", parent: "tenant:acme"}
custom_roles:
  - {id: r, name: R, scope: "tenant:acme", permissions: [echo:transcribe]}
bindings:
  - {subject: "user:a", role: tenant_viewer, scope: "tenant:acme"}
  - subject: "user:b"
    role: no_such_role
    scope: "tenant:acme"
  - {subject: "user:c", role: tenant_admin, scope: "project:web"}
)");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "p.yaml:9: no role 'no_such_role'");
  EXPECT_THAT(s.details(), IsEmpty());

  Status wrong_kind = Load(R"(scopes:
  - {id: "tenant:acme"}
  - {id: "project:web", parent: "tenant:acme"}
bindings:
  - {subject: "user:c", role: tenant_admin, scope: "project:web"}
)");
  EXPECT_EQ(wrong_kind.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong_kind.message(),
              HasSubstr("p.yaml:5: role 'tenant_admin' is bound at a tenant scope"));

  Status outside = Load(R"(scopes:
  - {id: "tenant:acme"}
  - {id: "tenant:other"}
custom_roles:
  - {id: r, name: R, scope: "tenant:acme", permissions: [echo:transcribe]}
bindings:
  - subject: "user:c"
    role: r
    scope: "tenant:other"
)");
  EXPECT_EQ(outside.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(outside.message(),
              HasSubstr("p.yaml:8: custom role 'r' is defined at 'tenant:acme'"));
}

TEST_F(PolicyFileTest, MissingFileIsNotFound) {
  Mutation m(*empty_);
  Status s = LoadPolicyFile("/nonexistent/policy.yaml", m);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "cannot read policy file '/nonexistent/policy.yaml'");
}

}  // namespace
}  // namespace scaigrid::iam
