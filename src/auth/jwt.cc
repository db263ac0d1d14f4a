// JWT verification with OpenSSL 3 EVP (no deprecated API), JSON with Boost.JSON (error-code
// overloads, no exceptions), the issuer config with yaml-cpp (whose exceptions stay in this
// file and become Status values here). OpenSSL's thread-local error queue is cleared on the way
// out of Create and Verify so that nothing leaks into the next caller on the thread.
#include "auth/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "model/yaml_reader.h"
#include "scaigrid/iam/names.h"
#include "scaigrid/iam/time_format.h"

namespace scaigrid::iam::auth {
namespace {

constexpr std::string_view kAccepted = "RS256, ES256, EdDSA";
constexpr std::size_t kMaxJwksKeys = 100;
constexpr int kMinRsaBits = 2048;
// NumericDate values are clamped to ±2^62 so that adding a clock skew cannot overflow.
constexpr std::int64_t kDateLimit = std::int64_t{1} << 62;

// ---- messages ---------------------------------------------------------------------------

// Quotes a value for a message: cut at 80 bytes (on a UTF-8 boundary), control characters
// replaced by '?', so that a token cannot inject lines into logs.
std::string Quote(std::string_view v) {
  std::size_t cut = v.size();
  bool cutting = v.size() > 80;
  if (cutting) {
    cut = 80;
    while (cut > 0 && (static_cast<unsigned char>(v[cut]) & 0xC0) == 0x80) --cut;
  }
  std::string out = "'";
  for (char c : v.substr(0, cut)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (cutting) out += "…";
  out += "'";
  return out;
}

// Quotes a configured value (a path, an issuer) in full: operators need all of it.
std::string QuoteConfig(std::string_view v) { return "'" + std::string(v) + "'"; }

std::unexpected<Status> Invalid(std::string message) {
  return Err(Status(StatusCode::kUnauthenticated, std::move(message)).WithReason("invalid_token"));
}

std::unexpected<Status> Malformed(std::string what) { return Invalid("malformed token: " + what); }

std::string SkewNote(std::chrono::seconds skew) {
  return " (clock skew " + std::to_string(skew.count()) + "s)";
}

// ---- OpenSSL handles ----------------------------------------------------------------------

struct OsslFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
template <typename T>
using Ossl = std::unique_ptr<T, OsslFree>;

// Clears the thread's OpenSSL error queue when it goes out of scope.
struct ErrorQueueGuard {
  ~ErrorQueueGuard() { ERR_clear_error(); }
};

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// ---- keys ---------------------------------------------------------------------------------

enum class KeyKind { kRsa, kEcP256, kEd25519 };

std::string_view AlgFor(KeyKind kind) {
  switch (kind) {
    case KeyKind::kRsa:
      return "RS256";
    case KeyKind::kEcP256:
      return "ES256";
    case KeyKind::kEd25519:
      return "EdDSA";
  }
  return "";
}

bool IsAcceptedAlg(std::string_view alg) {
  return alg == "RS256" || alg == "ES256" || alg == "EdDSA";
}

struct Key {
  std::optional<std::string> kid;
  KeyKind kind = KeyKind::kRsa;
  std::string_view alg;  // the one JOSE algorithm this key verifies (AlgFor(kind))
  Ossl<EVP_PKEY> pkey;

  std::string Name() const { return kid ? Quote(*kid) : std::string("without kid"); }
};

struct Issuer {
  IssuerConfig config;
  std::vector<Key> keys;
};

// Builds an EVP_PKEY of `type` ("RSA", "EC") from public-key parameters.
Result<Ossl<EVP_PKEY>> FromData(const char* type, OSSL_PARAM_BLD* bld) {
  Ossl<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld));
  Ossl<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0)
    return Err(Status::Internal(std::string("openssl: cannot prepare a ") + type + " key"));
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0 || raw == nullptr)
    return Err(Status::InvalidArgument("not a valid public key"));
  return Ossl<EVP_PKEY>(raw);
}

// Runs OpenSSL's public-key sanity checks (RSA: odd modulus, valid exponent; EC: a point on
// the curve, not at infinity).
bool PublicCheck(EVP_PKEY* pkey) {
  Ossl<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  return ctx && EVP_PKEY_public_check(ctx.get()) == 1;
}

// Reads one JWK member as base64url; messages name the member.
Result<std::string> B64Member(const boost::json::object& jwk, std::string_view name) {
  const boost::json::value* v = jwk.if_contains(name);
  if (v == nullptr) return Err(Status::InvalidArgument("missing '" + std::string(name) + "'"));
  if (!v->is_string())
    return Err(Status::InvalidArgument("'" + std::string(name) + "' must be a string"));
  auto decoded = Base64UrlDecode(std::string_view(v->get_string()));
  if (!decoded)
    return Err(Status::InvalidArgument("'" + std::string(name) + "' is not valid base64url (" +
                                       decoded.error().message() + ")"));
  return decoded;
}

Result<std::string> StringMember(const boost::json::object& jwk, std::string_view name) {
  const boost::json::value* v = jwk.if_contains(name);
  if (v == nullptr) return Err(Status::InvalidArgument("missing '" + std::string(name) + "'"));
  if (!v->is_string())
    return Err(Status::InvalidArgument("'" + std::string(name) + "' must be a string"));
  return std::string(v->get_string());
}

Result<Ossl<EVP_PKEY>> RsaKey(const boost::json::object& jwk) {
  auto n = B64Member(jwk, "n");
  if (!n) return Err(n.error());
  auto e = B64Member(jwk, "e");
  if (!e) return Err(e.error());
  Ossl<BIGNUM> bn_n(BN_bin2bn(Bytes(*n), static_cast<int>(n->size()), nullptr));
  Ossl<BIGNUM> bn_e(BN_bin2bn(Bytes(*e), static_cast<int>(e->size()), nullptr));
  Ossl<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld) return Err(Status::Internal("openssl: out of memory"));
  int bits = BN_num_bits(bn_n.get());
  if (bits < kMinRsaBits)
    return Err(Status::InvalidArgument("RSA modulus of " + std::to_string(bits) +
                                       " bits is too small (at least " +
                                       std::to_string(kMinRsaBits) + ")"));
  if (OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
    return Err(Status::Internal("openssl: cannot build RSA parameters"));
  auto pkey = FromData("RSA", bld.get());
  if (!pkey) return pkey;
  if (!PublicCheck(pkey->get()))
    return Err(Status::InvalidArgument("not a valid RSA public key (check 'n' and 'e')"));
  return pkey;
}

Result<Ossl<EVP_PKEY>> EcKey(const boost::json::object& jwk) {
  auto crv = StringMember(jwk, "crv");
  if (!crv) return Err(crv.error());
  if (*crv != "P-256")
    return Err(Status::InvalidArgument("unsupported crv " + Quote(*crv) +
                                       " for kty 'EC' (accepted: P-256)"));
  auto x = B64Member(jwk, "x");
  if (!x) return Err(x.error());
  auto y = B64Member(jwk, "y");
  if (!y) return Err(y.error());
  if (x->size() != 32 || y->size() != 32)
    return Err(Status::InvalidArgument("'x' and 'y' must be 32 bytes each for P-256, got " +
                                       std::to_string(x->size()) + " and " +
                                       std::to_string(y->size())));
  std::string point = "\x04" + *x + *y;  // SEC1 uncompressed point
  Ossl<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1)
    return Err(Status::Internal("openssl: cannot build EC parameters"));
  auto pkey = FromData("EC", bld.get());
  if (!pkey || !PublicCheck(pkey->get()))
    return Err(Status::InvalidArgument("'x' and 'y' are not a point on P-256"));
  return pkey;
}

Result<Ossl<EVP_PKEY>> OkpKey(const boost::json::object& jwk) {
  auto crv = StringMember(jwk, "crv");
  if (!crv) return Err(crv.error());
  if (*crv != "Ed25519")
    return Err(Status::InvalidArgument("unsupported crv " + Quote(*crv) +
                                       " for kty 'OKP' (accepted: Ed25519)"));
  auto x = B64Member(jwk, "x");
  if (!x) return Err(x.error());
  if (x->size() != 32)
    return Err(Status::InvalidArgument("'x' must be 32 bytes for Ed25519, got " +
                                       std::to_string(x->size())));
  Ossl<EVP_PKEY> pkey(
      EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, Bytes(*x), x->size()));
  if (!pkey) return Err(Status::InvalidArgument("'x' is not a valid Ed25519 public key"));
  return pkey;
}

// Reads one JWK. nullopt (no error) when the key is not for signatures and is skipped.
Result<std::optional<Key>> ReadJwk(const boost::json::object& jwk) {
  Key key;
  if (const auto* kid = jwk.if_contains("kid")) {
    if (!kid->is_string()) return Err(Status::InvalidArgument("'kid' must be a string"));
    key.kid = std::string(kid->get_string());
  }
  if (const auto* use = jwk.if_contains("use")) {
    if (!use->is_string()) return Err(Status::InvalidArgument("'use' must be a string"));
    if (use->get_string() != "sig") return std::optional<Key>();
  }
  if (const auto* ops = jwk.if_contains("key_ops")) {
    if (!ops->is_array())
      return Err(Status::InvalidArgument("'key_ops' must be an array of strings"));
    bool verify = false;
    for (const auto& op : ops->get_array()) {
      if (!op.is_string())
        return Err(Status::InvalidArgument("'key_ops' must be an array of strings"));
      verify = verify || op.get_string() == "verify";
    }
    if (!verify) return std::optional<Key>();
  }
  auto kty = StringMember(jwk, "kty");
  if (!kty) return Err(kty.error());
  if (*kty == "RSA")
    key.kind = KeyKind::kRsa;
  else if (*kty == "EC")
    key.kind = KeyKind::kEcP256;
  else if (*kty == "OKP")
    key.kind = KeyKind::kEd25519;
  else
    return Err(
        Status::InvalidArgument("unsupported kty " + Quote(*kty) + " (accepted: RSA, EC, OKP)"));
  for (std::string_view secret : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
    if (jwk.contains(secret))
      return Err(Status::InvalidArgument("holds private key material ('" + std::string(secret) +
                                         "'); a JWKS for verification must hold public keys only"));
  key.alg = AlgFor(key.kind);
  if (const auto* alg = jwk.if_contains("alg")) {
    if (!alg->is_string()) return Err(Status::InvalidArgument("'alg' must be a string"));
    std::string_view a = alg->get_string();
    if (!IsAcceptedAlg(a))
      return Err(Status::InvalidArgument("unsupported alg " + Quote(a) +
                                         " (accepted: " + std::string(kAccepted) + ")"));
    if (a != key.alg)
      return Err(Status::InvalidArgument("alg " + Quote(a) + " does not fit kty " + Quote(*kty) +
                                         " (expected " + std::string(key.alg) + ")"));
  }
  Result<Ossl<EVP_PKEY>> pkey = key.kind == KeyKind::kRsa      ? RsaKey(jwk)
                                : key.kind == KeyKind::kEcP256 ? EcKey(jwk)
                                                               : OkpKey(jwk);
  if (!pkey) return Err(pkey.error());
  key.pkey = std::move(*pkey);
  return std::optional<Key>(std::move(key));
}

Result<std::string> ReadFile(const std::string& path, std::size_t limit, std::string_view what) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) {
    auto size = std::filesystem::file_size(path, ec);
    if (!ec && size > limit)
      return Err(Status::InvalidArgument(std::string(what) + " " + QuoteConfig(path) +
                                         ": larger than " + std::to_string(limit) + " bytes"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in || !std::filesystem::is_regular_file(path, ec))
    return Err(
        Status::NotFound(std::string(what) + " " + QuoteConfig(path) + ": cannot read the file"));
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

Result<std::vector<Key>> LoadJwks(const std::string& path) {
  ErrorQueueGuard guard;
  auto text = ReadFile(path, kMaxJwksBytes, "jwks");
  if (!text) return Err(text.error());
  const std::string file = "jwks " + QuoteConfig(path);
  auto bad = [&](std::string m) { return Err(Status::InvalidArgument(file + ": " + m)); };
  boost::system::error_code ec;
  boost::json::value root = boost::json::parse(*text, ec);
  if (ec) return bad("not valid JSON (" + ec.message() + ")");
  if (!root.is_object() || !root.get_object().contains("keys") ||
      !root.get_object().at("keys").is_array())
    return bad("expected a JSON object with a 'keys' array");
  const boost::json::array& list = root.get_object().at("keys").get_array();
  if (list.size() > kMaxJwksKeys) return bad("more than " + std::to_string(kMaxJwksKeys) + " keys");
  std::vector<Key> keys;
  std::map<std::string, std::size_t> kids;  // kid -> key number
  for (std::size_t i = 0; i < list.size(); ++i) {
    std::string where = "key " + std::to_string(i + 1);
    if (!list[i].is_object()) return bad(where + ": must be a JSON object");
    const boost::json::object& jwk = list[i].get_object();
    if (const auto* kid = jwk.if_contains("kid"); kid != nullptr && kid->is_string())
      where += " (kid " + Quote(kid->get_string()) + ")";
    auto key = ReadJwk(jwk);
    if (!key) {
      if (key.error().code() == StatusCode::kInternal) return Err(key.error());
      return bad(where + ": " + key.error().message());
    }
    if (!key->has_value()) continue;  // not a signing key
    if ((*key)->kid) {
      auto [it, inserted] = kids.emplace(*(*key)->kid, i + 1);
      if (!inserted)
        return bad(where + ": duplicate kid (also key " + std::to_string(it->second) + ")");
    }
    keys.push_back(std::move(**key));
  }
  if (keys.empty()) return bad("no signing key (keys with 'use' other than 'sig' are skipped)");
  return keys;
}

// ---- token parts --------------------------------------------------------------------------

Result<boost::json::object> ParseJsonObject(std::string_view text, std::string_view part) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) return Malformed(std::string(part) + " is not valid JSON (" + ec.message() + ")");
  if (!v.is_object()) return Malformed(std::string(part) + " is not a JSON object");
  return std::move(v.get_object());
}

// A NumericDate claim (RFC 7519 §2): a JSON number, fractions dropped, clamped to ±2^62.
// nullopt when absent.
Result<std::optional<std::int64_t>> DateClaim(const boost::json::object& claims,
                                              std::string_view name) {
  const boost::json::value* v = claims.if_contains(name);
  if (v == nullptr) return std::optional<std::int64_t>();
  std::int64_t t = 0;
  if (v->is_int64()) {
    t = std::clamp(v->get_int64(), -kDateLimit, kDateLimit);
  } else if (v->is_uint64()) {
    t = kDateLimit;  // above INT64_MAX
  } else if (v->is_double() && std::isfinite(v->get_double())) {
    double d = std::floor(v->get_double());
    t = d >= static_cast<double>(kDateLimit)    ? kDateLimit
        : d <= -static_cast<double>(kDateLimit) ? -kDateLimit
                                                : static_cast<std::int64_t>(d);
  } else {
    return Invalid("claim '" + std::string(name) + "' must be a number (seconds since the epoch)");
  }
  return std::optional<std::int64_t>(t);
}

// ES256 signatures are R||S (32 bytes each) in JWS, DER in OpenSSL.
Result<std::string> EcdsaRawToDer(std::string_view raw) {
  Ossl<ECDSA_SIG> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(Bytes(raw), 32, nullptr);
  BIGNUM* s = BN_bin2bn(Bytes(raw) + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return Err(Status::Internal("openssl: cannot build an ECDSA signature"));
  }
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return Err(Status::Internal("openssl: cannot encode an ECDSA signature"));
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != len)
    return Err(Status::Internal("openssl: cannot encode an ECDSA signature"));
  return der;
}

}  // namespace

// ---- base64url ----------------------------------------------------------------------------

std::string Base64UrlEncode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                      static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                      static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    if (rest == 2) out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    int v = value(text[i]);
    if (v < 0) {
      std::string what =
          text[i] == '=' ? "padding '='" : "character " + Quote(std::string(1, text[i]));
      return Err(Status::InvalidArgument("unexpected " + what + " at offset " + std::to_string(i)));
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (text.size() % 4 == 1)
    return Err(Status::InvalidArgument("truncated base64url (length " +
                                       std::to_string(text.size()) + ")"));
  if ((acc & ((1u << bits) - 1)) != 0)
    return Err(Status::InvalidArgument("non-zero unused bits in the last character"));
  return out;
}

// ---- verifier -----------------------------------------------------------------------------

struct JwtVerifier::Impl {
  std::vector<Issuer> issuers;
};

Result<JwtVerifier> JwtVerifier::Create(std::vector<IssuerConfig> configs) {
  if (configs.empty()) return Err(Status::InvalidArgument("identity tokens: no issuer configured"));
  auto impl = std::make_shared<Impl>();
  for (std::size_t i = 0; i < configs.size(); ++i) {
    IssuerConfig& c = configs[i];
    if (c.issuer.empty())
      return Err(
          Status::InvalidArgument("issuer " + std::to_string(i + 1) + ": the issuer is empty"));
    const std::string where = "issuer " + QuoteConfig(c.issuer);
    for (const Issuer& other : impl->issuers)
      if (other.config.issuer == c.issuer)
        return Err(Status::InvalidArgument(where + " is configured twice"));
    if (c.audiences.empty())
      return Err(Status::InvalidArgument(where + ": no audience configured"));
    for (const std::string& a : c.audiences)
      if (a.empty()) return Err(Status::InvalidArgument(where + ": empty audience"));
    if (c.clock_skew < std::chrono::seconds(0) || c.clock_skew > kMaxClockSkew)
      return Err(Status::InvalidArgument(where + ": clock skew of " +
                                         std::to_string(c.clock_skew.count()) + "s is outside 0.." +
                                         std::to_string(kMaxClockSkew.count()) + "s"));
    if (c.jwks_file.empty())
      return Err(Status::InvalidArgument(where + ": no jwks file configured"));
    auto keys = LoadJwks(c.jwks_file);
    if (!keys) return Err(keys.error());
    impl->issuers.push_back(Issuer{std::move(c), std::move(*keys)});
  }
  return JwtVerifier(std::move(impl));
}

std::vector<std::string> JwtVerifier::Issuers() const {
  std::vector<std::string> out;
  for (const Issuer& i : impl_->issuers) out.push_back(i.config.issuer);
  return out;
}

Result<VerifiedToken> JwtVerifier::Verify(std::string_view token, std::int64_t now_seconds) const {
  ErrorQueueGuard guard;
  // 1. Size and syntax: three base64url parts, a JSON object header and payload.
  if (token.size() > kMaxTokenBytes)
    return Malformed("longer than " + std::to_string(kMaxTokenBytes) + " bytes");
  if (token.empty()) return Malformed("empty");
  std::size_t dots = static_cast<std::size_t>(std::count(token.begin(), token.end(), '.'));
  if (dots != 2)
    return Malformed("expected 3 dot-separated parts (header.payload.signature), found " +
                     std::to_string(dots + 1));
  const std::size_t d1 = token.find('.');
  const std::size_t d2 = token.find('.', d1 + 1);
  const std::string_view signing_input = token.substr(0, d2);
  const std::array<std::string_view, 3> parts = {
      token.substr(0, d1), token.substr(d1 + 1, d2 - d1 - 1), token.substr(d2 + 1)};
  const std::array<std::string_view, 3> names = {"header", "payload", "signature"};
  std::array<std::string, 3> decoded;
  for (int i = 0; i < 3; ++i) {
    auto d = Base64UrlDecode(parts[i]);
    if (!d)
      return Malformed(std::string(names[i]) + " is not valid base64url (" + d.error().message() +
                       ")");
    decoded[i] = std::move(*d);
  }
  auto header = ParseJsonObject(decoded[0], "header");
  if (!header) return Err(header.error());
  auto claims = ParseJsonObject(decoded[1], "payload");
  if (!claims) return Err(claims.error());
  const std::string& signature = decoded[2];

  // 2. The algorithm: asymmetric ones only, whatever the key.
  const boost::json::value* alg_value = header->if_contains("alg");
  if (alg_value == nullptr) return Malformed("header has no 'alg'");
  if (!alg_value->is_string()) return Malformed("header 'alg' must be a string");
  const std::string_view alg = alg_value->get_string();
  if (!IsAcceptedAlg(alg))
    return Invalid("alg " + Quote(alg) + " is not accepted (accepted: " + std::string(kAccepted) +
                   ")");
  if (header->contains("crit"))
    return Invalid("header parameter 'crit' is not supported (no JWS extension is understood)");

  // 3. The issuer.
  const boost::json::value* iss_value = claims->if_contains("iss");
  if (iss_value == nullptr) return Invalid("token has no 'iss' claim");
  if (!iss_value->is_string()) return Invalid("claim 'iss' must be a string");
  const std::string_view iss = iss_value->get_string();
  auto issuer_it = std::find_if(impl_->issuers.begin(), impl_->issuers.end(),
                                [&](const Issuer& i) { return i.config.issuer == iss; });
  if (issuer_it == impl_->issuers.end()) return Invalid("unknown issuer " + Quote(iss));
  const Issuer& issuer = *issuer_it;
  const std::string issuer_name = "issuer " + QuoteConfig(issuer.config.issuer);

  // 4. The key: by kid, or the issuer's only key for the algorithm.
  const Key* key = nullptr;
  if (const boost::json::value* kid = header->if_contains("kid")) {
    if (!kid->is_string()) return Malformed("header 'kid' must be a string");
    const std::string_view k = kid->get_string();
    for (const Key& candidate : issuer.keys)
      if (candidate.kid && *candidate.kid == k) key = &candidate;
    if (key == nullptr) return Invalid("no key " + Quote(k) + " for " + issuer_name);
    if (key->alg != alg)
      return Invalid("alg " + Quote(alg) + " does not match key " + Quote(k) + ", which is for " +
                     std::string(key->alg));
  } else {
    std::size_t fits = 0;
    for (const Key& candidate : issuer.keys)
      if (candidate.alg == alg) {
        key = &candidate;
        ++fits;
      }
    if (fits == 0) return Invalid("no key for alg " + Quote(alg) + " for " + issuer_name);
    if (fits > 1)
      return Invalid("token has no 'kid' and " + issuer_name + " has " + std::to_string(fits) +
                     " keys for alg " + Quote(alg));
  }

  // 5. The signature over "header.payload".
  std::string der;
  std::string_view sig = signature;
  const char* digest = "SHA256";
  switch (key->kind) {
    case KeyKind::kRsa: {
      auto expected = static_cast<std::size_t>(EVP_PKEY_get_size(key->pkey.get()));
      if (sig.size() != expected)
        return Invalid("signature verification failed: an RS256 signature for this key is " +
                       std::to_string(expected) + " bytes, got " + std::to_string(sig.size()));
      break;
    }
    case KeyKind::kEcP256: {
      if (sig.size() != 64)
        return Invalid(
            "signature verification failed: an ES256 signature is 64 bytes (R||S), got " +
            std::to_string(sig.size()));
      auto converted = EcdsaRawToDer(sig);
      if (!converted) return Err(converted.error());
      der = std::move(*converted);
      sig = der;
      break;
    }
    case KeyKind::kEd25519:
      if (sig.size() != 64)
        return Invalid("signature verification failed: an EdDSA signature is 64 bytes, got " +
                       std::to_string(sig.size()));
      digest = nullptr;  // Ed25519 hashes internally
      break;
  }
  Ossl<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx || EVP_DigestVerifyInit_ex(ctx.get(), &pctx, digest, nullptr, nullptr, key->pkey.get(),
                                      nullptr) != 1)
    return Err(Status::Internal("openssl: cannot start signature verification"));
  if (key->kind == KeyKind::kRsa && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
    return Err(Status::Internal("openssl: cannot select RSASSA-PKCS1-v1_5"));
  if (EVP_DigestVerify(ctx.get(), Bytes(sig), sig.size(), Bytes(signing_input),
                       signing_input.size()) != 1)
    return Invalid("signature verification failed (key " + key->Name() + ", " + issuer_name + ")");

  // 6. The claims.
  const std::chrono::seconds skew = issuer.config.clock_skew;
  const std::int64_t now = std::clamp(now_seconds, -kDateLimit, kDateLimit);
  auto exp = DateClaim(*claims, "exp");
  if (!exp) return Err(exp.error());
  if (!*exp) return Invalid("token has no 'exp' claim");
  if (now >= **exp + skew.count())
    return Invalid("token expired at " + FormatTime(**exp) + SkewNote(skew));
  auto nbf = DateClaim(*claims, "nbf");
  if (!nbf) return Err(nbf.error());
  if (*nbf && now + skew.count() < **nbf)
    return Invalid("token not valid before " + FormatTime(**nbf) + SkewNote(skew));
  auto iat = DateClaim(*claims, "iat");
  if (!iat) return Err(iat.error());
  if (*iat && **iat > now + skew.count())
    return Invalid("token issued in the future, at " + FormatTime(**iat) + SkewNote(skew));

  const boost::json::value* aud = claims->if_contains("aud");
  if (aud == nullptr) return Invalid("token has no 'aud' claim");
  std::vector<std::string_view> audiences;
  if (aud->is_string()) {
    audiences.push_back(aud->get_string());
  } else if (aud->is_array()) {
    for (const auto& a : aud->get_array()) {
      if (!a.is_string()) return Invalid("claim 'aud' must be a string or an array of strings");
      audiences.push_back(a.get_string());
    }
    if (audiences.empty()) return Invalid("claim 'aud' is an empty array");
  } else {
    return Invalid("claim 'aud' must be a string or an array of strings");
  }
  std::string matched;
  for (std::string_view a : audiences)
    if (matched.empty() && std::find(issuer.config.audiences.begin(), issuer.config.audiences.end(),
                                     a) != issuer.config.audiences.end())
      matched = std::string(a);
  if (matched.empty()) {
    if (audiences.size() == 1)
      return Invalid("audience " + Quote(audiences[0]) + " is not accepted by " + issuer_name);
    std::string list;
    for (std::size_t i = 0; i < audiences.size() && i < 5; ++i)
      list += (i ? ", " : "") + Quote(audiences[i]);
    if (audiences.size() > 5) list += ", …";
    return Invalid("none of the audiences [" + list + "] is accepted by " + issuer_name);
  }

  const boost::json::value* sub = claims->if_contains("sub");
  if (sub == nullptr) return Invalid("token has no 'sub' claim");
  if (!sub->is_string()) return Invalid("claim 'sub' must be a string");
  if (sub->get_string().empty()) return Invalid("claim 'sub' is empty");
  const std::string subject(sub->get_string());
  auto principal = PrincipalRef::Parse("user:" + subject);
  if (!principal || principal->kind != PrincipalKind::kUser)
    return Invalid("claim 'sub' " + Quote(subject) +
                   " is not a valid user id (1-255 characters of [A-Za-z0-9._@|+=:-])");

  VerifiedToken out;
  out.issuer = issuer.config.issuer;
  out.subject = subject;
  out.principal = principal->ToString();
  out.audience = std::move(matched);
  out.expires_at = **exp;
  out.kid = key->kid.value_or("");
  out.alg = std::string(alg);
  out.claims = std::move(*claims);
  return out;
}

// ---- issuer config (YAML) -----------------------------------------------------------------

namespace {

class IssuerConfigReader : public YamlReader {
 public:
  IssuerConfigReader(std::string_view file, std::filesystem::path base)
      : YamlReader(file), base_(std::move(base)) {}

  std::vector<IssuerConfig> Read(const YAML::Node& root) {
    std::vector<IssuerConfig> out;
    if (!root.IsMap()) {
      Error(std::max(LineOf(root), 1),
            "an issuer config must be a YAML map with an 'issuers' list");
      return out;
    }
    OnlyFields(root, {"issuers"}, "issuer config");
    const YAML::Node list = root["issuers"];
    if (!list || !list.IsSequence() || list.size() == 0) {
      Error(list ? list : root, "'issuers' must be a non-empty list");
      return out;
    }
    std::map<std::string, int> seen;  // issuer -> line
    for (const auto& item : list) {
      if (!item.IsMap()) {
        Error(item, "each issuer must be a map with issuer, audiences, jwks_file");
        continue;
      }
      OnlyFields(item, {"issuer", "audiences", "jwks_file", "clock_skew_seconds"}, "issuer");
      IssuerConfig c;
      auto issuer = NonEmpty(item, "issuer");
      if (issuer) {
        c.issuer = issuer->value;
        auto [it, inserted] = seen.emplace(c.issuer, issuer->line);
        if (!inserted)
          Error(issuer->line, "issuer " + QuoteValue(c.issuer) + " is listed twice (also line " +
                                  std::to_string(it->second) + ")");
      }
      Audiences(item, c);
      if (auto jwks = NonEmpty(item, "jwks_file")) {
        std::filesystem::path p(jwks->value);
        c.jwks_file = p.is_absolute() ? p.string() : (base_ / p).lexically_normal().string();
      }
      if (const YAML::Node skew = item["clock_skew_seconds"]) {
        int seconds = -1;
        std::string_view text =
            skew.IsScalar() ? std::string_view(skew.Scalar()) : std::string_view();
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
        if (!skew.IsScalar() || ec != std::errc() || end != text.data() + text.size() ||
            seconds < 0 || seconds > kMaxClockSkew.count())
          Error(skew, "'clock_skew_seconds' must be an integer from 0 to " +
                          std::to_string(kMaxClockSkew.count()));
        else
          c.clock_skew = std::chrono::seconds(seconds);
      }
      out.push_back(std::move(c));
    }
    return out;
  }

 private:
  std::optional<Located> NonEmpty(const YAML::Node& item, const char* field) {
    auto v = String(item, field, true, "issuer");
    if (v && v->value.empty()) {
      Error(v->line, "'" + std::string(field) + "' must not be empty");
      return std::nullopt;
    }
    return v;
  }

  void Audiences(const YAML::Node& item, IssuerConfig& c) {
    const YAML::Node list = item["audiences"];
    if (!list) {
      Error(item, "missing required field 'audiences' in issuer");
      return;
    }
    if (!list.IsSequence() || list.size() == 0) {
      Error(list, "'audiences' must be a non-empty list of strings");
      return;
    }
    for (const auto& a : list) {
      if (!a.IsScalar() || a.Scalar().empty())
        Error(a, "each audience must be a non-empty string");
      else
        c.audiences.push_back(a.Scalar());
    }
  }

  std::filesystem::path base_;
};

}  // namespace

Result<std::vector<IssuerConfig>> ParseIssuerConfig(std::string_view yaml, std::string_view file) {
  IssuerConfigReader reader(file, std::filesystem::path(file).parent_path());
  std::vector<IssuerConfig> out;
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    out = reader.Read(root);
  } catch (const YAML::Exception& e) {
    reader.Error(e.mark.line + 1, "invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    return Err(Status::Internal("reading issuer config " + std::string(file) + ": " + e.what()));
  }
  if (reader.failed()) {
    std::vector<std::string>& errors = reader.errors();
    std::string summary = "invalid issuer config " + std::string(file) + ": " +
                          std::to_string(errors.size()) + " problem(s)";
    return Err(Status::InvalidArgument(std::move(summary), std::move(errors)));
  }
  return out;
}

Result<std::vector<IssuerConfig>> LoadIssuerConfig(const std::string& path) {
  auto text = ReadFile(path, kMaxJwksBytes, "issuer config");
  if (!text) return Err(text.error());
  return ParseIssuerConfig(*text, path);
}

}  // namespace scaigrid::iam::auth
