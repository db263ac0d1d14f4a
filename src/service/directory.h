// Directory: the rows behind the snapshot that decisions do not need but the API shows
// (names, owners, etags, justifications, API key hashes). Copy-on-write like the snapshot:
// a change copies only the shard it touches. Thread-safety: as detail::CowStringMap.
#pragma once

#include <string>
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
};

}  // namespace scaigrid::iam::service
