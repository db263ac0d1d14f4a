#include "auth/api_key.h"

#include <sodium.h>

namespace scaigrid::iam::auth {
namespace {
constexpr std::string_view kPrefix = "sgk_";
constexpr size_t kSecretBytes = 32;
}  // namespace

Status InitCrypto() {
  if (sodium_init() < 0) return Status::Internal("cannot initialize libsodium");
  return Status::Ok();
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  hex.pop_back();
  return hex;
}

NewApiKey GenerateApiKey() {
  unsigned char raw[kSecretBytes];
  randombytes_buf(raw, sizeof raw);
  const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string b64(sodium_base64_ENCODED_LEN(sizeof raw, variant), '\0');
  sodium_bin2base64(b64.data(), b64.size(), raw, sizeof raw, variant);
  b64.resize(b64.find('\0'));
  NewApiKey key;
  key.id = "key_" + RandomHex(8);
  key.secret = std::string(kPrefix) + b64;
  key.hash = HashSecret(key.secret);
  return key;
}

std::string HashSecret(std::string_view secret) {
  unsigned char out[crypto_generichash_BYTES];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                     nullptr, 0);
  std::string hex(sizeof out * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), out, sizeof out);
  hex.pop_back();
  return hex;
}

bool LooksLikeApiKey(std::string_view secret) {
  if (secret.size() != kPrefix.size() + 43 || secret.substr(0, kPrefix.size()) != kPrefix) return false;
  for (char c : secret.substr(kPrefix.size())) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace scaigrid::iam::auth
