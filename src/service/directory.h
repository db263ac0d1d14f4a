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
  // Minted capability tokens that have not expired (by id), and per-resource revocations by
  // ResourceRevocationKey, one row per scope (a resource is revoked at a scope or two, so a
  // check finds them all with one lookup).
  detail::CowStringMap<store::CapabilityTokenRow> capability_tokens;
  detail::CowStringMap<std::vector<store::ResourceRevocationRow>> resource_revocations;

  // Adds `row`, replacing the one of the same scope.
  void PutResourceRevocation(const store::ResourceRevocationRow& row, std::uint64_t epoch);
};

inline std::string ResourceRevocationKey(std::string_view capability, std::string_view resource) {
  std::string key;
  key.reserve(capability.size() + resource.size() + 1);
  key.append(capability).append(1, '\n').append(resource);
  return key;
}

inline void Directory::PutResourceRevocation(const store::ResourceRevocationRow& row, std::uint64_t epoch) {
  std::string key = ResourceRevocationKey(row.capability, row.resource);
  std::vector<store::ResourceRevocationRow> rows;
  if (const auto* old = resource_revocations.Find(key)) rows = *old;
  std::erase_if(rows, [&](const store::ResourceRevocationRow& r) { return r.scope == row.scope; });
  rows.push_back(row);
  resource_revocations.Put(std::move(key), std::move(rows), epoch);
}

}  // namespace scaigrid::iam::service
