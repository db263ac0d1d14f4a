// Shared by the store backends: the order Store::Load returns scopes in.
#pragma once

#include <vector>

#include "store/store.h"

namespace scaigrid::iam::store {

// Orders `scopes` (in insertion order) parents first: by depth in the parent chain, where a
// scope whose parent is not among them has depth 0; stable within a depth. A cycle (only
// possible with corrupt data) is cut where the walk finds it.
std::vector<ScopeRow> ParentsFirst(std::vector<ScopeRow> scopes);

}  // namespace scaigrid::iam::store
