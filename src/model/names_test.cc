#include "scaigrid/iam/names.h"

#include <gtest/gtest.h>

namespace scaigrid::iam {
namespace {

TEST(NamesTest, ParsesScopes) {
  auto p = ScopeRef::Parse("platform");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, ScopeKind::kPlatform);
  auto t = ScopeRef::Parse("tenant:acme-1.x_y");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->kind, ScopeKind::kTenant);
  EXPECT_EQ(t->id, "acme-1.x_y");
  EXPECT_EQ(t->ToString(), "tenant:acme-1.x_y");
}

TEST(NamesTest, RejectsBadScopes) {
  for (const char* bad : {"", "tenant", "tenant:", "tenant:a b", "org:x", "platform:x", "tenant:a/b",
                          "Tenant:x"}) {
    auto r = ScopeRef::Parse(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_FALSE(ScopeRef::Parse("tenant:" + std::string(129, 'a')));
  EXPECT_TRUE(ScopeRef::Parse("tenant:" + std::string(128, 'a')));
}

TEST(NamesTest, ParsesPrincipals) {
  auto u = PrincipalRef::Parse("user:auth0|abc@example.com");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->kind, PrincipalKind::kUser);
  auto g = PrincipalRef::Parse("group:ops");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->kind, PrincipalKind::kGroup);
  auto s = PrincipalRef::Parse("service_account:bot-1");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->ToString(), "service_account:bot-1");
  for (const char* bad : {"alice", "user:", "group:a@b", "robot:x", "user:a b", "service_account:"}) {
    EXPECT_FALSE(PrincipalRef::Parse(bad)) << bad;
  }
}

TEST(NamesTest, ValidatesKeysAndPatterns) {
  EXPECT_TRUE(ValidateKey("scaibot:bots:read").ok());
  EXPECT_TRUE(ValidateKey("members:write:kick").ok());
  for (const char* bad : {"scaibot", "scaibot:", ":x", "scaibot::read", "ScaiBot:x", "a:b-c", "a:*"}) {
    EXPECT_FALSE(ValidateKey(bad).ok()) << bad;
  }
  EXPECT_TRUE(ValidatePattern("scaibot:*").ok());
  EXPECT_TRUE(ValidatePattern("scaibot:bots:*").ok());
  EXPECT_FALSE(ValidatePattern("*").ok());
  EXPECT_FALSE(ValidatePattern("scaibot:b*").ok());
}

TEST(NamesTest, WildcardsMatchOneOrMoreSegments) {
  EXPECT_TRUE(PatternMatches("scaibot:*", "scaibot:bots:read"));
  EXPECT_TRUE(PatternMatches("scaibot:bots:*", "scaibot:bots:read"));
  EXPECT_FALSE(PatternMatches("scaibot:bots:*", "scaibot:bots"));
  EXPECT_FALSE(PatternMatches("scaibot:bots:*", "scaibot:botsx:read"));
  EXPECT_FALSE(PatternMatches("scaibot:*", "scaibotx:a"));
  EXPECT_TRUE(PatternMatches("scaibot:bots:read", "scaibot:bots:read"));
}

}  // namespace
}  // namespace scaigrid::iam
