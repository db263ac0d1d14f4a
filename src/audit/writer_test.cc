#include "audit/writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <condition_variable>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "audit/chain.h"
#include "audit/fake_audit_store.h"
#include "store/store_test_util.h"

namespace scaigrid::iam::audit {
namespace {

using store::AuditEvent;
using store::IsOk;
using store::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr auto kLong = 30s;  // a bound that is never reached when things work

AuditEvent Event(std::string marker, std::int64_t time_us = 1000) {
  return AuditEvent{.time_us = time_us,
                    .module = "iam",
                    .action = "iam:check",
                    .decision = "allowed",
                    .actor_user_id = "user:alice",
                    .actor_type = "user",
                    .resource_id = std::move(marker),
                    .details = "{}"};
}

std::vector<std::string> Markers(const FakeAuditStore& store) {
  std::vector<std::string> out;
  for (const AuditEvent& e : store.events()) out.push_back(e.resource_id);
  return out;
}

void ExpectValidChain(FakeAuditStore& store, std::uint64_t events) {
  Result<VerifyResult> r = VerifyChain(store);
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->ok) << r->problem;
  EXPECT_EQ(r->events, events);
}

AuditWriter::Options Small(std::size_t capacity = 1024, std::size_t max_batch = 4096) {
  return {.queue_capacity = capacity,
          .max_batch = max_batch,
          .enqueue_timeout = 50ms,
          .retry_interval = 2ms};
}

TEST(AuditWriterTest, ConcurrentSubmittersGetOneValidChainInSubmissionOrder) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 5000;
  FakeAuditStore store;
  AuditWriter writer(store, {});
  ASSERT_THAT(writer.Start(), IsOk());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int j = 0; j < kPerThread; ++j) {
        // Times from different threads interleave and often go backwards.
        const std::int64_t at = 1'000'000 + j * 10 + static_cast<std::int64_t>(rng() % 500);
        AuditEvent e = Event(std::to_string(t) + "/" + std::to_string(j), at);
        e.request_id = std::to_string(at);
        if (j % 100 == 0) {
          if (!writer.SubmitAndWait(std::move(e), kLong).ok()) ++failures;
        } else if (!writer.Submit(std::move(e)).has_value()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  writer.Stop();
  EXPECT_EQ(failures.load(), 0);

  const std::vector<AuditEvent> events = store.events();
  ASSERT_EQ(events.size(), static_cast<size_t>(kThreads * kPerThread));
  ExpectValidChain(store, kThreads * kPerThread);
  std::map<int, int> next_j;
  std::int64_t prev_time = 0;
  for (const AuditEvent& e : events) {
    int t = -1, j = -1;
    ASSERT_EQ(std::sscanf(e.resource_id.c_str(), "%d/%d", &t, &j), 2);
    EXPECT_EQ(j, next_j[t]++) << "thread " << t << " out of order at seq " << e.seq;
    // Kept, or raised to the previous event's time: never lowered, never raised further.
    EXPECT_EQ(e.time_us, std::max<std::int64_t>(std::stoll(e.request_id), prev_time)) << e.seq;
    prev_time = e.time_us;
  }
  AuditWriter::Counters c = writer.counters();
  EXPECT_EQ(c.submitted, static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(c.committed, c.submitted);
  EXPECT_EQ(c.batches, store.batch_sizes().size());
  EXPECT_EQ(c.failed_batches, 0u);
  EXPECT_EQ(c.queue_depth, 0u);
}

TEST(AuditWriterTest, OneAppendCommitsEverythingQueuedMeanwhile) {
  FakeAuditStore store;
  AuditWriter writer(store, Small());
  ASSERT_THAT(writer.Start(), IsOk());
  store.Block();
  ASSERT_TRUE(writer.Submit(Event("first")).has_value());
  store.WaitForAppendCalls(1);  // "first" is in flight; the rest queue behind it
  std::vector<AuditWriter::Ticket> tickets;
  for (int i = 0; i < 99; ++i) {
    Result<AuditWriter::Ticket> t = writer.Submit(Event("e" + std::to_string(i)));
    ASSERT_THAT(t, IsOk());
    tickets.push_back(*t);
  }
  EXPECT_EQ(writer.counters().queue_depth, 100u);
  store.Unblock();
  for (const AuditWriter::Ticket& t : tickets) EXPECT_THAT(writer.Wait(t, kLong), IsOk());
  EXPECT_THAT(store.batch_sizes(), ElementsAre(1u, 99u));
  EXPECT_EQ(writer.counters().batches, 2u);
  ExpectValidChain(store, 100);
}

TEST(AuditWriterTest, BatchesAreCappedAtMaxBatch) {
  FakeAuditStore store;
  AuditWriter writer(store, Small(1024, 10));
  ASSERT_THAT(writer.Start(), IsOk());
  store.Block();
  ASSERT_TRUE(writer.Submit(Event("first")).has_value());
  store.WaitForAppendCalls(1);
  Result<AuditWriter::Ticket> last;
  for (int i = 0; i < 35; ++i) last = writer.Submit(Event("e" + std::to_string(i)));
  ASSERT_THAT(last, IsOk());
  store.Unblock();
  EXPECT_THAT(writer.Wait(*last, kLong), IsOk());
  EXPECT_THAT(store.batch_sizes(), ElementsAre(1u, 10u, 10u, 10u, 5u));
  ExpectValidChain(store, 36);
}

TEST(AuditWriterTest, FullQueueFailsClosedAndLosesNothingAccepted) {
  FakeAuditStore store;
  AuditWriter writer(store, Small(/*capacity=*/2));
  ASSERT_THAT(writer.Start(), IsOk());
  store.Block();
  ASSERT_TRUE(writer.Submit(Event("a")).has_value());
  store.WaitForAppendCalls(1);
  Result<AuditWriter::Ticket> b = writer.Submit(Event("b"));
  ASSERT_THAT(b, IsOk());
  Result<AuditWriter::Ticket> c = writer.Submit(Event("c"));  // waits 50 ms for room, in vain
  EXPECT_THAT(c, StatusIs(StatusCode::kUnavailable, HasSubstr("audit queue is full")));
  EXPECT_EQ(c.error().reason(), "audit_backpressure");
  Status d = writer.SubmitAndWait(Event("d"), kLong);
  EXPECT_EQ(d.reason(), "audit_backpressure");
  AuditWriter::Counters counters = writer.counters();
  EXPECT_EQ(counters.rejected, 2u);
  EXPECT_EQ(counters.queue_depth, 2u);

  store.Unblock();
  EXPECT_THAT(writer.Wait(*b, kLong), IsOk());
  writer.Stop();
  EXPECT_THAT(Markers(store), ElementsAre("a", "b"));  // c and d refused whole, a and b kept
  ExpectValidChain(store, 2);
}

TEST(AuditWriterTest, BlockedSubmitProceedsWhenRoomFrees) {
  FakeAuditStore store;
  AuditWriter::Options options = Small(/*capacity=*/1);
  options.enqueue_timeout = kLong;
  AuditWriter writer(store, options);
  ASSERT_THAT(writer.Start(), IsOk());
  store.Block();
  ASSERT_TRUE(writer.Submit(Event("a")).has_value());
  store.WaitForAppendCalls(1);
  Status second;
  std::thread submitter([&] { second = writer.SubmitAndWait(Event("b"), kLong); });
  store.Unblock();
  submitter.join();
  EXPECT_THAT(second, IsOk());
  EXPECT_THAT(Markers(store), ElementsAre("a", "b"));
}

TEST(AuditWriterTest, FailedBatchTellsItsWaitersAndIsRetriedUntilTheStoreRecovers) {
  FakeAuditStore store;
  AuditWriter writer(store, Small());
  ASSERT_THAT(writer.Start(), IsOk());
  store.FailWith(Status(StatusCode::kUnavailable, "disk I/O error"));
  Result<AuditWriter::Ticket> a = writer.Submit(Event("a"));
  ASSERT_THAT(a, IsOk());
  Status waited = writer.Wait(*a, kLong);
  EXPECT_THAT(waited, StatusIs(StatusCode::kUnavailable, "audit log unavailable: disk I/O error"));
  EXPECT_EQ(waited.reason(), "audit_unavailable");
  // A later event joins the retried batch, which fails again.
  EXPECT_THAT(writer.SubmitAndWait(Event("b"), kLong),
              StatusIs(StatusCode::kUnavailable, HasSubstr("audit log unavailable")));
  EXPECT_GE(writer.counters().failed_batches, 2u);
  EXPECT_TRUE(store.events().empty());

  store.Succeed();
  EXPECT_THAT(writer.SubmitAndWait(Event("c"), kLong), IsOk());
  EXPECT_THAT(writer.Wait(*a, kLong), IsOk());  // committed by a retry after all
  EXPECT_THAT(Markers(store), ElementsAre("a", "b", "c"));
  ExpectValidChain(store, 3);
  AuditWriter::Counters c = writer.counters();
  EXPECT_EQ(c.committed, 3u);
  EXPECT_EQ(c.queue_depth, 0u);
}

// Records what WhenSettled callbacks were called with, from whichever thread.
class Settlements {
 public:
  AuditWriter::Done For(std::string name) {
    return [this, name = std::move(name)](Status s) {
      std::lock_guard lock(mu_);
      got_.emplace(name, std::move(s));
      cv_.notify_all();
    };
  }
  // Waits until `n` callbacks ran (bounded: a test that hangs fails instead).
  bool WaitFor(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kLong, [&] { return got_.size() >= n; });
  }
  std::map<std::string, Status> got() const {
    std::lock_guard lock(mu_);
    return got_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Status> got_;
};

TEST(AuditWriterTest, WhenSettledRunsOnceTheBatchCommitsWithoutBlockingTheCaller) {
  FakeAuditStore store;
  AuditWriter writer(store, Small());
  ASSERT_THAT(writer.Start(), IsOk());
  store.Block();
  Settlements settled;
  Result<AuditWriter::Ticket> a = writer.Submit(Event("a"));
  ASSERT_THAT(a, IsOk());
  store.WaitForAppendCalls(1);  // "a" is in flight, held by the store
  Result<AuditWriter::Ticket> b = writer.Submit(Event("b"));
  ASSERT_THAT(b, IsOk());
  writer.WhenSettled(*a, settled.For("a"));
  writer.WhenSettled(*b, settled.For("b"));
  EXPECT_TRUE(settled.got().empty());  // registered, not called: nothing is committed yet
  store.Unblock();
  ASSERT_TRUE(settled.WaitFor(2));
  EXPECT_THAT(settled.got().at("a"), IsOk());
  EXPECT_THAT(settled.got().at("b"), IsOk());
  EXPECT_THAT(Markers(store), ElementsAre("a", "b"));
  // Already committed: called at once, on this thread.
  Status now = Status::Internal("not called");
  writer.WhenSettled(*a, [&](Status s) { now = std::move(s); });
  EXPECT_THAT(now, IsOk());
  writer.WhenSettled(AuditWriter::Ticket{99}, [&](Status s) { now = std::move(s); });
  EXPECT_THAT(now, StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown audit ticket 99")));
}

TEST(AuditWriterTest, WhenSettledReportsAFailedBatchAndStopAbandoningEvents) {
  FakeAuditStore store;
  AuditWriter writer(store, Small());
  ASSERT_THAT(writer.Start(), IsOk());
  store.Block();
  Settlements settled;
  Result<AuditWriter::Ticket> a = writer.Submit(Event("a"));
  ASSERT_THAT(a, IsOk());
  store.WaitForAppendCalls(1);
  writer.WhenSettled(*a, settled.For("a"));
  store.FailWith(Status(StatusCode::kUnavailable, "disk I/O error"));
  store.Unblock();
  ASSERT_TRUE(settled.WaitFor(1));
  EXPECT_THAT(settled.got().at("a"),
              StatusIs(StatusCode::kUnavailable, "audit log unavailable: disk I/O error"));
  EXPECT_EQ(settled.got().at("a").reason(), "audit_unavailable");

  // Stop with the store still failing: a pending callback is told before Stop returns.
  store.Block();
  Result<AuditWriter::Ticket> b = writer.Submit(Event("b"));
  ASSERT_THAT(b, IsOk());
  writer.WhenSettled(*b, settled.For("b"));
  std::thread stopper([&] { writer.Stop(); });
  store.Unblock();
  stopper.join();
  ASSERT_EQ(settled.got().size(), 2u);
  EXPECT_THAT(settled.got().at("b"), StatusIs(StatusCode::kUnavailable, HasSubstr("disk I/O error")));
  EXPECT_TRUE(store.events().empty());
}

TEST(AuditWriterTest, ACommitReportedAsFailedIsNotWrittenTwice) {
  FakeAuditStore store;
  // The writer retries after retry_interval and would then find "a" stored: long enough that
  // this thread sees the failure first even on a loaded machine or under a sanitizer.
  AuditWriter::Options options = Small();
  options.retry_interval = 500ms;
  AuditWriter writer(store, options);
  ASSERT_THAT(writer.Start(), IsOk());
  store.FailNextWith(Status(StatusCode::kUnavailable, "connection reset"),
                     FakeAuditStore::Fault::kCommitThenFail);
  Result<AuditWriter::Ticket> a = writer.Submit(Event("a"));
  ASSERT_THAT(a, IsOk());
  EXPECT_THAT(writer.Wait(*a, kLong),
              StatusIs(StatusCode::kUnavailable, HasSubstr("connection reset")));
  // The retry finds "a" already stored (kFailedPrecondition, then the same seq and hash).
  EXPECT_THAT(writer.SubmitAndWait(Event("b"), kLong), IsOk());
  EXPECT_THAT(writer.Wait(*a, kLong), IsOk());
  EXPECT_THAT(Markers(store), ElementsAre("a", "b"));
  ExpectValidChain(store, 2);
  EXPECT_EQ(writer.counters().committed, 2u);
}

TEST(AuditWriterTest, EventsOfAnotherWriterAreChainedAfter) {
  FakeAuditStore store;
  AuditWriter writer(store, Small());
  ASSERT_THAT(writer.Start(), IsOk());
  ASSERT_THAT(writer.SubmitAndWait(Event("ours-1", 1000), kLong), IsOk());
  // Another node appends to the same log behind this writer's back.
  std::string prev = store.events().back().hash;
  std::vector<AuditEvent> foreign;
  for (std::uint64_t seq = 2; seq <= 4; ++seq) {
    AuditEvent e = Event("theirs-" + std::to_string(seq), 5000);
    Seal(e, seq, prev);
    prev = e.hash;
    foreign.push_back(e);
  }
  ASSERT_THAT(store.AppendAudit(foreign), IsOk());

  EXPECT_THAT(writer.SubmitAndWait(Event("ours-2", 2000), kLong), IsOk());
  EXPECT_THAT(Markers(store), ElementsAre("ours-1", "theirs-2", "theirs-3", "theirs-4", "ours-2"));
  ExpectValidChain(store, 5);
  EXPECT_EQ(store.events().back().time_us, 5000);  // raised to the tail it now follows
  EXPECT_EQ(writer.counters().failed_batches, 0u);
}

TEST(AuditWriterTest, StopDrainsEveryAcceptedEvent) {
  FakeAuditStore store;
  AuditWriter writer(store, Small(/*capacity=*/4096, /*max_batch=*/64));
  ASSERT_THAT(writer.Start(), IsOk());
  store.Block();
  ASSERT_TRUE(writer.Submit(Event("0")).has_value());
  store.WaitForAppendCalls(1);
  for (int i = 1; i < 1000; ++i) ASSERT_TRUE(writer.Submit(Event(std::to_string(i))).has_value());
  std::thread stopper([&] { writer.Stop(); });
  store.Unblock();
  stopper.join();
  ASSERT_EQ(store.events().size(), 1000u);
  ExpectValidChain(store, 1000);
  EXPECT_EQ(writer.counters().queue_depth, 0u);
  Result<AuditWriter::Ticket> late = writer.Submit(Event("late"));
  EXPECT_THAT(late, StatusIs(StatusCode::kUnavailable, HasSubstr("not running")));
  EXPECT_EQ(late.error().reason(), "audit_stopped");
}

TEST(AuditWriterTest, StopGivesUpOnAFailingStoreAndSaysSo) {
  FakeAuditStore store;
  AuditWriter writer(store, Small());
  ASSERT_THAT(writer.Start(), IsOk());
  store.FailWith(Status(StatusCode::kUnavailable, "disk full"));
  std::vector<AuditWriter::Ticket> tickets;
  for (int i = 0; i < 3; ++i) tickets.push_back(*writer.Submit(Event(std::to_string(i))));
  writer.Stop();  // returns: one attempt after Stop, then the rest is abandoned
  EXPECT_EQ(writer.counters().abandoned + writer.counters().committed, 3u);
  EXPECT_EQ(writer.counters().abandoned, 3u);
  for (const AuditWriter::Ticket& t : tickets) {
    EXPECT_THAT(writer.Wait(t, kLong), StatusIs(StatusCode::kUnavailable, HasSubstr("disk full")));
  }
  EXPECT_TRUE(store.events().empty());
}

TEST(AuditWriterTest, StartContinuesAnExistingChain) {
  FakeAuditStore store;
  {
    AuditWriter first(store, Small());
    ASSERT_THAT(first.Start(), IsOk());
    for (int i = 0; i < 10; ++i)
      ASSERT_TRUE(first.Submit(Event(std::to_string(i), 5000)).has_value());
    first.Stop();
  }
  ASSERT_EQ(store.events().size(), 10u);
  const std::string tail = store.events().back().hash;

  AuditWriter second(store, Small());
  ASSERT_THAT(second.Start(), IsOk());
  EXPECT_THAT(second.SubmitAndWait(Event("after restart", 1000), kLong), IsOk());
  second.Stop();
  const AuditEvent last = store.events().back();
  EXPECT_EQ(last.seq, 11u);
  EXPECT_EQ(last.id, "evt_0000000000000011");
  EXPECT_EQ(last.prev_hash, tail);
  EXPECT_EQ(last.time_us, 5000);  // not before the chain's last event
  ExpectValidChain(store, 11);
}

TEST(AuditWriterTest, StartErrors) {
  FakeAuditStore store;
  store.FailReadsWith(Status(StatusCode::kUnavailable, "database is locked"));
  AuditWriter writer(store, Small());
  EXPECT_THAT(writer.Start(), StatusIs(StatusCode::kUnavailable, HasSubstr("locked")));
  EXPECT_EQ(writer.Submit(Event("x")).error().reason(), "audit_stopped");
  store.FailReadsWith(Status::Ok());
  ASSERT_THAT(writer.Start(), IsOk());
  EXPECT_THAT(writer.Start(),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("already started")));
  writer.Stop();
  writer.Stop();  // idempotent
  EXPECT_THAT(writer.Start(),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("already started")));
}

TEST(AuditWriterTest, WaitTimesOutWithoutLosingTheEvent) {
  FakeAuditStore store;
  AuditWriter writer(store, Small());
  ASSERT_THAT(writer.Start(), IsOk());
  store.Block();
  Result<AuditWriter::Ticket> t = writer.Submit(Event("slow"));
  ASSERT_THAT(t, IsOk());
  Status timed_out = writer.Wait(*t, 20ms);
  EXPECT_THAT(timed_out,
              StatusIs(StatusCode::kUnavailable, HasSubstr("not committed within 20 ms")));
  EXPECT_EQ(timed_out.reason(), "audit_timeout");
  store.Unblock();
  EXPECT_THAT(writer.Wait(*t, kLong), IsOk());
  EXPECT_THAT(writer.Wait(AuditWriter::Ticket{99}, kLong),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("99")));
  EXPECT_THAT(writer.Wait(AuditWriter::Ticket{}, kLong),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("0")));
}

TEST(AuditWriterTest, NothingAcknowledgedIsMissingUnderIntermittentFailures) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 400;
  FakeAuditStore store;
  // Every 3rd append fails; every 5th (not 15th) commits and then reports a failure.
  store.SetFaultPlan(
      [](std::size_t call) {
        if (call % 3 == 0) return FakeAuditStore::Fault::kFail;
        if (call % 5 == 0) return FakeAuditStore::Fault::kCommitThenFail;
        return FakeAuditStore::Fault::kNone;
      },
      Status(StatusCode::kUnavailable, "flaky disk"));
  AuditWriter writer(store, Small(/*capacity=*/4096, /*max_batch=*/16));
  ASSERT_THAT(writer.Start(), IsOk());
  std::mutex mu;
  std::set<std::string> acknowledged;
  int refused = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int j = 0; j < kPerThread; ++j) {
        std::string marker = std::to_string(t) + "/" + std::to_string(j);
        Status s = writer.SubmitAndWait(Event(marker), kLong);
        std::lock_guard lock(mu);
        if (s.ok()) {
          acknowledged.insert(marker);
        } else {
          EXPECT_EQ(s.reason(), "audit_unavailable") << s.ToString();
          ++refused;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  store.Succeed();
  writer.Stop();
  EXPECT_GT(acknowledged.size(), 0u);
  EXPECT_GT(refused, 0);

  // Every acknowledged event is there, every accepted one too (retried), each exactly once.
  std::map<std::string, int> stored;
  for (const std::string& m : Markers(store)) ++stored[m];
  for (const std::string& m : acknowledged) EXPECT_EQ(stored[m], 1) << m;
  EXPECT_EQ(stored.size(), static_cast<size_t>(kThreads * kPerThread));
  for (const auto& [marker, count] : stored) EXPECT_EQ(count, 1) << marker;
  ExpectValidChain(store, kThreads * kPerThread);
  EXPECT_EQ(writer.counters().abandoned, 0u);
}

}  // namespace
}  // namespace scaigrid::iam::audit
