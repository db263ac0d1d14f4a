#include "auth/capability_token.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <boost/json.hpp>
#include <memory>
#include <string>

#include "auth/api_key.h"
#include "auth/jwt.h"

namespace scaigrid::iam::auth {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class CapabilityTokenTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitCrypto().ok());
    key_ = GenerateSigningKey();
    claims_ = {.id = NewCapabilityTokenId(),
               .capability = "scaibot:chat",
               .permission = "scaibot:chat",
               .resource = "bot:b-42",
               .scope = "tenant:acme",
               .visitor = "visitor:v-7",
               .issued_by = "user:alice",
               .issued_at = 1'800'000'000,
               .expires_at = 1'800'003'600,
               .revision = 57};
  }
  Result<CapabilityClaims> Verify(std::string_view token) const {
    return VerifyCapabilityToken(token, [this](std::string_view kid) {
      return kid == key_.kid ? &key_.public_key : nullptr;
    });
  }
  void ExpectInvalid(std::string_view token, std::string_view fragment) const {
    Result<CapabilityClaims> r = Verify(token);
    ASSERT_FALSE(r.has_value()) << token;
    EXPECT_EQ(r.error().code(), StatusCode::kUnauthenticated);
    EXPECT_EQ(r.error().reason(), "invalid_token");
    EXPECT_THAT(r.error().message(), HasSubstr(fragment)) << token;
  }

  SigningKey key_;
  CapabilityClaims claims_;
};

TEST_F(CapabilityTokenTest, SignedTokenVerifiesWithEveryClaim) {
  EXPECT_THAT(claims_.id, testing::MatchesRegex("cap_[0-9a-f]{20}"));
  EXPECT_THAT(key_.kid, testing::MatchesRegex("capk_[0-9a-f]{16}"));
  const std::string token = SignCapabilityToken(claims_, key_);
  EXPECT_THAT(token, StartsWith("sgc_"));
  EXPECT_TRUE(LooksLikeCapabilityToken(token));
  Result<CapabilityClaims> got = Verify(token);
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  EXPECT_EQ(got->id, claims_.id);
  EXPECT_EQ(got->capability, "scaibot:chat");
  EXPECT_EQ(got->permission, "scaibot:chat");
  EXPECT_EQ(got->resource, "bot:b-42");
  EXPECT_EQ(got->scope, "tenant:acme");
  EXPECT_EQ(got->visitor, "visitor:v-7");
  EXPECT_EQ(got->issued_by, "user:alice");
  EXPECT_EQ(got->issued_at, 1'800'000'000);
  EXPECT_EQ(got->expires_at, 1'800'003'600);
  EXPECT_EQ(got->revision, 57);

  claims_.visitor.clear();  // optional
  got = Verify(SignCapabilityToken(claims_, key_));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->visitor, "");
}

// A module verifies offline with a standard Ed25519 implementation (OpenSSL here) and the
// published JWK alone: the token is an ordinary EdDSA JWS after its prefix.
TEST_F(CapabilityTokenTest, TokenIsAStandardEdDsaJwsVerifiableWithThePublishedJwk) {
  const std::string token = SignCapabilityToken(claims_, key_);
  const std::string jws = token.substr(4);
  const std::size_t last = jws.rfind('.');
  const json::object jwk = SigningKeyJwk(key_);
  EXPECT_EQ(jwk.at("kty").as_string(), "OKP");
  EXPECT_EQ(jwk.at("crv").as_string(), "Ed25519");
  EXPECT_EQ(jwk.at("alg").as_string(), "EdDSA");
  EXPECT_EQ(jwk.at("kid").as_string(), key_.kid);
  EXPECT_FALSE(jwk.contains("d"));  // no secret in the published form
  auto x = Base64UrlDecode(std::string_view(jwk.at("x").as_string()));
  ASSERT_TRUE(x.has_value());
  auto sig = Base64UrlDecode(jws.substr(last + 1));
  ASSERT_TRUE(sig.has_value());
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x->data()), x->size()),
      EVP_PKEY_free);
  ASSERT_TRUE(pkey);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  ASSERT_EQ(EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()), 1);
  EXPECT_EQ(EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                             reinterpret_cast<const unsigned char*>(jws.data()), last),
            1);
  auto header = Base64UrlDecode(jws.substr(0, jws.find('.')));
  ASSERT_TRUE(header.has_value());
  const json::value h = json::parse(*header);
  EXPECT_EQ(h.at("alg").as_string(), "EdDSA");
  EXPECT_EQ(h.at("kid").as_string(), key_.kid);
  EXPECT_EQ(h.at("typ").as_string(), "scaigrid-cap+jwt");
}

TEST_F(CapabilityTokenTest, TamperedWrongKeyAndUnknownKeyAreRejected) {
  const std::string token = SignCapabilityToken(claims_, key_);
  // Another bot in the payload, the signature kept.
  CapabilityClaims other = claims_;
  other.resource = "bot:b-43";
  const std::string forged = SignCapabilityToken(other, key_);
  const std::string spliced = forged.substr(0, forged.rfind('.')) + token.substr(token.rfind('.'));
  ExpectInvalid(spliced, "signature verification failed");
  // Signed by another key that claims the same kid.
  SigningKey impostor = GenerateSigningKey();
  impostor.kid = key_.kid;
  ExpectInvalid(SignCapabilityToken(claims_, impostor), "signature verification failed");
  // A key this server does not know.
  ExpectInvalid(SignCapabilityToken(claims_, GenerateSigningKey()), "unknown signing key 'capk_");
}

TEST_F(CapabilityTokenTest, MalformedTokensAreRejectedSayingWhy) {
  const std::string token = SignCapabilityToken(claims_, key_);
  const std::string jws = token.substr(4);
  ExpectInvalid(jws, "does not start with 'sgc_'");
  ExpectInvalid("sgc_abc", "three parts");
  ExpectInvalid("sgc_a.b.c.d", "three parts");
  ExpectInvalid("sgc_!!!." + jws.substr(jws.find('.') + 1), "malformed header");
  ExpectInvalid("sgc_" + Base64UrlEncode("[1]") + jws.substr(jws.find('.')), "not a JSON object");
  ExpectInvalid("sgc_" + std::string(5000, 'a'), "longer than 4096 bytes");
  const std::string none_header = Base64UrlEncode(R"({"alg":"none","kid":")" + key_.kid + "\"}");
  ExpectInvalid("sgc_" + none_header + jws.substr(jws.find('.')), "algorithm must be EdDSA");
  const std::string no_kid = Base64UrlEncode(R"({"alg":"EdDSA"})");
  ExpectInvalid("sgc_" + no_kid + jws.substr(jws.find('.')), "no 'kid'");
  ExpectInvalid(token.substr(0, token.rfind('.') + 1) + "AAAA", "malformed signature");
}

TEST_F(CapabilityTokenTest, MissingOrMistypedClaimsAreRejected) {
  // Payloads signed by hand with the right key, as a buggy minter could make them.
  auto sign_payload = [&](const json::object& payload) {
    const json::object header{{"alg", "EdDSA"}, {"kid", key_.kid}};
    const std::string input = Base64UrlEncode(json::serialize(header)) + "." + Base64UrlEncode(json::serialize(payload));
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                         reinterpret_cast<const unsigned char*>(key_.secret_key.data()));
    return "sgc_" + input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<char*>(sig), sizeof sig));
  };
  const json::object good{{"jti", "cap_1"}, {"cap", "scaibot:chat"}, {"perm", "scaibot:chat"}, {"res", "bot:1"},
                          {"scope", "tenant:acme"}, {"iss_by", "user:alice"}, {"iat", 1}, {"exp", 2}, {"rev", 3}};
  ASSERT_TRUE(Verify(sign_payload(good)).has_value());
  for (const char* name : {"jti", "cap", "perm", "res", "scope", "iss_by", "iat", "exp", "rev"}) {
    json::object missing = good;
    missing.erase(name);
    ExpectInvalid(sign_payload(missing), "claim '" + std::string(name) + "' is missing");
  }
  json::object mistyped = good;
  mistyped["exp"] = "tomorrow";
  ExpectInvalid(sign_payload(mistyped), "claim 'exp' is missing or has the wrong type");
  mistyped = good;
  mistyped["res"] = 42;
  ExpectInvalid(sign_payload(mistyped), "claim 'res'");
  mistyped = good;
  mistyped["rev"] = -1;
  ExpectInvalid(sign_payload(mistyped), "claim 'rev'");
}

TEST_F(CapabilityTokenTest, CacheVerifiesOnceAndNeverKeepsFailures) {
  VerifiedTokenCache cache(64);
  int lookups = 0;
  auto find_key = [&](std::string_view kid) -> const std::string* {
    ++lookups;
    return kid == key_.kid ? &key_.public_key : nullptr;
  };
  const std::string token = SignCapabilityToken(claims_, key_);
  auto first = cache.Verify(token, find_key);
  ASSERT_TRUE(first.has_value()) << first.error().message();
  EXPECT_EQ((*first)->resource, "bot:b-42");
  auto again = cache.Verify(token, find_key);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->get(), first->get()) << "the second use must come from the cache";
  EXPECT_EQ(lookups, 1);

  // A tampered token is verified (and refused) every time: failures are not remembered.
  const std::string tampered = token.substr(0, token.size() - 2) + (token.back() == 'A' ? "BB" : "AA");
  for (int i = 0; i < 2; ++i) {
    auto r = cache.Verify(tampered, find_key);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().reason(), "invalid_token");
  }
  EXPECT_EQ(lookups, 3);
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(CapabilityTokenTest, CacheStaysWithinItsCapacity) {
  VerifiedTokenCache cache(32);  // 16 shards of 2
  auto find_key = [&](std::string_view kid) { return kid == key_.kid ? &key_.public_key : nullptr; };
  for (int i = 0; i < 500; ++i) {
    CapabilityClaims c = claims_;
    c.id = NewCapabilityTokenId();
    ASSERT_TRUE(cache.Verify(SignCapabilityToken(c, key_), find_key).has_value());
    ASSERT_LE(cache.size(), 32u);
  }
}

}  // namespace
}  // namespace scaigrid::iam::auth
