// Names users write: permission keys, scopes and principals, with parsing and validation.
//
// Grammar (SPEC §2, §7):
//   key        = namespace ":" segment *( ":" segment ), each part [a-z0-9_]+, ≤ 256 chars
//   pattern    = key | prefix ":*"          (see docs/manifests.md, "Wildcards")
//   scope      = "platform" | ("partner" | "tenant" | "project") ":" id
//   principal  = "user:" sub | ("service_account" | "group") ":" id
//   id         = 1–128 of [A-Za-z0-9._-];  sub = 1–255 of [A-Za-z0-9._@|+=:-]
//
// Thread-safety: pure functions and values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "scaigrid/iam/status.h"

namespace scaigrid::iam {

// The four levels of the scope tree. The value is also the scope's depth.
enum class ScopeKind : std::uint8_t { kPlatform = 0, kPartner = 1, kTenant = 2, kProject = 3 };
inline constexpr int kScopeKinds = 4;

std::string_view ScopeKindName(ScopeKind kind);
// Parses "platform", "partner", "tenant" or "project". kInvalidArgument otherwise.
Result<ScopeKind> ParseScopeKind(std::string_view text);

struct ScopeRef {
  ScopeKind kind = ScopeKind::kPlatform;
  std::string id;  // empty for the platform

  // kInvalidArgument naming the text when it is not a scope string.
  static Result<ScopeRef> Parse(std::string_view text);
  static ScopeRef Platform() { return {}; }
  std::string ToString() const;
  friend bool operator==(const ScopeRef&, const ScopeRef&) = default;
};

enum class PrincipalKind : std::uint8_t { kUser = 0, kServiceAccount = 1, kGroup = 2 };
std::string_view PrincipalKindName(PrincipalKind kind);

struct PrincipalRef {
  PrincipalKind kind = PrincipalKind::kUser;
  std::string id;

  // kInvalidArgument naming the text when it is not a principal string.
  static Result<PrincipalRef> Parse(std::string_view text);
  std::string ToString() const;
  friend bool operator==(const PrincipalRef&, const PrincipalRef&) = default;
};

// True when `id` is 1–128 chars of [A-Za-z0-9._-].
bool IsValidId(std::string_view id);
// kInvalidArgument naming the key when it is not a well-formed permission key.
Status ValidateKey(std::string_view key);
// kInvalidArgument when `pattern` is neither a key nor "prefix:*" with a valid prefix.
Status ValidatePattern(std::string_view pattern);
// True when `pattern` ends in ":*".
bool IsWildcard(std::string_view pattern);
// True when `key` matches `pattern` (a key matches itself; "a:*" matches "a:b", "a:b:c").
bool PatternMatches(std::string_view pattern, std::string_view key);
// The namespace (first segment) of a key or pattern.
std::string_view KeyNamespace(std::string_view key);

}  // namespace scaigrid::iam
