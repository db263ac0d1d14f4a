// Following the store's change log: a node applies changes other nodes committed, in revision
// order, to its in-memory state (docs/storage.md, "Several nodes").
#include <spdlog/spdlog.h>

#include <algorithm>

#include "service/service_internal.h"

namespace scaigrid::iam::service {
namespace {

// Applies one logged op to `t` (its mutation and directory), with the store's semantics.
Status ReplayOp(IamService::Txn& t, const store::Op& op) {
  const std::uint64_t epoch = t.epoch;
  Directory& dir = t.directory;
  return std::visit(
      [&](const auto& o) -> Status {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, store::PutModule>) {
          auto manifest = ParseManifest(o.row.source, "module " + o.row.module);
          if (!manifest) return manifest.error();
          const Registry& old = t.mutation.registry();
          std::vector<Manifest> all;  // in the order of first registration, like the store
          bool replaced = false;
          for (const Manifest& m : old.manifests()) {
            replaced = replaced || m.module == o.row.module;
            all.push_back(m.module == o.row.module ? *manifest : m);
          }
          if (!replaced) all.push_back(std::move(*manifest));
          auto reg = Registry::Build(std::move(all), &old);
          if (!reg) return reg.error();
          SCAIGRID_RETURN_IF_ERROR(t.mutation.SetRegistry(*reg));
          dir.modules.Put(o.row.module, o.row, epoch);
        } else if constexpr (std::is_same_v<T, store::PutScope>) {
          SCAIGRID_RETURN_IF_ERROR(t.mutation.AddScope(o.row.scope, o.row.parent));
          dir.scopes.Put(o.row.scope, o.row, epoch);
        } else if constexpr (std::is_same_v<T, store::DeleteScope>) {
          SCAIGRID_RETURN_IF_ERROR(t.mutation.RemoveScope(o.scope));
          dir.scopes.Erase(o.scope, epoch);
        } else if constexpr (std::is_same_v<T, store::PutPrincipal>) {
          SCAIGRID_RETURN_IF_ERROR(t.mutation.AddPrincipal(o.row.principal));
          dir.principals.Put(o.row.principal, o.row, epoch);
        } else if constexpr (std::is_same_v<T, store::DeletePrincipal>) {
          // The store drops the principal's memberships and bindings with it.
          const Snapshot& s = *t.base.snapshot;
          if (auto p = s.FindPrincipal(o.principal)) {
            for (const BindingView& b : s.BindingsOf(*p)) dir.bindings.Erase(std::to_string(b.id), epoch);
          }
          SCAIGRID_RETURN_IF_ERROR(t.mutation.RemovePrincipal(o.principal));
          dir.principals.Erase(o.principal, epoch);
        } else if constexpr (std::is_same_v<T, store::AddMember>) {
          SCAIGRID_RETURN_IF_ERROR(t.mutation.AddMember(o.row.group, o.row.member));
        } else if constexpr (std::is_same_v<T, store::RemoveMember>) {
          SCAIGRID_RETURN_IF_ERROR(t.mutation.RemoveMember(o.row.group, o.row.member));
        } else if constexpr (std::is_same_v<T, store::PutCustomRole>) {
          const store::CustomRoleRow& r = o.row;
          SCAIGRID_RETURN_IF_ERROR(t.mutation.PutCustomRole({r.id, r.name, r.description, r.scope, r.permissions}));
          dir.roles.Put(r.id, r, epoch);
        } else if constexpr (std::is_same_v<T, store::DeleteCustomRole>) {
          SCAIGRID_RETURN_IF_ERROR(t.mutation.RemoveCustomRole(o.id));
          dir.roles.Erase(o.id, epoch);
        } else if constexpr (std::is_same_v<T, store::PutBinding>) {
          const store::BindingRow& r = o.row;
          SCAIGRID_RETURN_IF_ERROR(t.mutation.AddBinding({r.id, r.subject, r.role, r.scope, r.not_before, r.expires_at}));
          dir.bindings.Put(std::to_string(r.id), r, epoch);
        } else if constexpr (std::is_same_v<T, store::DeleteBinding>) {
          const std::string id = std::to_string(o.id);
          const store::BindingRow* row = dir.bindings.Find(id);
          if (row == nullptr) return Status::NotFound("binding " + id + " not found");
          SCAIGRID_RETURN_IF_ERROR(t.mutation.RemoveBinding(row->subject, o.id));
          dir.bindings.Erase(id, epoch);
        } else if constexpr (std::is_same_v<T, store::PutApiKey>) {
          dir.api_keys.Put(o.row.id, o.row, epoch);
          dir.api_key_by_hash.Put(o.row.secret_hash, o.row.id, epoch);
        } else if constexpr (std::is_same_v<T, store::RevokeApiKey>) {
          const store::ApiKeyRow* row = dir.api_keys.Find(o.id);
          if (row == nullptr) return Status::NotFound("api key " + o.id + " not found");
          store::ApiKeyRow revoked = *row;
          revoked.revoked_at = o.revoked_at;
          dir.api_keys.Put(o.id, std::move(revoked), epoch);
        } else if constexpr (std::is_same_v<T, store::PutSigningKey>) {
          auto it = std::find_if(dir.signing_keys.begin(), dir.signing_keys.end(),
                                 [&](const store::SigningKeyRow& k) { return k.kid == o.row.kid; });
          if (it != dir.signing_keys.end()) *it = o.row;
          else dir.signing_keys.push_back(o.row);
        } else if constexpr (std::is_same_v<T, store::PutCapabilityToken>) {
          dir.capability_tokens.Put(o.row.id, o.row, epoch);
        } else if constexpr (std::is_same_v<T, store::RevokeCapabilityToken>) {
          // An expired token is not in memory: nothing to revoke.
          if (const store::CapabilityTokenRow* row = dir.capability_tokens.Find(o.id)) {
            store::CapabilityTokenRow revoked = *row;
            revoked.revoked_at = o.revoked_at;
            dir.capability_tokens.Put(o.id, std::move(revoked), epoch);
          }
        } else {
          static_assert(std::is_same_v<T, store::PutResourceRevocation>, "every op must be replayable");
          dir.PutResourceRevocation(o.row, epoch);
        }
        return Status::Ok();
      },
      op);
}

}  // namespace

Result<std::uint64_t> IamService::CatchUp() {
  std::lock_guard lock(write_mu_);  // one writer of the published state at a time
  return CatchUpLocked();
}

Result<std::uint64_t> IamService::CatchUpLocked() {
  constexpr size_t kPage = 256;
  for (;;) {
    std::shared_ptr<const ServiceState> base = state();
    const std::uint64_t from = base->snapshot->revision();
    auto changes = store_->ChangesSince(from, kPage);
    if (!changes) return Err(changes.error());
    if (changes->empty()) return from;
    auto next = std::make_shared<ServiceState>(*base);
    for (const auto& [revision, change] : *changes) {
      if (revision != next->snapshot->revision() + 1) {
        return Err(Status::Internal("change log has revision " + std::to_string(revision) + " after " +
                                    std::to_string(next->snapshot->revision())));
      }
      Txn t(*next, clock_.Now());
      for (const store::Op& op : change.ops) {
        if (Status s = ReplayOp(t, op); !s.ok()) {
          // The log and this node disagree: the store is the truth.
          spdlog::warn("revision {}: could not replay a change ({}); reloading the whole state from the store",
                       revision, s.message());
          replay_reloads_.fetch_add(1, std::memory_order_relaxed);
          SCAIGRID_RETURN_IF_ERROR(LoadFromStore());
          return state()->snapshot->revision();
        }
      }
      t.mutation.set_revision(revision);
      auto applied = std::make_shared<ServiceState>();
      applied->snapshot = t.mutation.Finish();
      applied->directory = std::move(t.directory);
      next = std::move(applied);
    }
    Publish(next);
    if (changes->size() < kPage) return next->snapshot->revision();
  }
}

Status IamService::Health() const {
  std::lock_guard lock(health_mu_);
  return health_;
}

void IamService::Follow(std::stop_token stop) {
  auto set_health = [&](Status s) {
    std::lock_guard lock(health_mu_);
    if (s.ok() != health_.ok()) {
      if (s.ok()) spdlog::info("store reachable again; following changes from revision {}", revision());
      else spdlog::warn("store unreachable: {}; answering from revision {}", s.message(), revision());
    }
    health_ = std::move(s);
  };
  while (!stop.stop_requested()) {
    auto woken = store_->WaitForChange(options_.follow_interval);
    if (stop.stop_requested()) break;
    if (!woken) {
      set_health(woken.error());
      std::this_thread::sleep_for(options_.follow_interval);  // a lost connection fails fast
      continue;
    }
    auto reached = CatchUp();
    set_health(reached ? Status::Ok() : reached.error());
  }
}

}  // namespace scaigrid::iam::service
