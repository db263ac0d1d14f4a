// Feeds: a capability token to auth::VerifyCapabilityToken and to a VerifiedTokenCache, with
// one fixed Ed25519 signing key known. The first input byte picks the form: even, the rest is
// the token as presented ("sgc_" + JWS); odd, the rest is "HEADER_JSON\nPAYLOAD_JSON" that the
// target signs with the known key first, so claim decoding behind the signature is fuzzed too.
// Asserts: the cache and the direct check agree (twice: miss, then hit); verified claims,
// signed again with SignCapabilityToken, verify to the very same claims (round trip), and a
// verified revision is never negative.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "auth/api_key.h"
#include "auth/capability_token.h"
#include "fuzz_check.h"
#include "sign_util.h"

namespace {

using namespace scaigrid::iam;

struct Fixture {
  auth::SigningKey key;
  auth::VerifiedTokenCache cache{64};
};

Fixture& GetFixture() {
  static Fixture* fixture = [] {
    FUZZ_CHECK(auth::InitCrypto().ok(), "libsodium");
    const fuzz::Ed25519Key k = fuzz::FixedKey(0xC3);
    return new Fixture{.key = {"capk_00000000000000c3", k.public_key, k.secret_key}};
  }();
  return *fixture;
}

bool SameClaims(const auth::CapabilityClaims& a, const auth::CapabilityClaims& b) {
  return a.id == b.id && a.capability == b.capability && a.permission == b.permission &&
         a.resource == b.resource && a.scope == b.scope && a.visitor == b.visitor &&
         a.issued_by == b.issued_by && a.issued_at == b.issued_at && a.expires_at == b.expires_at &&
         a.revision == b.revision;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  GetFixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  Fixture& f = GetFixture();
  const auth::VerifiedTokenCache::FindKey find_key = [&f](std::string_view kid) -> const std::string* {
    return kid == f.key.kid ? &f.key.public_key : nullptr;
  };
  const std::string_view rest = fuzz::AsText(data + 1, size - 1);
  std::string token;
  if (data[0] % 2 == 0) {
    token = std::string(rest);
  } else {
    auto [header, payload] = fuzz::SplitHeaderPayload(
        rest, R"({"alg":"EdDSA","kid":"capk_00000000000000c3","typ":"scaigrid-cap+jwt"})");
    token = std::string(auth::kCapabilityTokenPrefix) +
            fuzz::SignJws(header, payload, {f.key.public_key, f.key.secret_key});
  }

  auto direct = auth::VerifyCapabilityToken(token, find_key);
  for (int pass = 0; pass < 2; ++pass) {
    auto cached = f.cache.Verify(token, find_key);
    FUZZ_CHECK(cached.has_value() == direct.has_value(), token);
    if (cached) FUZZ_CHECK(SameClaims(**cached, *direct), token);
  }
  if (!direct) {
    FUZZ_CHECK(direct.error().code() == StatusCode::kUnauthenticated, direct.error().ToString());
    return 0;
  }
  FUZZ_CHECK(direct->revision >= 0, token);
  const std::string resigned = auth::SignCapabilityToken(*direct, f.key);
  auto again = auth::VerifyCapabilityToken(resigned, find_key);
  // A re-signed token may only fail for its length (claims near the size limit).
  if (resigned.size() <= auth::kMaxCapabilityTokenBytes) {
    FUZZ_CHECK(again.has_value(), resigned + " -> " + again.error().ToString());
    FUZZ_CHECK(SameClaims(*again, *direct), resigned);
  }
  return 0;
}
