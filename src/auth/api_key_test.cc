#include "auth/api_key.h"

#include <gtest/gtest.h>

#include <set>

namespace scaigrid::iam::auth {
namespace {

TEST(ApiKeyTest, SecretsAreUniqueWellFormedAndHashedStably) {
  ASSERT_TRUE(InitCrypto().ok());
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    NewApiKey k = GenerateApiKey();
    EXPECT_TRUE(LooksLikeApiKey(k.secret)) << k.secret;
    EXPECT_EQ(k.hash, HashSecret(k.secret));
    EXPECT_EQ(k.hash.size(), 64u);
    EXPECT_EQ(k.hash.find(k.secret), std::string::npos);
    EXPECT_TRUE(seen.insert(k.secret).second);
    EXPECT_TRUE(seen.insert(k.id).second);
  }
  EXPECT_NE(HashSecret("sgk_a"), HashSecret("sgk_b"));
  EXPECT_FALSE(LooksLikeApiKey("sgk_short"));
  EXPECT_FALSE(LooksLikeApiKey("Bearer something"));
}

}  // namespace
}  // namespace scaigrid::iam::auth
