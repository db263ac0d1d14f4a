// PostgresStore: the Store on a PostgreSQL database, for several nodes sharing one state.
//
// Schema, migrations and how nodes coordinate are described in docs/storage.md
// ("PostgreSQL"). In short: one table per row type (strings as bytea, so they round-trip byte
// for byte), the `changes` log (change = EncodeChange) and the append-only `audit_events`
// table (UPDATE, DELETE and TRUNCATE refused by triggers), built by the versioned migrations
// of postgres_migrations.cc under an advisory lock. Apply runs in one transaction that first
// bumps the one-row `store_revision` table (a row lock: writers on every node take turns, so
// revisions are gapless and monotonic) and ends with NOTIFY scaigrid_changes, '<revision>',
// delivered to listeners when it commits. synchronous_commit is on: an Apply or AppendAudit
// that returned is durable.
//
// Thread-safety: every method may be called from any thread. The store has up to three
// connections, each with its own mutex: one for the policy state (Load, Apply, Revision,
// ChangesSince), one for the audit log (so that a batch of audit events does not wait behind a
// Load, nor a Load behind a batch), and, from the first WaitForChange on, one that LISTENs.
// ScanAudit calls its callback without any lock held. A connection found broken is
// re-established at the start of the next call on it; the call that found it broken returns
// kUnavailable.
#pragma once

#include <chrono>
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

class PgConn;

class PostgresStore final : public Store {
 public:
  // The notification channel Apply notifies on commit, with the new revision as payload.
  static constexpr const char* kChangesChannel = "scaigrid_changes";

  // Connects to `url` (postgresql://user[:password]@host[:port]/db[?param=…], or libpq's
  // "key=value" form; connect_timeout defaults to 10 s) and applies pending migrations. The
  // store owns its connections (two; WaitForChange opens a third).
  // Errors: kUnavailable naming host, port and database — never the password — when the
  // URL is malformed or the server unreachable, refuses the credentials or has no such
  // database; kFailedPrecondition when the database's schema version is newer than this
  // binary's (naming both); kInternal (unexpected server errors).
  [[nodiscard]] static Result<std::unique_ptr<PostgresStore>> Open(const std::string& url);

  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;
  ~PostgresStore() override;

  // As SqliteStore: scopes parents first (by depth in the parent chain, insertion order within
  // a depth), every other list in insertion order; a replaced row keeps its place. Load reads
  // in one REPEATABLE READ transaction, so every table is at the same revision.
  [[nodiscard]] Result<State> Load() override;
  // Errors as Store::Apply; change.base_revision is compared with the revision read under the
  // store_revision lock, so it holds across nodes. kUnavailable also when the connection is
  // lost, at COMMIT included (then the change may or may not have been applied: ChangesSince
  // tells).
  [[nodiscard]] Result<std::uint64_t> Apply(const Change& change) override;
  [[nodiscard]] Result<std::uint64_t> Revision() override;
  [[nodiscard]] Result<std::vector<std::pair<std::uint64_t, Change>>> ChangesSince(
      std::uint64_t after, std::size_t limit) override;

  // One transaction per call, under a transaction-level advisory lock (appenders on every node
  // take turns): reads the last stored seq and time, requires the first seq to be exactly the
  // last + 1, consecutive seqs and times that do not decrease (kFailedPrecondition otherwise,
  // with SqliteStore's messages, nothing appended), then writes the events with one binary
  // COPY. An empty batch is a no-op.
  [[nodiscard]] Status AppendAudit(const std::vector<AuditEvent>& events) override;
  [[nodiscard]] Result<std::optional<AuditEvent>> LastAuditEvent() override;
  // Exactly SqliteStore's answers. One statement: since / until become seq bounds (the first
  // seq at or after each time, through audit_events_by_time; seq order is time order), the
  // cursor cuts the range, every filter is an equality on its column; the planner picks the
  // (column, seq) index that serves it in seq order. Reads limit + 1 rows to set `more`.
  // kInvalidArgument unless 1 <= limit <= 1000.
  [[nodiscard]] Result<AuditPage> QueryAudit(const AuditQuery& query) override;
  // Reads 10,000 events per statement under the lock and calls `fn` without it.
  [[nodiscard]] Status ScanAudit(std::uint64_t from_seq,
                                 const std::function<bool(const AuditEvent&)>& fn) override;

  // Store::WaitForChange with notifications instead of a sleep. Waits up to `timeout` for a
  // change committed by any store on this database (this one included) since the previous call: true as soon as a notification is there (it consumes
  // every notification received so far; the caller then reads ChangesSince), false on
  // timeout. The first call connects and starts listening, then returns true at once: changes
  // committed before it were not watched, so the caller must look. From then on notifications
  // that arrive between calls are not lost. A true may be spurious (a notification still in
  // flight when the caller already read its change wakes the next call): ChangesSince then
  // returns nothing new. kUnavailable when the listening connection is lost (or cannot be
  // opened); the next call reconnects, listens again and returns true at once (changes may
  // have been missed meanwhile), or kUnavailable again. A store that listens must keep
  // calling: PostgreSQL keeps every notification until each listener has read it, and its
  // queue is bounded (a full queue makes NOTIFY, hence Apply, fail). Meant for one follower
  // thread; concurrent callers take turns.
  [[nodiscard]] Result<bool> WaitForChange(std::chrono::milliseconds timeout) override;

 private:
  PostgresStore(std::string url, std::unique_ptr<PgConn> state, std::unique_ptr<PgConn> audit);

  const std::string url_;  // for the listening connection; never in a message (password)

  std::mutex state_mu_;
  std::unique_ptr<PgConn> state_;  // guarded by state_mu_
  std::mutex audit_mu_;
  std::unique_ptr<PgConn> audit_;  // guarded by audit_mu_
  std::mutex listen_mu_;
  std::unique_ptr<PgConn> listen_;  // guarded by listen_mu_; LISTENs on kChangesChannel, or null
  bool listen_lost_ = false;        // guarded by listen_mu_: reconnect on the next call
};

}  // namespace scaigrid::iam::store
