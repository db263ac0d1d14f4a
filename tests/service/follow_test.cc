// Several nodes on one store: a node that follows the change log (IamService::CatchUp) ends
// at the same state as a node that loads the store afresh, and a node that commits on a stale
// state has its change built again on the caught-up one (revision_conflict).
//
// The nodes here are IamService instances in one process sharing one SQLite file: the follow
// logic does not depend on the database (PostgreSQL only adds NOTIFY wake-ups).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "service/service.h"
#include "store/sqlite/sqlite_store.h"

namespace scaigrid::iam::service {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

class FollowTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("scaigrid-follow-" + std::to_string(::getpid()) + "-" +
            testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    a_ = OpenNode();
    admin_key_ = std::string((*a_->Bootstrap("user:root"))["key"].as_string());
    b_ = OpenNode();
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A node without its follower thread (the tests call CatchUp), unless `follow` is given.
  std::unique_ptr<IamService> OpenNode(std::chrono::milliseconds follow = std::chrono::milliseconds(0)) {
    auto store = store::SqliteStore::Open((dir_ / "iam.db").string());
    EXPECT_TRUE(store.has_value()) << store.error().message();
    ServiceOptions options{SCAIGRID_SOURCE_DIR "/manifests"};
    options.follow_interval = follow;
    auto node = IamService::Open(std::move(*store), std::move(options), clock_);
    EXPECT_TRUE(node.has_value()) << node.error().message();
    return std::move(*node);
  }

  Caller Admin(IamService& node) {
    auto c = node.Authenticate(admin_key_);
    EXPECT_TRUE(c.has_value()) << c.error().message();
    return *c;
  }

  static json::object Must(Result<json::object> r, std::string_view what) {
    EXPECT_TRUE(r.has_value()) << what << ": " << r.error().message();
    return r ? *r : json::object{};
  }

  // Everything a node answers about the state, through its API: scopes, bindings, roles,
  // every subject's effective keys at every scope, API keys, tokens, signing keys, modules.
  std::string Digest(IamService& node) {
    const Caller admin = Admin(node);
    std::map<std::string, std::string> out;
    out["revision"] = std::to_string(node.revision());
    out["modules"] = json::serialize(Must(node.ListModules(admin), "modules")["items"]);
    out["keys"] = json::serialize(node.CapabilityKeys());
    std::vector<std::string> scopes{"platform"};
    for (auto [kind, name] : {std::pair{ScopeKind::kPartner, "partner:"}, std::pair{ScopeKind::kTenant, "tenant:"},
                              std::pair{ScopeKind::kProject, "project:"}}) {
      const json::object listed = Must(node.ListScopes(admin, kind), "scopes");
      for (const auto& item : listed.at("items").as_array()) scopes.push_back(name + std::string(item.at("id").as_string()));
    }
    std::set<std::string> subjects{"user:root"};
    for (const std::string& scope : scopes) {
      json::object bindings = Must(node.ListBindings(admin, scope, ""), "bindings");
      for (const auto& b : bindings["items"].as_array()) subjects.insert(std::string(b.at("subject").as_string()));
      out["bindings " + scope] = json::serialize(bindings["items"]);
      out["roles " + scope] = json::serialize(Must(node.ListRoles(admin, scope), "roles")["items"]);
      out["tokens " + scope] = json::serialize(Must(node.ListCapabilityTokens(admin, scope, "", "", "1000"), "tokens")["items"]);
    }
    for (const std::string& subject : subjects) {
      out["api keys " + subject] = json::serialize(Must(node.ListApiKeys(admin, subject), "api keys")["items"]);
      for (const std::string& scope : scopes) {
        out["perms " + subject + " " + scope] =
            json::serialize(Must(node.PrincipalPermissions(admin, subject, scope), "perms")["permissions"]);
      }
    }
    std::string text;
    for (const auto& [k, v] : out) text += k + " = " + v + "\n";
    return text;
  }

  SystemClock clock_;
  std::filesystem::path dir_;
  std::unique_ptr<IamService> a_, b_;
  std::string admin_key_;
};

TEST_F(FollowTest, AFollowerEndsAtTheStateOfAFreshLoad) {
  ASSERT_EQ(b_->revision(), a_->revision());
  const Caller root = Admin(*a_);
  auto body = [](std::string_view text) { return json::parse(text); };
  Must(a_->CreateScope(root, ScopeKind::kPartner, body(R"({"id":"resellers"})")), "partner");
  Must(a_->CreateScope(root, ScopeKind::kTenant, body(R"({"id":"acme","partner":"resellers"})")), "tenant");
  Must(a_->CreateScope(root, ScopeKind::kProject, body(R"({"id":"web","tenant":"acme"})")), "project");
  Must(a_->CreateScope(root, ScopeKind::kTenant, body(R"({"id":"doomed"})")), "tenant");
  const std::string role = std::string(Must(a_->CreateCustomRole(root, body(R"({"name":"Embedders","scope":"tenant:acme",
      "module_permissions":["scaibot:embed:issue","scaibot:chat","scaibot:embed:revoke"]})")), "role")["id"].as_string());
  Must(a_->PatchCustomRole(root, role, body(R"({"description":"edited"})"), ""), "patch");
  Must(a_->CreateGroup(root, body(R"({"id":"eng","tenant":"acme"})")), "group");
  Must(a_->AddMember(root, "eng", "user:alice"), "member");
  Must(a_->AddMember(root, "eng", "user:bob"), "member");
  Must(a_->RemoveMember(root, "eng", "user:bob"), "member");
  json::object bind{{"subject", "group:eng"}, {"role", role}, {"scope", "tenant:acme"}};
  Must(a_->CreateBinding(root, bind), "binding");
  json::object viewer{{"subject", "user:carol"}, {"role", "tenant_viewer"}, {"scope", "tenant:acme"}};
  const std::string gone = std::string(Must(a_->CreateBinding(root, viewer), "binding")["id"].as_string());
  Must(a_->DeleteBinding(root, gone), "unbind");
  Must(a_->CreateServiceAccount(root, body(R"({"id":"ci","tenant":"acme"})")), "service account");
  json::object sa_bind{{"subject", "service_account:ci"}, {"role", "tenant_user"}, {"scope", "tenant:acme"}};
  Must(a_->CreateBinding(root, sa_bind), "binding");
  Must(a_->CreateApiKey(root, body(R"({"owner":"service_account:ci","name":"ci"})")), "sa key");
  Must(a_->DeleteOwned(root, PrincipalKind::kServiceAccount, "ci"), "delete service account");
  const std::string alice_key = std::string(
      Must(a_->CreateApiKey(root, body(R"({"owner":"user:alice","name":"w","scope":"tenant:acme"})")), "key")["key"].as_string());
  const std::string revoked_key_id = std::string(
      Must(a_->CreateApiKey(root, body(R"({"owner":"user:alice","name":"old"})")), "key")["id"].as_string());
  Must(a_->RevokeApiKey(root, revoked_key_id), "revoke key");
  const Caller alice = *a_->Authenticate(alice_key);
  auto mint = [&](std::string_view bot) {
    json::object m{{"capability", "scaibot:chat"}, {"resource", bot}};
    return Must(a_->MintCapabilityToken(alice, m), "mint");
  };
  json::object t1 = mint("bot:b-1"), t2 = mint("bot:b-2");
  mint("bot:b-3");
  Must(a_->RevokeCapabilityToken(alice, std::string(t1["id"].as_string())), "revoke token");
  Must(a_->RevokeCapabilityResource(alice, body(R"({"capability":"scaibot:chat","resource":"bot:b-2"})")), "revoke resource");
  Must(a_->RotateSigningKey(root), "rotate");
  Must(a_->DeleteScope(root, ScopeKind::kTenant, "doomed"), "delete tenant");
  // A module registered again (a new version), through the log too.
  std::string manifest;
  {
    std::ifstream in(SCAIGRID_SOURCE_DIR "/manifests/scaiecho.yaml");
    std::stringstream text;
    text << in.rdbuf();
    manifest = text.str();
  }
  const auto at = manifest.find("version: ");
  ASSERT_NE(at, std::string::npos);
  manifest.replace(at, manifest.find('\n', at) - at, "version: 99");
  Must(a_->PutModule(root, "scaiecho", manifest), "module");

  ASSERT_GT(a_->revision(), b_->revision());
  auto reached = b_->CatchUp();
  ASSERT_TRUE(reached.has_value()) << reached.error().message();
  EXPECT_EQ(*reached, a_->revision());
  EXPECT_EQ(b_->replay_reloads(), 0u) << "every change must replay, not fall back to a reload";
  std::unique_ptr<IamService> fresh = OpenNode();
  const std::string expected = Digest(*fresh);
  EXPECT_EQ(Digest(*b_), expected);
  EXPECT_EQ(Digest(*a_), expected);

  // The follower decides like the writer: tokens (revoked, resource-revoked, alive), keys.
  for (IamService* node : {a_.get(), b_.get()}) {
    EXPECT_FALSE(node->Authenticate(admin_key_).value().principal.empty());
    EXPECT_FALSE(node->Authenticate("sgk_" + std::string(40, 'x')).has_value());
    auto check = [&](const json::object& token, std::string_view bot) {
      json::object q{{"token", token.at("token")}, {"permission", "scaibot:chat"}, {"resource", {{"id", bot}}}};
      return Must(node->Check(Admin(*node), q), "check");
    };
    EXPECT_EQ(check(t1, "bot:b-1")["reason"].at("code").as_string(), "token_revoked");
    EXPECT_EQ(check(t2, "bot:b-2")["reason"].at("code").as_string(), "token_resource_revoked");
  }
}

TEST_F(FollowTest, ACommitOnAStaleStateIsBuiltAgainOnTheCaughtUpOne) {
  const Caller root_a = Admin(*a_);
  const Caller root_b = Admin(*b_);
  Must(a_->CreateScope(root_a, ScopeKind::kTenant, json::parse(R"({"id":"acme"})")), "tenant on A");
  const std::uint64_t behind = b_->revision();
  ASSERT_LT(behind, a_->revision());
  // B has not applied tenant acme yet: a change on B is built on the caught-up state, so it
  // sees the tenant (a duplicate is a conflict, a child is fine). (A change that still races
  // another node's is refused by the store: TheStoreRefusesAChangeBuiltOnAnOldRevision.)
  auto dup = b_->CreateScope(root_b, ScopeKind::kTenant, json::parse(R"({"id":"acme"})"));
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().code(), StatusCode::kAlreadyExists) << dup.error().message();
  auto project = b_->CreateScope(root_b, ScopeKind::kProject, json::parse(R"({"id":"web","tenant":"acme"})"));
  ASSERT_TRUE(project.has_value()) << project.error().message();
  EXPECT_EQ((*project)["revision"].as_uint64(), behind + 2);
  ASSERT_TRUE(a_->CatchUp().has_value());
  EXPECT_EQ(Digest(*a_), Digest(*b_));
}

TEST_F(FollowTest, TheFollowerAppliesAnotherNodesChangesByItself) {
  std::unique_ptr<IamService> c = OpenNode(std::chrono::milliseconds(20));
  Must(a_->CreateScope(Admin(*a_), ScopeKind::kTenant, json::parse(R"({"id":"acme"})")), "tenant on A");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (c->revision() < a_->revision() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(c->revision(), a_->revision()) << "the follower did not catch up within 5 s";
  EXPECT_TRUE(c->Health().ok());
  EXPECT_TRUE(c->GetScope(Admin(*c), ScopeKind::kTenant, "acme").has_value());
  // A check with min_revision on the follower waits for the change rather than missing it.
  Must(a_->CreateScope(Admin(*a_), ScopeKind::kProject, json::parse(R"({"id":"web","tenant":"acme"})")), "project");
  json::object q{{"permission", "iam:scopes:read"}, {"scope", "project:web"}, {"min_revision", a_->revision()}};
  EXPECT_TRUE(Must(c->Check(Admin(*c), q), "check")["allowed"].as_bool());
}

TEST_F(FollowTest, AChangeWithoutEventsBelowAnotherNodesLoggedChangeIsLoggedAtStart) {
  // Node "X" commits revision N and dies before logging it; node B then commits and logs N+1.
  auto raw = store::SqliteStore::Open((dir_ / "iam.db").string());
  ASSERT_TRUE(raw.has_value());
  const std::uint64_t n = *(*raw)->Revision() + 1;
  store::Change lost{.ops = {store::PutScope{{"tenant:ghost", "platform", "", 1}}}, .actor = "user:root", .at = 1};
  ASSERT_EQ((*raw)->Apply(lost).value(), n);
  ASSERT_TRUE(b_->CatchUp().has_value());
  Must(b_->CreateScope(Admin(*b_), ScopeKind::kTenant, json::parse(R"({"id":"after"})")), "tenant on B");
  auto ghost_events = [&](IamService& node) {
    std::vector<std::pair<std::string, std::string>> q{{"resource", "tenant:ghost"}, {"action", "iam.scope.create"}};
    return Must(node.QueryAuditEvents(Admin(node), q), "audit query")["items"].as_array();
  };
  ASSERT_TRUE(ghost_events(*b_).empty());
  // The next node to start logs revision N, though a newer change (N+1) has its events.
  std::unique_ptr<IamService> c = OpenNode();
  const json::array events = ghost_events(*c);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].at("details").at("revision").to_number<std::uint64_t>(), n);
  EXPECT_TRUE(events[0].at("details").as_object().contains("recovered"));
  // And only once: another start finds nothing to do.
  c.reset();
  c = OpenNode();
  EXPECT_EQ(ghost_events(*c).size(), 1u);
}

TEST_F(FollowTest, TheStoreRefusesAChangeBuiltOnAnOldRevision) {
  auto store = store::SqliteStore::Open((dir_ / "iam.db").string());
  ASSERT_TRUE(store.has_value());
  const std::uint64_t now = *(*store)->Revision();
  store::Change change{.ops = {store::PutScope{{"tenant:late", "platform", "", 1}}}, .base_revision = now - 1};
  auto refused = (*store)->Apply(change);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().reason(), "revision_conflict");
  EXPECT_THAT(refused.error().message(), HasSubstr("store is at revision " + std::to_string(now)));
  EXPECT_EQ(*(*store)->Revision(), now) << "nothing applied";
  change.base_revision = now;
  EXPECT_EQ((*store)->Apply(change).value(), now + 1);
}

}  // namespace
}  // namespace scaigrid::iam::service
