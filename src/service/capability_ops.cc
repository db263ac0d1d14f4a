// Capability tokens (docs/capability-tokens.md): signing keys and their publication, minting,
// revocation, and the decision a token gives on a check.
#include <algorithm>
#include <charconv>

#include "auth/capability_token.h"
#include "auth/jwt.h"
#include "scaigrid/iam/time_format.h"
#include "service/service_internal.h"

namespace scaigrid::iam::service {
namespace {

constexpr std::int64_t kDefaultTtlSeconds = 3600;
constexpr std::string_view kSigningKeysManage = "iam:signing_keys:manage";
constexpr std::string_view kTokensRead = "iam:capability_tokens:read";

// The longest max_ttl of any registered capability: how long a retired key stays published.
std::int64_t LongestTtl(const Registry& registry) {
  std::int64_t longest = 0;
  for (const Manifest& m : registry.manifests()) {
    for (const CapabilitySpec& c : m.capabilities) longest = std::max(longest, c.max_ttl_seconds);
  }
  return longest;
}

// The capability "<module>:<name>", or null.
const CapabilitySpec* FindCapability(const Registry& registry, std::string_view ref) {
  const size_t colon = ref.find(':');
  if (colon == std::string_view::npos) return nullptr;
  const std::string_view module = ref.substr(0, colon), name = ref.substr(colon + 1);
  for (const Manifest& m : registry.manifests()) {
    if (m.module != module) continue;
    for (const CapabilitySpec& c : m.capabilities)
      if (c.name.value == name) return &c;
  }
  return nullptr;
}

std::string KnownCapabilities(const Registry& registry) {
  std::string out;
  for (const Manifest& m : registry.manifests())
    for (const CapabilitySpec& c : m.capabilities) out += (out.empty() ? "" : ", ") + m.module + ":" + c.name.value;
  return out.empty() ? "none" : out;
}

// Resource ids and visitor ids: 1..200 printable ASCII characters, no space.
bool PlainId(std::string_view v) {
  return !v.empty() && v.size() <= 200 &&
         std::all_of(v.begin(), v.end(), [](char ch) { return ch > ' ' && ch < 0x7f; });
}

// The registered capability named `capability`, when `resource` is "<type>:<id>" of its
// resource type. Errors: kInvalidArgument (unknown_capability, or a resource of another type).
Result<const CapabilitySpec*> CapabilityFor(const Registry& registry, std::string_view capability,
                                            std::string_view resource) {
  const CapabilitySpec* spec = FindCapability(registry, capability);
  if (spec == nullptr) {
    return Err(Status::InvalidArgument("unknown capability " + Quote(capability) + " (registered: " +
                                       KnownCapabilities(registry) + ")")
                   .WithReason("unknown_capability"));
  }
  const std::string type = spec->resource + ":";
  if (resource.starts_with(type) && resource.size() > type.size()) return spec;
  return Err(Status::InvalidArgument("capability " + std::string(capability) + " is about resources '" + type +
                                     "<id>', not " + Quote(resource)));
}

// True when `scope` is `ancestor` or lies below it.
bool Within(const Snapshot& s, std::string_view scope, std::string_view ancestor) {
  auto id = s.FindScope(scope);
  auto top = s.FindScope(ancestor);
  if (!id || !top) return false;
  for (ScopeId x = *id; x.valid(); x = s.ScopeParent(x))
    if (x == *top) return true;
  return false;
}

// The active signing key (the newest that is not retired), or null.
const store::SigningKeyRow* ActiveKey(const Directory& d) {
  for (auto it = d.signing_keys.rbegin(); it != d.signing_keys.rend(); ++it)
    if (it->retired_at == 0) return &*it;
  return nullptr;
}

json::object TokenRowToJson(const store::CapabilityTokenRow& row, const CapabilitySpec* spec) {
  json::object o;
  o["id"] = row.id;
  o["capability"] = row.capability;
  if (spec != nullptr) o["permission"] = spec->permission.value;
  o["resource"] = row.resource;
  o["scope"] = row.scope;
  o["visitor"] = row.visitor.empty() ? json::value(nullptr) : json::value(row.visitor);
  o["issued_by"] = row.issued_by;
  o["issued_at"] = TimeToJson(row.issued_at);
  o["expires_at"] = TimeToJson(row.expires_at);
  o["revoked_at"] = row.revoked_at == 0 ? json::value(nullptr) : TimeToJson(row.revoked_at);
  return o;
}

// The answer to a caller that lacks `key` at `scope`: 403 naming it when the caller may know
// of the scope (it reads scopes there, or holds some key of the capability there), else the
// 404 of a missing `what` — another tenant's tokens cannot be probed.
Status Refuse(const Snapshot& s, const Caller& c, const CapabilitySpec& spec, std::string_view key,
              std::string_view scope, std::string_view what, std::string_view id, Time now) {
  bool visible = Holds(s, c, "iam:scopes:read", scope, now);
  for (const Located* k : {&spec.issue_key, &spec.revoke_key, &spec.permission})
    visible = visible || Holds(s, c, k->value, scope, now);
  if (!visible) return Hidden(what, id);
  return Require(s, c, key, scope, now);
}

}  // namespace

std::string CapabilitySubject(const auth::CapabilityClaims& t) {
  return t.visitor.empty() ? "capability_token:" + t.id : t.visitor;
}

Status IamService::EnsureSigningKey() {
  if (ActiveKey(state()->directory) != nullptr) return Status::Ok();
  Caller system{"system"};
  system.request_id = "signing-key";
  auto revision = Commit(system, [&](Txn& t) -> Status {
    if (ActiveKey(t.directory) != nullptr) return Status::Ok();  // nothing to do: no op, no revision
    const auth::SigningKey key = auth::GenerateSigningKey();
    store::SigningKeyRow row{key.kid, auth::Base64UrlEncode(key.public_key), auth::Base64UrlEncode(key.secret_key),
                             t.now, 0};
    t.change.ops.push_back(store::PutSigningKey{row});
    t.directory.signing_keys.push_back(std::move(row));
    return Status::Ok();
  });
  return revision ? Status::Ok() : revision.error();
}

json::object IamService::CapabilityKeys() const {
  auto st = state();
  const Time now = clock_.Now();
  const std::int64_t longest = LongestTtl(st->snapshot->registry());
  json::array keys;
  for (const store::SigningKeyRow& row : st->directory.signing_keys) {
    if (row.retired_at != 0 && row.retired_at + longest < now) continue;  // no token of it is alive
    auto public_key = auth::Base64UrlDecode(row.public_key);
    if (!public_key) continue;  // not written by this service: never published
    keys.push_back(auth::SigningKeyJwk({row.kid, *public_key, {}}));
  }
  return json::object{{"keys", std::move(keys)}};
}

Result<json::object> IamService::RotateSigningKey(const Caller& c) {
  std::string kid;
  json::array retired;
  auto rev = Commit(c, [&](Txn& t) -> Status {
    retired.clear();  // a build may run again (revision_conflict): start from nothing
    const Snapshot& s = *t.base.snapshot;
    SCAIGRID_RETURN_IF_ERROR(Require(s, c, kSigningKeysManage, "platform", t.now));
    for (store::SigningKeyRow& row : t.directory.signing_keys) {
      if (row.retired_at != 0) continue;
      row.retired_at = t.now;
      t.change.ops.push_back(store::PutSigningKey{row});
      retired.emplace_back(row.kid);
    }
    const auth::SigningKey key = auth::GenerateSigningKey();
    store::SigningKeyRow row{key.kid, auth::Base64UrlEncode(key.public_key), auth::Base64UrlEncode(key.secret_key),
                             t.now, 0};
    kid = row.kid;
    t.change.ops.push_back(store::PutSigningKey{row});
    t.directory.signing_keys.push_back(std::move(row));
    return Status::Ok();
  });
  if (!rev) return Err(rev.error());
  json::object out;
  out["kid"] = kid;
  out["retired"] = std::move(retired);
  out["revision"] = *rev;
  return out;
}

Result<json::object> IamService::MintCapabilityToken(const Caller& c, const json::value& body) {
  JsonArgs args(body, {"capability", "resource", "scope", "visitor", "ttl_seconds"});
  auto capability = args.String("capability", true, 200);
  auto resource = args.String("resource", true, 300);
  auto scope = args.String("scope", false, 200);
  auto visitor = args.String("visitor", false, 300);
  auto ttl = args.Int("ttl_seconds", 1, INT64_MAX);
  if (resource && !PlainId(*resource)) args.Problem("field 'resource' must be '<type>:<id>' of 1 to 200 printable characters without spaces");
  if (visitor && (!visitor->starts_with("visitor:") || visitor->size() == 8 || !PlainId(*visitor))) {
    args.Problem("field 'visitor' must be 'visitor:<id>', 1 to 200 printable characters without spaces");
  }
  if (args.Raw("scope") == nullptr && c.restrict_scope.empty()) {
    args.Problem("missing field 'scope' (the credential has no scope to default to)");
  }
  SCAIGRID_RETURN_IF_ERROR(args.Finish());
  const std::string where = scope ? *scope : c.restrict_scope;
  if (auto ref = ScopeRef::Parse(where); !ref) return Err(ref.error());

  json::object out;
  auto rev = Commit(c, [&](Txn& t) -> Status {
    const Snapshot& s = *t.base.snapshot;
    auto found = CapabilityFor(s.registry(), *capability, *resource);
    if (!found) return found.error();
    const CapabilitySpec* spec = *found;
    const std::int64_t max_ttl = spec->max_ttl_seconds;
    const std::int64_t life = ttl.value_or(std::min(kDefaultTtlSeconds, max_ttl));
    if (life > max_ttl) {
      return Status::InvalidArgument("ttl_seconds " + std::to_string(life) + " is above the maximum of " +
                                     std::to_string(max_ttl) + " seconds of capability " + *capability)
          .WithReason("ttl_too_long");
    }
    if (!s.FindScope(where)) return Hidden("scope", where);
    // A token delegates part of its issuer's own rights: the issue key and the action itself.
    for (const std::string& key : {spec->issue_key.value, spec->permission.value}) {
      if (!Holds(s, c, key, where, t.now)) return Refuse(s, c, *spec, key, where, "scope", where, t.now);
    }
    const store::SigningKeyRow* signing = ActiveKey(t.directory);
    if (signing == nullptr) return Status(StatusCode::kUnavailable, "no signing key: restart the server to create one");
    auto secret = auth::Base64UrlDecode(signing->secret_key);
    auto public_key = auth::Base64UrlDecode(signing->public_key);
    if (!secret || !public_key) return Status::Internal("signing key " + signing->kid + " is not readable");
    store::CapabilityTokenRow row{auth::NewCapabilityTokenId(), *capability, *resource, where,
                                  visitor.value_or(""), c.principal, t.now, t.now + life, 0,
                                  t.base.snapshot->revision() + 1, c.credential_id};
    const auth::CapabilityClaims claims{row.id, row.capability, spec->permission.value, row.resource,
                                        row.scope, row.visitor, row.issued_by, row.issued_at,
                                        row.expires_at, static_cast<std::int64_t>(row.revision)};
    out = TokenRowToJson(row, spec);
    out.erase("revoked_at");
    out["token"] = auth::SignCapabilityToken(claims, {signing->kid, *public_key, *secret});
    out["kid"] = signing->kid;
    t.change.ops.push_back(store::PutCapabilityToken{row});
    t.directory.capability_tokens.Put(row.id, row, t.epoch);
    return Status::Ok();
  });
  if (!rev) return Err(rev.error());
  out["revision"] = *rev;
  return out;
}

Result<json::object> IamService::RevokeCapabilityToken(const Caller& c, std::string_view id) {
  json::object out;
  auto rev = Commit(c, [&](Txn& t) -> Status {
    const Snapshot& s = *t.base.snapshot;
    const store::CapabilityTokenRow* row = t.base.directory.capability_tokens.Find(id);
    if (row == nullptr || row->expires_at <= t.now) return Hidden("capability token", id);  // expired: nothing to end
    const CapabilitySpec* spec = FindCapability(s.registry(), row->capability);
    // Revoking needs the revoke key; when the capability is no longer registered there is no
    // revoke key to hold, so the token's own issuer may still end it.
    if (spec == nullptr ? row->issued_by != c.principal : !Holds(s, c, spec->revoke_key.value, row->scope, t.now)) {
      if (spec == nullptr) return Hidden("capability token", id);
      return Refuse(s, c, *spec, spec->revoke_key.value, row->scope, "capability token", id, t.now);
    }
    store::CapabilityTokenRow revoked = *row;
    if (revoked.revoked_at == 0) {  // idempotent
      revoked.revoked_at = t.now;
      t.change.ops.push_back(store::RevokeCapabilityToken{revoked.id, t.now});
      t.directory.capability_tokens.Put(revoked.id, revoked, t.epoch);
    }
    out = TokenRowToJson(revoked, spec);
    return Status::Ok();
  });
  if (!rev) return Err(rev.error());
  out["revision"] = *rev;
  return out;
}

Result<json::object> IamService::RevokeCapabilityResource(const Caller& c, const json::value& body) {
  JsonArgs args(body, {"capability", "resource", "scope"});
  auto capability = args.String("capability", true, 200);
  auto resource = args.String("resource", true, 300);
  auto scope = args.String("scope", false, 200);
  if (resource && !PlainId(*resource)) args.Problem("field 'resource' must be '<type>:<id>' of 1 to 200 printable characters without spaces");
  if (args.Raw("scope") == nullptr && c.restrict_scope.empty()) {
    args.Problem("missing field 'scope' (the credential has no scope to default to)");
  }
  SCAIGRID_RETURN_IF_ERROR(args.Finish());
  const std::string where = scope ? *scope : c.restrict_scope;
  if (auto ref = ScopeRef::Parse(where); !ref) return Err(ref.error());
  json::object out;
  auto rev = Commit(c, [&](Txn& t) -> Status {
    const Snapshot& s = *t.base.snapshot;
    auto found = CapabilityFor(s.registry(), *capability, *resource);
    if (!found) return found.error();
    const CapabilitySpec* spec = *found;
    if (!s.FindScope(where)) return Hidden("scope", where);
    if (!Holds(s, c, spec->revoke_key.value, where, t.now)) {
      return Refuse(s, c, *spec, spec->revoke_key.value, where, "scope", where, t.now);
    }
    const std::uint64_t revision = t.base.snapshot->revision() + 1;
    store::ResourceRevocationRow row{*capability, *resource, where, t.now, c.principal, revision};
    out["capability"] = row.capability;
    out["resource"] = row.resource;
    out["scope"] = row.scope;
    out["revoked_at"] = TimeToJson(row.revoked_at);
    out["revoked_by"] = row.revoked_by;
    out["effective_revision"] = revision;
    t.change.ops.push_back(store::PutResourceRevocation{row});
    t.directory.PutResourceRevocation(row, t.epoch);
    return Status::Ok();
  });
  if (!rev) return Err(rev.error());
  out["revision"] = *rev;
  return out;
}

Result<json::object> IamService::GetCapabilityToken(const Caller& c, std::string_view id) {
  auto st = state();
  const Snapshot& s = *st->snapshot;
  const store::CapabilityTokenRow* row = st->directory.capability_tokens.Find(id);
  const Time now = clock_.Now();
  if (row == nullptr || row->expires_at <= now || !Holds(s, c, kTokensRead, row->scope, now)) {
    return Err(Hidden("capability token", id));
  }
  json::object out = TokenRowToJson(*row, FindCapability(s.registry(), row->capability));
  out["revision"] = s.revision();
  return out;
}

Result<json::object> IamService::ListCapabilityTokens(const Caller& c, std::string_view scope_text,
                                                      std::string_view resource, std::string_view cursor,
                                                      std::string_view limit_text) {
  std::string scope(scope_text.empty() ? std::string_view(c.restrict_scope) : scope_text);
  if (scope.empty()) return Err(Status::InvalidArgument("missing query parameter 'scope'"));
  if (auto ref = ScopeRef::Parse(scope); !ref) return Err(ref.error());
  size_t limit = 100;
  if (!limit_text.empty()) {
    size_t v = 0;
    auto [end, ec] = std::from_chars(limit_text.data(), limit_text.data() + limit_text.size(), v);
    if (ec != std::errc() || end != limit_text.data() + limit_text.size() || v < 1 || v > 1000) {
      return Err(Status::InvalidArgument("query parameter 'limit' must be an integer from 1 to 1000"));
    }
    limit = v;
  }
  auto st = state();
  const Snapshot& s = *st->snapshot;
  const Time now = clock_.Now();
  if (!s.FindScope(scope) || !Holds(s, c, kTokensRead, scope, now)) return Err(Hidden("scope", scope));
  // Every live token is in memory; a listing scans them (tokens are few next to checks).
  std::vector<const store::CapabilityTokenRow*> rows;
  st->directory.capability_tokens.ForEach([&](const std::string& id, const store::CapabilityTokenRow& row) {
    if (id <= cursor || row.expires_at <= now) return;
    if (!resource.empty() && row.resource != resource) return;
    if (Within(s, row.scope, scope)) rows.push_back(&row);
  });
  std::sort(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->id < b->id; });
  json::array items;
  for (size_t i = 0; i < rows.size() && i < limit; ++i) {
    items.push_back(TokenRowToJson(*rows[i], FindCapability(s.registry(), rows[i]->capability)));
  }
  json::object out;
  out["items"] = std::move(items);
  out["next_cursor"] = rows.size() > limit ? json::value(rows[limit - 1]->id) : json::value(nullptr);
  out["revision"] = s.revision();
  return out;
}

Result<Caller> IamService::AuthenticateCapability(std::string_view token) const {
  auto st = state();
  std::string public_key;  // raw bytes of the key the token names
  auto claims = verified_tokens_.Verify(token, [&](std::string_view kid) -> const std::string* {
    for (const store::SigningKeyRow& k : st->directory.signing_keys) {
      if (k.kid != kid) continue;
      auto raw = auth::Base64UrlDecode(k.public_key);
      if (!raw) return nullptr;
      public_key = std::move(*raw);
      return &public_key;
    }
    return nullptr;
  });
  if (!claims) return Err(claims.error());
  Caller c{CapabilitySubject(**claims), (*claims)->id};
  c.restrict_scope = (*claims)->scope;
  c.capability = std::move(*claims);
  return c;
}

IamService::TokenDecision IamService::DecideWithToken(const ServiceState& st, const auth::CapabilityClaims& token,
                                                      std::string_view permission, std::string_view scope,
                                                      const std::optional<std::string>& resource, Time now) const {
  const Snapshot& s = *st.snapshot;
  TokenDecision d;
  d.scope = scope.empty() ? token.scope : std::string(scope);
  auto deny = [&](std::string code, std::string summary) {
    d.code = std::move(code);
    d.summary = "capability token " + token.id + " " + summary;
    return d;
  };
  // Is the token still alive?
  if (now >= token.expires_at) return deny("token_expired", "expired at " + FormatTime(token.expires_at));
  // It must be one this service minted, exactly as minted: a token signed with a leaked key
  // but never minted here does nothing (CheckOne made sure this node has reached the
  // token's revision).
  const store::CapabilityTokenRow* row = st.directory.capability_tokens.Find(token.id);
  if (row == nullptr) return deny("token_unknown", "was not minted by this service");
  if (row->capability != token.capability || row->resource != token.resource || row->scope != token.scope ||
      row->visitor != token.visitor || row->issued_by != token.issued_by || row->issued_at != token.issued_at ||
      row->expires_at != token.expires_at || row->revision != static_cast<std::uint64_t>(token.revision)) {
    return deny("token_invalid", "does not match the token minted as " + token.id);
  }
  if (row->revoked_at != 0) return deny("token_revoked", "was revoked at " + FormatTime(row->revoked_at));
  if (const auto* revocations =
          st.directory.resource_revocations.Find(ResourceRevocationKey(token.capability, token.resource))) {
    for (const store::ResourceRevocationRow& r : *revocations) {
      // Every token of the resource at the revocation's scope or below, minted by an older change.
      if (row->revision < r.revision && Within(s, token.scope, r.scope)) {
        return deny("token_resource_revoked", "was revoked with every " + token.capability + " token of " +
                                                  token.resource + " at " + r.scope + " (at " + FormatTime(r.revoked_at) + ")");
      }
    }
  }
  const CapabilitySpec* spec = FindCapability(s.registry(), token.capability);
  if (spec == nullptr) return deny("token_invalid", "names capability " + token.capability + ", which is no longer registered");
  if (spec->permission.value != token.permission) {
    return deny("token_invalid", "carries " + token.permission + ", but capability " + token.capability + " now carries " +
                                     spec->permission.value);
  }
  // Dies with its issuer's right to issue it: the credential that minted it, and the issue key
  // and the action at its scope.
  if (const store::ApiKeyRow* key = row->credential.empty() ? nullptr : st.directory.api_keys.Find(row->credential)) {
    if (key->revoked_at != 0) return deny("token_issuer_lost_right", "was minted with API key " + key->id + ", since revoked");
    if (now >= key->expires_at) return deny("token_issuer_lost_right", "was minted with API key " + key->id + ", since expired");
  }
  const Caller issuer{token.issued_by};
  for (const std::string& key : {spec->issue_key.value, token.permission}) {
    if (!Holds(s, issuer, key, token.scope, now)) {
      return deny("token_issuer_lost_right", "was minted by " + token.issued_by + ", who no longer holds " + key + " at " + token.scope);
    }
  }
  // Its one action on its one resource, at its scope or below.
  const std::string allows = "allows only " + token.permission + " on " + token.resource + " at " + token.scope;
  if (permission != token.permission) return deny("outside_capability", allows + ", not " + std::string(permission));
  if (!resource) return deny("outside_capability", allows + ": the check names no resource");
  if (*resource != token.resource) return deny("outside_capability", allows + ", not on " + *resource);
  if (!Within(s, d.scope, token.scope)) return deny("outside_capability", allows + ", not at " + d.scope);
  d.allowed = true;
  d.code = "allowed";
  d.summary = "capability token " + token.id + " (minted by " + token.issued_by + ") allows " + token.permission +
              " on " + token.resource;
  return d;
}

}  // namespace scaigrid::iam::service
