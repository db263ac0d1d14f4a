// The synthetic audit log of the audit benchmarks: event `seq` is derived from its seq alone
// (8 modules, 64 actions, 1,000 tenants, 50,000 users, 1,000,000 resources; 90% allowed, 8%
// denied, 2% module events without a decision), times spread evenly over 30 days for
// kLogEvents events. Hashes are dummies: hashing is the audit layer's business, not the store's.
#pragma once

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "store/audit_types.h"

namespace scaigrid::iam::store::bench {

inline constexpr std::uint64_t kLogEvents = 10'000'000;
inline constexpr int kModules = 8;
inline constexpr int kTenants = 1'000;
inline constexpr std::int64_t kStartUs = 1'775'001'600'000'000;  // 2026-04-01T00:00:00Z
inline constexpr std::int64_t kDayUs = 86'400'000'000;
inline constexpr std::int64_t kSpanUs = 30 * kDayUs;

inline const char* const kModuleNames[kModules] = {"iam",    "scaiskills", "llm",     "speech",
                                                   "vision", "search",     "billing", "storage"};
inline const char* const kVerbs[8] = {"read",   "list",  "create", "update",
                                      "delete", "grant", "use",    "admin"};

inline std::uint64_t SplitMix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A 64-hex-digit dummy hash (hashing is the audit layer's business, not the store's).
inline std::string Hex64(std::uint64_t x) {
  char buf[65];
  for (int i = 0; i < 4; ++i) {
    std::snprintf(buf + 16 * i, 17, "%016" PRIx64, SplitMix64(x + static_cast<std::uint64_t>(i)));
  }
  return std::string(buf, 64);
}

inline std::string Tenant(std::uint64_t t) { return "tenant:t" + std::to_string(t); }

// Times spread evenly: event seq falls at start + (seq - 1) * 30 days / 10M (259.2 ms apart),
// and events appended after the 10M-th keep the same pace.
inline constexpr std::int64_t kStepUs = kSpanUs / static_cast<std::int64_t>(kLogEvents);
static_assert(kStepUs * static_cast<std::int64_t>(kLogEvents) == kSpanUs);
inline std::int64_t TimeOf(std::uint64_t seq) {
  return kStartUs + static_cast<std::int64_t>(seq - 1) * kStepUs;
}

// The event `seq`: every field derived from the seq, so a resumed build continues the same log.
inline AuditEvent MakeEvent(std::uint64_t seq) {
  const std::uint64_t h = SplitMix64(seq);
  const int module = static_cast<int>(h % kModules);
  const std::uint64_t tenant = (h >> 8) % kTenants;
  const std::uint64_t user = (h >> 20) % 50'000;
  const std::uint64_t roll = (h >> 40) % 100;
  char id[24];
  std::snprintf(id, sizeof id, "evt_%016" PRIu64, seq);
  AuditEvent e;
  e.seq = seq;
  e.id = id;
  e.time_us = TimeOf(seq);
  e.module = kModuleNames[module];
  e.action = e.module + ":" + kVerbs[(h >> 12) % 8];
  e.decision = roll < 90 ? "allowed" : roll < 98 ? "denied" : "";
  const bool service = (h >> 48) % 5 == 0;
  e.actor_user_id = (service ? "service_account:sa" : "user:u") + std::to_string(user);
  e.actor_type = service ? "service_account" : "user";
  e.credential_id = service ? "key_" + std::to_string(user) : "";
  e.tenant = Tenant(tenant);
  e.resource_id = "res-" + std::to_string((h >> 24) % 1'000'000);
  e.request_id = "req-" + std::to_string(SplitMix64(h) % 100'000'000'000ULL);
  e.source_ip = "10." + std::to_string((h >> 32) & 255) + "." + std::to_string((h >> 40) & 255) +
                "." + std::to_string((h >> 48) & 255);
  e.details = R"({"reason":"role )" + e.module + R"(:viewer at )" + e.tenant + R"("})";
  e.prev_hash = seq == 1 ? "" : Hex64(seq - 1);
  e.hash = Hex64(seq);
  return e;
}

inline std::vector<AuditEvent> MakeEvents(std::uint64_t first, std::uint64_t count) {
  std::vector<AuditEvent> events;
  events.reserve(count);
  for (std::uint64_t seq = first; seq < first + count; ++seq) events.push_back(MakeEvent(seq));
  return events;
}

}  // namespace scaigrid::iam::store::bench
