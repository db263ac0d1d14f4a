// Identity tokens: verification of OIDC/JWT access tokens (RFC 7519, JWS compact form RFC 7515)
// from configured issuers, against public keys from configured JWKS files (RFC 7517).
//
// A verified token names a user: its `sub` claim becomes the principal "user:<sub>". Only the
// asymmetric algorithms RS256 (RSASSA-PKCS1-v1_5 with SHA-256), ES256 (ECDSA P-256 with
// SHA-256) and EdDSA (Ed25519) are accepted; "none" and the HMAC family (HS256, …) are refused
// whatever the key, so neither an unsigned token nor one "signed" with a public key used as a
// shared secret can pass. The format, the checks and every message are documented in
// docs/identity-tokens.md.
//
// Keys are read once, by JwtVerifier::Create; nothing is fetched over the network. To pick up
// rotated keys, build a new verifier and swap it in (a JwtVerifier is a cheap-to-copy handle on
// immutable state).
//
// Thread-safety: a JwtVerifier is immutable after Create; Verify is const and may be called
// from any number of threads at once, on the same object or on copies. The free functions are
// pure (LoadIssuerConfig reads one file).
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "scaigrid/iam/ids.h"
#include "scaigrid/iam/status.h"

namespace scaigrid::iam::auth {

// Tokens longer than this are refused before any decoding (a DoS guard; real access tokens are
// 1-3 KiB).
inline constexpr std::size_t kMaxTokenBytes = 16 * 1024;
// JWKS files larger than this are refused by Create.
inline constexpr std::size_t kMaxJwksBytes = 1024 * 1024;
// The largest clock skew an issuer may be configured with.
inline constexpr std::chrono::seconds kMaxClockSkew{600};

// One trusted token issuer.
struct IssuerConfig {
  // The exact `iss` value of its tokens (compared byte for byte: no case folding, no
  // trailing-slash normalisation), e.g. "https://login.example.com/realms/scaigrid".
  std::string issuer;
  // Accepted `aud` values; a token must name at least one. Never empty.
  std::vector<std::string> audiences;
  // Path of a JWKS document ({"keys": [...]}) with the issuer's public signing keys.
  std::string jwks_file;
  // Tolerance for clocks that disagree, applied to exp, nbf and iat. 0 to kMaxClockSkew.
  std::chrono::seconds clock_skew{60};
};

// What a verified token says.
struct VerifiedToken {
  std::string issuer;          // the `iss` claim, one of the configured issuers
  std::string subject;         // the `sub` claim
  std::string principal;       // "user:" + subject, a valid principal (names.h)
  std::string audience;        // the first of the token's audiences that the issuer accepts
  Time expires_at = 0;         // the `exp` claim, seconds since the epoch (fraction dropped)
  std::string kid;             // the `kid` of the key that verified it ("" when the key has none)
  std::string alg;             // "RS256", "ES256" or "EdDSA"
  boost::json::object claims;  // the whole payload, for callers that need more (email, …)
};

class JwtVerifier {
 public:
  // Loads and checks the JWKS file of every issuer. Within a JWKS, keys with a `use` other
  // than "sig", or with `key_ops` lacking "verify", are skipped; every other key must be
  // usable: kty RSA (n, e; modulus of at least 2048 bits), EC (crv P-256, x, y of 32 bytes
  // each, a point on the curve) or OKP (crv Ed25519, x of 32 bytes), with an optional `alg`
  // that matches (RS256, ES256, EdDSA), no private part (`d`, `p`, …) and a `kid` unique in
  // its file.
  // Errors:
  //   kInvalidArgument when `issuers` is empty, an issuer is empty or listed twice, has no
  //     audience (or an empty one), a clock skew outside 0..kMaxClockSkew, or when a JWKS file
  //     is not valid JSON, is too large, has no usable key, or a key is unusable — the
  //     message names the file and the key: "jwks 'x.json': key 2 (kid 'k1'): unsupported kty
  //     'oct'" (keys are numbered from 1);
  //   kNotFound when a JWKS file cannot be read;
  //   kInternal when OpenSSL fails unexpectedly.
  // Messages never contain key material.
  static Result<JwtVerifier> Create(std::vector<IssuerConfig> issuers);

  // Verifies `token` (compact JWS "header.payload.signature") at `now_seconds` (Unix time):
  // size and syntax, then `alg`, `iss`, key selection by `kid`, the signature, and the claims
  // exp, nbf, iat, aud and sub, in that order; the first failure is returned.
  // Errors: kUnauthenticated with reason "invalid_token" and a message naming what is wrong,
  // e.g. "malformed token: …", "alg 'none' is not accepted (accepted: RS256, ES256, EdDSA)",
  // "unknown issuer '…'", "no key 'k9' for issuer '…'", "signature verification failed",
  // "token expired at 2026-05-01T12:00:00Z". Messages quote token values (cut at 80
  // characters, control characters replaced) and never key material. kInternal only when
  // OpenSSL fails unexpectedly.
  Result<VerifiedToken> Verify(std::string_view token, std::int64_t now_seconds) const;

  // The configured issuers, in the order given to Create.
  std::vector<std::string> Issuers() const;

 private:
  struct Impl;  // defined in jwt.cc; keeps OpenSSL out of this header
  explicit JwtVerifier(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;  // never null
};

// Reads the issuer configuration file (YAML; format in docs/identity-tokens.md):
//
//   issuers:
//     - issuer: https://login.example.com/realms/scaigrid
//       audiences: [scaigrid-iam]
//       jwks_file: example.jwks.json    # relative paths are relative to this file's folder
//       clock_skew_seconds: 60          # optional, 0-600, default 60
//
// Only the file's shape is checked here; JwtVerifier::Create reads the JWKS files.
// Errors: kNotFound when `path` cannot be read; kInvalidArgument
//   "invalid issuer config FILE: N problem(s)" with one detail "FILE:LINE: message" per problem
//   (YAML syntax, unknown or repeated fields, missing or empty values, a duplicate issuer, a
//   clock skew that is not an integer in 0..600).
Result<std::vector<IssuerConfig>> LoadIssuerConfig(const std::string& path);

// As LoadIssuerConfig, from text. `file` is used in messages and relative `jwks_file` paths are
// resolved against its folder.
Result<std::vector<IssuerConfig>> ParseIssuerConfig(std::string_view yaml, std::string_view file);

// Base64url without padding (RFC 4648 §5, as JOSE uses it).
std::string Base64UrlEncode(std::string_view bytes);
// Strict decoding: only [A-Za-z0-9_-], no padding, no whitespace, a length that is not 1 mod 4,
// and zero unused bits in the last character (so each byte string has one encoding).
// kInvalidArgument naming the first problem otherwise.
Result<std::string> Base64UrlDecode(std::string_view text);

}  // namespace scaigrid::iam::auth
