// Audit postings: the search structure of SqliteStore's filtered audit queries
// (docs/storage.md, "Audit events"; internal to src/store/sqlite).
//
// The log is cut into segments of SqliteStore::kAuditSegment (4,096) consecutive seqs:
// segment = (seq - 1) / 4096. Once a segment is complete (its last seq stored), the
// audit_postings table (migration 4) holds one row (segment, key, seq) per event of it and per
// non-empty posted field, key = tag + value:
//
//   'm' module   't' tenant   'a' actor_user_id   'x' action   'r' resource_id
//
// (decision, with three values, is not posted). The open segment has no postings. A segment's
// postings are written in the transaction that completes it (AppendAudit), or by migration 4
// for a log written before it, always by WriteAuditPostings, so the keys have one definition.
// The tags are part of the stored format: never changed.
//
// Thread-safety: none; the caller serializes use of the connection.
#pragma once

#include <cstdint>

#include "scaigrid/iam/status.h"
#include "store/sqlite/sqlite_db.h"

namespace scaigrid::iam::store {

inline constexpr char kAuditModuleTag = 'm';
inline constexpr char kAuditTenantTag = 't';
inline constexpr char kAuditActorTag = 'a';  // actor_user_id
inline constexpr char kAuditActionTag = 'x';
inline constexpr char kAuditResourceTag = 'r';  // resource_id
// The tags of the posted fields in the column order of WriteAuditPostings' read (module,
// tenant, actor_user_id, action, resource_id).
inline constexpr char kAuditPostingTags[] = {kAuditModuleTag, kAuditTenantTag, kAuditActorTag,
                                             kAuditActionTag, kAuditResourceTag};

// Writes the postings of `segment`, which must be complete and have none yet, inside the
// caller's write transaction: reads its rows back, makes one posting per non-empty posted
// field, sorts them by (key, seq) and inserts them in that order, so that the inserts of the
// newest segment are appended at the right edge of audit_postings.
// Errors: kInternal when the segment does not hold kAuditSegment events; the connection's.
[[nodiscard]] Status WriteAuditPostings(SqliteDb& db, std::uint64_t segment);

// Writes the postings of every complete segment of audit_events (migration 4's backfill of a
// log written before postings existed), one segment at a time, inside the caller's write
// transaction. audit_postings must be empty.
[[nodiscard]] Status BackfillAuditPostings(SqliteDb& db);

}  // namespace scaigrid::iam::store
