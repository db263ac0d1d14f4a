// Rules every store backend applies the same way (SqliteStore, PostgresStore).
#pragma once

#include <vector>

#include "store/store.h"

namespace scaigrid::iam::store {

// Orders `scopes` (in insertion order) parents first: by depth in the parent chain, where a
// scope whose parent is not among them has depth 0; stable within a depth. A cycle (only
// possible with corrupt data) is cut where the walk finds it.
std::vector<ScopeRow> ParentsFirst(std::vector<ScopeRow> scopes);

// kFailedPrecondition unless `events` have consecutive seqs and non-decreasing times, each
// seq within the int64 range the stores' columns hold (AppendAudit's batch checks).
Status CheckAuditBatch(const std::vector<AuditEvent>& events);

}  // namespace scaigrid::iam::store
