// Tests of the JWT verifier. Every key and token is made here, at test time, with OpenSSL:
// RSA 2048, EC P-256 and Ed25519 keys from EVP_PKEY_keygen, tokens signed with
// EVP_DigestSign, public keys exported as JWKS files in a temporary folder. No key is
// committed.
#include "auth/jwt.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdlib.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "scaigrid/iam/time_format.h"

namespace scaigrid::iam::auth {
namespace {

using ::testing::HasSubstr;

// ---- OpenSSL helpers (test side) ----------------------------------------------------------

struct OsslFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
template <typename T>
using Ossl = std::unique_ptr<T, OsslFree>;

enum class Kind { kRsa, kEc, kEd25519 };

std::shared_ptr<EVP_PKEY> Generate(Kind kind, int rsa_bits = 2048) {
  const char* name = kind == Kind::kRsa ? "RSA" : kind == Kind::kEc ? "EC" : "ED25519";
  Ossl<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, name, nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1) return nullptr;
  if (kind == Kind::kRsa && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), rsa_bits) != 1)
    return nullptr;
  if (kind == Kind::kEc && EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") != 1) return nullptr;
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_keygen(ctx.get(), &key) != 1) return nullptr;
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

std::string BnBytes(EVP_PKEY* key, const char* param, int pad = 0) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, param, &raw) != 1) return "";
  Ossl<BIGNUM> bn(raw);
  std::string out(pad > 0 ? pad : BN_num_bytes(bn.get()), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  if (pad > 0)
    BN_bn2binpad(bn.get(), p, pad);
  else
    BN_bn2bin(bn.get(), p);
  return out;
}

// The public JWK of `key`, without kid or alg.
boost::json::object PublicJwk(EVP_PKEY* key, Kind kind) {
  boost::json::object jwk;
  switch (kind) {
    case Kind::kRsa:
      jwk["kty"] = "RSA";
      jwk["n"] = Base64UrlEncode(BnBytes(key, OSSL_PKEY_PARAM_RSA_N));
      jwk["e"] = Base64UrlEncode(BnBytes(key, OSSL_PKEY_PARAM_RSA_E));
      break;
    case Kind::kEc:
      jwk["kty"] = "EC";
      jwk["crv"] = "P-256";
      jwk["x"] = Base64UrlEncode(BnBytes(key, OSSL_PKEY_PARAM_EC_PUB_X, 32));
      jwk["y"] = Base64UrlEncode(BnBytes(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
      break;
    case Kind::kEd25519: {
      std::string raw(32, '\0');
      size_t len = raw.size();
      EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &len);
      jwk["kty"] = "OKP";
      jwk["crv"] = "Ed25519";
      jwk["x"] = Base64UrlEncode(raw);
      break;
    }
  }
  return jwk;
}

// Signs `input` as JWS `alg` does: PKCS#1 v1.5 SHA-256, ECDSA P-256 SHA-256 as raw R||S, or
// Ed25519.
std::string Sign(EVP_PKEY* key, Kind kind, std::string_view input) {
  Ossl<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  const char* md = kind == Kind::kEd25519 ? nullptr : "SHA256";
  if (EVP_DigestSignInit_ex(ctx.get(), nullptr, md, nullptr, nullptr, key, nullptr) != 1) return "";
  auto* in = reinterpret_cast<const unsigned char*>(input.data());
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, input.size()) != 1) return "";
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                     input.size()) != 1)
    return "";
  sig.resize(len);
  if (kind != Kind::kEc) return sig;
  const auto* der = reinterpret_cast<const unsigned char*>(sig.data());
  Ossl<ECDSA_SIG> parsed(d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(sig.size())));
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(parsed.get()), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(parsed.get()), reinterpret_cast<unsigned char*>(raw.data()) + 32,
               32);
  return raw;
}

// The DER signature OpenSSL makes for ES256 (what a JWS must not carry).
std::string SignDer(EVP_PKEY* key, std::string_view input) {
  Ossl<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, key, nullptr);
  size_t len = 0;
  auto* in = reinterpret_cast<const unsigned char*>(input.data());
  EVP_DigestSign(ctx.get(), nullptr, &len, in, input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, input.size());
  sig.resize(len);
  return sig;
}

std::string PublicPem(EVP_PKEY* key) {
  Ossl<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), key);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string HmacSha256(std::string_view secret, std::string_view input) {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
            reinterpret_cast<const unsigned char*>(input.data()), input.size(), out, sizeof out,
            &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

// ---- fixture ------------------------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/scaigrid_jwt_XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const std::string kIssuer = "https://login.example.com/realms/scaigrid";
const std::string kAudience = "scaigrid-iam";

struct TestKey {
  std::shared_ptr<EVP_PKEY> pkey;
  Kind kind;
  std::string alg;

  boost::json::object Jwk(std::string_view kid, bool with_alg = true) const {
    boost::json::object jwk = PublicJwk(pkey.get(), kind);
    if (!kid.empty()) jwk["kid"] = kid;
    if (with_alg) jwk["alg"] = alg;
    jwk["use"] = "sig";
    return jwk;
  }
};

class JwtTest : public ::testing::Test {
 protected:
  // Keys are made on first use and shared by the tests of the process (RSA key generation is
  // the slow part of this suite).
  static const TestKey* Rsa() { return Lazy<0>(Kind::kRsa, "RS256"); }
  static const TestKey* Rsa2() { return Lazy<1>(Kind::kRsa, "RS256"); }
  static const TestKey* Ec() { return Lazy<2>(Kind::kEc, "ES256"); }
  static const TestKey* Ec2() { return Lazy<3>(Kind::kEc, "ES256"); }
  static const TestKey* Ed() { return Lazy<4>(Kind::kEd25519, "EdDSA"); }
  template <int kSlot>
  static const TestKey* Lazy(Kind kind, const char* alg) {
    static const TestKey key{Generate(kind), kind, alg};
    if (!key.pkey) ADD_FAILURE() << "OpenSSL cannot generate a key for " << alg;
    return &key;
  }

  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty()) << "mkdtemp failed: " << errno;
    now_ = *ParseTime("2026-05-01T12:00:00Z");
  }

  // Writes `text` to `name` in the temp folder; returns its path.
  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = dir_.path() + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  // Writes {"keys": [...]} to `name` in the temp folder; returns its path.
  std::string WriteJwks(const std::string& name, std::vector<boost::json::object> keys) {
    boost::json::array list;
    for (auto& k : keys) list.push_back(std::move(k));
    return WriteFile(name, boost::json::serialize(boost::json::object{{"keys", std::move(list)}}));
  }

  // The standard set: RSA 'rsa-1', EC 'ec-1', Ed25519 without kid.
  JwtVerifier StandardVerifier() {
    std::string jwks =
        WriteJwks("jwks.json", {Rsa()->Jwk("rsa-1"), Ec()->Jwk("ec-1"), Ed()->Jwk("")});
    auto v = JwtVerifier::Create({IssuerConfig{kIssuer, {kAudience, "other-service"}, jwks}});
    EXPECT_TRUE(v.has_value()) << v.error().ToString();
    return std::move(*v);
  }

  boost::json::object Claims() const {
    return {{"iss", kIssuer},
            {"aud", kAudience},
            {"sub", "alice"},
            {"exp", now_ + 3600},
            {"iat", now_ - 10}};
  }

  // header.payload.signature from raw JSON texts, signed by `key` (as key->kind signs).
  static std::string TokenFromText(const std::string& header, const std::string& payload,
                                   const TestKey* key) {
    std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
    std::string sig = key ? Sign(key->pkey.get(), key->kind, input) : "";
    return input + "." + Base64UrlEncode(sig);
  }
  // A token with header {"alg": key's alg, "typ": "JWT", "kid": kid (when not empty)}.
  static std::string Token(const TestKey& key, std::string_view kid,
                           const boost::json::object& claims) {
    boost::json::object header{{"alg", key.alg}, {"typ", "JWT"}};
    if (!kid.empty()) header["kid"] = kid;
    return TokenFromText(boost::json::serialize(header), boost::json::serialize(claims), &key);
  }

  TempDir dir_;
  std::int64_t now_ = 0;
};

// A rejection: kUnauthenticated, reason invalid_token, a message containing `fragment`.
testing::AssertionResult Rejected(const Result<VerifiedToken>& r, std::string_view fragment) {
  if (r) return testing::AssertionFailure() << "accepted, principal " << r->principal;
  const Status& s = r.error();
  if (s.code() != StatusCode::kUnauthenticated || s.reason() != "invalid_token")
    return testing::AssertionFailure()
           << "wrong code or reason: " << s.ToString() << " reason " << s.reason();
  if (s.message().find(fragment) == std::string::npos)
    return testing::AssertionFailure()
           << "message '" << s.message() << "' lacks '" << fragment << "'";
  return testing::AssertionSuccess();
}

// ---- base64url ----------------------------------------------------------------------------

TEST(Base64UrlTest, Rfc4648VectorsWithoutPadding) {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""},
      {"f", "Zg"},
      {"fo", "Zm8"},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg"},
      {"fooba", "Zm9vYmE"},
      {"foobar", "Zm9vYmFy"},
      {"\xfb\xff", "-_8"},
      {std::string("\0\0\0", 3), "AAAA"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64UrlEncode(plain), encoded);
    auto d = Base64UrlDecode(encoded);
    ASSERT_TRUE(d.has_value()) << encoded << ": " << d.error().message();
    EXPECT_EQ(*d, plain);
  }
}

TEST(Base64UrlTest, RoundTripsEveryLengthAndByte) {
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    auto d = Base64UrlDecode(Base64UrlEncode(bytes));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(*d, bytes);
    bytes += static_cast<char>((i * 97 + 13) & 0xff);
  }
}

TEST(Base64UrlTest, RejectsPaddingForeignCharactersAndNonCanonicalEndings) {
  EXPECT_THAT(Base64UrlDecode("Zg==").error().message(), HasSubstr("unexpected padding '='"));
  EXPECT_THAT(Base64UrlDecode("Zm9v+w").error().message(), HasSubstr("unexpected character '+'"));
  EXPECT_THAT(Base64UrlDecode("Zm9v/w").error().message(), HasSubstr("unexpected character '/'"));
  EXPECT_THAT(Base64UrlDecode("Zm 9v").error().message(), HasSubstr("unexpected character ' '"));
  EXPECT_THAT(Base64UrlDecode("Zm9vY").error().message(), HasSubstr("truncated base64url"));
  EXPECT_THAT(Base64UrlDecode("Zh").error().message(), HasSubstr("non-zero unused bits"));
  EXPECT_THAT(Base64UrlDecode("Zm9").error().message(), HasSubstr("non-zero unused bits"));
}

// ---- accepted tokens ----------------------------------------------------------------------

TEST_F(JwtTest, ValidRs256Es256AndEdDsaTokensAreAccepted) {
  JwtVerifier v = StandardVerifier();
  struct Case {
    const TestKey* key;
    std::string kid;
  };
  for (const Case& c : {Case{Rsa(), "rsa-1"}, Case{Ec(), "ec-1"}, Case{Ed(), ""}}) {
    SCOPED_TRACE(c.key->alg);
    auto r = v.Verify(Token(*c.key, c.kid, Claims()), now_);
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(r->principal, "user:alice");
    EXPECT_EQ(r->subject, "alice");
    EXPECT_EQ(r->issuer, kIssuer);
    EXPECT_EQ(r->audience, kAudience);
    EXPECT_EQ(r->expires_at, now_ + 3600);
    EXPECT_EQ(r->kid, c.kid);
    EXPECT_EQ(r->alg, c.key->alg);
    EXPECT_EQ(r->claims.at("sub").as_string(), "alice");
  }
}

TEST_F(JwtTest, WithoutKidTheOnlyKeyForTheAlgorithmIsUsed) {
  JwtVerifier v = StandardVerifier();
  auto r = v.Verify(Token(*Rsa(), "", Claims()), now_);  // one RS256 key, named rsa-1
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->kid, "rsa-1");
}

TEST_F(JwtTest, SubjectsWithTheCharactersOfIdentityProvidersAreAccepted) {
  JwtVerifier v = StandardVerifier();
  auto claims = Claims();
  claims["sub"] = "auth0|5f7c8ec7c33c6c004bbafe82";
  auto r = v.Verify(Token(*Ec(), "ec-1", claims), now_);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->principal, "user:auth0|5f7c8ec7c33c6c004bbafe82");
  claims["sub"] = "alice@example.com";
  EXPECT_TRUE(v.Verify(Token(*Ec(), "ec-1", claims), now_).has_value());
}

TEST_F(JwtTest, AudienceArrayWithOneConfiguredAudienceIsAccepted) {
  JwtVerifier v = StandardVerifier();
  auto claims = Claims();
  claims["aud"] = boost::json::array{"account", "other-service", kAudience};
  auto r = v.Verify(Token(*Rsa(), "rsa-1", claims), now_);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->audience, "other-service");  // the token's first accepted audience
}

TEST_F(JwtTest, FractionalTimesAreAccepted) {
  JwtVerifier v = StandardVerifier();
  auto claims = Claims();
  claims["exp"] = static_cast<double>(now_) + 100.75;
  claims["iat"] = static_cast<double>(now_) - 0.5;
  auto r = v.Verify(Token(*Rsa(), "rsa-1", claims), now_);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->expires_at, now_ + 100);
}

TEST_F(JwtTest, DuplicateClaimNamesResolveToTheLastOneAsRfc7519Allows) {
  JwtVerifier v = StandardVerifier();
  std::string payload = R"({"iss":")" + kIssuer + R"(","aud":")" + kAudience +
                        R"(","sub":"mallory","sub":"alice","exp":)" + std::to_string(now_ + 60) +
                        "}";
  auto r = v.Verify(TokenFromText(R"({"alg":"RS256","kid":"rsa-1"})", payload, Rsa()), now_);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->principal, "user:alice");
}

// ---- issuer, audience -----------------------------------------------------------------------

TEST_F(JwtTest, WrongIssuerIsRejected) {
  JwtVerifier v = StandardVerifier();
  auto claims = Claims();
  claims["iss"] = "https://evil.example.com";
  EXPECT_TRUE(Rejected(v.Verify(Token(*Rsa(), "rsa-1", claims), now_),
                       "unknown issuer 'https://evil.example.com'"));
  claims["iss"] = kIssuer + "/";  // no normalisation
  EXPECT_TRUE(Rejected(v.Verify(Token(*Rsa(), "rsa-1", claims), now_), "unknown issuer"));
  claims.erase("iss");
  EXPECT_TRUE(Rejected(v.Verify(Token(*Rsa(), "rsa-1", claims), now_), "token has no 'iss' claim"));
  claims["iss"] = 7;
  EXPECT_TRUE(
      Rejected(v.Verify(Token(*Rsa(), "rsa-1", claims), now_), "claim 'iss' must be a string"));
}

TEST_F(JwtTest, ControlCharactersInQuotedValuesAreReplaced) {
  JwtVerifier v = StandardVerifier();
  auto claims = Claims();
  claims["iss"] = "evil\nlevel=admin";
  auto r = v.Verify(Token(*Rsa(), "rsa-1", claims), now_);
  EXPECT_TRUE(Rejected(r, "unknown issuer 'evil?level=admin'"));
  claims["iss"] = std::string(500, 'x');
  r = v.Verify(Token(*Rsa(), "rsa-1", claims), now_);
  EXPECT_TRUE(Rejected(r, "unknown issuer 'xxxx"));
  EXPECT_LT(r.error().message().size(), 120u);
}

TEST_F(JwtTest, WrongAudienceIsRejectedAsStringAndAsArray) {
  JwtVerifier v = StandardVerifier();
  auto claims = Claims();
  claims["aud"] = "billing";
  EXPECT_TRUE(Rejected(v.Verify(Token(*Rsa(), "rsa-1", claims), now_),
                       "audience 'billing' is not accepted by issuer '" + kIssuer + "'"));
  claims["aud"] = boost::json::array{"billing", "account"};
  EXPECT_TRUE(Rejected(v.Verify(Token(*Rsa(), "rsa-1", claims), now_),
                       "none of the audiences ['billing', 'account'] is accepted by issuer"));
  claims["aud"] = boost::json::array{};
  EXPECT_TRUE(
      Rejected(v.Verify(Token(*Rsa(), "rsa-1", claims), now_), "claim 'aud' is an empty array"));
  claims["aud"] = boost::json::array{kAudience, 3};
  EXPECT_TRUE(Rejected(v.Verify(Token(*Rsa(), "rsa-1", claims), now_),
                       "claim 'aud' must be a string or an array of strings"));
  claims.erase("aud");
  EXPECT_TRUE(Rejected(v.Verify(Token(*Rsa(), "rsa-1", claims), now_), "token has no 'aud' claim"));
}

// ---- signatures and algorithms --------------------------------------------------------------

TEST_F(JwtTest, TamperedPayloadFailsTheSignature) {
  JwtVerifier v = StandardVerifier();
  for (auto [key, kid] :
       {std::pair{Rsa(), "rsa-1"}, std::pair{Ec(), "ec-1"}, std::pair{Ed(), ""}}) {
    SCOPED_TRACE(key->alg);
    std::string token = Token(*key, kid, Claims());
    auto claims = Claims();
    claims["sub"] = "root";
    std::string forged = Token(*key, kid, claims);
    // The forged payload with the original signature.
    std::string tampered = forged.substr(0, forged.rfind('.')) + token.substr(token.rfind('.'));
    EXPECT_TRUE(Rejected(v.Verify(tampered, now_), "signature verification failed"));
  }
}

TEST_F(JwtTest, SignatureByAnotherKeyWithTheSameKidIsRejected) {
  JwtVerifier v = StandardVerifier();
  EXPECT_TRUE(Rejected(v.Verify(Token(*Rsa2(), "rsa-1", Claims()), now_),
                       "signature verification failed (key 'rsa-1', issuer '" + kIssuer + "')"));
  EXPECT_TRUE(
      Rejected(v.Verify(Token(*Ec2(), "ec-1", Claims()), now_), "signature verification failed"));
}

TEST_F(JwtTest, AlgNoneIsRejected) {
  JwtVerifier v = StandardVerifier();
  std::string payload = boost::json::serialize(Claims());
  EXPECT_TRUE(Rejected(v.Verify(TokenFromText(R"({"alg":"none"})", payload, nullptr), now_),
                       "alg 'none' is not accepted (accepted: RS256, ES256, EdDSA)"));
  EXPECT_TRUE(
      Rejected(v.Verify(TokenFromText(R"({"alg":"none","kid":"rsa-1"})", payload, nullptr), now_),
               "alg 'none' is not accepted"));
  EXPECT_TRUE(Rejected(v.Verify(TokenFromText(R"({"alg":"None"})", payload, nullptr), now_),
                       "alg 'None' is not accepted"));
  // "none" with a signature that is valid for another algorithm changes nothing.
  EXPECT_TRUE(Rejected(v.Verify(TokenFromText(R"({"alg":"none"})", payload, Rsa()), now_),
                       "alg 'none' is not accepted"));
}

TEST_F(JwtTest, Hs256WithThePublicKeyAsHmacSecretIsRejected) {
  JwtVerifier v = StandardVerifier();
  std::string input = Base64UrlEncode(R"({"alg":"HS256","kid":"rsa-1"})") + "." +
                      Base64UrlEncode(boost::json::serialize(Claims()));
  for (const std::string& secret :
       {PublicPem(Rsa()->pkey.get()), boost::json::serialize(Rsa()->Jwk("rsa-1")),
        *Base64UrlDecode(std::string(Rsa()->Jwk("rsa-1").at("n").as_string()))}) {
    std::string token = input + "." + Base64UrlEncode(HmacSha256(secret, input));
    EXPECT_TRUE(Rejected(v.Verify(token, now_), "alg 'HS256' is not accepted"));
  }
  std::string hs512 = Base64UrlEncode(R"({"alg":"HS512"})") + "." +
                      Base64UrlEncode(boost::json::serialize(Claims())) + ".AAAA";
  EXPECT_TRUE(Rejected(v.Verify(hs512, now_), "alg 'HS512' is not accepted"));
}

TEST_F(JwtTest, AlgorithmThatDoesNotFitTheKeyIsRejected) {
  JwtVerifier v = StandardVerifier();
  // ES256 header naming the RSA key, signed with an EC key.
  std::string header = R"({"alg":"ES256","kid":"rsa-1"})";
  EXPECT_TRUE(
      Rejected(v.Verify(TokenFromText(header, boost::json::serialize(Claims()), Ec()), now_),
               "alg 'ES256' does not match key 'rsa-1', which is for RS256"));
  header = R"({"alg":"RS256","kid":"ec-1"})";
  EXPECT_TRUE(
      Rejected(v.Verify(TokenFromText(header, boost::json::serialize(Claims()), Rsa()), now_),
               "alg 'RS256' does not match key 'ec-1', which is for ES256"));
  // A key whose JWK says alg RS256 is used for nothing else either; an issuer without any
  // key for the algorithm has nothing to offer.
  std::string jwks = WriteJwks("rsa-only.json", {Rsa()->Jwk("rsa-1")});
  auto rsa_only = JwtVerifier::Create({IssuerConfig{kIssuer, {kAudience}, jwks}});
  ASSERT_TRUE(rsa_only.has_value()) << rsa_only.error().ToString();
  EXPECT_TRUE(Rejected(rsa_only->Verify(Token(*Ed(), "", Claims()), now_),
                       "no key for alg 'EdDSA' for issuer '" + kIssuer + "'"));
}

TEST_F(JwtTest, Es256SignatureInDerFormIsRejected) {
  JwtVerifier v = StandardVerifier();
  std::string input = Base64UrlEncode(R"({"alg":"ES256","kid":"ec-1"})") + "." +
                      Base64UrlEncode(boost::json::serialize(Claims()));
  std::string der = SignDer(Ec()->pkey.get(), input);
  EXPECT_TRUE(Rejected(v.Verify(input + "." + Base64UrlEncode(der), now_),
                       "an ES256 signature is 64 bytes (R||S), got " + std::to_string(der.size())));
  std::string ed_input = Base64UrlEncode(R"({"alg":"EdDSA"})") + "." +
                         Base64UrlEncode(boost::json::serialize(Claims()));
  EXPECT_TRUE(
      Rejected(v.Verify(ed_input + ".AAAA", now_), "an EdDSA signature is 64 bytes, got 3"));
  std::string rs_input = Base64UrlEncode(R"({"alg":"RS256","kid":"rsa-1"})") + "." +
                         Base64UrlEncode(boost::json::serialize(Claims()));
  EXPECT_TRUE(Rejected(v.Verify(rs_input + ".", now_),
                       "an RS256 signature for this key is 256 bytes, got 0"));
}

TEST_F(JwtTest, CriticalHeaderExtensionsAreRejected) {
  JwtVerifier v = StandardVerifier();
  std::string header = R"({"alg":"RS256","kid":"rsa-1","crit":["b64"],"b64":false})";
  EXPECT_TRUE(
      Rejected(v.Verify(TokenFromText(header, boost::json::serialize(Claims()), Rsa()), now_),
               "header parameter 'crit' is not supported"));
}

TEST_F(JwtTest, KeysOfOneIssuerDoNotVerifyTokensOfAnother) {
  std::string a = WriteJwks("a.json", {Rsa()->Jwk("a-1")});
  std::string b = WriteJwks("b.json", {Rsa2()->Jwk("b-1")});
  auto v = JwtVerifier::Create({IssuerConfig{"https://a.example.com", {kAudience}, a},
                                IssuerConfig{"https://b.example.com", {kAudience}, b}});
  ASSERT_TRUE(v.has_value()) << v.error().ToString();
  EXPECT_EQ(v->Issuers(),
            (std::vector<std::string>{"https://a.example.com", "https://b.example.com"}));
  auto claims = Claims();
  claims["iss"] = "https://a.example.com";
  EXPECT_TRUE(v->Verify(Token(*Rsa(), "a-1", claims), now_).has_value());
  EXPECT_TRUE(Rejected(v->Verify(Token(*Rsa2(), "b-1", claims), now_),
                       "no key 'b-1' for issuer 'https://a.example.com'"));
  claims["iss"] = "https://b.example.com";
  EXPECT_TRUE(v->Verify(Token(*Rsa2(), "b-1", claims), now_).has_value());
  EXPECT_TRUE(Rejected(v->Verify(Token(*Rsa(), "", claims), now_),
                       "signature verification failed (key 'b-1'"));
}

TEST_F(JwtTest, KeyRotationTwoKidsInOneJwksBothVerify) {
  std::string jwks = WriteJwks("rotation.json", {Rsa()->Jwk("2026-04"), Rsa2()->Jwk("2026-05")});
  auto v = JwtVerifier::Create({IssuerConfig{kIssuer, {kAudience}, jwks}});
  ASSERT_TRUE(v.has_value()) << v.error().ToString();
  auto old_key = v->Verify(Token(*Rsa(), "2026-04", Claims()), now_);
  ASSERT_TRUE(old_key.has_value()) << old_key.error().ToString();
  EXPECT_EQ(old_key->kid, "2026-04");
  auto new_key = v->Verify(Token(*Rsa2(), "2026-05", Claims()), now_);
  ASSERT_TRUE(new_key.has_value()) << new_key.error().ToString();
  EXPECT_EQ(new_key->kid, "2026-05");
  EXPECT_TRUE(Rejected(v->Verify(Token(*Rsa2(), "2026-06", Claims()), now_),
                       "no key '2026-06' for issuer '" + kIssuer + "'"));
  EXPECT_TRUE(
      Rejected(v->Verify(Token(*Rsa2(), "", Claims()), now_),
               "token has no 'kid' and issuer '" + kIssuer + "' has 2 keys for alg 'RS256'"));
}

// ---- time claims ----------------------------------------------------------------------------

TEST_F(JwtTest, ExpiredTokensAreRejectedAndTheSkewIsHonoured) {
  JwtVerifier v = StandardVerifier();  // clock skew 60s
  auto claims = Claims();
  claims["exp"] = now_ - 61;
  EXPECT_TRUE(Rejected(v.Verify(Token(*Rsa(), "rsa-1", claims), now_),
                       "token expired at " + FormatTime(now_ - 61) + " (clock skew 60s)"));
  claims["exp"] = now_ - 60;  // exp + skew == now: expired
  EXPECT_TRUE(Rejected(v.Verify(Token(*Rsa(), "rsa-1", claims), now_),
                       "token expired at 2026-05-01T11:59:00Z"));
  claims["exp"] = now_ - 59;  // just within the skew
  EXPECT_TRUE(v.Verify(Token(*Rsa(), "rsa-1", claims), now_).has_value());

  std::string jwks = WriteJwks("strict.json", {Rsa()->Jwk("rsa-1")});
  auto strict =
      JwtVerifier::Create({IssuerConfig{kIssuer, {kAudience}, jwks, std::chrono::seconds(0)}});
  ASSERT_TRUE(strict.has_value());
  claims["exp"] = now_;
  EXPECT_TRUE(Rejected(strict->Verify(Token(*Rsa(), "rsa-1", claims), now_), "(clock skew 0s)"));
  claims["exp"] = now_ + 1;
  EXPECT_TRUE(strict->Verify(Token(*Rsa(), "rsa-1", claims), now_).has_value());
}

TEST_F(JwtTest, ExpIsRequiredAndNumeric) {
  JwtVerifier v = StandardVerifier();
  auto claims = Claims();
  claims.erase("exp");
  EXPECT_TRUE(Rejected(v.Verify(Token(*Rsa(), "rsa-1", claims), now_), "token has no 'exp' claim"));
  claims["exp"] = std::to_string(now_ + 60);
  EXPECT_TRUE(
      Rejected(v.Verify(Token(*Rsa(), "rsa-1", claims), now_), "claim 'exp' must be a number"));
  claims["exp"] = std::numeric_limits<std::uint64_t>::max();  // far future, no overflow
  EXPECT_TRUE(v.Verify(Token(*Rsa(), "rsa-1", claims), now_).has_value());
  claims["exp"] = -1e300;
  EXPECT_TRUE(Rejected(v.Verify(Token(*Rsa(), "rsa-1", claims), now_), "token expired at"));
}

TEST_F(JwtTest, NotBeforeAndIssuedAtInTheFutureAreRejected) {
  JwtVerifier v = StandardVerifier();
  auto claims = Claims();
  claims["nbf"] = now_ + 120;
  EXPECT_TRUE(Rejected(v.Verify(Token(*Rsa(), "rsa-1", claims), now_),
                       "token not valid before " + FormatTime(now_ + 120) + " (clock skew 60s)"));
  claims["nbf"] = now_ + 60;  // within the skew
  EXPECT_TRUE(v.Verify(Token(*Rsa(), "rsa-1", claims), now_).has_value());
  claims.erase("nbf");
  claims["iat"] = now_ + 3000;
  EXPECT_TRUE(Rejected(v.Verify(Token(*Rsa(), "rsa-1", claims), now_),
                       "token issued in the future, at " + FormatTime(now_ + 3000)));
  claims["iat"] = "yesterday";
  EXPECT_TRUE(
      Rejected(v.Verify(Token(*Rsa(), "rsa-1", claims), now_), "claim 'iat' must be a number"));
}

// ---- subject ------------------------------------------------------------------------------

TEST_F(JwtTest, MissingOrInvalidSubjectIsRejected) {
  JwtVerifier v = StandardVerifier();
  auto claims = Claims();
  claims.erase("sub");
  EXPECT_TRUE(Rejected(v.Verify(Token(*Ed(), "", claims), now_), "token has no 'sub' claim"));
  claims["sub"] = "";
  EXPECT_TRUE(Rejected(v.Verify(Token(*Ed(), "", claims), now_), "claim 'sub' is empty"));
  claims["sub"] = 42;
  EXPECT_TRUE(Rejected(v.Verify(Token(*Ed(), "", claims), now_), "claim 'sub' must be a string"));
  claims["sub"] = "alice smith";
  EXPECT_TRUE(Rejected(v.Verify(Token(*Ed(), "", claims), now_),
                       "claim 'sub' 'alice smith' is not a valid user id (1-255 characters of "
                       "[A-Za-z0-9._@|+=:-])"));
  claims["sub"] = "alice/../bob";
  EXPECT_TRUE(Rejected(v.Verify(Token(*Ed(), "", claims), now_), "is not a valid user id"));
  claims["sub"] = std::string(256, 'a');
  EXPECT_TRUE(Rejected(v.Verify(Token(*Ed(), "", claims), now_), "is not a valid user id"));
  claims["sub"] = std::string(255, 'a');
  EXPECT_TRUE(v.Verify(Token(*Ed(), "", claims), now_).has_value());
}

// ---- malformed tokens -----------------------------------------------------------------------

TEST_F(JwtTest, MalformedTokensAreRejected) {
  JwtVerifier v = StandardVerifier();
  std::string good = Token(*Rsa(), "rsa-1", Claims());
  std::string payload = Base64UrlEncode(boost::json::serialize(Claims()));
  EXPECT_TRUE(Rejected(v.Verify("", now_), "malformed token: empty"));
  EXPECT_TRUE(Rejected(
      v.Verify(good.substr(0, good.rfind('.')), now_),
      "malformed token: expected 3 dot-separated parts (header.payload.signature), found 2"));
  EXPECT_TRUE(Rejected(v.Verify(good + ".x", now_), "found 4"));
  EXPECT_TRUE(Rejected(
      v.Verify("eyJhbGciOiJSUzI1NiJ9!." + payload + ".AAAA", now_),
      "malformed token: header is not valid base64url (unexpected character '!' at offset 20)"));
  EXPECT_TRUE(
      Rejected(v.Verify(Base64UrlEncode(R"({"alg":"RS256"})") + "." + payload + "=.AAAA", now_),
               "malformed token: payload is not valid base64url (unexpected padding '='"));
  EXPECT_TRUE(Rejected(v.Verify(good.substr(0, good.rfind('.')) + ".A", now_),
                       "malformed token: signature is not valid base64url (truncated"));
  EXPECT_TRUE(Rejected(v.Verify(Base64UrlEncode("not json") + "." + payload + ".AAAA", now_),
                       "malformed token: header is not valid JSON"));
  EXPECT_TRUE(Rejected(v.Verify(Base64UrlEncode(R"(["RS256"])") + "." + payload + ".AAAA", now_),
                       "malformed token: header is not a JSON object"));
  EXPECT_TRUE(
      Rejected(v.Verify(Base64UrlEncode(R"({"alg":"RS256"} {})") + "." + payload + ".AAAA", now_),
               "malformed token: header is not valid JSON"));
  EXPECT_TRUE(Rejected(
      v.Verify(Base64UrlEncode(R"({"alg":"RS256"})") + "." + Base64UrlEncode("{\"sub\":") + ".AAAA",
               now_),
      "malformed token: payload is not valid JSON"));
  EXPECT_TRUE(
      Rejected(v.Verify(Base64UrlEncode(R"({"typ":"JWT"})") + "." + payload + ".AAAA", now_),
               "malformed token: header has no 'alg'"));
  EXPECT_TRUE(Rejected(v.Verify(Base64UrlEncode(R"({"alg":256})") + "." + payload + ".AAAA", now_),
                       "malformed token: header 'alg' must be a string"));
  EXPECT_TRUE(Rejected(
      v.Verify(Base64UrlEncode(R"({"alg":"RS256","kid":1})") + "." + payload + ".AAAA", now_),
      "malformed token: header 'kid' must be a string"));
  EXPECT_TRUE(Rejected(
      v.Verify(Base64UrlEncode("{\"alg\":\"RS256\",\"x\":\"\xff\"}") + "." + payload + ".AAAA",
               now_),
      "malformed token: header is not valid JSON"));
}

TEST_F(JwtTest, HugeTokensAreRejectedBeforeDecoding) {
  JwtVerifier v = StandardVerifier();
  auto claims = Claims();
  claims["padding"] = std::string(kMaxTokenBytes, 'x');
  std::string big = Token(*Rsa(), "rsa-1", claims);
  ASSERT_GT(big.size(), kMaxTokenBytes);
  EXPECT_TRUE(Rejected(v.Verify(big, now_), "malformed token: longer than 16384 bytes"));
  EXPECT_TRUE(Rejected(v.Verify(std::string(kMaxTokenBytes + 1, '!'), now_),
                       "malformed token: longer than 16384 bytes"));
  // Just below the limit is decoded and verified normally.
  claims["padding"] = std::string(9000, 'x');
  std::string fits = Token(*Rsa(), "rsa-1", claims);
  ASSERT_LE(fits.size(), kMaxTokenBytes);
  EXPECT_TRUE(v.Verify(fits, now_).has_value());
}

// ---- concurrency ----------------------------------------------------------------------------

TEST_F(JwtTest, VerifyIsSafeFromManyThreadsOnOneVerifier) {
  const JwtVerifier v = StandardVerifier();
  const std::vector<std::string> good = {
      Token(*Rsa(), "rsa-1", Claims()), Token(*Ec(), "ec-1", Claims()), Token(*Ed(), "", Claims())};
  const std::string bad = Token(*Rsa2(), "rsa-1", Claims());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      JwtVerifier copy = v;  // copies share the keys
      for (int i = 0; i < 100; ++i) {
        const JwtVerifier& use = (i % 2) ? copy : v;
        if (!use.Verify(good[(t + i) % good.size()], now_).has_value()) ++failures;
        if (use.Verify(bad, now_).has_value()) ++failures;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

// ---- JWKS files -----------------------------------------------------------------------------

TEST_F(JwtTest, KeysNotForSignaturesAreSkipped) {
  auto enc = Rsa2()->Jwk("enc-1", false);
  enc["use"] = "enc";
  enc["alg"] = "RSA-OAEP";
  boost::json::object oct{{"kty", "oct"}, {"kid", "mac"}, {"use", "enc"}, {"k", "c2VjcmV0"}};
  auto wrap_only = Ec2()->Jwk("wrap");
  wrap_only.erase("use");
  wrap_only["key_ops"] = boost::json::array{"wrapKey"};
  auto verify_ops = Ed()->Jwk("ed-ops");
  verify_ops.erase("use");
  verify_ops["key_ops"] = boost::json::array{"verify"};
  std::string jwks =
      WriteJwks("mixed.json", {enc, oct, wrap_only, Rsa()->Jwk("rsa-1"), verify_ops});
  auto v = JwtVerifier::Create({IssuerConfig{kIssuer, {kAudience}, jwks}});
  ASSERT_TRUE(v.has_value()) << v.error().ToString();
  EXPECT_TRUE(v->Verify(Token(*Rsa(), "rsa-1", Claims()), now_).has_value());
  EXPECT_TRUE(v->Verify(Token(*Ed(), "ed-ops", Claims()), now_).has_value());
  EXPECT_TRUE(Rejected(v->Verify(Token(*Rsa2(), "enc-1", Claims()), now_), "no key 'enc-1'"));
  EXPECT_TRUE(Rejected(v->Verify(Token(*Ec2(), "wrap", Claims()), now_), "no key 'wrap'"));
  // Keys without use, alg or kid are fine too.
  auto bare = Rsa()->Jwk("", false);
  bare.erase("use");
  auto v2 =
      JwtVerifier::Create({IssuerConfig{kIssuer, {kAudience}, WriteJwks("bare.json", {bare})}});
  ASSERT_TRUE(v2.has_value()) << v2.error().ToString();
  EXPECT_TRUE(v2->Verify(Token(*Rsa(), "", Claims()), now_).has_value());
}

TEST_F(JwtTest, BadJwksFilesAreRejectedNamingTheFileAndTheKey) {
  auto rsa = [&] { return Rsa()->Jwk("k1"); };
  auto ec = [&] { return Ec()->Jwk("e1"); };
  auto with = [](boost::json::object o, std::string_view field, const auto& v) {
    o[field] = boost::json::value_from(v);
    return o;
  };
  auto without = [](boost::json::object o, std::string_view field) {
    o.erase(field);
    return o;
  };
  std::string small_rsa = [&] {
    auto k = Generate(Kind::kRsa, 1024);
    boost::json::object jwk = PublicJwk(k.get(), Kind::kRsa);
    jwk["kid"] = "small";
    return boost::json::serialize(jwk);
  }();
  struct Case {
    std::string name;
    std::string text;
    std::string message;
  };
  auto keys = [](std::vector<boost::json::object> list) {
    boost::json::array a;
    for (auto& k : list) a.push_back(std::move(k));
    return boost::json::serialize(boost::json::object{{"keys", std::move(a)}});
  };
  const std::vector<Case> cases = {
      {"oct.json", keys({rsa(), {{"kty", "oct"}, {"kid", "k2"}, {"k", "c2VjcmV0"}}}),
       "key 2 (kid 'k2'): unsupported kty 'oct' (accepted: RSA, EC, OKP)"},
      {"notjson.json", "{\"keys\": [", "not valid JSON"},
      {"nokeys.json", R"({"kty":"RSA"})", "expected a JSON object with a 'keys' array"},
      {"empty.json", R"({"keys":[]})", "no signing key"},
      {"onlyenc.json", keys({with(rsa(), "use", "enc")}), "no signing key"},
      {"notobject.json", R"({"keys":["RSA"]})", "key 1: must be a JSON object"},
      {"small.json", "{\"keys\":[" + small_rsa + "]}",
       "key 1 (kid 'small'): RSA modulus of 1024 bits is too small (at least 2048)"},
      {"no-n.json", keys({without(rsa(), "n")}), "key 1 (kid 'k1'): missing 'n'"},
      {"bad-n.json", keys({with(rsa(), "n", "AQAB==")}),
       "key 1 (kid 'k1'): 'n' is not valid base64url"},
      {"even-n.json", keys({with(rsa(), "n", Base64UrlEncode(std::string(256, '\xfe')))}),
       "key 1 (kid 'k1'): not a valid RSA public key"},
      {"even-e.json", keys({with(rsa(), "e", "Ag")}),
       "key 1 (kid 'k1'): not a valid RSA public key (check 'n' and 'e')"},
      {"private.json", keys({with(rsa(), "d", "AQAB")}),
       "key 1 (kid 'k1'): holds private key material ('d')"},
      {"alg-mismatch.json", keys({with(rsa(), "alg", "ES256")}),
       "key 1 (kid 'k1'): alg 'ES256' does not fit kty 'RSA' (expected RS256)"},
      {"alg-hs.json", keys({with(rsa(), "alg", "HS256")}),
       "key 1 (kid 'k1'): unsupported alg 'HS256'"},
      {"alg-ps.json", keys({with(rsa(), "alg", "PS256")}), "unsupported alg 'PS256'"},
      {"dup.json", keys({rsa(), with(ec(), "kid", "k1")}),
       "key 2 (kid 'k1'): duplicate kid (also key 1)"},
      {"p384.json", keys({with(ec(), "crv", "P-384")}),
       "key 1 (kid 'e1'): unsupported crv 'P-384' for kty 'EC' (accepted: P-256)"},
      {"short-x.json", keys({with(ec(), "x", Base64UrlEncode(std::string(31, '\1')))}),
       "'x' and 'y' must be 32 bytes each for P-256, got 31 and 32"},
      {"off-curve.json", keys({with(ec(), "y", Base64UrlEncode(std::string(32, '\1')))}),
       "key 1 (kid 'e1'): 'x' and 'y' are not a point on P-256"},
      {"x25519.json", keys({with(with(Ed()->Jwk("o1", false), "crv", "X25519"), "kid", "o1")}),
       "key 1 (kid 'o1'): unsupported crv 'X25519' for kty 'OKP' (accepted: Ed25519)"},
      {"ed-short.json", keys({with(Ed()->Jwk("o1"), "x", "AAAA")}),
       "'x' must be 32 bytes for Ed25519, got 3"},
      {"kid-number.json", keys({with(rsa(), "kid", 7)}), "key 1: 'kid' must be a string"},
      {"no-kty.json", keys({without(rsa(), "kty")}), "key 1 (kid 'k1'): missing 'kty'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string path = WriteFile(c.name, c.text);
    auto v = JwtVerifier::Create({IssuerConfig{kIssuer, {kAudience}, path}});
    ASSERT_FALSE(v.has_value());
    EXPECT_EQ(v.error().code(), StatusCode::kInvalidArgument) << v.error().ToString();
    EXPECT_THAT(v.error().message(), HasSubstr("jwks '" + path + "': "));
    EXPECT_THAT(v.error().message(), HasSubstr(c.message));
  }
  std::string huge = WriteFile("huge.json", std::string(kMaxJwksBytes + 1, ' '));
  auto too_big = JwtVerifier::Create({IssuerConfig{kIssuer, {kAudience}, huge}});
  ASSERT_FALSE(too_big.has_value());
  EXPECT_EQ(too_big.error().message(), "jwks '" + huge + "': larger than 1048576 bytes");
  std::string missing = dir_.path() + "/missing.json";
  auto v = JwtVerifier::Create({IssuerConfig{kIssuer, {kAudience}, missing}});
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), StatusCode::kNotFound);
  EXPECT_EQ(v.error().message(), "jwks '" + missing + "': cannot read the file");
}

TEST_F(JwtTest, JwksErrorsNeverQuoteKeyMaterial) {
  std::string n = std::string(Rsa()->Jwk("k1").at("n").as_string());
  std::string path = WriteJwks("private.json", {[&] {
                                 auto k = Rsa()->Jwk("k1");
                                 k["d"] = n;  // anything secret-looking
                                 k["alg"] = "RS512";
                                 return k;
                               }()});
  auto v = JwtVerifier::Create({IssuerConfig{kIssuer, {kAudience}, path}});
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().message().find(n.substr(0, 16)), std::string::npos) << v.error().message();
}

TEST_F(JwtTest, BadIssuerListsAreRejected) {
  std::string jwks = WriteJwks("jwks.json", {Rsa()->Jwk("rsa-1")});
  auto msg = [](const Result<JwtVerifier>& r) {
    return r ? std::string("accepted") : r.error().message();
  };
  EXPECT_EQ(msg(JwtVerifier::Create({})), "identity tokens: no issuer configured");
  EXPECT_EQ(msg(JwtVerifier::Create({IssuerConfig{"", {kAudience}, jwks}})),
            "issuer 1: the issuer is empty");
  EXPECT_EQ(msg(JwtVerifier::Create({IssuerConfig{kIssuer, {}, jwks}})),
            "issuer '" + kIssuer + "': no audience configured");
  EXPECT_EQ(msg(JwtVerifier::Create({IssuerConfig{kIssuer, {""}, jwks}})),
            "issuer '" + kIssuer + "': empty audience");
  EXPECT_EQ(msg(JwtVerifier::Create(
                {IssuerConfig{kIssuer, {kAudience}, jwks, std::chrono::seconds(601)}})),
            "issuer '" + kIssuer + "': clock skew of 601s is outside 0..600s");
  EXPECT_EQ(msg(JwtVerifier::Create(
                {IssuerConfig{kIssuer, {kAudience}, jwks}, IssuerConfig{kIssuer, {"x"}, jwks}})),
            "issuer '" + kIssuer + "' is configured twice");
  EXPECT_EQ(msg(JwtVerifier::Create({IssuerConfig{kIssuer, {kAudience}, ""}})),
            "issuer '" + kIssuer + "': no jwks file configured");
}

// ---- issuer config file ---------------------------------------------------------------------

TEST_F(JwtTest, IssuerConfigFileIsLoadedAndDrivesTheVerifier) {
  std::filesystem::create_directory(dir_.path() + "/keys");
  WriteJwks("keys/idp.json", {Rsa()->Jwk("rsa-1"), Ed()->Jwk("ed-1")});
  std::string other = WriteJwks("other.json", {Ec()->Jwk("ec-1")});
  std::string path = WriteFile("oidc.yaml", R"(# identity providers
issuers:
  - issuer: https://login.example.com/realms/scaigrid
    audiences: [scaigrid-iam, account]
    jwks_file: keys/idp.json
  - issuer: "https://accounts.example.org"
    audiences:
      - scaigrid
    jwks_file: )" + other + R"(
    clock_skew_seconds: 5
)");
  auto config = LoadIssuerConfig(path);
  ASSERT_TRUE(config.has_value()) << config.error().ToString();
  ASSERT_EQ(config->size(), 2u);
  EXPECT_EQ((*config)[0].issuer, kIssuer);
  EXPECT_EQ((*config)[0].audiences, (std::vector<std::string>{"scaigrid-iam", "account"}));
  EXPECT_EQ((*config)[0].jwks_file, dir_.path() + "/keys/idp.json");  // relative to the config
  EXPECT_EQ((*config)[0].clock_skew, std::chrono::seconds(60));
  EXPECT_EQ((*config)[1].issuer, "https://accounts.example.org");
  EXPECT_EQ((*config)[1].jwks_file, other);
  EXPECT_EQ((*config)[1].clock_skew, std::chrono::seconds(5));

  auto v = JwtVerifier::Create(std::move(*config));
  ASSERT_TRUE(v.has_value()) << v.error().ToString();
  EXPECT_EQ(v->Verify(Token(*Ed(), "ed-1", Claims()), now_)->principal, "user:alice");
  auto claims = Claims();
  claims["iss"] = "https://accounts.example.org";
  claims["aud"] = "scaigrid";
  claims["exp"] = now_ - 5;
  EXPECT_TRUE(Rejected(v->Verify(Token(*Ec(), "ec-1", claims), now_), "(clock skew 5s)"));
  claims["exp"] = now_ - 4;
  EXPECT_TRUE(v->Verify(Token(*Ec(), "ec-1", claims), now_).has_value());
}

TEST_F(JwtTest, BadIssuerConfigFilesReportEveryProblemWithItsLine) {
  auto problems = [](std::string_view yaml) -> std::vector<std::string> {
    auto r = ParseIssuerConfig(yaml, "/etc/scaigrid/oidc.yaml");
    if (r) return {"accepted"};
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(r.error().message(), HasSubstr("invalid issuer config /etc/scaigrid/oidc.yaml: "));
    return r.error().details();
  };
  using ::testing::ElementsAre;
  EXPECT_THAT(problems(""),
              ElementsAre(HasSubstr(
                  "oidc.yaml:1: an issuer config must be a YAML map with an 'issuers' list")));
  EXPECT_THAT(problems("issuers: []"),
              ElementsAre(HasSubstr(":1: 'issuers' must be a non-empty list")));
  EXPECT_THAT(problems("issuers: [\n"), ElementsAre(HasSubstr("invalid YAML")));
  EXPECT_THAT(
      problems(R"(issuers:
  - issuer: https://a.example.com
    audience: x
    jwks_file: a.json
  - issuer: https://a.example.com
    audiences: []
    jwks_file: ""
    clock_skew_seconds: 1m
  - just a string
providers: []
)"),
      ElementsAre(
          "/etc/scaigrid/oidc.yaml:10: unknown field 'providers' in issuer config (expected "
          "issuers)",
          "/etc/scaigrid/oidc.yaml:3: unknown field 'audience' in issuer (expected issuer, "
          "audiences, "
          "jwks_file, clock_skew_seconds)",
          "/etc/scaigrid/oidc.yaml:2: missing required field 'audiences' in issuer",
          "/etc/scaigrid/oidc.yaml:5: issuer 'https://a.example.com' is listed twice (also line 2)",
          "/etc/scaigrid/oidc.yaml:6: 'audiences' must be a non-empty list of strings",
          "/etc/scaigrid/oidc.yaml:7: 'jwks_file' must not be empty",
          "/etc/scaigrid/oidc.yaml:8: 'clock_skew_seconds' must be an integer from 0 to 600",
          "/etc/scaigrid/oidc.yaml:9: each issuer must be a map with issuer, audiences, "
          "jwks_file"));
  EXPECT_THAT(
      problems(
          "issuers:\n  - {issuer: x, audiences: [a, [b]], jwks_file: j, clock_skew_seconds: -1}\n"),
      ElementsAre(HasSubstr(":2: each audience must be a non-empty string"),
                  HasSubstr(":2: 'clock_skew_seconds' must be an integer from 0 to 600")));
  EXPECT_THAT(problems("issuers:\n  - {audiences: [a], jwks_file: j, clock_skew_seconds: 601}\n"),
              ElementsAre(HasSubstr(":2: missing required field 'issuer' in issuer"),
                          HasSubstr(":2: 'clock_skew_seconds' must be an integer from 0 to 600")));

  auto missing = LoadIssuerConfig(dir_.path() + "/nope.yaml");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.error().message(), HasSubstr("nope.yaml': cannot read the file"));
}

}  // namespace
}  // namespace scaigrid::iam::auth
