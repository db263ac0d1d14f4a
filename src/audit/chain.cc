#include "audit/chain.h"

#include <sodium.h>

#include <cinttypes>
#include <cstdio>
#include <optional>
#include <string_view>
#include <utility>

namespace scaigrid::iam::audit {
namespace {

void AppendField(std::string& out, std::string_view bytes) {
  out += std::to_string(bytes.size());
  out += ':';
  out += bytes;
  out += ',';
}

// "event 42 (evt_0000000000000042): " for an event as stored.
std::string Where(const store::AuditEvent& e) {
  return "event " + std::to_string(e.seq) + " (" + e.id + "): ";
}

struct Break {
  std::uint64_t first_bad_seq = 0;
  std::string problem;
};

// Whether `e`, found where event `expected` belongs, continues a valid chain whose last event
// has `prev_hash` and `prev_time`; if not, the first problem.
std::optional<Break> CheckLink(const store::AuditEvent& e, std::uint64_t expected,
                               const std::string& prev_hash, std::int64_t prev_time) {
  const std::string seq = std::to_string(e.seq);
  const std::string prev_seq = std::to_string(expected - 1);
  if (e.seq > expected) {
    const std::string after =
        expected == 1 ? "the log starts at seq " + seq : "seq " + seq + " follows seq " + prev_seq;
    const std::string missing =
        e.seq == expected + 1
            ? "event " + std::to_string(expected) + " (" + EventId(expected) + ") is"
            : "events " + std::to_string(expected) + " to " + std::to_string(e.seq - 1) + " are";
    return Break{expected, Where(e) + after + ": " + missing + " missing or out of place"};
  }
  if (e.seq < expected) {
    return Break{expected, Where(e) + "seq " + seq + " follows seq " + prev_seq +
                               ": repeated or out of order"};
  }
  if (e.id != EventId(e.seq)) {
    return Break{e.seq, Where(e) + "id does not match seq (expected " + EventId(e.seq) + ")"};
  }
  if (e.prev_hash != prev_hash) {
    return Break{
        e.seq, Where(e) + (e.seq == 1 ? "prev_hash of the first event is not empty"
                                      : "prev_hash does not match the hash of event " + prev_seq)};
  }
  if (e.hash != ChainHash(e)) return Break{e.seq, Where(e) + "hash does not match its contents"};
  if (e.seq > 1 && e.time_us < prev_time) {
    return Break{e.seq, Where(e) + "time_us " + std::to_string(e.time_us) + " is before event " +
                            prev_seq + "'s time_us " + std::to_string(prev_time)};
  }
  return std::nullopt;
}

}  // namespace

std::string EventId(std::uint64_t seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "evt_%016" PRIu64, seq);
  return buf;
}

std::string CanonicalForm(const store::AuditEvent& e) {
  std::string out;
  out.reserve(160 + e.module.size() + e.action.size() + e.actor_user_id.size() + e.tenant.size() +
              e.resource_id.size() + e.request_id.size() + e.details.size() + e.prev_hash.size());
  AppendField(out, kCanonicalFormTag);
  AppendField(out, std::to_string(e.seq));
  AppendField(out, e.id);
  AppendField(out, std::to_string(e.time_us));
  AppendField(out, e.module);
  AppendField(out, e.action);
  AppendField(out, e.decision);
  AppendField(out, e.actor_user_id);
  AppendField(out, e.actor_type);
  AppendField(out, e.credential_id);
  AppendField(out, e.tenant);
  AppendField(out, e.resource_id);
  AppendField(out, e.request_id);
  AppendField(out, e.source_ip);
  AppendField(out, e.details);
  AppendField(out, e.prev_hash);
  return out;
}

std::string ChainHash(const store::AuditEvent& e) {
  // sodium_init picks the fastest BLAKE2b implementation; it is idempotent and thread-safe.
  // Its failure (no entropy source) does not affect hashing, so it is not an error here.
  [[maybe_unused]] static const int kSodiumInit = sodium_init();
  const std::string form = CanonicalForm(e);
  unsigned char digest[crypto_generichash_BYTES];  // 32
  crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(form.data()),
                     form.size(), nullptr, 0);
  char hex[sizeof digest * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return std::string(hex, sizeof digest * 2);
}

void Seal(store::AuditEvent& e, std::uint64_t seq, std::string prev_hash) {
  e.seq = seq;
  e.id = EventId(seq);
  e.prev_hash = std::move(prev_hash);
  e.hash = ChainHash(e);
}

Result<VerifyResult> VerifyChain(store::Store& store) {
  VerifyResult result;
  std::int64_t prev_time = 0;
  Status scanned = store.ScanAudit(1, [&](const store::AuditEvent& e) {
    std::optional<Break> broken = CheckLink(e, result.events + 1, result.last_hash, prev_time);
    if (broken) {
      result.ok = false;
      result.first_bad_seq = broken->first_bad_seq;
      result.problem = std::move(broken->problem);
      return false;
    }
    ++result.events;
    result.last_hash = e.hash;
    prev_time = e.time_us;
    return true;
  });
  if (!scanned.ok()) return Err(std::move(scanned));
  return result;
}

}  // namespace scaigrid::iam::audit
