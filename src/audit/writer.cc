#include "audit/writer.h"

#include <algorithm>
#include <iterator>
#include <limits>
#include <optional>
#include <utility>

#include "audit/chain.h"

namespace scaigrid::iam::audit {
namespace {

// How many times one attempt re-reads the store's tail after kFailedPrecondition before it
// gives up and reports the failure (another writer keeps winning the race).
constexpr int kMaxReconciles = 3;

Status Unavailable(std::string message, std::string reason) {
  return Status(StatusCode::kUnavailable, std::move(message)).WithReason(std::move(reason));
}

AuditWriter::Options Sanitize(AuditWriter::Options o) {
  o.queue_capacity = std::max<std::size_t>(o.queue_capacity, 1);
  o.max_batch = std::max<std::size_t>(o.max_batch, 1);
  o.retry_interval = std::max(o.retry_interval, std::chrono::milliseconds(1));
  return o;
}

}  // namespace

AuditWriter::AuditWriter(store::Store& store, Options options)
    : store_(store), options_(Sanitize(options)) {}

AuditWriter::~AuditWriter() { Stop(); }

Status AuditWriter::Start() {
  {
    std::lock_guard lock(mu_);
    if (started_ || stopping_) return Status::FailedPrecondition("audit writer already started");
  }
  Result<std::optional<store::AuditEvent>> last = store_.LastAuditEvent();
  if (!last) return std::move(last).error();
  if (*last) {
    tail_seq_ = (*last)->seq;
    tail_hash_ = (*last)->hash;
    tail_time_us_ = (*last)->time_us;
  } else {
    tail_seq_ = 0;
    tail_hash_.clear();
    tail_time_us_ = std::numeric_limits<std::int64_t>::min();
  }
  std::lock_guard lock(mu_);
  started_ = true;
  accepting_ = true;
  thread_ = std::thread(&AuditWriter::Run, this);
  return Status::Ok();
}

void AuditWriter::Stop() {
  {
    std::lock_guard lock(mu_);
    accepting_ = false;
    stopping_ = true;
  }
  work_cv_.notify_all();
  space_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<AuditWriter::Ticket> AuditWriter::Submit(store::AuditEvent e) {
  std::unique_lock lock(mu_);
  auto has_room = [&] {
    return !accepting_ || queue_.size() + in_batch_ < options_.queue_capacity;
  };
  if (!space_cv_.wait_for(lock, options_.enqueue_timeout, has_room)) {
    ++counters_.rejected;
    return Err(Unavailable("audit queue is full: " + std::to_string(queue_.size() + in_batch_) +
                               " events are waiting for the store",
                           "audit_backpressure"));
  }
  if (!accepting_) {
    ++counters_.rejected;
    return Err(Unavailable("audit writer is not running", "audit_stopped"));
  }
  queue_.push_back(std::move(e));
  const Ticket ticket{++counters_.submitted};
  lock.unlock();
  work_cv_.notify_one();
  return ticket;
}

Status AuditWriter::Wait(const Ticket& ticket, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (ticket.number == 0 || ticket.number > counters_.submitted) {
    return Status::InvalidArgument("unknown audit ticket " + std::to_string(ticket.number));
  }
  const auto settled = [&] {
    return committed_through_ >= ticket.number || failed_through_ >= ticket.number;
  };
  if (!done_cv_.wait_for(lock, timeout, settled)) {
    return Unavailable(
        "audit event not committed within " + std::to_string(timeout.count()) + " ms",
        "audit_timeout");
  }
  return SettledStatusLocked(ticket.number);
}

Status AuditWriter::SettledStatusLocked(std::uint64_t ticket) const {
  if (committed_through_ >= ticket) return Status::Ok();
  return Unavailable("audit log unavailable: " + last_failure_.message(), "audit_unavailable");
}

void AuditWriter::WhenSettled(const Ticket& ticket, Done done) {
  Status now;
  {
    std::lock_guard lock(mu_);
    if (ticket.number == 0 || ticket.number > counters_.submitted) {
      now = Status::InvalidArgument("unknown audit ticket " + std::to_string(ticket.number));
    } else if (committed_through_ >= ticket.number || failed_through_ >= ticket.number) {
      now = SettledStatusLocked(ticket.number);
    } else {
      settle_callbacks_.emplace(ticket.number, std::move(done));
      return;
    }
  }
  done(std::move(now));
}

std::vector<std::pair<AuditWriter::Done, Status>> AuditWriter::TakeSettledLocked() {
  std::vector<std::pair<Done, Status>> out;
  const std::uint64_t settled = std::max(committed_through_, failed_through_);
  auto it = settle_callbacks_.begin();
  for (; it != settle_callbacks_.end() && it->first <= settled; ++it) {
    out.emplace_back(std::move(it->second), SettledStatusLocked(it->first));
  }
  settle_callbacks_.erase(settle_callbacks_.begin(), it);
  return out;
}

Status AuditWriter::SubmitAndWait(store::AuditEvent e, std::chrono::milliseconds timeout) {
  Result<Ticket> ticket = Submit(std::move(e));
  if (!ticket) return std::move(ticket).error();
  return Wait(*ticket, timeout);
}

AuditWriter::Counters AuditWriter::counters() const {
  std::lock_guard lock(mu_);
  Counters c = counters_;
  c.queue_depth = queue_.size() + in_batch_;
  return c;
}

void AuditWriter::SealInto(std::vector<store::AuditEvent>& batch,
                           std::vector<store::AuditEvent> fresh) {
  for (store::AuditEvent& e : fresh) {
    e.time_us = std::max(e.time_us, tail_time_us_);
    Seal(e, tail_seq_ + 1, tail_hash_);
    tail_seq_ = e.seq;
    tail_hash_ = e.hash;
    tail_time_us_ = e.time_us;
    batch.push_back(std::move(e));
  }
}

Result<std::size_t> AuditWriter::Reconcile(std::vector<store::AuditEvent>& batch) {
  // Which of the batch's events does the store already hold (an attempt that reported failure
  // but committed)? Same seq and same hash means the same event at the same place.
  std::size_t held = 0;
  SCAIGRID_RETURN_IF_ERROR(store_.ScanAudit(batch.front().seq, [&](const store::AuditEvent& e) {
    if (held < batch.size() && e.seq == batch[held].seq && e.hash == batch[held].hash) {
      ++held;
      return true;
    }
    return false;
  }));
  batch.erase(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(held));
  if (batch.empty()) return held;  // the tail is ours: the batch's last event
  // The rest follow whatever the store now ends with (another writer's events).
  Result<std::optional<store::AuditEvent>> last = store_.LastAuditEvent();
  if (!last) return Err(std::move(last).error());
  tail_seq_ = *last ? (*last)->seq : 0;
  tail_hash_ = *last ? (*last)->hash : std::string();
  tail_time_us_ = *last ? (*last)->time_us : std::numeric_limits<std::int64_t>::min();
  std::vector<store::AuditEvent> rest = std::move(batch);
  batch.clear();
  SealInto(batch, std::move(rest));
  return held;
}

AuditWriter::Outcome AuditWriter::CommitBatch(std::vector<store::AuditEvent>& batch) {
  Outcome out;
  for (int reconciles = 0; !batch.empty(); ++reconciles) {
    Status appended = store_.AppendAudit(batch);
    if (appended.ok()) {
      out.committed += batch.size();
      batch.clear();
      break;
    }
    if (appended.code() != StatusCode::kFailedPrecondition || reconciles == kMaxReconciles) {
      out.status = std::move(appended);
      break;
    }
    Result<std::size_t> held = Reconcile(batch);
    if (!held) {
      out.status = std::move(held).error();
      break;
    }
    out.committed += *held;
  }
  return out;
}

void AuditWriter::Run() {
  // Sealed and not yet committed, in chain order; batch[i] is ticket committed_through_+1+i.
  // A failed batch stays here, sealed as it was, and is retried with what was queued since.
  std::vector<store::AuditEvent> batch;
  std::unique_lock lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return !queue_.empty() || !batch.empty() || stopping_; });
    if (queue_.empty() && batch.empty()) break;  // stopping, and drained
    const bool after_stop = stopping_;
    const std::size_t take =
        std::min(queue_.size(), options_.max_batch - std::min(options_.max_batch, batch.size()));
    std::vector<store::AuditEvent> fresh(
        std::make_move_iterator(queue_.begin()),
        std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(take)));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(take));
    in_batch_ += take;
    lock.unlock();

    SealInto(batch, std::move(fresh));
    Outcome out = CommitBatch(batch);

    lock.lock();
    if (out.committed > 0) {
      committed_through_ += out.committed;
      in_batch_ -= out.committed;
      counters_.committed += out.committed;
    }
    if (out.status.ok()) {
      ++counters_.batches;
    } else {
      ++counters_.failed_batches;
      failed_through_ = std::max(failed_through_, committed_through_ + batch.size());
      last_failure_ = std::move(out.status);
      if (after_stop) {
        // Stop was called and the store still fails: give up on what is left.
        counters_.abandoned += batch.size() + queue_.size();
        failed_through_ = counters_.submitted;
        batch.clear();
        queue_.clear();
        in_batch_ = 0;
      }
    }
    done_cv_.notify_all();
    space_cv_.notify_all();
    if (!settle_callbacks_.empty()) {
      std::vector<std::pair<Done, Status>> settled = TakeSettledLocked();
      lock.unlock();
      for (auto& [done, status] : settled) done(std::move(status));
      lock.lock();
    }
    if (!out.status.ok()) {
      if (after_stop) break;
      work_cv_.wait_for(lock, options_.retry_interval, [&] { return stopping_; });
    }
  }
}

}  // namespace scaigrid::iam::audit
