// Capability tokens: signing keys and their publication.
#include <algorithm>

#include "auth/capability_token.h"
#include "auth/jwt.h"
#include "service/service_internal.h"

namespace scaigrid::iam::service {
namespace {

// The longest max_ttl of any registered capability: how long a retired key stays published.
std::int64_t LongestTtl(const Registry& registry) {
  std::int64_t longest = 0;
  for (const Manifest& m : registry.manifests()) {
    for (const CapabilitySpec& c : m.capabilities) longest = std::max(longest, c.max_ttl_seconds);
  }
  return longest;
}

}  // namespace

Status IamService::EnsureSigningKey() {
  auto has_active = [](const Directory& d) {
    return std::any_of(d.signing_keys.begin(), d.signing_keys.end(),
                       [](const store::SigningKeyRow& k) { return k.retired_at == 0; });
  };
  if (has_active(state()->directory)) return Status::Ok();
  Caller system{"system"};
  system.request_id = "signing-key";
  auto revision = Commit(system, [&](Txn& t) -> Status {
    if (has_active(t.directory)) return Status::Ok();  // nothing to do: no op, no revision
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

}  // namespace scaigrid::iam::service
