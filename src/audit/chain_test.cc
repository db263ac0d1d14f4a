#include "audit/chain.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "audit/fake_audit_store.h"
#include "store/store_test_util.h"

namespace scaigrid::iam::audit {
namespace {

using store::AuditEvent;
using store::IsOk;
using store::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The event of the worked example in docs/audit.md.
AuditEvent DocExample() {
  AuditEvent e{.time_us = 1777593600123456,
               .module = "scaiskills",
               .action = "scaiskills:grant",
               .decision = "allowed",
               .actor_user_id = "user:alice",
               .actor_type = "user",
               .credential_id = "key_3f9a",
               .tenant = "tenant:acme",
               .resource_id = "skill:summarize",
               .request_id = "req-1",
               .source_ip = "203.0.113.7",
               .details = R"({"reason":"binding 42"})"};
  Seal(e, 1, "");
  return e;
}

AuditEvent Sample(int i) {
  return AuditEvent{.time_us = 1'700'000'000'000'000 + i,
                    .module = "iam",
                    .action = "iam:bindings:create",
                    .decision = i % 3 == 0 ? "" : "allowed",
                    .actor_user_id = "user:u" + std::to_string(i),
                    .actor_type = "user",
                    .credential_id = i % 2 ? "key_1" : "",
                    .tenant = "tenant:t" + std::to_string(i % 4),
                    .resource_id = "binding:" + std::to_string(i),
                    .request_id = "req-" + std::to_string(i),
                    .source_ip = "10.0.0." + std::to_string(i % 250),
                    .details = "{\"n\":" + std::to_string(i) + "}"};
}

// A valid chain of `n` events in a fake store.
void FillChain(FakeAuditStore& store, int n) {
  std::vector<AuditEvent> events;
  std::string prev;
  for (int i = 1; i <= n; ++i) {
    AuditEvent e = Sample(i);
    Seal(e, static_cast<std::uint64_t>(i), prev);
    prev = e.hash;
    events.push_back(std::move(e));
  }
  ASSERT_THAT(store.AppendAudit(events), IsOk());
}

VerifyResult MustVerify(FakeAuditStore& store) {
  Result<VerifyResult> r = VerifyChain(store);
  EXPECT_THAT(r, IsOk());
  return r ? *r : VerifyResult{};
}

TEST(ChainTest, EventIdIsSeqZeroPaddedTo16Digits) {
  EXPECT_EQ(EventId(1), "evt_0000000000000001");
  EXPECT_EQ(EventId(42), "evt_0000000000000042");
  EXPECT_EQ(EventId(9999999999999999ULL), "evt_9999999999999999");
  EXPECT_LT(EventId(9), EventId(10));  // sorts like seq
}

TEST(ChainTest, CanonicalFormIsTheDocumentedNetstrings) {
  EXPECT_EQ(CanonicalForm(DocExample()),
            "17:scaigrid-audit-v1,1:1,20:evt_0000000000000001,16:1777593600123456,10:scaiskills,"
            "16:scaiskills:grant,7:allowed,10:user:alice,4:user,8:key_3f9a,11:tenant:acme,"
            "15:skill:summarize,5:req-1,11:203.0.113.7,23:{\"reason\":\"binding 42\"},0:,");
}

TEST(ChainTest, ChainHashIsHexBlake2b256OfTheCanonicalForm) {
  // Computed independently with Python's hashlib.blake2b(form, digest_size=32) (docs/audit.md).
  AuditEvent e = DocExample();
  EXPECT_EQ(e.hash, "729f14fc21a6eae94aa57c84ee396c20ddb4c573d9b3f4673168c3d3b406f4cc");
  AuditEvent second = Sample(2);
  second.time_us = 1777593600200000;
  Seal(second, 2, e.hash);
  EXPECT_EQ(second.hash, "a0ecbd3441d05580eced50ebe52c959863a08ba2aafcef6b339ab27b2940cad6");
  e.time_us = -5;
  EXPECT_THAT(CanonicalForm(e), HasSubstr(",2:-5,"));
}

TEST(ChainTest, CanonicalFormIsUnambiguousAcrossFieldBoundaries) {
  AuditEvent a = Sample(1), b = Sample(1);
  a.module = "ab";
  a.action = "c";
  b.module = "a";
  b.action = "bc";
  EXPECT_NE(CanonicalForm(a), CanonicalForm(b));
  a = Sample(1);
  b = Sample(1);
  a.details = "x,1:y";  // a field that looks like a netstring boundary
  a.prev_hash = "";
  b.details = "x";
  b.prev_hash = "y";
  EXPECT_NE(CanonicalForm(a), CanonicalForm(b));
  // `hash` is the one field left out.
  a = Sample(1);
  b = Sample(1);
  b.hash = "anything";
  EXPECT_EQ(CanonicalForm(a), CanonicalForm(b));
  EXPECT_EQ(ChainHash(a), ChainHash(b));
}

TEST(ChainTest, SealSetsSeqIdPrevHashAndHash) {
  AuditEvent e = Sample(7);
  e.hash = "stale";
  Seal(e, 7, "abc");
  EXPECT_EQ(e.seq, 7u);
  EXPECT_EQ(e.id, "evt_0000000000000007");
  EXPECT_EQ(e.prev_hash, "abc");
  EXPECT_EQ(e.hash, ChainHash(e));
  EXPECT_EQ(e.hash.size(), 64u);
}

TEST(ChainTest, EmptyLogVerifies) {
  FakeAuditStore store;
  VerifyResult r = MustVerify(store);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.events, 0u);
  EXPECT_EQ(r.last_hash, "");
}

TEST(ChainTest, ValidChainVerifies) {
  FakeAuditStore store;
  FillChain(store, 20);
  VerifyResult r = MustVerify(store);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.events, 20u);
  EXPECT_EQ(r.last_hash, store.events().back().hash);
  EXPECT_EQ(r.problem, "");
}

struct Tamper {
  std::string field;
  std::function<void(AuditEvent&)> change;
  std::string problem;  // expected in VerifyResult::problem
};

// `hex` with its first digit changed.
std::string Flip(std::string hex) {
  hex[0] = hex[0] == 'a' ? 'b' : 'a';
  return hex;
}

std::vector<Tamper> EveryFieldTamper() {
  auto edit = [](std::string AuditEvent::*member) {
    return [member](AuditEvent& e) { (e.*member) += "!"; };
  };
  const std::string kContents = "hash does not match its contents";
  return {
      {"seq", [](AuditEvent& e) { e.seq += 100; }, "missing or out of place"},
      {"seq_backwards", [](AuditEvent& e) { e.seq -= 1; }, "repeated or out of order"},
      {"id", edit(&AuditEvent::id), "id does not match seq"},
      {"time_us", [](AuditEvent& e) { e.time_us += 1; }, kContents},
      {"module", edit(&AuditEvent::module), kContents},
      {"action", edit(&AuditEvent::action), kContents},
      {"decision", edit(&AuditEvent::decision), kContents},
      {"actor_user_id", edit(&AuditEvent::actor_user_id), kContents},
      {"actor_type", edit(&AuditEvent::actor_type), kContents},
      {"credential_id", edit(&AuditEvent::credential_id), kContents},
      {"tenant", edit(&AuditEvent::tenant), kContents},
      {"resource_id", edit(&AuditEvent::resource_id), kContents},
      {"request_id", edit(&AuditEvent::request_id), kContents},
      {"source_ip", edit(&AuditEvent::source_ip), kContents},
      {"details", edit(&AuditEvent::details), kContents},
      {"prev_hash",
       [](AuditEvent& e) { e.prev_hash = e.prev_hash.empty() ? "0" : Flip(e.prev_hash); },
       "prev_hash"},
      {"hash", [](AuditEvent& e) { e.hash = Flip(e.hash); }, kContents},
  };
}

TEST(ChainTest, TamperingAnyFieldOfAnyEventBreaksTheChainAtThatEvent) {
  constexpr int kEvents = 12;
  for (const Tamper& t : EveryFieldTamper()) {
    for (int victim = 1; victim <= kEvents; ++victim) {
      if (t.field == "seq_backwards" && victim == 1) continue;  // seq 0 is simply not scanned
      SCOPED_TRACE(t.field + " of event " + std::to_string(victim));
      FakeAuditStore store;
      FillChain(store, kEvents);
      store.Edit([&](std::vector<AuditEvent>& events) {
        t.change(events[static_cast<size_t>(victim - 1)]);
      });
      VerifyResult r = MustVerify(store);
      EXPECT_FALSE(r.ok);
      EXPECT_EQ(r.first_bad_seq, static_cast<std::uint64_t>(victim)) << r.problem;
      EXPECT_EQ(r.events, static_cast<std::uint64_t>(victim - 1));
      EXPECT_THAT(r.problem, HasSubstr(t.problem));
    }
  }
}

TEST(ChainTest, ProblemNamesTheEventSeqAndId) {
  FakeAuditStore store;
  FillChain(store, 50);
  store.Edit([](std::vector<AuditEvent>& events) { events[41].details = "{}"; });
  VerifyResult r = MustVerify(store);
  EXPECT_EQ(r.problem, "event 42 (evt_0000000000000042): hash does not match its contents");
  EXPECT_EQ(r.last_hash, store.events()[40].hash);
}

TEST(ChainTest, DeletedMiddleEventIsReported) {
  FakeAuditStore store;
  FillChain(store, 20);
  store.Edit([](std::vector<AuditEvent>& events) { events.erase(events.begin() + 9); });
  VerifyResult r = MustVerify(store);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_seq, 10u);
  EXPECT_EQ(r.problem,
            "event 11 (evt_0000000000000011): seq 11 follows seq 9: event 10 "
            "(evt_0000000000000010) is missing or out of place");
}

TEST(ChainTest, DeletedRunAndDeletedFirstEventAreReported) {
  FakeAuditStore store;
  FillChain(store, 20);
  store.Edit([](std::vector<AuditEvent>& events) {
    events.erase(events.begin() + 4, events.begin() + 7);
  });
  VerifyResult r = MustVerify(store);
  EXPECT_EQ(r.first_bad_seq, 5u);
  EXPECT_THAT(r.problem, HasSubstr("events 5 to 7 are missing"));

  FakeAuditStore headless;
  FillChain(headless, 3);
  headless.Edit([](std::vector<AuditEvent>& events) { events.erase(events.begin()); });
  r = MustVerify(headless);
  EXPECT_EQ(r.first_bad_seq, 1u);
  EXPECT_THAT(r.problem, StartsWith("event 2 (evt_0000000000000002): the log starts at seq 2"));
}

TEST(ChainTest, ReorderedEventsAreReported) {
  // Two rows swapped as they are.
  FakeAuditStore store;
  FillChain(store, 20);
  store.Edit([](std::vector<AuditEvent>& events) { std::swap(events[9], events[10]); });
  VerifyResult r = MustVerify(store);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_seq, 10u);
  EXPECT_THAT(r.problem, HasSubstr("event 10 (evt_0000000000000010) is missing or out of place"));

  // Swapped and renumbered so the seqs look right: the links give it away.
  FakeAuditStore renumbered;
  FillChain(renumbered, 20);
  renumbered.Edit([](std::vector<AuditEvent>& events) {
    std::swap(events[9], events[10]);
    std::swap(events[9].seq, events[10].seq);
    std::swap(events[9].id, events[10].id);
  });
  r = MustVerify(renumbered);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_seq, 10u);
  EXPECT_EQ(r.problem,
            "event 10 (evt_0000000000000010): prev_hash does not match the hash of event 9");
}

TEST(ChainTest, AResealedEventBreaksTheNextLink) {
  // Whoever rewrites an event and recomputes its hash still breaks the next event's link.
  FakeAuditStore store;
  FillChain(store, 20);
  store.Edit([](std::vector<AuditEvent>& events) {
    events[9].decision = "denied";
    Seal(events[9], 10, events[8].hash);
  });
  VerifyResult r = MustVerify(store);
  EXPECT_EQ(r.first_bad_seq, 11u);
  EXPECT_THAT(r.problem, HasSubstr("prev_hash does not match the hash of event 10"));
}

TEST(ChainTest, TimeGoingBackwardsIsReported) {
  FakeAuditStore store;
  AuditEvent a = Sample(1), b = Sample(2);
  a.time_us = 2000;
  b.time_us = 1000;
  Seal(a, 1, "");
  Seal(b, 2, a.hash);
  ASSERT_THAT(store.AppendAudit({a, b}), IsOk());
  VerifyResult r = MustVerify(store);
  EXPECT_EQ(r.first_bad_seq, 2u);
  EXPECT_THAT(r.problem, HasSubstr("time_us 1000 is before event 1's time_us 2000"));
}

TEST(ChainTest, CutTailIsVisibleOnlyThroughTheHeadHash) {
  // The chain alone cannot tell a log cut short from a shorter log: compare the head hash
  // with one recorded elsewhere (docs/audit.md, "Anchoring the head").
  FakeAuditStore store;
  FillChain(store, 20);
  const std::string head = MustVerify(store).last_hash;
  store.Edit([](std::vector<AuditEvent>& events) { events.resize(15); });
  VerifyResult r = MustVerify(store);
  EXPECT_TRUE(r.ok);
  EXPECT_NE(r.last_hash, head);
}

TEST(ChainTest, ScanErrorsAreErrors) {
  FakeAuditStore store;
  FillChain(store, 2);
  store.FailReadsWith(Status(StatusCode::kUnavailable, "database is locked"));
  EXPECT_THAT(VerifyChain(store), StatusIs(StatusCode::kUnavailable, HasSubstr("locked")));
}

}  // namespace
}  // namespace scaigrid::iam::audit
