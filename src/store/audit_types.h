// Audit records as the store keeps them, and the query over them. The audit layer
// (src/audit) builds the records, chains their hashes and batches their writes; every store
// backend persists and queries them (see store.h). Format: docs/audit.md.
//
// Thread-safety: values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace scaigrid::iam::store {

struct AuditEvent {
  std::uint64_t seq = 0;       // position in the chain: 1, 2, 3, … (assigned by the writer)
  std::string id;              // "evt_" + seq as 16 digits: time-ordered and sortable
  std::int64_t time_us = 0;    // microseconds since the Unix epoch, UTC
  std::string module;          // "scaiskills", "iam", …
  std::string action;          // the key checked ("scaiskills:grant") or the change / module action
  std::string decision;        // "allowed", "denied", or empty for changes and module events
  std::string actor_user_id;   // principal string of the actor, "system" for the service itself
  std::string actor_type;      // "user", "service_account", "system"
  std::string credential_id;   // API key id, empty when none
  std::string tenant;          // "tenant:acme", empty for platform-wide events
  std::string resource_id;     // what it was about: binding id, role id, scope, resource id…
  std::string request_id;
  std::string source_ip;
  std::string details;         // a JSON object (reason chain, before/after, module fields)
  std::string prev_hash;       // hex hash of the event seq-1 ("" for seq 1)
  std::string hash;            // hex BLAKE2b-256 over prev_hash and the canonical form
};

struct AuditQuery {
  std::optional<std::string> module, actor, action, resource, tenant, decision;
  std::optional<std::int64_t> since_us;  // inclusive
  std::optional<std::int64_t> until_us;  // exclusive
  // Cursor: events strictly after (ascending) or before (descending) this seq.
  std::optional<std::uint64_t> after_seq;
  bool descending = false;
  std::size_t limit = 100;  // 1 … 1000
};

struct AuditPage {
  std::vector<AuditEvent> events;
  bool more = false;  // another page follows
};

}  // namespace scaigrid::iam::store
