// Feeds: an identity-provider access token to a JwtVerifier configured with two issuers and
// fixed Ed25519 keys. The first input byte picks the form: even, the rest is a compact token
// as sent ("header.payload.signature"); odd, the rest is "HEADER_JSON\nPAYLOAD_JSON" that the
// target signs with the issuer's key first, so the claim checks behind the signature are
// fuzzed too.
// Asserts: a verified token names a configured issuer and one of its audiences, uses EdDSA
// with a configured kid, has a non-empty sub with principal "user:" + sub, has not expired
// (allowing the skew) and its claims hold that sub and exp; verification is deterministic.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "auth/api_key.h"
#include "auth/jwt.h"
#include "fuzz_check.h"
#include "sign_util.h"

namespace {

using namespace scaigrid::iam;

constexpr std::int64_t kNow = 1780272000;  // 2026-06-01T00:00:00Z
constexpr std::int64_t kSkew = 60;

struct Fixture {
  fuzz::Ed25519Key key_a = fuzz::FixedKey(0xA1);  // issuer A, kid "a1"
  fuzz::Ed25519Key key_b = fuzz::FixedKey(0xB2);  // issuer B, no kid
  std::optional<auth::JwtVerifier> verifier;
};

std::string Jwk(const fuzz::Ed25519Key& key, std::string_view kid) {
  std::string jwk = R"({"kty":"OKP","crv":"Ed25519","alg":"EdDSA","use":"sig","x":")" +
                    auth::Base64UrlEncode(key.public_key) + "\"";
  if (!kid.empty()) jwk += ",\"kid\":\"" + std::string(kid) + "\"";
  return jwk + "}";
}

const Fixture& GetFixture() {
  static const Fixture* fixture = [] {
    FUZZ_CHECK(auth::InitCrypto().ok(), "libsodium");
    auto* f = new Fixture;
    std::string dir = (std::filesystem::temp_directory_path() / "jwt_fuzzer.XXXXXX").string();
    FUZZ_CHECK(::mkdtemp(dir.data()) != nullptr, dir);
    const std::string a = dir + "/a.jwks.json", b = dir + "/b.jwks.json";
    std::ofstream(a) << R"({"keys":[)" << Jwk(f->key_a, "a1") << "]}";
    std::ofstream(b) << R"({"keys":[)" << Jwk(f->key_b, "") << "]}";
    auto verifier = auth::JwtVerifier::Create(
        {{.issuer = "https://idp.example.com/a", .audiences = {"scaigrid-iam", "other"}, .jwks_file = a,
          .clock_skew = std::chrono::seconds(kSkew)},
         {.issuer = "https://idp.example.com/b", .audiences = {"scaigrid-iam"}, .jwks_file = b,
          .clock_skew = std::chrono::seconds(0)}});
    FUZZ_CHECK(verifier.has_value(), verifier.error().ToString());
    f->verifier = std::move(*verifier);
    std::filesystem::remove_all(dir);  // Create read the keys; nothing is read later
    return f;
  }();
  return *fixture;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  GetFixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Fixture& f = GetFixture();
  const std::string_view rest = fuzz::AsText(data + 1, size - 1);
  std::string token;
  if (data[0] % 2 == 0) {
    token = std::string(rest);
  } else {
    auto [header, payload] = fuzz::SplitHeaderPayload(rest, R"({"alg":"EdDSA","kid":"a1"})");
    // Which key signs: issuer B's when the payload names it, else issuer A's.
    const bool b = payload.find("idp.example.com/b") != std::string_view::npos;
    token = fuzz::SignJws(header, payload, b ? f.key_b : f.key_a);
  }

  auto verified = f.verifier->Verify(token, kNow);
  auto again = f.verifier->Verify(token, kNow);
  FUZZ_CHECK(verified.has_value() == again.has_value(), token);
  if (!verified) {
    FUZZ_CHECK(verified.error().code() == StatusCode::kUnauthenticated, verified.error().ToString());
    FUZZ_CHECK(verified.error().message() == again.error().message(), token);
    return 0;
  }
  const auth::VerifiedToken& t = *verified;
  const bool is_a = t.issuer == "https://idp.example.com/a";
  FUZZ_CHECK(is_a || t.issuer == "https://idp.example.com/b", t.issuer);
  FUZZ_CHECK(t.alg == "EdDSA", t.alg);
  FUZZ_CHECK(t.kid == (is_a ? "a1" : ""), t.kid);
  FUZZ_CHECK(t.audience == "scaigrid-iam" || (is_a && t.audience == "other"), t.audience);
  FUZZ_CHECK(!t.subject.empty() && t.principal == "user:" + t.subject, t.principal);
  FUZZ_CHECK(kNow < t.expires_at + (is_a ? kSkew : 0), std::to_string(t.expires_at));
  const boost::json::value* sub = t.claims.if_contains("sub");
  FUZZ_CHECK(sub != nullptr && sub->is_string() && sub->get_string() == t.subject, t.subject);
  FUZZ_CHECK(t.claims.contains("exp"), token);
  return 0;
}
