// API key secrets: generation and hashing. The secret is shown once; only its hash is kept.
//
// A secret is "sgk_" followed by 43 characters of URL-safe base64 (32 random bytes), so it
// can be recognised in logs and secret scanners. Its stored hash is the hex BLAKE2b-256 of
// the whole string: secrets are random, so a fast hash is as good as a slow one here.
//
// Thread-safety: pure functions; InitCrypto must have run once (it is idempotent).
#pragma once

#include <string>
#include <string_view>

#include "scaigrid/iam/status.h"

namespace scaigrid::iam::auth {

// Initializes libsodium. kInternal when it cannot (no entropy source).
Status InitCrypto();

struct NewApiKey {
  std::string id;      // "key_" + 16 hex characters, public
  std::string secret;  // shown once to the creator
  std::string hash;    // what is stored
};

NewApiKey GenerateApiKey();

// The stored hash of a presented secret.
std::string HashSecret(std::string_view secret);

// True when `secret` has the shape of a ScaiGrid API key (cheap pre-check before hashing).
bool LooksLikeApiKey(std::string_view secret);

// `bytes` random bytes as lowercase hex.
std::string RandomHex(size_t bytes);

}  // namespace scaigrid::iam::auth
