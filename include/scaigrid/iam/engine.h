// Engine: owns the current Snapshot and publishes new ones, RCU style.
//
// Readers take the current snapshot without locking and keep using it for as long as they
// hold the pointer; a writer builds the next snapshot with a Mutation and publishes it with
// one atomic store. Writers are serialized by a mutex; readers never wait for them.
//
// Thread-safety: every method may be called from any thread. A Reader is for one thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

#include "scaigrid/iam/mutation.h"
#include "scaigrid/iam/snapshot.h"

namespace scaigrid::iam {

// Where "now" comes from; tests inject a fake one.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Time Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Time Now() const override;
};

class Engine {
 public:
  explicit Engine(std::shared_ptr<const Snapshot> initial);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The current snapshot (an atomic load and a reference-count increment).
  std::shared_ptr<const Snapshot> snapshot() const { return current_.load(std::memory_order_acquire); }
  std::uint64_t revision() const { return version_.load(std::memory_order_acquire); }

  // Runs `change` on a Mutation of the current snapshot; when it returns OK, publishes the
  // result and returns it. Otherwise nothing is published and its Status is returned.
  Result<std::shared_ptr<const Snapshot>> Apply(const std::function<Status(Mutation&)>& change);

  // Publishes a snapshot built elsewhere (e.g. a bulk load), serialized with Apply. It
  // replaces whatever is current: build it from the current snapshot.
  void Publish(std::shared_ptr<const Snapshot> next);

  // A per-thread handle that re-reads the shared pointer only when a publication happened,
  // so steady-state reads touch no shared reference count. The reference Get() returns stays
  // valid until the next Get() on the same Reader.
  class Reader {
   public:
    explicit Reader(const Engine& engine) : engine_(engine) {}
    const Snapshot& Get() {
      std::uint64_t seen = engine_.publications_.load(std::memory_order_acquire);
      if (seen != seen_ || !cached_) {
        cached_ = engine_.snapshot();
        seen_ = seen;
      }
      return *cached_;
    }

   private:
    const Engine& engine_;
    std::shared_ptr<const Snapshot> cached_;
    std::uint64_t seen_ = 0;
  };

 private:
  void PublishLocked(std::shared_ptr<const Snapshot> next);  // caller holds write_mu_

  std::mutex write_mu_;
  std::atomic<std::shared_ptr<const Snapshot>> current_;
  std::atomic<std::uint64_t> version_{0};
  std::atomic<std::uint64_t> publications_{0};
};

}  // namespace scaigrid::iam
