// Capability ("embed") tokens: one action on one resource, signed with Ed25519 so a module can
// verify them offline (docs/capability-tokens.md).
//
// A token is "sgc_" followed by a JWS compact serialization (RFC 7515): base64url(header) "."
// base64url(payload) "." base64url(signature), where the header is
// {"alg":"EdDSA","kid":<key id>,"typ":"scaigrid-cap+jwt"}, the payload holds the claims below
// as JSON, and the signature is Ed25519 (libsodium crypto_sign_detached) over
// "<header>.<payload>" — a module strips the "sgc_" prefix and verifies it with any JOSE
// library and the public keys published as a JWKS (SigningKeyJwk).
//
// This file knows the format and the cryptography only. Whether a token is still alive
// (expiry, revocation, the issuer still allowed to issue it) is the service's decision.
//
// Thread-safety: pure functions; auth::InitCrypto must have run once.
#pragma once

#include <boost/json/object.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "scaigrid/iam/status.h"

namespace scaigrid::iam::auth {

// The claims of one token. Payload names in brackets.
struct CapabilityClaims {
  std::string id;           // [jti] "cap_" + 20 hex digits: names the token for revocation
  std::string capability;   // [cap] "<module>:<capability name>", e.g. "scaibot:chat"
  std::string permission;   // [perm] the one key it allows, e.g. "scaibot:chat"
  std::string resource;     // [res] the one resource, "<type>:<id>", e.g. "bot:b-42"
  std::string scope;        // [scope] where it was minted (its issuer's grant), e.g. "tenant:acme"
  std::string visitor;      // [sub] optional visitor identity ("" when none)
  std::string issued_by;    // [iss_by] the principal that minted it
  std::int64_t issued_at = 0;   // [iat] seconds since the epoch
  std::int64_t expires_at = 0;  // [exp] seconds since the epoch
  std::int64_t revision = 0;    // [rev] the policy revision that minted it (a node behind it waits)
};

// An Ed25519 signing key. `secret_key` is libsodium's 64-byte secret key (seed + public key).
struct SigningKey {
  std::string kid;         // "capk_" + 16 hex digits
  std::string public_key;  // 32 raw bytes
  std::string secret_key;  // 64 raw bytes; never leaves the server
};

inline constexpr std::string_view kCapabilityTokenPrefix = "sgc_";
inline constexpr std::size_t kMaxCapabilityTokenBytes = 4096;

// A new random key.
SigningKey GenerateSigningKey();

// A new random token id ("cap_" + 20 hex digits).
std::string NewCapabilityTokenId();

// The token for `claims`, signed with `key`.
std::string SignCapabilityToken(const CapabilityClaims& claims, const SigningKey& key);

// True when `text` starts like a capability token (cheap pre-check).
bool LooksLikeCapabilityToken(std::string_view text);

// Parses `token` and checks its signature with the public key `find_key(kid)` returns (null:
// unknown key). Checks nothing about time or revocation. Errors, each kUnauthenticated with
// reason "invalid_token" and a message saying what is wrong: not a capability token,
// malformed (prefix, parts, base64url, JSON, missing or mistyped claims), another algorithm,
// unknown key, bad signature.
Result<CapabilityClaims> VerifyCapabilityToken(
    std::string_view token, const std::function<const std::string*(std::string_view kid)>& find_key);

// Tokens whose signature was verified, by their text, so that a token met again costs a hash
// lookup instead of an Ed25519 verification. Only successes are kept: a signature stays
// valid as long as its key is known, and signing keys are never deleted (retired keys keep
// verifying). Everything that ends a token — expiry, revocation, its issuer's rights — is
// decided by the caller at each use, never cached here. Bounded: 16 shards of at most
// capacity/16 tokens each; a full shard is emptied before the next insert.
//
// Thread-safety: every method may be called from any thread.
class VerifiedTokenCache {
 public:
  using FindKey = std::function<const std::string*(std::string_view kid)>;

  explicit VerifiedTokenCache(std::size_t capacity = 1 << 16);

  // VerifyCapabilityToken, answered from the cache when `token` was verified before.
  Result<std::shared_ptr<const CapabilityClaims>> Verify(std::string_view token, const FindKey& find_key);

  std::size_t size() const;

 private:
  // Hashes the last 64 characters: the signature's, random for every token (equality still
  // compares the whole text).
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s.substr(s.size() > 64 ? s.size() - 64 : 0));
    }
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, std::shared_ptr<const CapabilityClaims>, Hash, std::equal_to<>> tokens;
  };
  static constexpr std::size_t kShards = 16;
  std::size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

// The public half of `key` as a JWK (RFC 8037): {"kty":"OKP","crv":"Ed25519","alg":"EdDSA",
// "use":"sig","kid":…,"x":…}.
boost::json::object SigningKeyJwk(const SigningKey& key);

}  // namespace scaigrid::iam::auth
