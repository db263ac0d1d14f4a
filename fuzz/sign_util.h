// Fixed Ed25519 keys for the token targets, and JWS signing with them. Fixed (derived from
// constant seeds), not random: a token in the seed corpus must verify on every run, and a
// crash must reproduce. They sign fuzz inputs only.
#pragma once

#include <sodium.h>

#include <string>
#include <utility>
#include <string_view>

#include "auth/jwt.h"

namespace scaigrid::iam::fuzz {

struct Ed25519Key {
  std::string public_key;  // 32 bytes
  std::string secret_key;  // 64 bytes (libsodium form)
};

// The key derived from a 32-byte seed of `fill` bytes.
inline Ed25519Key FixedKey(unsigned char fill) {
  unsigned char seed[crypto_sign_SEEDBYTES];
  for (unsigned char& b : seed) b = fill;
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pk, sk, seed);
  return {std::string(reinterpret_cast<char*>(pk), sizeof pk), std::string(reinterpret_cast<char*>(sk), sizeof sk)};
}

// base64url(header) "." base64url(payload) "." base64url(Ed25519 signature of the first two).
inline std::string SignJws(std::string_view header, std::string_view payload, const Ed25519Key& key) {
  const std::string input = auth::Base64UrlEncode(header) + "." + auth::Base64UrlEncode(payload);
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                       reinterpret_cast<const unsigned char*>(key.secret_key.data()));
  return input + "." + auth::Base64UrlEncode(std::string_view(reinterpret_cast<char*>(sig), sizeof sig));
}

// Splits "HEADER\nPAYLOAD" at the first newline; the whole text is the payload when there is
// none (the header is then `fallback_header`).
inline std::pair<std::string_view, std::string_view> SplitHeaderPayload(std::string_view text,
                                                                        std::string_view fallback_header) {
  const std::size_t nl = text.find('\n');
  if (nl == std::string_view::npos) return {fallback_header, text};
  return {text.substr(0, nl), text.substr(nl + 1)};
}

}  // namespace scaigrid::iam::fuzz
