// Directory: the rows behind the snapshot that decisions do not need but the API shows
// (names, owners, etags, justifications, API key hashes). Copy-on-write like the snapshot:
// a change copies only the shard it touches. Thread-safety: as detail::CowStringMap.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "scaigrid/iam/detail/cow.h"
#include "store/store.h"

namespace scaigrid::iam::service {

struct Directory {
  detail::CowStringMap<store::ScopeRow> scopes;          // by scope string
  detail::CowStringMap<store::PrincipalRow> principals;  // service accounts and groups
  detail::CowStringMap<store::CustomRoleRow> roles;      // by id
  detail::CowStringMap<store::BindingRow> bindings;      // by decimal id
  detail::CowStringMap<store::ApiKeyRow> api_keys;       // by id
  detail::CowStringMap<std::string> api_key_by_hash;     // secret hash → id
  detail::CowStringMap<store::ModuleRow> modules;        // by module
  // Capability-token signing keys in creation order (a handful: copied whole per change).
  std::vector<store::SigningKeyRow> signing_keys;
  // Minted capability tokens that have not expired (by id) and per-resource revocations (by
  // ResourceRevocationKey).
  detail::CowStringMap<store::CapabilityTokenRow> capability_tokens;
  detail::CowStringMap<store::ResourceRevocationRow> resource_revocations;
};

inline std::string ResourceRevocationKey(std::string_view capability, std::string_view resource,
                                         std::string_view scope) {
  std::string key;
  key.reserve(capability.size() + resource.size() + scope.size() + 2);
  key.append(capability).append(1, '\n').append(resource).append(1, '\n').append(scope);
  return key;
}

}  // namespace scaigrid::iam::service
