// The audit hash chain: how an event is sealed into the chain and how a chain is verified.
//
// Every event carries `prev_hash` (the hash of the event before it, "" for the first) and its
// own `hash` = hex BLAKE2b-256 of its canonical form, which covers every field but `hash`,
// prev_hash included. Changing, deleting, inserting or reordering any stored event therefore
// breaks a link that VerifyChain reports, naming the first broken event. The canonical form
// is specified byte for byte in docs/audit.md, so a third party can verify an export.
//
// What the chain does not prove on its own: that the newest events were not cut off or that
// the whole log was not rewritten from some event on; for that, keep the head hash
// (VerifyResult::last_hash) somewhere the log's writer cannot change (docs/audit.md).
//
// Thread-safety: pure functions on values; VerifyChain only reads through the Store, whose
// methods are thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "scaigrid/iam/status.h"
#include "store/audit_types.h"
#include "store/store.h"

namespace scaigrid::iam::audit {

// The tag that opens every canonical form; a future format gets a new tag.
inline constexpr std::string_view kCanonicalFormTag = "scaigrid-audit-v1";

// "evt_" + `seq` as 16 decimal digits, zero-padded (seqs above 9999999999999999 get more
// digits). Sorts like seq, hence like time.
std::string EventId(std::uint64_t seq);

// The canonical form of `e`: a sequence of netstrings `<length>:<bytes>,` (length in decimal
// bytes, no leading zeros) of, in this order: kCanonicalFormTag, seq (decimal), id, time_us
// (decimal, '-' when negative), module, action, decision, actor_user_id, actor_type,
// credential_id, tenant, resource_id, request_id, source_ip, details, prev_hash.
// `hash` is the one field left out. Byte strings are taken as they are (no normalization).
std::string CanonicalForm(const store::AuditEvent& e);

// Lowercase hex BLAKE2b-256 (unkeyed, 32-byte digest) of CanonicalForm(e): 64 characters.
std::string ChainHash(const store::AuditEvent& e);

// Makes `e` the chain's event number `seq` following an event whose hash is `prev_hash`
// ("" when seq is 1): sets seq, id = EventId(seq), prev_hash, then hash = ChainHash(e).
void Seal(store::AuditEvent& e, std::uint64_t seq, std::string prev_hash);

struct VerifyResult {
  bool ok = true;
  std::uint64_t events = 0;         // events checked and found good (all of them when ok)
  std::uint64_t first_bad_seq = 0;  // when !ok: the lowest seq at which the log is not a valid
                                    // chain (the seq a missing event should have had)
  std::string problem;              // when !ok: "event 42 (evt_0000000000000042): …"
  std::string last_hash;            // hash of the last good event ("" for an empty log)
};

// Walks the whole log (ScanAudit from seq 1) and checks, event by event: seqs are 1, 2, 3, …
// with none missing, repeated or out of order; id == EventId(seq); prev_hash equals the hash
// of the event before ("" for the first); hash == ChainHash(event); time_us never decreases.
// Stops at the first problem and describes it. A broken chain is a normal result (ok false),
// not an error. Errors: those of ScanAudit (kUnavailable, kInternal).
Result<VerifyResult> VerifyChain(store::Store& store);

}  // namespace scaigrid::iam::audit
