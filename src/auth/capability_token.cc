#include "auth/capability_token.h"

#include <algorithm>

#include <boost/json.hpp>
#include <sodium.h>

#include "auth/api_key.h"
#include "auth/jwt.h"

namespace scaigrid::iam::auth {
namespace json = boost::json;
namespace {

constexpr std::string_view kTyp = "scaigrid-cap+jwt";

Status Invalid(std::string message) {
  return Status(StatusCode::kUnauthenticated, "invalid capability token: " + std::move(message))
      .WithReason("invalid_token");
}

// `o[name]` as a string; "" and an error flag when absent or not a string.
std::string StringClaim(const json::object& o, std::string_view name, bool required, std::string& missing) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr && !required) return {};
  if (v == nullptr || !v->is_string()) {
    if (missing.empty()) missing = std::string(name);
    return {};
  }
  return std::string(v->get_string());
}

std::int64_t IntClaim(const json::object& o, std::string_view name, std::string& missing) {
  const json::value* v = o.if_contains(name);
  if (v != nullptr && v->is_int64()) return v->get_int64();
  if (v != nullptr && v->is_uint64() && v->get_uint64() <= INT64_MAX) return static_cast<std::int64_t>(v->get_uint64());
  if (missing.empty()) missing = std::string(name);
  return 0;
}

Result<json::object> DecodeJsonPart(std::string_view part, std::string_view what) {
  auto bytes = Base64UrlDecode(part);
  if (!bytes) return Err(Invalid("malformed " + std::string(what) + ": " + bytes.error().message()));
  boost::system::error_code ec;
  json::value v = json::parse(*bytes, ec);
  if (ec || !v.is_object()) return Err(Invalid("malformed " + std::string(what) + ": not a JSON object"));
  return std::move(v.as_object());
}

}  // namespace

SigningKey GenerateSigningKey() {
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  SigningKey key{"capk_" + RandomHex(8), std::string(reinterpret_cast<char*>(pk), sizeof pk),
                 std::string(reinterpret_cast<char*>(sk), sizeof sk)};
  sodium_memzero(sk, sizeof sk);
  return key;
}

std::string NewCapabilityTokenId() { return "cap_" + RandomHex(10); }

std::string SignCapabilityToken(const CapabilityClaims& c, const SigningKey& key) {
  json::object header{{"alg", "EdDSA"}, {"kid", key.kid}, {"typ", kTyp}};
  json::object payload{{"jti", c.id},          {"cap", c.capability}, {"perm", c.permission},
                       {"res", c.resource},    {"scope", c.scope},    {"iss_by", c.issued_by},
                       {"iat", c.issued_at},   {"exp", c.expires_at}, {"rev", c.revision}};
  if (!c.visitor.empty()) payload["sub"] = c.visitor;
  const std::string signing_input =
      Base64UrlEncode(json::serialize(header)) + "." + Base64UrlEncode(json::serialize(payload));
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size(), reinterpret_cast<const unsigned char*>(key.secret_key.data()));
  return std::string(kCapabilityTokenPrefix) + signing_input + "." +
         Base64UrlEncode(std::string_view(reinterpret_cast<char*>(sig), sizeof sig));
}

bool LooksLikeCapabilityToken(std::string_view text) { return text.starts_with(kCapabilityTokenPrefix); }

Result<CapabilityClaims> VerifyCapabilityToken(
    std::string_view token, const std::function<const std::string*(std::string_view kid)>& find_key) {
  if (!LooksLikeCapabilityToken(token)) return Err(Invalid("it does not start with 'sgc_'"));
  if (token.size() > kMaxCapabilityTokenBytes) {
    return Err(Invalid("longer than " + std::to_string(kMaxCapabilityTokenBytes) + " bytes"));
  }
  std::string_view jws = token.substr(kCapabilityTokenPrefix.size());
  const std::size_t dot1 = jws.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : jws.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || jws.find('.', dot2 + 1) != std::string_view::npos) {
    return Err(Invalid("malformed: expected three parts separated by '.'"));
  }
  auto header = DecodeJsonPart(jws.substr(0, dot1), "header");
  if (!header) return Err(header.error());
  const json::value* alg = header->if_contains("alg");
  if (alg == nullptr || !alg->is_string() || alg->get_string() != "EdDSA") {
    return Err(Invalid("algorithm must be EdDSA"));
  }
  const json::value* kid = header->if_contains("kid");
  if (kid == nullptr || !kid->is_string()) return Err(Invalid("malformed header: no 'kid'"));
  const std::string* public_key = find_key(std::string_view(kid->get_string()));
  if (public_key == nullptr || public_key->size() != crypto_sign_PUBLICKEYBYTES) {
    return Err(Invalid("unknown signing key '" + std::string(std::string_view(kid->get_string()).substr(0, 40)) + "'"));
  }
  auto signature = Base64UrlDecode(jws.substr(dot2 + 1));
  if (!signature || signature->size() != crypto_sign_BYTES) return Err(Invalid("malformed signature"));
  const std::string_view signing_input = jws.substr(0, dot2);
  if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature->data()),
                                  reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(),
                                  reinterpret_cast<const unsigned char*>(public_key->data())) != 0) {
    return Err(Invalid("signature verification failed"));
  }
  auto payload = DecodeJsonPart(jws.substr(dot1 + 1, dot2 - dot1 - 1), "payload");
  if (!payload) return Err(payload.error());
  std::string missing;
  CapabilityClaims c;
  c.id = StringClaim(*payload, "jti", true, missing);
  c.capability = StringClaim(*payload, "cap", true, missing);
  c.permission = StringClaim(*payload, "perm", true, missing);
  c.resource = StringClaim(*payload, "res", true, missing);
  c.scope = StringClaim(*payload, "scope", true, missing);
  c.issued_by = StringClaim(*payload, "iss_by", true, missing);
  c.visitor = StringClaim(*payload, "sub", false, missing);
  c.issued_at = IntClaim(*payload, "iat", missing);
  c.expires_at = IntClaim(*payload, "exp", missing);
  c.revision = IntClaim(*payload, "rev", missing);
  if (c.revision < 0 && missing.empty()) missing = "rev";
  if (!missing.empty()) return Err(Invalid("claim '" + missing + "' is missing or has the wrong type"));
  return c;
}

VerifiedTokenCache::VerifiedTokenCache(std::size_t capacity)
    : per_shard_(std::max<std::size_t>(1, capacity / kShards)) {}

Result<std::shared_ptr<const CapabilityClaims>> VerifiedTokenCache::Verify(std::string_view token,
                                                                           const FindKey& find_key) {
  const std::size_t hash = Hash{}(token);
  Shard& shard = shards_[(hash >> 7) % kShards];  // other bits than the map's buckets
  {
    std::lock_guard lock(shard.mu);
    if (auto it = shard.tokens.find(token); it != shard.tokens.end()) return it->second;
  }
  auto claims = VerifyCapabilityToken(token, find_key);  // outside the lock: the slow part
  if (!claims) return Err(claims.error());
  auto verified = std::make_shared<const CapabilityClaims>(std::move(*claims));
  std::lock_guard lock(shard.mu);
  if (shard.tokens.size() >= per_shard_) shard.tokens.clear();
  shard.tokens.try_emplace(std::string(token), verified);
  return verified;
}

std::size_t VerifiedTokenCache::size() const {
  std::size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    n += shard.tokens.size();
  }
  return n;
}

json::object SigningKeyJwk(const SigningKey& key) {
  return json::object{{"kty", "OKP"}, {"crv", "Ed25519"}, {"alg", "EdDSA"},
                      {"use", "sig"}, {"kid", key.kid},   {"x", Base64UrlEncode(key.public_key)}};
}

}  // namespace scaigrid::iam::auth
