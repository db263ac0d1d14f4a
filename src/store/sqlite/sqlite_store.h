// SqliteStore: the Store on one SQLite database file, the embedded default backend.
//
// Schema, migrations and durability are described in docs/storage.md. In short: one table per
// row type plus the `changes` log (body = EncodeChange) and the append-only `audit_events`
// table (UPDATE and DELETE refused by triggers), built by the versioned migrations of
// sqlite_migrations.cc; WAL journal with synchronous=FULL, so an Apply that returned is on
// disk (it survives kill -9 and power loss); Apply runs in BEGIN IMMEDIATE, so several
// processes on one file take turns and revisions stay dense.
//
// Thread-safety: every method may be called from any thread. The store has one connection and
// one mutex that serializes all calls (Apply, and the reads too, so a Load never interleaves
// with an Apply on the shared connection). ScanAudit calls its callback without the mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "scaigrid/iam/status.h"
#include "store/store.h"

namespace scaigrid::iam::store {

class SqliteDb;

class SqliteStore final : public Store {
 public:
  // Opens the database at `path`, creating the file when absent (its directory must exist),
  // sets the pragmas and applies pending migrations. The store owns the connection.
  // Errors: kUnavailable naming the path (missing directory, cannot open or create, locked
  // past the busy timeout, I/O); kFailedPrecondition when the file's schema version is newer
  // than this binary's (naming both); kInternal (not a database, corrupt).
  // `sync`: kFull fsyncs the WAL at every commit (an acknowledged change or event survives
  // power loss); kNormal leaves that to checkpoints (it survives the process being killed,
  // kill -9 included, but an OS crash or power loss may lose the last commits).
  enum class Sync { kFull, kNormal };
  [[nodiscard]] static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                                 Sync sync = Sync::kFull);

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;
  ~SqliteStore() override;

  // Scopes come parents first: ordered by depth in the parent chain (a scope whose parent is
  // not stored, e.g. "platform", has depth 0), insertion order within a depth. Every other
  // list is in insertion order; a replaced module or custom role keeps its place.
  [[nodiscard]] Result<State> Load() override;
  [[nodiscard]] Result<std::uint64_t> Apply(const Change& change) override;
  [[nodiscard]] Result<std::uint64_t> Revision() override;
  [[nodiscard]] Result<std::vector<std::pair<std::uint64_t, Change>>> ChangesSince(
      std::uint64_t after, std::size_t limit) override;

  // Audit log (docs/storage.md, "Audit events"). The log is cut into segments of
  // kAuditSegment consecutive seqs (segment = (seq - 1) / kAuditSegment); a segment is
  // complete once its last seq is stored, and only complete segments have entries in
  // audit_postings (one per non-empty module, tenant, actor, action and resource of each
  // event), the search structure of the filtered queries.
  static constexpr std::uint64_t kAuditSegment = 4096;

  // AppendAudit runs one BEGIN IMMEDIATE transaction per call, inserting the events 128 per
  // statement execution (one prepared multi-row INSERT, re-bound for each chunk, the rest one
  // by one); besides the consecutive seqs it requires times that do not decrease
  // (first against the last stored event, then within the batch), kFailedPrecondition
  // otherwise, because QueryAudit turns since / until into seq bounds. In the same
  // transaction it writes the postings of every segment the batch completes (reading the
  // segment's rows back, inserting its postings in key order), so "complete" and "has
  // postings" never disagree, whatever crash or error. An empty batch is a no-op.
  [[nodiscard]] Status AppendAudit(const std::vector<AuditEvent>& events) override;
  [[nodiscard]] Result<std::optional<AuditEvent>> LastAuditEvent() override;
  // Every filter is exact except since (inclusive) and until (exclusive); kInvalidArgument
  // unless 1 <= limit <= 1000. Reads limit + 1 rows to set `more`. Runs in one read
  // transaction: since / until / the cursor become a seq range; with a module, tenant,
  // actor, action or resource filter, one of them drives (resource, actor, tenant, action,
  // module: the first present) and the range is walked segment by segment in query order,
  // one postings probe per complete segment and a rowid range scan of the open one, until
  // limit + 1 events are found; without one, the rowid range is scanned. Every filter is
  // checked on every row returned.
  [[nodiscard]] Result<AuditPage> QueryAudit(const AuditQuery& query) override;
  // Reads 10,000 events per statement under the lock and calls `fn` without it, so memory
  // stays flat and `fn` may call the store. Events appended during the scan are included
  // when they arrive before the scan reaches the end.
  [[nodiscard]] Status ScanAudit(std::uint64_t from_seq,
                                 const std::function<bool(const AuditEvent&)>& fn) override;

  // The SQL statements QueryAudit may run for `query` (values are ? parameters, not bound
  // here), for checking their plans with EXPLAIN QUERY PLAN in tests and in docs/storage.md:
  // the seq-bound lookups (the last seq; since / until through audit_events_by_time when
  // given), then the postings probe of a complete segment when a filter drives, and the rowid
  // range scan (of the open segment when a filter drives, of the whole range otherwise).
  static std::vector<std::string> AuditQuerySql(const AuditQuery& query);

 private:
  explicit SqliteStore(std::unique_ptr<SqliteDb> db);

  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;  // guarded by mu_
};

}  // namespace scaigrid::iam::store
