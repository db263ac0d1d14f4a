#include "scaigrid/iam/engine.h"

#include <chrono>

namespace scaigrid::iam {

Time SystemClock::Now() const {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Engine::Engine(std::shared_ptr<const Snapshot> initial) { PublishLocked(std::move(initial)); }

void Engine::Publish(std::shared_ptr<const Snapshot> next) {
  std::lock_guard lock(write_mu_);
  PublishLocked(std::move(next));
}

void Engine::PublishLocked(std::shared_ptr<const Snapshot> next) {
  std::uint64_t revision = next->revision();
  current_.store(std::move(next), std::memory_order_release);
  version_.store(revision, std::memory_order_release);
  publications_.fetch_add(1, std::memory_order_acq_rel);
}

Result<std::shared_ptr<const Snapshot>> Engine::Apply(const std::function<Status(Mutation&)>& change) {
  std::lock_guard lock(write_mu_);
  std::shared_ptr<const Snapshot> base = snapshot();
  Mutation m(*base);
  Status s = change(m);
  if (!s.ok()) return Err(std::move(s));
  std::shared_ptr<const Snapshot> next = m.Finish();
  PublishLocked(next);
  return next;
}

}  // namespace scaigrid::iam
