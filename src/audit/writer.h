// AuditWriter: appends audit events to the store's hash-chained log, in batches, from one
// writer thread (group commit), behind a bounded queue that fails closed.
//
// Flow. Submit() accepts an event into the queue and returns a Ticket at once; the writer
// thread takes everything queued (up to max_batch), seals it into the chain (seq, id,
// prev_hash, hash; see chain.h) in submission order and appends it with one
// Store::AppendAudit, one transaction per batch. Wait(ticket) blocks until the batch holding
// that event is committed. A request that must not be answered before its event is durable
// (changes, `audit: always` keys, audited checks) calls SubmitAndWait.
//
// Guarantees.
// - Acknowledged ⇒ committed: Wait / SubmitAndWait return OK only once the event is durable
//   in the store (AppendAudit returned OK for its batch, or the store was found to hold it).
// - Order: seqs follow submission order (the order in which Submit calls accepted events);
//   time_us is kept as given unless it is smaller than the previous event's, then it is
//   raised to it, so seq order is time order. The caller sets time_us: the writer reads no
//   clock for event times.
// - Nothing accepted is dropped while the writer runs: when AppendAudit fails, that batch's
//   waiters get kUnavailable "audit log unavailable: <store error>" (reason
//   "audit_unavailable"), and the events stay queued, sealed as they were, and are retried
//   (together with what was queued since) every retry_interval until the store takes them.
//   A failed Wait therefore means "not acknowledged", not "absent": a retry may commit the
//   event later. A caller that gets an error answers 503.
// - A kFailedPrecondition from AppendAudit (the store's tail moved: another writer on the
//   same log, or an earlier attempt that reported failure did commit) is reconciled: events
//   the store already holds (same seq and hash) count as committed, the rest are resealed
//   after the store's tail and retried at once. No event is committed twice.
// - Back-pressure: at most queue_capacity events are accepted but not committed. Submit
//   blocks while the queue is full, up to enqueue_timeout, then fails with kUnavailable
//   (reason "audit_backpressure") and the event is not taken: fail closed, never dropped.
// - Stop() drains: it returns once every accepted event is committed, unless the store
//   fails: the first attempt made after Stop was called that fails ends the drain, and every
//   event still uncommitted is abandoned (counted in Counters::abandoned; its waiters get
//   kUnavailable). Abandoned events were never acknowledged. Stop does not wait for a
//   store that keeps failing, but does wait for an AppendAudit call in progress.
//
// Thread-safety: Submit, Wait, SubmitAndWait and counters may be called from any number of
// threads at once, also while Stop runs. Start and Stop are called by the owner, not
// concurrently with each other. The Store must outlive the writer; its AppendAudit is only
// ever called from the writer thread (LastAuditEvent / ScanAudit also from Start's caller).
// No busy waiting: threads block on condition variables.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "scaigrid/iam/status.h"
#include "store/audit_types.h"
#include "store/store.h"

namespace scaigrid::iam::audit {

class AuditWriter {
 public:
  struct Options {
    std::size_t queue_capacity = 65536;  // events accepted but not yet committed, at most
    std::size_t max_batch = 4096;        // events per AppendAudit, at most
    std::chrono::milliseconds enqueue_timeout{2000};  // how long Submit waits for room
    std::chrono::milliseconds retry_interval{100};    // after a failed batch, retry this often
  };

  // Names one accepted event, for Wait. Its position among this writer's submissions
  // (1, 2, 3, …), not the event's seq (seqs are final only once committed).
  struct Ticket {
    std::uint64_t number = 0;
  };

  // Monotonic counters for metrics, read together under the writer's lock.
  struct Counters {
    std::uint64_t submitted = 0;       // events accepted by Submit
    std::uint64_t rejected = 0;        // Submit calls refused (back-pressure or not running)
    std::uint64_t committed = 0;       // events durable in the store
    std::uint64_t batches = 0;         // AppendAudit calls that succeeded
    std::uint64_t failed_batches = 0;  // AppendAudit calls that failed (each retry counts)
    std::uint64_t abandoned = 0;       // events left uncommitted by Stop (store failing)
    std::size_t queue_depth = 0;       // events accepted and not yet committed, now
  };

  // `store` must outlive the writer. Options of 0 are raised to 1.
  AuditWriter(store::Store& store, Options options);
  AuditWriter(const AuditWriter&) = delete;
  AuditWriter& operator=(const AuditWriter&) = delete;
  ~AuditWriter();  // Stop()

  // Reads the store's last event to continue its chain (next seq, prev_hash, time floor) and
  // starts the writer thread. Errors: those of LastAuditEvent (kUnavailable, kInternal), then
  // the writer is not started; kFailedPrecondition if already started (or stopped: a writer
  // runs once).
  Status Start();

  // Stops accepting, drains (see the header comment), joins the writer thread. Idempotent;
  // a no-op before Start.
  void Stop();

  // Accepts `e` for the log. Its seq, id, prev_hash and hash are set by the writer (values
  // given are ignored); every other field is kept, time_us possibly raised (see above).
  // Errors: kUnavailable with reason "audit_backpressure" when the queue stayed full for
  // enqueue_timeout, or "audit_stopped" when the writer is not running; the event is not
  // accepted then.
  [[nodiscard]] Result<Ticket> Submit(store::AuditEvent e);

  // Blocks until the ticket's event is committed (OK), up to `timeout`.
  // Errors (the event is not acknowledged; it may still be committed later):
  // kUnavailable reason "audit_unavailable" when an attempt to commit it failed (message
  // names the store's error) or Stop abandoned it; kUnavailable reason "audit_timeout" when
  // `timeout` passed first; kInvalidArgument for a ticket this writer did not issue.
  Status Wait(const Ticket& ticket, std::chrono::milliseconds timeout);

  // Submit, then Wait(timeout). The enqueue wait (up to enqueue_timeout) comes first.
  Status SubmitAndWait(store::AuditEvent e, std::chrono::milliseconds timeout);

  // The asynchronous Wait: `done` is called once with what Wait would return, without a
  // timeout: OK when the ticket's event is committed, kUnavailable "audit_unavailable" when an
  // attempt to commit it failed or Stop abandoned it. It runs at once on the calling thread
  // when the ticket is already settled (or unknown: kInvalidArgument), else on the writer
  // thread right after the batch's outcome, so it must be short and must not call back into
  // this writer. Every callback runs before Stop returns. A caller that needs a deadline keeps
  // its own timer (an HTTP request does: HttpServerOptions::response_timeout).
  using Done = std::function<void(Status)>;
  void WhenSettled(const Ticket& ticket, Done done);

  Counters counters() const;

 private:
  // What the writer thread got from one attempt on a batch.
  struct Outcome {
    std::size_t committed = 0;  // events from the batch's front now durable
    Status status;              // OK when the whole batch is committed
  };

  void Run();
  void SealInto(std::vector<store::AuditEvent>& batch, std::vector<store::AuditEvent> fresh);
  Outcome CommitBatch(std::vector<store::AuditEvent>& batch);
  Result<std::size_t> Reconcile(std::vector<store::AuditEvent>& batch);
  // The status a settled ticket gets; call with mu_ held.
  Status SettledStatusLocked(std::uint64_t ticket) const;
  // Removes the callbacks of settled tickets (mu_ held); the caller runs them unlocked.
  std::vector<std::pair<Done, Status>> TakeSettledLocked();

  store::Store& store_;
  const Options options_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;   // writer: something queued, or stopping
  std::condition_variable done_cv_;   // waiters: commits or failures happened
  std::condition_variable space_cv_;  // submitters: room in the queue, or stopping
  bool started_ = false;
  bool accepting_ = false;
  bool stopping_ = false;
  std::deque<store::AuditEvent> queue_;  // accepted, not yet taken by the writer thread
  std::size_t in_batch_ = 0;             // taken by the writer thread, not yet committed
  std::uint64_t committed_through_ = 0;  // tickets 1..this are committed
  std::uint64_t failed_through_ = 0;     // tickets 1..this were in a failed attempt
  Status last_failure_;                  // the store's error of the latest failed attempt
  std::multimap<std::uint64_t, Done> settle_callbacks_;  // WhenSettled, by ticket
  Counters counters_;
  std::thread thread_;

  // Owned by the writer thread (set by Start before it runs): the chain's tail as sealed.
  std::uint64_t tail_seq_ = 0;
  std::string tail_hash_;
  std::int64_t tail_time_us_ = 0;
};

}  // namespace scaigrid::iam::audit
