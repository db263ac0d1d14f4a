// FakeAuditStore: an in-memory Store for tests of audit code (tests only; not part of any
// library). Only the audit methods work; the others return kInternal. It checks AppendAudit's
// contract (consecutive seqs following the last stored one, else kFailedPrecondition) and can
// be told to block appends (to hold a batch in flight) or to fail them, before or after
// committing (an ambiguous commit). Tests may also edit the stored events to tamper with them.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "scaigrid/iam/status.h"
#include "store/store.h"

namespace scaigrid::iam::audit {

class FakeAuditStore final : public store::Store {
 public:
  // What the next AppendAudit call does.
  enum class Fault {
    kNone,            // append normally
    kFail,            // append nothing, return the fault status
    kCommitThenFail,  // append, then return the fault status anyway
  };

  // ---- Test controls.

  // Appends block (after being counted in append_calls) until Unblock.
  void Block() {
    std::lock_guard lock(mu_);
    blocked_ = true;
  }
  void Unblock() {
    {
      std::lock_guard lock(mu_);
      blocked_ = false;
    }
    cv_.notify_all();
  }
  // Every AppendAudit call from now on gets `fault` with `status`.
  void FailWith(Status status, Fault fault = Fault::kFail) {
    SetFaultPlan([fault](std::size_t) { return fault; }, std::move(status));
  }
  // Only the next AppendAudit call gets the fault.
  void FailNextWith(Status status, Fault fault = Fault::kFail) {
    std::lock_guard lock(mu_);
    const std::size_t next = batch_sizes_.size() + 1;
    plan_ = [fault, next](std::size_t call) { return call == next ? fault : Fault::kNone; };
    fault_status_ = std::move(status);
  }
  // AppendAudit call number n (1, 2, 3, … counting every call) gets plan(n).
  void SetFaultPlan(std::function<Fault(std::size_t)> plan, Status status) {
    std::lock_guard lock(mu_);
    plan_ = std::move(plan);
    fault_status_ = std::move(status);
  }
  void Succeed() {
    std::lock_guard lock(mu_);
    plan_ = nullptr;
  }
  // LastAuditEvent and ScanAudit fail with `status` while it is not OK.
  void FailReadsWith(Status status) {
    std::lock_guard lock(mu_);
    read_status_ = std::move(status);
  }
  // Blocks until AppendAudit has been called at least `n` times in all.
  void WaitForAppendCalls(std::size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return batch_sizes_.size() >= n; });
  }
  // Runs `fn` on the stored events (to tamper with them).
  void Edit(const std::function<void(std::vector<store::AuditEvent>&)>& fn) {
    std::lock_guard lock(mu_);
    fn(events_);
  }
  std::vector<store::AuditEvent> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  // The size of the batch of every AppendAudit call so far, failed ones included.
  std::vector<std::size_t> batch_sizes() const {
    std::lock_guard lock(mu_);
    return batch_sizes_;
  }

  // ---- Audit methods.

  Status AppendAudit(const std::vector<store::AuditEvent>& events) override {
    std::unique_lock lock(mu_);
    batch_sizes_.push_back(events.size());
    const std::size_t call = batch_sizes_.size();
    cv_.notify_all();
    cv_.wait(lock, [&] { return !blocked_; });
    const Fault fault = plan_ ? plan_(call) : Fault::kNone;
    if (fault == Fault::kFail) return fault_status_;
    if (events.empty()) return Status::InvalidArgument("no audit events to append");
    std::uint64_t next = events_.empty() ? 1 : events_.back().seq + 1;
    for (const store::AuditEvent& e : events) {
      if (e.seq != next) {
        return Status::FailedPrecondition("audit seq " + std::to_string(e.seq) +
                                          " does not follow " + std::to_string(next - 1));
      }
      ++next;
    }
    events_.insert(events_.end(), events.begin(), events.end());
    if (fault == Fault::kCommitThenFail) return fault_status_;
    return Status::Ok();
  }

  Result<std::optional<store::AuditEvent>> LastAuditEvent() override {
    std::lock_guard lock(mu_);
    if (!read_status_.ok()) return Err(read_status_);
    if (events_.empty()) return std::optional<store::AuditEvent>();
    return std::optional<store::AuditEvent>(events_.back());
  }

  // In stored (vector) order, skipping events with seq < from_seq.
  Status ScanAudit(std::uint64_t from_seq,
                   const std::function<bool(const store::AuditEvent&)>& fn) override {
    std::vector<store::AuditEvent> copy;
    {
      std::lock_guard lock(mu_);
      if (!read_status_.ok()) return read_status_;
      copy = events_;
    }
    for (const store::AuditEvent& e : copy) {
      if (e.seq < from_seq) continue;
      if (!fn(e)) break;
    }
    return Status::Ok();
  }

  Result<store::AuditPage> QueryAudit(const store::AuditQuery&) override { return Err(NotHere()); }

  // ---- Not faked.

  Result<store::State> Load() override { return Err(NotHere()); }
  Result<std::uint64_t> Apply(const store::Change&) override { return Err(NotHere()); }
  Result<std::uint64_t> Revision() override { return Err(NotHere()); }
  Result<std::vector<std::pair<std::uint64_t, store::Change>>> ChangesSince(std::uint64_t,
                                                                            size_t) override {
    return Err(NotHere());
  }

 private:
  static Status NotHere() { return Status::Internal("not implemented by FakeAuditStore"); }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<store::AuditEvent> events_;
  std::vector<std::size_t> batch_sizes_;
  bool blocked_ = false;
  std::function<Fault(std::size_t)> plan_;  // null: no faults
  Status fault_status_;
  Status read_status_;
};

}  // namespace scaigrid::iam::audit
