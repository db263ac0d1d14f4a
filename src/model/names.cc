#include "scaigrid/iam/names.h"

#include <array>

namespace scaigrid::iam {
namespace {

constexpr size_t kMaxIdLength = 128;
constexpr size_t kMaxSubLength = 255;
constexpr size_t kMaxKeyLength = 256;

bool IsSegmentChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool IsSubChar(char c) {
  return IsIdChar(c) || c == '@' || c == '|' || c == '+' || c == '=' || c == ':';
}

// Quotes a user-supplied value for an error message, cutting very long ones.
std::string Quote(std::string_view v) {
  std::string out = "'";
  out.append(v.substr(0, 80));
  if (v.size() > 80) out += "…";
  out += "'";
  return out;
}

// Validates "seg:seg[:seg…]" where each segment is [a-z0-9_]+; `min_segments` ≥ 1.
bool SegmentsValid(std::string_view text, int min_segments) {
  int segments = 0;
  size_t start = 0;
  while (true) {
    size_t end = text.find(':', start);
    std::string_view seg = text.substr(start, end == std::string_view::npos ? text.npos : end - start);
    if (seg.empty()) return false;
    for (char c : seg)
      if (!IsSegmentChar(c)) return false;
    ++segments;
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return segments >= min_segments;
}

constexpr std::array<std::string_view, kScopeKinds> kScopeKindNames = {"platform", "partner",
                                                                      "tenant", "project"};

}  // namespace

std::string_view ScopeKindName(ScopeKind kind) { return kScopeKindNames[static_cast<int>(kind)]; }

Result<ScopeKind> ParseScopeKind(std::string_view text) {
  for (int i = 0; i < kScopeKinds; ++i)
    if (kScopeKindNames[i] == text) return static_cast<ScopeKind>(i);
  return Err(Status::InvalidArgument("invalid scope kind " + Quote(text) +
                                     ": expected platform, partner, tenant or project"));
}

Result<ScopeRef> ScopeRef::Parse(std::string_view text) {
  if (text == "platform") return ScopeRef::Platform();
  size_t colon = text.find(':');
  auto bad = [&] {
    return Err(Status::InvalidArgument(
        "invalid scope " + Quote(text) +
        ": expected platform, partner:<id>, tenant:<id> or project:<id> with an id of 1-128 "
        "characters [A-Za-z0-9._-]"));
  };
  if (colon == std::string_view::npos) return bad();
  std::string_view kind_text = text.substr(0, colon);
  std::string_view id = text.substr(colon + 1);
  ScopeRef ref;
  if (kind_text == "partner") ref.kind = ScopeKind::kPartner;
  else if (kind_text == "tenant") ref.kind = ScopeKind::kTenant;
  else if (kind_text == "project") ref.kind = ScopeKind::kProject;
  else return bad();
  if (!IsValidId(id)) return bad();
  ref.id = std::string(id);
  return ref;
}

std::string ScopeRef::ToString() const {
  if (kind == ScopeKind::kPlatform) return "platform";
  std::string out(ScopeKindName(kind));
  out += ':';
  out += id;
  return out;
}

std::string_view PrincipalKindName(PrincipalKind kind) {
  switch (kind) {
    case PrincipalKind::kUser: return "user";
    case PrincipalKind::kServiceAccount: return "service_account";
    case PrincipalKind::kGroup: return "group";
  }
  return "user";
}

Result<PrincipalRef> PrincipalRef::Parse(std::string_view text) {
  size_t colon = text.find(':');
  auto bad = [&] {
    return Err(Status::InvalidArgument(
        "invalid principal " + Quote(text) +
        ": expected user:<sub>, service_account:<id> or group:<id>"));
  };
  if (colon == std::string_view::npos) return bad();
  std::string_view kind_text = text.substr(0, colon);
  std::string_view id = text.substr(colon + 1);
  PrincipalRef ref;
  if (kind_text == "user") {
    ref.kind = PrincipalKind::kUser;
    if (id.empty() || id.size() > kMaxSubLength) return bad();
    for (char c : id)
      if (!IsSubChar(c)) return bad();
  } else if (kind_text == "service_account" || kind_text == "group") {
    ref.kind = kind_text == "group" ? PrincipalKind::kGroup : PrincipalKind::kServiceAccount;
    if (!IsValidId(id)) return bad();
  } else {
    return bad();
  }
  ref.id = std::string(id);
  return ref;
}

std::string PrincipalRef::ToString() const {
  std::string out(PrincipalKindName(kind));
  out += ':';
  out += id;
  return out;
}

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  for (char c : id)
    if (!IsIdChar(c)) return false;
  return true;
}

Status ValidateKey(std::string_view key) {
  if (key.size() > kMaxKeyLength || !SegmentsValid(key, 2)) {
    return Status::InvalidArgument("malformed permission key " + Quote(key) +
                                   ": expected module:segment[:segment…] with segments of "
                                   "[a-z0-9_]");
  }
  return Status::Ok();
}

bool IsWildcard(std::string_view pattern) {
  return pattern.size() >= 2 && pattern.substr(pattern.size() - 2) == ":*";
}

Status ValidatePattern(std::string_view pattern) {
  if (IsWildcard(pattern)) {
    std::string_view prefix = pattern.substr(0, pattern.size() - 2);
    if (pattern.size() <= kMaxKeyLength && SegmentsValid(prefix, 1)) return Status::Ok();
    return Status::InvalidArgument("malformed permission pattern " + Quote(pattern) +
                                   ": expected a key or prefix:*");
  }
  return ValidateKey(pattern);
}

bool PatternMatches(std::string_view pattern, std::string_view key) {
  if (!IsWildcard(pattern)) return pattern == key;
  std::string_view prefix = pattern.substr(0, pattern.size() - 1);  // keeps the ':'
  return key.size() > prefix.size() && key.substr(0, prefix.size()) == prefix;
}

std::string_view KeyNamespace(std::string_view key) { return key.substr(0, key.find(':')); }

}  // namespace scaigrid::iam
