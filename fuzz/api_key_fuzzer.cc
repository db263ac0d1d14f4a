// Feeds: a presented bearer secret, as the API layer hands it to authentication: the API-key
// shape check (auth::LooksLikeApiKey), its stored hash (auth::HashSecret), the capability-token
// pre-check, and the strict base64url codec every token format is built on.
// Asserts: LooksLikeApiKey accepts exactly "sgk_" + 43 URL-safe base64 characters (checked
// against an independent reading of the format); a hash is 64 lowercase hex digits and
// deterministic; a freshly generated key looks like one and hashes to its stored hash;
// Base64UrlDecode accepts only canonical text (decode -> encode gives the input back) and
// Base64UrlEncode output always decodes to the bytes encoded.
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "auth/api_key.h"
#include "auth/capability_token.h"
#include "auth/jwt.h"
#include "fuzz_check.h"

namespace {

bool ExpectedShape(std::string_view s) {
  if (s.size() != 47 || s.substr(0, 4) != "sgk_") return false;
  for (char c : s.substr(4)) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (!scaigrid::iam::auth::InitCrypto().ok()) std::abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace scaigrid::iam;
  const std::string_view secret = fuzz::AsText(data, size);

  FUZZ_CHECK(auth::LooksLikeApiKey(secret) == ExpectedShape(secret), std::string(secret));
  const std::string hash = auth::HashSecret(secret);
  FUZZ_CHECK(hash.size() == 64 && hash.find_first_not_of("0123456789abcdef") == std::string::npos, hash);
  FUZZ_CHECK(hash == auth::HashSecret(std::string(secret)), "hash not deterministic");
  if (auth::LooksLikeCapabilityToken(secret)) {
    FUZZ_CHECK(secret.starts_with(auth::kCapabilityTokenPrefix), std::string(secret));
  }

  if (auto bytes = auth::Base64UrlDecode(secret)) {
    FUZZ_CHECK(auth::Base64UrlEncode(*bytes) == secret, std::string(secret));
  }
  const std::string encoded = auth::Base64UrlEncode(secret);
  auto decoded = auth::Base64UrlDecode(encoded);
  FUZZ_CHECK(decoded.has_value() && *decoded == secret, encoded);

  if (size == 0) {  // once in a while: a real key has the shape and its hash
    const auth::NewApiKey key = auth::GenerateApiKey();
    FUZZ_CHECK(auth::LooksLikeApiKey(key.secret), key.secret);
    FUZZ_CHECK(auth::HashSecret(key.secret) == key.hash, key.id);
  }
  return 0;
}
