#include "store/backend_rules.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>

namespace scaigrid::iam::store {

std::vector<ScopeRow> ParentsFirst(std::vector<ScopeRow> scopes) {
  std::unordered_map<std::string_view, std::size_t> index;
  for (std::size_t i = 0; i < scopes.size(); ++i) index.emplace(scopes[i].scope, i);
  constexpr int kUnknown = -1;
  constexpr int kOnPath = -2;
  std::vector<int> depth(scopes.size(), kUnknown);
  std::vector<std::size_t> path;
  for (std::size_t start = 0; start < scopes.size(); ++start) {
    // Walk up until a scope of known depth, a root, or a scope already on this walk.
    int base = -1;  // depth of the scope above the top of `path`
    for (std::size_t i = start; depth[i] == kUnknown;) {
      depth[i] = kOnPath;
      path.push_back(i);
      auto parent = index.find(scopes[i].parent);
      if (parent == index.end() || depth[parent->second] == kOnPath) break;
      if (depth[parent->second] >= 0) {
        base = depth[parent->second];
        break;
      }
      i = parent->second;
    }
    for (auto it = path.rbegin(); it != path.rend(); ++it) depth[*it] = ++base;
    path.clear();
  }
  std::vector<std::size_t> order(scopes.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&depth](std::size_t a, std::size_t b) { return depth[a] < depth[b]; });
  std::vector<ScopeRow> sorted;
  sorted.reserve(scopes.size());
  for (std::size_t i : order) sorted.push_back(std::move(scopes[i]));
  return sorted;
}

Status CheckAuditBatch(const std::vector<AuditEvent>& events) {
  constexpr auto kMaxSeq = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  for (std::size_t i = 0; i < events.size(); ++i) {
    const AuditEvent& e = events[i];
    if (e.seq == 0 || e.seq > kMaxSeq) {
      return Status::FailedPrecondition("audit event seq " + std::to_string(e.seq) +
                                        " is out of range (1 to " + std::to_string(kMaxSeq) + ")");
    }
    if (i == 0) continue;
    const AuditEvent& prev = events[i - 1];
    if (e.seq != prev.seq + 1) {
      return Status::FailedPrecondition("audit events must have consecutive seqs: seq " +
                                        std::to_string(e.seq) + " follows seq " +
                                        std::to_string(prev.seq) + " in the batch");
    }
    if (e.time_us < prev.time_us) {
      return Status::FailedPrecondition(
          "audit event times must not decrease: seq " + std::to_string(e.seq) + " has time_us " +
          std::to_string(e.time_us) + ", before seq " + std::to_string(prev.seq) + "'s " +
          std::to_string(prev.time_us));
    }
  }
  return Status::Ok();
}

}  // namespace scaigrid::iam::store
